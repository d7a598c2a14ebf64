package barrier_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/shamir"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/memstore"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
)

var ctx = context.Background()

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func put(t *testing.T, st store.Store, key, value string) {
	t.Helper()
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.Put(key, []byte(value)) }); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func get(st store.Store, key string) (string, error) {
	var out []byte
	err := st.View(ctx, func(r store.Reader) error {
		var err error
		out, err = r.Get(key)
		return err
	})
	return string(out), err
}

func mustGet(t *testing.T, st store.Store, key, want string) {
	t.Helper()
	got, err := get(st, key)
	if err != nil || got != want {
		t.Fatalf("get %s = %q, %v; want %q", key, got, err, want)
	}
}

// TestRotateKeepsOldValuesOpen: after a rotation new writes carry the new
// term, old values still open, and both survive a fresh unseal.
func TestRotateKeepsOldValuesOpen(t *testing.T) {
	raw := memstore.New()
	root, _ := barrier.GenerateRootKey()
	b, err := barrier.Unseal(ctx, raw, root)
	if err != nil {
		t.Fatal(err)
	}
	st := b.Wrap(raw)
	put(t, st, "a", "old")
	sealedOld, _ := barrier.Unseal(ctx, raw, root)
	oldCT, _ := b.Seal([]byte("ctx"), []byte("wrapped-old"))
	term, err := b.Rotate(ctx, t0)
	if err != nil || term != 2 {
		t.Fatalf("Rotate = %d, %v", term, err)
	}
	if s, _ := b.Status(); s.Term != 2 || s.Terms != 2 || !s.Installed.Equal(t0) {
		t.Errorf("Status after rotate = %+v", s)
	}
	put(t, st, "b", "new")
	newCT, _ := b.Seal([]byte("ctx"), []byte("wrapped-new"))
	if newCT[4] != 2 || oldCT[4] != 1 {
		t.Errorf("terms in ciphertexts: old %d new %d", oldCT[4], newCT[4])
	}
	mustGet(t, st, "a", "old")
	mustGet(t, st, "b", "new")

	// Another node unsealed before the rotation learns the new term on
	// first sight, for stored values and for caller-sealed ones.
	mustGet(t, sealedOld.Wrap(raw), "b", "new")
	if p, err := sealedOld.Open([]byte("ctx"), newCT); err != nil || string(p) != "wrapped-new" {
		t.Errorf("stale barrier Open(new) = %q, %v", p, err)
	}

	again, err := barrier.Unseal(ctx, raw, root)
	if err != nil {
		t.Fatal(err)
	}
	st2 := again.Wrap(raw)
	mustGet(t, st2, "a", "old")
	mustGet(t, st2, "b", "new")
	for _, ct := range [][]byte{oldCT, newCT} {
		if _, err := again.Open([]byte("ctx"), ct); err != nil {
			t.Errorf("Open after re-unseal: %v", err)
		}
	}
	put(t, st2, "c", "newer")
	if s, _ := again.Status(); s.Term != 2 {
		t.Errorf("active term after re-unseal = %d", s.Term)
	}
}

func TestCloseDropsKeys(t *testing.T) {
	raw := memstore.New()
	root, _ := barrier.GenerateRootKey()
	b, _ := barrier.Unseal(ctx, raw, root)
	st := b.Wrap(raw)
	put(t, st, "a", "v")
	ct, _ := b.Seal(nil, []byte("x"))
	b.Close()
	if _, err := get(st, "a"); !errors.Is(err, barrier.ErrSealed) {
		t.Errorf("get after Close: %v, want ErrSealed", err)
	}
	if err := st.Update(ctx, func(tx store.Tx) error { return tx.Put("b", []byte("v")) }); !errors.Is(err, barrier.ErrSealed) {
		t.Errorf("put after Close: %v, want ErrSealed", err)
	}
	if _, err := b.Open(nil, ct); !errors.Is(err, barrier.ErrSealed) {
		t.Errorf("Open after Close: %v", err)
	}
	if _, err := b.Seal(nil, []byte("x")); !errors.Is(err, barrier.ErrSealed) {
		t.Errorf("Seal after Close: %v", err)
	}
	if _, err := b.Rotate(ctx, t0); !errors.Is(err, barrier.ErrSealed) {
		t.Errorf("Rotate after Close: %v", err)
	}
	if _, err := b.Status(); !errors.Is(err, barrier.ErrSealed) {
		t.Errorf("Status after Close: %v", err)
	}
}

