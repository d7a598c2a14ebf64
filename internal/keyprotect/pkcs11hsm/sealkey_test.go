//go:build cgo

package pkcs11hsm_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/keyprotect/pkcs11hsm"
	"github.com/coffer-vault/coffer/internal/keyprotect/pkcs11hsm/softhsmtest"
)

// TestSealKeySoftHSM: the seal key is made once (a token object,
// sensitive, not extractable, AES-256), found again by its label in a new
// session, and what one opening seals the next opens, in the token.
func TestSealKeySoftHSM(t *testing.T) {
	cfg := softhsmtest.Token(t)
	if _, err := pkcs11hsm.OpenSealKey(cfg, "coffer-seal", false); !errors.Is(err, keyprotect.ErrMaterialNotFound) {
		t.Fatalf("missing key without generate: %v", err)
	}
	k, err := pkcs11hsm.OpenSealKey(cfg, "coffer-seal", true)
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{7}, 12)
	plain := []byte("0123456789abcdef0123456789abcdef")
	ct, err := k.Seal(nonce, plain, []byte("aad"))
	if err != nil || len(ct) != len(plain)+16 || bytes.Contains(ct, plain) {
		t.Fatalf("Seal: %d bytes, %v", len(ct), err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}

	k2, err := pkcs11hsm.OpenSealKey(cfg, "coffer-seal", true) // found, not made again
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	got, err := k2.Open(nonce, ct, []byte("aad"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open: %v", err)
	}
	if _, err := k2.Open(nonce, ct, []byte("other")); err == nil {
		t.Fatal("opened with other associated data")
	}
	if _, err := k2.Seal([]byte("short"), plain, nil); err == nil {
		t.Fatal("sealed with a 5-byte nonce")
	}

	c, err := crypto11.Configure(&crypto11.Config{Path: cfg.ModulePath, TokenLabel: cfg.TokenLabel, Pin: cfg.PIN})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	keys, err := c.FindKeys(nil, []byte("coffer-seal"))
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys labelled coffer-seal: %d, %v", len(keys), err)
	}
	attrs, err := c.GetAttributes(keys[0], []crypto11.AttributeType{crypto11.CkaToken, crypto11.CkaSensitive, crypto11.CkaExtractable, crypto11.CkaValueLen})
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[crypto11.AttributeType]byte{crypto11.CkaToken: 1, crypto11.CkaSensitive: 1, crypto11.CkaExtractable: 0} {
		if a := attrs[typ]; a == nil || len(a.Value) != 1 || a.Value[0] != want {
			t.Errorf("%v = %v, want %d", typ, a, want)
		}
	}
	if a := attrs[crypto11.CkaValueLen]; a == nil || a.Value[0] != 32 {
		t.Errorf("CKA_VALUE_LEN = %v, want 32", a)
	}

	// A second key under the same label makes the label ambiguous.
	if _, err := c.GenerateSecretKeyWithLabel([]byte("dup"), []byte("coffer-seal"), 256, crypto11.CipherAES); err != nil {
		t.Fatal(err)
	}
	if _, err := pkcs11hsm.OpenSealKey(cfg, "coffer-seal", false); err == nil || !strings.Contains(err.Error(), "2 secret keys") {
		t.Fatalf("two keys with the label: %v", err)
	}
}

// TestSealKeyRefusals: a wrong PIN is a refused login (no retry), an
// unknown token or module is unavailable, and no error shows the PIN.
func TestSealKeyRefusals(t *testing.T) {
	cfg := softhsmtest.Token(t)
	bad := cfg
	bad.PIN = "98765"
	_, err := pkcs11hsm.OpenSealKey(bad, "coffer-seal", true)
	if !errors.Is(err, keyprotect.ErrHSMUnavailable) || !errors.Is(err, keyprotect.ErrHSMLogin) {
		t.Fatalf("wrong PIN: %v", err)
	}
	if strings.Contains(err.Error(), bad.PIN) {
		t.Fatal("the error shows the PIN")
	}
	other := cfg
	other.TokenLabel = "no-such-token"
	if _, err := pkcs11hsm.OpenSealKey(other, "coffer-seal", true); !errors.Is(err, keyprotect.ErrHSMUnavailable) || errors.Is(err, keyprotect.ErrHSMLogin) {
		t.Fatalf("unknown token: %v", err)
	}
	other = cfg
	other.ModulePath = t.TempDir() + "/nope.so"
	if _, err := pkcs11hsm.OpenSealKey(other, "coffer-seal", true); !errors.Is(err, keyprotect.ErrHSMUnavailable) {
		t.Fatalf("missing module: %v", err)
	}
	if _, err := pkcs11hsm.OpenSealKey(cfg, "", true); err == nil {
		t.Fatal("empty label accepted")
	}
}
