package secrets

import (
	"errors"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/store"
)

// TestMigrateIndexes: a secret whose name entry has the old cleartext key
// is found by name once migrated, the old key is gone, a second run moves
// nothing, and an entry of unknown shape is refused without being quoted.
func TestMigrateIndexes(t *testing.T) {
	e := newEnv(t)
	sec := e.create(t, "db-alpha.v1", "v")
	err := e.st.Update(e.ctx, func(tx store.Tx) error {
		v, err := tx.Get(e.s.nameKey(e.vault, sec.Name))
		if err != nil {
			return err
		}
		if err := tx.Delete(e.s.nameKey(e.vault, sec.Name)); err != nil {
			return err
		}
		return tx.Put(legacyPrefixName+e.vault+"/"+sec.Name, v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.ReadBundle(e.ctx, SecretRef{VaultID: e.vault, Name: sec.Name}, BundleSelector{}, nil); err == nil {
		t.Fatal("found by name before the migration: the test would prove nothing")
	}
	var moved int
	err = e.st.Update(e.ctx, func(tx store.Tx) (err error) { moved, err = e.s.MigrateIndexes(tx); return err })
	if err != nil || moved != 1 {
		t.Fatalf("MigrateIndexes = %d, %v; want 1", moved, err)
	}
	if _, err := e.s.ReadBundle(e.ctx, SecretRef{VaultID: e.vault, Name: sec.Name}, BundleSelector{}, nil); err != nil {
		t.Fatalf("by name after the migration: %v", err)
	}
	err = e.st.View(e.ctx, func(r store.Reader) error {
		_, err := r.Get(legacyPrefixName + e.vault + "/" + sec.Name)
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("legacy key after the migration: %v, want gone", err)
	}
	err = e.st.Update(e.ctx, func(tx store.Tx) (err error) { moved, err = e.s.MigrateIndexes(tx); return err })
	if err != nil || moved != 0 {
		t.Fatalf("second MigrateIndexes = %d, %v; want 0", moved, err)
	}

	err = e.st.Update(e.ctx, func(tx store.Tx) error {
		if err := tx.Put(legacyPrefixName+"secretname", []byte(`"x"`)); err != nil {
			return err
		}
		_, err := e.s.MigrateIndexes(tx)
		return err
	})
	if err == nil || strings.Contains(err.Error(), "secretname") {
		t.Errorf("entry of unknown shape: %v", err)
	}
}
