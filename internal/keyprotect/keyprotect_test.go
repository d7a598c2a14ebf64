package keyprotect

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestShapeNormalize(t *testing.T) {
	for _, c := range []struct {
		in      Shape
		want    Shape
		wantErr string
	}{
		{Shape{AES, 16, ""}, Shape{AES, 16, ""}, ""},
		{Shape{AES, 24, ""}, Shape{AES, 24, ""}, ""},
		{Shape{AES, 32, ""}, Shape{AES, 32, ""}, ""},
		{Shape{AES, 256, ""}, Shape{}, "keyShape.length 256 is not valid for AES: allowed values are 16, 24, 32 (bytes)"},
		{Shape{AES, 32, NISTP256}, Shape{}, "keyShape.curveId must not be set for AES keys"},
		{Shape{RSA, 256, ""}, Shape{RSA, 256, ""}, ""},
		{Shape{RSA, 384, ""}, Shape{RSA, 384, ""}, ""},
		{Shape{RSA, 512, ""}, Shape{RSA, 512, ""}, ""},
		{Shape{RSA, 2048, ""}, Shape{}, "keyShape.length 2048 is not valid for RSA: allowed values are 256, 384, 512 (bytes)"},
		{Shape{ECDSA, 32, NISTP256}, Shape{ECDSA, 32, NISTP256}, ""},
		{Shape{ECDSA, 48, NISTP384}, Shape{ECDSA, 48, NISTP384}, ""},
		{Shape{ECDSA, 66, NISTP521}, Shape{ECDSA, 66, NISTP521}, ""},
		{Shape{ECDSA, 32, ""}, Shape{ECDSA, 32, NISTP256}, ""},
		{Shape{ECDSA, 66, ""}, Shape{ECDSA, 66, NISTP521}, ""},
		{Shape{ECDSA, 64, ""}, Shape{}, "keyShape.length 64 is not valid for ECDSA: allowed values are 32, 48, 66 (bytes)"},
		{Shape{ECDSA, 32, NISTP384}, Shape{}, "keyShape.length 32 does not match keyShape.curveId NIST_P384: the length must be 48 (bytes)"},
		{Shape{ECDSA, 32, "P256"}, Shape{}, `keyShape.curveId "P256" is not valid: allowed values are NIST_P256, NIST_P384, NIST_P521`},
		{Shape{"DES", 8, ""}, Shape{}, `keyShape.algorithm "DES" is not valid: allowed values are AES, RSA, ECDSA`},
		{Shape{"aes", 32, ""}, Shape{}, `keyShape.algorithm "aes" is not valid: allowed values are AES, RSA, ECDSA`},
	} {
		got, err := c.in.Normalize()
		if c.wantErr == "" {
			if err != nil || got != c.want {
				t.Errorf("Normalize(%+v) = %+v, %v; want %+v", c.in, got, err, c.want)
			}
			continue
		}
		if err == nil || err.Error() != c.wantErr || !errors.Is(err, ErrInvalidShape) || KindOf(err) != KindInvalidParameter {
			t.Errorf("Normalize(%+v) error = %v; want %q (ErrInvalidShape)", c.in, err, c.wantErr)
		}
	}
	if err := (Shape{ECDSA, 32, ""}).Validate(); !errors.Is(err, ErrInvalidShape) {
		t.Errorf("Validate of non-canonical ECDSA shape = %v", err)
	}
}

func TestKindOf(t *testing.T) {
	if KindOf(errors.New("disk on fire")) != KindInternal {
		t.Error("unknown error is not internal")
	}
	if KindOf(fmt.Errorf("wrapped: %w", ErrCorruptBlob)) != KindInternal {
		t.Error("corrupt blob is the caller's fault")
	}
	if KindOf(fmt.Errorf("wrapped: %w", Errorf(ErrNotExportable, "no"))) != KindInvalidParameter {
		t.Error("wrapped caller error lost its kind")
	}
}

