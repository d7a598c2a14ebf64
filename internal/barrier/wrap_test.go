package barrier_test

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

// gcmWrapper is a token key stand-in.
type gcmWrapper struct{ a cipher.AEAD }

func (w gcmWrapper) Seal(nonce, plain, aad []byte) ([]byte, error) {
	return w.a.Seal(nil, nonce, plain, aad), nil
}
func (w gcmWrapper) Open(nonce, ct, aad []byte) ([]byte, error) { return w.a.Open(nil, nonce, ct, aad) }

func newWrapper(t testing.TB, fill byte) gcmWrapper {
	key := make([]byte, 32)
	for i := range key {
		key[i] = fill
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := cipher.NewGCM(block)
	return gcmWrapper{a}
}

// TestWrapRootKey: a wrapped root key unwraps with its key and label only;
// a malformed or edited configuration is refused without a panic.
func TestWrapRootKey(t *testing.T) {
	w := newWrapper(t, 1)
	root, _ := barrier.GenerateRootKey()
	cfg, err := barrier.WrapRootKey(w, "seal", root)
	if err != nil || cfg.Validate() != nil || cfg.Type != barrier.SealPKCS11 || cfg.KeyLabel != "seal" {
		t.Fatalf("WrapRootKey: %+v %v", cfg, err)
	}
	got, err := barrier.UnwrapRootKey(w, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Same key: it opens the keyring root made.
	st := memstore.New()
	if b, err := barrier.Unseal(t.Context(), st, root); err != nil {
		t.Fatal(err)
	} else {
		b.Close()
	}
	if b, err := barrier.Unseal(t.Context(), st, got); err != nil {
		t.Fatalf("unwrapped key does not open the keyring: %v", err)
	} else {
		b.Close()
	}
	relabelled := cfg
	relabelled.KeyLabel = "other"
	if _, err := barrier.UnwrapRootKey(w, relabelled); !errors.Is(err, barrier.ErrWrongRootKey) {
		t.Fatalf("relabelled: %v", err)
	}
	if _, err := barrier.UnwrapRootKey(newWrapper(t, 2), cfg); !errors.Is(err, barrier.ErrWrongRootKey) {
		t.Fatalf("other key: %v", err)
	}
	raw, _ := base64.StdEncoding.DecodeString(cfg.WrappedRootKey)
	for name, edit := range map[string]func(*barrier.SealConfig){
		"truncated": func(c *barrier.SealConfig) { c.WrappedRootKey = base64.StdEncoding.EncodeToString(raw[:20]) },
		"version": func(c *barrier.SealConfig) {
			b := append([]byte{9}, raw[1:]...)
			c.WrappedRootKey = base64.StdEncoding.EncodeToString(b)
		},
		"not base64": func(c *barrier.SealConfig) { c.WrappedRootKey = "%%%" },
		"mechanism":  func(c *barrier.SealConfig) { c.Mechanism = "CKM_DES" },
		"shamir":     func(c *barrier.SealConfig) { c.Type = barrier.SealShamir },
		"empty":      func(c *barrier.SealConfig) { c.WrappedRootKey = "" },
	} {
		bad := cfg
		edit(&bad)
		if _, err := barrier.UnwrapRootKey(w, bad); err == nil {
			t.Errorf("%s: unwrapped", name)
		} else if strings.Contains(err.Error(), cfg.WrappedRootKey) {
			t.Errorf("%s: the error shows the wrapped key", name)
		}
	}
	for _, bad := range []barrier.SealConfig{
		{Type: barrier.SealPKCS11, Mechanism: barrier.MechanismAESGCM, WrappedRootKey: "x"},
		{Type: barrier.SealPKCS11, KeyLabel: "k", WrappedRootKey: "x"},
		{Type: barrier.SealPKCS11, KeyLabel: "k", Mechanism: barrier.MechanismAESGCM},
		{Type: barrier.SealPKCS11, KeyLabel: "k", Mechanism: barrier.MechanismAESGCM, WrappedRootKey: "x", Shares: 3, Threshold: 2},
	} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
}

// TestRekeyNilConfigMakesKeyFileStore: Rekey with no configuration
// removes a recorded one, in the transaction that re-seals the keyring.
func TestRekeyNilConfigMakesKeyFileStore(t *testing.T) {
	ctx := t.Context()
	st := memstore.New()
	root, _ := barrier.GenerateRootKey()
	cfg := barrier.SealConfig{Type: barrier.SealShamir, Shares: 3, Threshold: 2}
	if err := barrier.Initialize(ctx, st, root, cfg, time.Now()); err != nil {
		t.Fatal(err)
	}
	b, err := barrier.Unseal(ctx, st, root)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	newRoot, _ := barrier.GenerateRootKey()
	if err := b.Rekey(ctx, newRoot, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := barrier.ReadSealConfig(ctx, st); ok || err != nil {
		t.Fatalf("seal config still there: %v %v", ok, err)
	}
	if b2, err := barrier.Unseal(ctx, st, newRoot); err != nil {
		t.Fatal(err)
	} else {
		b2.Close()
	}
}

// FuzzUnwrapRootKey: whatever a data directory's seal configuration holds,
// unwrapping fails cleanly or yields a key.
func FuzzUnwrapRootKey(f *testing.F) {
	w := newWrapper(f, 1)
	root, _ := barrier.GenerateRootKey()
	cfg, _ := barrier.WrapRootKey(w, "seal", root)
	f.Add(cfg.KeyLabel, cfg.Mechanism, cfg.WrappedRootKey)
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, label, mech, wrapped string) {
		_, _ = barrier.UnwrapRootKey(w, barrier.SealConfig{Type: barrier.SealPKCS11, KeyLabel: label, Mechanism: mech, WrappedRootKey: wrapped})
	})
}
