package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/postgres"
	"github.com/coffer-vault/coffer/internal/store/storetest"
)

// testDSN returns the test server's DSN, or skips the test when none is
// configured, unless COFFER_REQUIRE_POSTGRES=1 says a skip would hide a
// missing server (CI sets both; see testdata/start-postgres.sh).
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("COFFER_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("COFFER_REQUIRE_POSTGRES") == "1" {
			t.Fatal("COFFER_REQUIRE_POSTGRES=1 but COFFER_TEST_POSTGRES_DSN is not set")
		}
		t.Skip("COFFER_TEST_POSTGRES_DSN not set; start a server with testdata/start-postgres.sh")
	}
	return dsn
}

// freshSchema creates an empty schema for one test, drops it afterwards, and
// returns a pool configuration whose search_path points at it, so tests
// never see each other's data.
func freshSchema(t testing.TB) *pgxpool.Config {
	t.Helper()
	dsn := testDSN(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to test server: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "coffer_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping %s: %v", schema, err)
		}
		admin.Close(ctx)
	})
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return cfg
}

func open(t testing.TB, cfg *pgxpool.Config) *postgres.Store {
	t.Helper()
	s, err := postgres.OpenConfig(context.Background(), cfg.Copy())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, freshSchema(t)) })
}

func TestReopenAndSchemaTooNew(t *testing.T) {
	cfg := freshSchema(t)
	ctx := context.Background()
	s := open(t, cfg)
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("k", []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open(t, cfg) // migrations already applied: a no-op
	err := s.View(ctx, func(r store.Reader) error {
		v, err := r.Get("k")
		if err == nil && string(v) != "v" {
			err = fmt.Errorf("Get = %q", v)
		}
		return err
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}

	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.OpenConfig(ctx, cfg.Copy())
	if !errors.Is(err, postgres.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer database = %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenDoesNotLeakPassword(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://u:s3cret-pw@[bad")
	if err == nil {
		t.Fatal("Open accepted a malformed DSN")
	}
	if got := err.Error(); contains(got, "s3cret-pw") {
		t.Fatalf("error %q contains the password", got)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func BenchmarkGet(b *testing.B) {
	s := open(b, freshSchema(b))
	defer s.Close()
	ctx := context.Background()
	const n = 100_000
	value := make([]byte, 512)
	for start := 0; start < n; start += 10_000 {
		err := s.Update(ctx, func(tx store.Tx) error {
			for i := start; i < start+10_000; i++ {
				if err := tx.Put(fmt.Sprintf("secret/%08d/bundle", i), value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			key := fmt.Sprintf("secret/%08d/bundle", (i*7919)%n)
			i++
			if err := s.View(ctx, func(r store.Reader) error { _, err := r.Get(key); return err }); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	s := open(b, freshSchema(b))
	defer s.Close()
	ctx := context.Background()
	value := make([]byte, 512)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("secret/%08d/bundle", i)
		i++
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put(key, value) }); err != nil {
			b.Fatal(err)
		}
	}
}