func TestAssociatedDataEncodingIsInjective(t *testing.T) {
	maps := []AssociatedData{
		nil,
		{"a": "bc"},
		{"ab": "c"},
		{"a": "b", "c": "d"},
		{"a": "b\x00\x00\x00\x01c\x00\x00\x00\x01d"},
		{"": ""},
		{"": "a"},
		{"a": ""},
		{"a": "b", "c": ""},
	}
	seen := map[string]int{}
	for i, m := range maps {
		k := string(m.Encode())
		if j, ok := seen[k]; ok {
			t.Errorf("maps %d and %d encode alike", i, j)
		}
		seen[k] = i
	}
	if (AssociatedData{}).Encode() != nil || AssociatedData(nil).Encode() != nil {
		t.Error("empty map does not encode to nil")
	}
	// Order of insertion does not matter.
	a, b := AssociatedData{}, AssociatedData{}
	for i := 0; i < 50; i++ {
		a[fmt.Sprint(i)] = "v"
		b[fmt.Sprint(49-i)] = "v"
	}
	if !bytes.Equal(a.Encode(), b.Encode()) {
		t.Error("encoding depends on map order")
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// RFC 5649 section 6 test vectors.
func TestKWPVectors(t *testing.T) {
	kek := mustHex("5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8")
	for _, c := range []struct{ key, wrapped string }{
		{"c37b7e6492584340 bed1220780894115 5068f738", "138bdeaa9b8fa7fc 61f97742e72248ee 5ae6ae5360d1ae6a 5f54f373fa543b6a"},
		{"466f7250617369", "afbeb0f07dfbf541 9200f2ccb50bb24f"},
	} {
		got, err := WrapKWP(kek, mustHex(c.key))
		if err != nil || !bytes.Equal(got, mustHex(c.wrapped)) {
			t.Errorf("WrapKWP(%s) = %x, %v; want %s", c.key, got, err, c.wrapped)
		}
		pt, err := UnwrapKWP(kek, mustHex(c.wrapped))
		if err != nil || !bytes.Equal(pt, mustHex(c.key)) {
			t.Errorf("UnwrapKWP(%s) = %x, %v", c.wrapped, pt, err)
		}
		bad := mustHex(c.wrapped)
		for i := range bad {
			bad[i] ^= 0x80
			if _, err := UnwrapKWP(kek, bad); err == nil {
				t.Errorf("tampered byte %d unwrapped", i)
			}
			bad[i] ^= 0x80
		}
	}
	for n := 1; n <= 70; n++ {
		pt := make([]byte, n)
		rand.Read(pt)
		w, err := WrapKWP(kek, pt)
		if err != nil || len(w) != 8+(n+7)/8*8 {
			t.Fatalf("WrapKWP(%d bytes): %d bytes, %v", n, len(w), err)
		}
		got, err := UnwrapKWP(kek, w)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("round trip of %d bytes: %v", n, err)
		}
	}
}

func TestCiphertextParse(t *testing.T) {
	good := appendHeader(nil, AES256GCM, "ocid1.keyversion.x")
	good = append(good, make([]byte, 12+16)...)
	info, err := ParseCiphertext(good)
	if err != nil || info.KeyVersionID != "ocid1.keyversion.x" || info.Algorithm != AES256GCM {
		t.Fatalf("ParseCiphertext = %+v, %v", info, err)
	}
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", []byte{1, 1, 0}},
		{"bad version", append([]byte{2}, good[1:]...)},
		{"bad algorithm", append([]byte{1, 9}, good[2:]...)},
		{"zero-length id", []byte{1, 1, 0, 0}},
		{"id past end", []byte{1, 1, 0, 200, 'x'}},
		{"no tag", good[:len(good)-1]},
		{"rsa wrong length", append(appendHeader(nil, RSAOAEPSHA256, "v"), make([]byte, 255)...)},
	} {
		if _, err := ParseCiphertext(c.b); !errors.Is(err, ErrMalformedCiphertext) {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}

func TestSecretMaterialRedacts(t *testing.T) {
	m := NewSecretMaterial([]byte("hunter2-hunter2"))
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "m", m)
	for _, s := range []string{fmt.Sprint(m), fmt.Sprintf("%v %+v %#v %s", m, m, m, m), buf.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("material leaked: %s", s)
		}
	}
	cfg := HSMConfig{ModulePath: "/lib.so", TokenLabel: "t", PIN: "987654"}
	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "hsm", cfg)
	if strings.Contains(buf.String(), "987654") {
		t.Errorf("PIN leaked: %s", buf.String())
	}
}

