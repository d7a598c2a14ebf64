package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/store"
)

// filesHolding returns the files in dir whose bytes contain s.
func filesHolding(t *testing.T, dir, s string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			hits = append(hits, filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// TestCompactRemovesDeletedRows: deleted keys and values linger in the WAL
// and in free pages until Compact, and are gone from every file after it,
// while live rows stay readable.
func TestCompactRemovesDeletedRows(t *testing.T) {
	dir := t.TempDir()
	s := open(t, filepath.Join(dir, "coffer.db"))
	ctx := context.Background()
	const gone, kept = "canary-deleted-7f3a", "canary-kept-7f3a"
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := range 200 { // enough rows to fill several pages
			k := fmt.Sprintf("a/%s/%03d", gone, i)
			if err := tx.Put(k, []byte(strings.Repeat(gone, 4))); err != nil {
				return err
			}
		}
		return tx.Put("b/"+kept, []byte(kept))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		ents, err := tx.List("a/", "", 0)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := tx.Delete(e.Key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if hits := filesHolding(t, dir, gone); len(hits) == 0 {
		t.Fatal("the deleted rows are in no file before Compact: the test would prove nothing")
	}
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if hits := filesHolding(t, dir, gone); len(hits) != 0 {
		t.Errorf("after Compact, deleted rows are still in %v", hits)
	}
	if hits := filesHolding(t, dir, kept); len(hits) == 0 {
		t.Error("after Compact, the live row is in no file")
	}
	err = s.View(ctx, func(r store.Reader) error {
		v, err := r.Get("b/" + kept)
		if err == nil && string(v) != kept {
			err = fmt.Errorf("Get = %q", v)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
