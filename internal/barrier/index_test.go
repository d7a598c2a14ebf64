package barrier

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

// writeLegacyKeyring stores a keyring as binaries before the index key wrote
// it: no index, sealed with the v1 associated data.
func writeLegacyKeyring(t *testing.T, st store.Store, root RootKey) {
	t.Helper()
	a, err := newAEAD(root.b[:])
	if err != nil {
		t.Fatal(err)
	}
	term := make([]byte, 32)
	rand.Read(term)
	plain, _ := json.Marshal(keyring{Active: 1, Terms: map[uint32][]byte{1: term}})
	ct, err := seal(a, 0, plain, []byte(legacyKeyringAAD))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Update(context.Background(), func(tx store.Tx) error { return tx.Put(KeyringPath, ct) }); err != nil {
		t.Fatal(err)
	}
}

func storedKeyring(t *testing.T, st store.Store) []byte {
	t.Helper()
	var ct []byte
	err := st.View(context.Background(), func(r store.Reader) error {
		var err error
		ct, err = r.Get(KeyringPath)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ct
}

func indexOf(t *testing.T, b *Barrier) string {
	t.Helper()
	ix, err := b.NameIndex()
	if err != nil {
		t.Fatal(err)
	}
	return ix.Of("probe", "name")
}

// TestLegacyKeyringGainsIndexKey: the first unseal of a keyring without an
// index key adds one and rewrites the keyring as v2; values sealed before
// still open; later unseals see the same index key; and a binary that knows
// only v1 can no longer open the keyring (it would drop the index key).
func TestLegacyKeyringGainsIndexKey(t *testing.T) {
	ctx := context.Background()
	raw := memstore.New()
	root, _ := GenerateRootKey()
	writeLegacyKeyring(t, raw, root)

	// A value written under the legacy keyring, by the legacy code path.
	a, _ := newAEAD(root.b[:])
	kr, err := openKeyring(a, storedKeyring(t, raw))
	if err != nil || len(kr.Index) != 0 {
		t.Fatalf("legacy keyring: index %d bytes, %v", len(kr.Index), err)
	}
	old := &Barrier{st: raw, root: a}
	old.active, old.aeads = 1, map[uint32]cipher.AEAD{}
	ta, _ := newAEAD(kr.Terms[1])
	old.aeads[1] = ta
	if err := old.Wrap(raw).Update(ctx, func(tx store.Tx) error { return tx.Put("v", []byte("before")) }); err != nil {
		t.Fatal(err)
	}

	b, err := Unseal(ctx, raw, root)
	if err != nil {
		t.Fatal(err)
	}
	first := indexOf(t, b)
	ct := storedKeyring(t, raw)
	if _, err := open(func(uint32) (cipher.AEAD, error) { return a, nil }, ct, []byte(legacyKeyringAAD)); !errors.Is(err, ErrDecrypt) {
		t.Errorf("the upgraded keyring opens as v1: %v", err)
	}
	if _, err := open(func(uint32) (cipher.AEAD, error) { return a, nil }, ct, []byte(keyringAAD)); err != nil {
		t.Errorf("the upgraded keyring does not open as v2: %v", err)
	}
	var got []byte
	if err := b.Wrap(raw).View(ctx, func(r store.Reader) error { got, err = r.Get("v"); return err }); err != nil || string(got) != "before" {
		t.Errorf("value written before the upgrade = %q, %v", got, err)
	}
	again, err := Unseal(ctx, raw, root)
	if err != nil {
		t.Fatal(err)
	}
	if indexOf(t, again) != first {
		t.Error("a second unseal has another index key")
	}
}

// TestIndexKeyKeptAcrossRotateAndRekey: the index key must never change,
// or every index entry would be orphaned.
func TestIndexKeyKeptAcrossRotateAndRekey(t *testing.T) {
	ctx := context.Background()
	b, raw, root := unsealed(t)
	want := indexOf(t, b)
	if _, err := b.Rotate(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := indexOf(t, b); got != want {
		t.Error("Rotate changed the index key in memory")
	}
	newRoot, _ := GenerateRootKey()
	if err := b.Rekey(ctx, newRoot, nil); err != nil {
		t.Fatal(err)
	}
	reopened, err := Unseal(ctx, raw, newRoot)
	if err != nil {
		t.Fatal(err)
	}
	if got := indexOf(t, reopened); got != want {
		t.Error("the index key changed across rotation and rekey")
	}

	other := memstore.New()
	if err := Initialize(ctx, other, root, SealConfig{Type: SealShamir, Shares: 3, Threshold: 2}, time.Now()); err != nil {
		t.Fatal(err)
	}
	ob, _ := Unseal(ctx, other, root)
	if indexOf(t, ob) == want {
		t.Error("two stores initialized with the same root key share an index key")
	}

	b.Close()
	if _, err := b.NameIndex(); !errors.Is(err, ErrSealed) {
		t.Errorf("NameIndex after Close: %v, want ErrSealed", err)
	}
}

func TestSealKeyringRefusesMissingIndex(t *testing.T) {
	root, _ := GenerateRootKey()
	a, _ := newAEAD(root.b[:])
	if _, err := sealKeyring(a, keyring{Active: 1, Terms: map[uint32][]byte{1: make([]byte, 32)}}); err == nil {
		t.Fatal("sealKeyring wrote a keyring without an index key")
	}
}