func TestParseRSAPublicKeyPEM(t *testing.T) {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if _, err := ParseRSAPublicKeyPEM(PublicKeyPEM(der)); err != nil {
		t.Fatal(err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ = x509.MarshalPKIXPublicKey(&small.PublicKey)
	for _, s := range []string{"", "garbage", PublicKeyPEM(der), PublicKeyPEM([]byte("x"))} {
		if _, err := ParseRSAPublicKeyPEM(s); !errors.Is(err, ErrInvalidParameter) {
			t.Errorf("ParseRSAPublicKeyPEM(%.20q) = %v", s, err)
		}
	}
}

func FuzzParseCiphertext(f *testing.F) {
	good := appendHeader(nil, AES256GCM, "ocid1.keyversion.x")
	f.Add(append(good, make([]byte, 40)...))
	f.Add(append(appendHeader(nil, RSAOAEPSHA1, "v"), make([]byte, 256)...))
	f.Add([]byte{1, 3, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseCiphertext(b)
		if err != nil {
			if !errors.Is(err, ErrMalformedCiphertext) {
				t.Fatalf("error is not ErrMalformedCiphertext: %v", err)
			}
			return
		}
		// What parses names a version of sane length and re-encodes to the
		// same header.
		h := appendHeader(nil, info.Algorithm, info.KeyVersionID)
		if !bytes.HasPrefix(b, h) {
			t.Fatalf("header does not round-trip")
		}
	})
}

func FuzzParseMaterial(f *testing.F) {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	f.Add(byte(0), make([]byte, 32))
	f.Add(byte(1), der)
	f.Add(byte(2), der[:100])
	shapes := []Shape{{AES, 32, ""}, {RSA, 256, ""}, {ECDSA, 32, NISTP256}, {ECDSA, 66, NISTP521}}
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		shape := shapes[int(which)%len(shapes)]
		key, err := ParseMaterial(shape, b)
		if err != nil {
			if !errors.Is(err, ErrInvalidMaterial) {
				t.Fatalf("error is not ErrInvalidMaterial: %v", err)
			}
			return
		}
		if key == nil {
			t.Fatal("nil key without error")
		}
	})
}

// FuzzUnwrapImport feeds arbitrary wrapped blobs to the import path with a
// real wrapping key (software primitives).
func FuzzUnwrapImport(f *testing.F) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	h, err := newHandle("wk", Shape{RSA, 256, ""}, Key{Signer: rk, Decrypter: rk})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := Wrap(RSAOAEPAESSHA256Wrap, &rk.PublicKey, make([]byte, 32))
	f.Add(false, good)
	good2, _ := Wrap(RSAOAEPSHA256Wrap, &rk.PublicKey, make([]byte, 16))
	f.Add(true, good2)
	f.Add(false, append(good[:256:256], make([]byte, 24)...))
	f.Fuzz(func(t *testing.T, direct bool, b []byte) {
		alg := RSAOAEPAESSHA256Wrap
		shape := Shape{AES, 32, ""}
		if direct {
			alg, shape = RSAOAEPSHA256Wrap, Shape{AES, 16, ""}
		}
		m, err := UnwrapImport(h, alg, b, shape)
		if err != nil {
			if KindOf(err) != KindInvalidParameter {
				t.Fatalf("unwrap error is not the caller's: %v", err)
			}
			return
		}
		if m.Len() != shape.Length {
			t.Fatalf("unwrapped %d bytes for %s", m.Len(), shape)
		}
	})
}

func FuzzUnwrapKWP(f *testing.F) {
	kek := make([]byte, 32)
	w, _ := WrapKWP(kek, []byte("seed material"))
	f.Add(w)
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := UnwrapKWP(kek, b)
		if err == nil {
			w, err := WrapKWP(kek, pt)
			if err != nil || !bytes.Equal(w, b) {
				t.Fatalf("unwrap accepted a blob that does not re-wrap to itself")
			}
		}
	})
}

func TestHSMConfigNeverPrintsPIN(t *testing.T) {
	cfg := HSMConfig{ModulePath: "/lib/x.so", TokenLabel: "t", PIN: "CANARY-pin-4711"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "pkcs11", cfg)
	for _, out := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%s", cfg), buf.String()} {
		if strings.Contains(out, "CANARY-pin-4711") {
			t.Fatalf("PIN printed: %s", out)
		}
		if !strings.Contains(out, "/lib/x.so") {
			t.Fatalf("module path missing: %s", out)
		}
	}
}
