package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/server"
)

// postgresDSN returns a DSN whose search_path is a fresh schema, dropped
// when the test ends.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("COFFER_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("COFFER_REQUIRE_POSTGRES") == "1" {
			t.Fatal("COFFER_REQUIRE_POSTGRES=1 but COFFER_TEST_POSTGRES_DSN is not set")
		}
		t.Skip("COFFER_TEST_POSTGRES_DSN not set; scripts/test starts a PostgreSQL for this test")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "srv_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	if strings.Contains(dsn, "://") {
		return dsn + sep + "search_path=" + schema
	}
	return dsn + " search_path=" + schema
}

// TestTwoNodesShareOnePostgres runs two servers on one database: what one
// writes, the other serves, and only one runs the background jobs.
func TestTwoNodesShareOnePostgres(t *testing.T) {
	dsn := postgresDSN(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	unseal := base64.StdEncoding.EncodeToString(key)
	node := func(dir string) *coffertest.Env {
		return coffertest.Start(t, coffertest.Options{DataDir: dir, Config: func(c *server.Config) {
			c.Dev = false
			c.UnsealKey = unseal
			c.DatabaseURL = dsn
		}})
	}
	a := node(t.TempDir())
	if a.Server.Bootstrap == nil {
		t.Fatal("first node did not bootstrap")
	}
	b := node(t.TempDir())
	if b.Server.Bootstrap != nil {
		t.Fatal("second node bootstrapped again")
	}
	ctx := context.Background()
	ca := vaultClient(t, a, a.Provider)
	cb := vaultClient(t, b, a.Provider) // node b, admin credentials from node a
	v, err := ca.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: common.String(tenancy(t, a.Provider)), DisplayName: common.String("shared"),
		VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cb.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
	if err != nil {
		t.Fatalf("node b cannot read node a's vault: %v", err)
	}
	if *got.DisplayName != "shared" {
		t.Fatalf("node b read %q", *got.DisplayName)
	}
	heldA, err := a.Server.TakeJobLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	heldB, err := b.Server.TakeJobLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if heldA == heldB {
		t.Fatalf("job lease held by a=%v b=%v; exactly one node must hold it", heldA, heldB)
	}
}
