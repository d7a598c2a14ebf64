package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/coffer-vault/coffer/internal/store"
)

// TestCompactRewritesTable: Compact moves the kv table and its index into
// new files (so the old files, dead rows included, are gone) and keeps every
// live row.
func TestCompactRewritesTable(t *testing.T) {
	cfg := freshSchema(t)
	ctx := context.Background()
	s := open(t, cfg)
	defer s.Close()
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := range 100 {
			if err := tx.Put(fmt.Sprintf("gone/%03d", i), []byte("x")); err != nil {
				return err
			}
		}
		return tx.Put("kept", []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		ents, err := tx.List("gone/", "", 0)
		for _, e := range ents {
			if err := tx.Delete(e.Key); err != nil {
				return err
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	files := func() (heap, index uint32) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT pg_relation_filenode('kv'), pg_relation_filenode('kv_pkey')`).Scan(&heap, &index); err != nil {
			t.Fatal(err)
		}
		return heap, index
	}
	heap, index := files()
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if h, i := files(); h == heap || i == index {
		t.Errorf("Compact left the table or its index in its old file (heap %d->%d, index %d->%d)", heap, h, index, i)
	}
	err = s.View(ctx, func(r store.Reader) error {
		v, err := r.Get("kept")
		if err == nil && string(v) != "v" {
			err = fmt.Errorf("Get = %q", v)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