// TestShamirInitializeUnsealRekey: the life of a Shamir-sealed store on
// SQLite: initialize, unseal from any threshold of shares, refuse wrong
// shares, rekey to new shares, and the old ones stop working.
func TestShamirInitializeUnsealRekey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	raw, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if ok, err := barrier.Initialized(ctx, raw); ok || err != nil {
		t.Fatalf("Initialized on empty store = %v, %v", ok, err)
	}
	cfg := barrier.SealConfig{Type: barrier.SealShamir, Shares: 5, Threshold: 3}
	for _, bad := range []barrier.SealConfig{{Type: "x", Shares: 5, Threshold: 3}, {Type: barrier.SealShamir, Shares: 2, Threshold: 3}, {Type: barrier.SealShamir, Shares: 3, Threshold: 1}} {
		if err := barrier.Initialize(ctx, raw, barrier.RootKey{}, bad, t0); err == nil {
			t.Errorf("Initialize(%+v) succeeded", bad)
		}
	}
	root, _ := barrier.GenerateRootKey()
	shares, err := root.Split(cfg.Shares, cfg.Threshold)
	if err != nil {
		t.Fatal(err)
	}
	if err := barrier.Initialize(ctx, raw, root, cfg, t0); err != nil {
		t.Fatal(err)
	}
	if err := barrier.Initialize(ctx, raw, root, cfg, t0); !errors.Is(err, barrier.ErrAlreadyInitialized) {
		t.Fatalf("second Initialize: %v", err)
	}
	if got, ok, err := barrier.ReadSealConfig(ctx, raw); !ok || err != nil || got != cfg {
		t.Fatalf("ReadSealConfig = %+v %v %v", got, ok, err)
	}
	unseal := func(ss ...shamir.Share) (*barrier.Barrier, error) {
		k, err := barrier.RootKeyFromShares(ss)
		if err != nil {
			return nil, err
		}
		defer k.Zero()
		return barrier.Unseal(ctx, raw, k)
	}
	b, err := unseal(shares[4], shares[0], shares[2])
	if err != nil {
		t.Fatal(err)
	}
	put(t, b.Wrap(raw), "secret", "kept")
	if _, err := unseal(shares[0], shares[1]); !errors.Is(err, barrier.ErrWrongRootKey) {
		t.Errorf("two of three shares: %v, want ErrWrongRootKey", err)
	} else if want := "barrier: unseal: wrong root key: it does not open this data directory's keyring"; err.Error() != want {
		t.Errorf("two of three shares: %q, want %q (each thing once)", err, want)
	}
	other, _ := barrier.GenerateRootKey()
	foreign, _ := other.Split(5, 3)
	if _, err := unseal(shares[0], shares[1], foreign[2]); !errors.Is(err, barrier.ErrWrongRootKey) {
		t.Errorf("a foreign share: %v, want ErrWrongRootKey", err)
	}

	newRoot, _ := barrier.GenerateRootKey()
	newCfg := barrier.SealConfig{Type: barrier.SealShamir, Shares: 3, Threshold: 2}
	newShares, _ := newRoot.Split(3, 2)
	if err := b.Rekey(ctx, newRoot, &newCfg); err != nil {
		t.Fatal(err)
	}
	if _, err := unseal(shares[0], shares[1], shares[2]); !errors.Is(err, barrier.ErrWrongRootKey) {
		t.Errorf("old shares after rekey: %v", err)
	}
	b2, err := unseal(newShares[2], newShares[0])
	if err != nil {
		t.Fatalf("new shares after rekey: %v", err)
	}
	mustGet(t, b2.Wrap(raw), "secret", "kept")
	if got, _, _ := barrier.ReadSealConfig(ctx, raw); got != newCfg {
		t.Errorf("seal config after rekey = %+v", got)
	}
	// The keyring and the seal config are not reachable through the
	// sealed store.
	for _, k := range []string{barrier.KeyringPath, barrier.SealConfigPath} {
		if _, err := get(b2.Wrap(raw), k); err == nil {
			t.Errorf("%s readable through the sealed store", k)
		}
	}
	// A rotation after the rekey is sealed under the new root.
	if _, err := b.Rotate(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := barrier.Unseal(ctx, raw, newRoot); err != nil {
		t.Errorf("unseal with new root after rotate: %v", err)
	}
}

func TestRootKeyRedacted(t *testing.T) {
	k, _ := barrier.GenerateRootKey()
	out := fmt.Sprintf("%v %+v %#v %s", k, k, k, k)
	if !bytes.Contains([]byte(out), []byte("REDACTED")) {
		t.Errorf("root key printed as %q", out)
	}
}
