//go:build cgo

package pkcs11hsm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/keyprotect/pkcs11hsm"
	"github.com/coffer-vault/coffer/internal/keyprotect/pkcs11hsm/softhsmtest"
	"github.com/coffer-vault/coffer/internal/keyprotect/protecttest"
)

func newHSM(t *testing.T) *pkcs11hsm.Protection {
	t.Helper()
	p, err := pkcs11hsm.New(softhsmtest.Token(t))
	if err != nil {
		t.Fatalf("pkcs11hsm.New: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func TestConformanceSoftHSM(t *testing.T) {
	protecttest.Run(t, func(t *testing.T) keyprotect.Protection { return newHSM(t) })
}

func TestDestroyDeletesTokenObjects(t *testing.T) {
	p := newHSM(t)
	ctx := context.Background()
	for _, shape := range []keyprotect.Shape{
		{Algorithm: keyprotect.AES, Length: 32},
		{Algorithm: keyprotect.RSA, Length: 256},
		{Algorithm: keyprotect.ECDSA, Length: 32, CurveID: keyprotect.NISTP256},
	} {
		m, err := p.Generate(ctx, "ocid1.keyversion.destroy", shape)
		if err != nil {
			t.Fatal(err)
		}
		v := keyprotect.Version{ID: "ocid1.keyversion.destroy", Shape: shape, Blob: m.Blob}
		if _, err := keyprotect.Open(ctx, p, v); err != nil {
			t.Fatal(err)
		}
		if err := p.Destroy(ctx, v); err != nil {
			t.Fatal(err)
		}
		if _, err := keyprotect.Open(ctx, p, v); !errors.Is(err, keyprotect.ErrMaterialNotFound) {
			t.Errorf("%s: Open after Destroy = %v, want ErrMaterialNotFound", shape, err)
		}
	}
}

func TestNotExportable(t *testing.T) {
	p := newHSM(t)
	if _, ok := any(p).(keyprotect.Exporter); ok {
		t.Fatal("HSM protection is an Exporter")
	}
	if keyprotect.IsEmulated(p) {
		t.Fatal("real HSM claims to be emulated")
	}
}

func TestMissingModule(t *testing.T) {
	_, err := pkcs11hsm.New(keyprotect.HSMConfig{ModulePath: filepath.Join(t.TempDir(), "nope.so"), TokenLabel: "x", PIN: "1"})
	if !errors.Is(err, keyprotect.ErrHSMUnavailable) {
		t.Fatalf("New(missing module) = %v, want ErrHSMUnavailable", err)
	}
	if _, err := pkcs11hsm.New(keyprotect.HSMConfig{}); !errors.Is(err, keyprotect.ErrHSMUnavailable) {
		t.Fatalf("New(empty config) = %v, want ErrHSMUnavailable", err)
	}
}

func TestWrongPIN(t *testing.T) {
	cfg := softhsmtest.Token(t)
	cfg.PIN = "0000"
	p, err := pkcs11hsm.New(cfg)
	if err == nil {
		p.Close()
		t.Fatal("wrong PIN accepted")
	}
}

// Generated and imported keys must be sensitive, non-extractable token
// objects. A second crypto11 context on the same token reads the attributes.
func TestKeysAreNonExtractable(t *testing.T) {
	cfg := softhsmtest.Token(t)
	p, err := pkcs11hsm.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	if _, err := p.Generate(ctx, "gen-aes", keyprotect.Shape{Algorithm: keyprotect.AES, Length: 32}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Generate(ctx, "gen-ec", keyprotect.Shape{Algorithm: keyprotect.ECDSA, Length: 32, CurveID: keyprotect.NISTP256}); err != nil {
		t.Fatal(err)
	}
	aesKey := make([]byte, 16)
	rand.Read(aesKey)
	if _, err := p.Import(ctx, "imp-aes", keyprotect.Shape{Algorithm: keyprotect.AES, Length: 16}, keyprotect.NewSecretMaterial(aesKey)); err != nil {
		t.Fatal(err)
	}
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ek)
	if _, err := p.Import(ctx, "imp-ec", keyprotect.Shape{Algorithm: keyprotect.ECDSA, Length: 48, CurveID: keyprotect.NISTP384}, keyprotect.NewSecretMaterial(der)); err != nil {
		t.Fatal(err)
	}

	c, err := crypto11.Configure(&crypto11.Config{Path: cfg.ModulePath, TokenLabel: cfg.TokenLabel, Pin: cfg.PIN})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	check := func(name string, obj any) {
		t.Helper()
		attrs, err := c.GetAttributes(obj, []crypto11.AttributeType{crypto11.CkaExtractable, crypto11.CkaSensitive, crypto11.CkaToken})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for typ, want := range map[crypto11.AttributeType]byte{crypto11.CkaExtractable: 0, crypto11.CkaSensitive: 1, crypto11.CkaToken: 1} {
			a := attrs[typ]
			if a == nil || len(a.Value) != 1 || a.Value[0] != want {
				t.Errorf("%s: attribute %#x = %v, want %d", name, typ, a, want)
			}
		}
	}
	for _, label := range []string{"gen-aes", "imp-aes"} {
		ks, err := c.FindKeys(nil, []byte(label))
		if err != nil || len(ks) != 1 {
			t.Fatalf("%s: %d keys, %v", label, len(ks), err)
		}
		check(label, ks[0])
	}
	for _, label := range []string{"gen-ec", "imp-ec"} {
		ks, err := c.FindKeyPairs(nil, []byte(label))
		if err != nil || len(ks) != 1 {
			t.Fatalf("%s: %d key pairs, %v", label, len(ks), err)
		}
		check(label, ks[0])
	}
}

// SoftHSM2 2.6 refuses CKM_RSA_PKCS_OAEP with SHA-256; the protection then
// decodes OAEP on the host after a raw RSA operation in the token. Either
// way RSA_OAEP_SHA_256 must work; the log says which path this token took.
func TestOAEPSHA256Path(t *testing.T) {
	p := newHSM(t)
	ctx := context.Background()
	shape := keyprotect.Shape{Algorithm: keyprotect.RSA, Length: 256}
	m, err := p.Generate(ctx, "oaep", shape)
	if err != nil {
		t.Fatal(err)
	}
	h, err := keyprotect.Open(ctx, p, keyprotect.Version{ID: "oaep", Shape: shape, Blob: m.Blob})
	if err != nil {
		t.Fatal(err)
	}
	if p.OAEPDecodedOnHost() {
		t.Fatal("host decoding engaged before any RSA_OAEP_SHA_256 decryption")
	}
	for _, alg := range []keyprotect.EncryptionAlgorithm{keyprotect.RSAOAEPSHA1, keyprotect.RSAOAEPSHA256, keyprotect.RSAOAEPSHA256} {
		ct, err := h.Encrypt(alg, []byte("x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if pt, _, err := h.Decrypt("", ct, nil); err != nil || string(pt.Bytes()) != "x" {
			t.Fatalf("%s: %v", alg, err)
		}
	}
	t.Logf("OAEP-SHA256 decoded on host after raw RSA in token: %v", p.OAEPDecodedOnHost())
}
