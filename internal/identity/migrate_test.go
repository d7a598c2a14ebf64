package identity

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

// TestMigrateIndexes moves each kind of cleartext entry to the key the
// service now looks up, keeps values, removes the old keys, moves nothing
// on a second run, and refuses (without quoting) entries it cannot place.
func TestMigrateIndexes(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	s := New(st, testIndex(t), "local", nil)
	legacy := map[string]string{
		"identity/name/user/alice":                      `"u1"`,
		"identity/name/group/ops":                       `"g1"`,
		"identity/name/compartment/ocid1.tenancy..x/db": `"c1"`,
		"identity/name/policy/ocid1.compartment..y/p 1": `"p1"`,
		"identity/apikey/ocid1.user..u1/aa:bb:cc":       `{"fingerprint":"aa:bb:cc"}`,
	}
	want := map[string]string{
		s.nameKey(nameUser, "", "Alice"):                     `"u1"`,
		s.nameKey(nameGroup, "", "OPS"):                      `"g1"`,
		s.nameKey(nameCompartment, "ocid1.tenancy..x", "DB"): `"c1"`,
		s.nameKey(namePolicy, "ocid1.compartment..y", "P 1"): `"p1"`,
		s.apiKeyKey("ocid1.user..u1", "aa:bb:cc"):            `{"fingerprint":"aa:bb:cc"}`,
	}
	put(t, st, legacy)
	var moved int
	err := st.Update(ctx, func(tx store.Tx) (err error) { moved, err = s.MigrateIndexes(tx); return err })
	if err != nil || moved != len(legacy) {
		t.Fatalf("MigrateIndexes = %d, %v; want %d", moved, err, len(legacy))
	}
	err = st.View(ctx, func(r store.Reader) error {
		for k := range legacy {
			if _, err := r.Get(k); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("legacy key %s: %v, want gone", k, err)
			}
		}
		for k, v := range want {
			if got, err := r.Get(k); err != nil || string(got) != v {
				t.Errorf("migrated %s = %s, %v; want %s", k, got, err, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(ctx, func(tx store.Tx) (err error) { moved, err = s.MigrateIndexes(tx); return err })
	if err != nil || moved != 0 {
		t.Fatalf("second MigrateIndexes = %d, %v; want 0", moved, err)
	}

	for _, bad := range []string{"identity/name/secretname", "identity/name/policy/no-parent-secretname", "identity/name/widget/secretname", "identity/apikey/secretname"} {
		st := memstore.New()
		put(t, st, map[string]string{bad: `"x"`})
		err := st.Update(ctx, func(tx store.Tx) error { _, err := s.MigrateIndexes(tx); return err })
		if err == nil {
			t.Errorf("%s: migrated an entry of unknown shape", bad)
		} else if strings.Contains(err.Error(), "secretname") {
			t.Errorf("%s: the error quotes the key: %v", bad, err)
		}
	}
}

func put(t *testing.T, st store.Store, kv map[string]string) {
	t.Helper()
	err := st.Update(context.Background(), func(tx store.Tx) error {
		for k, v := range kv {
			if err := tx.Put(k, []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
