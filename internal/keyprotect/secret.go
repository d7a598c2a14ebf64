package keyprotect

import (
	"crypto/subtle"
	"log/slog"
)

// SecretMaterial holds plaintext key material: an AES key's bytes, or a
// private key as PKCS#8 DER, or a freshly generated data encryption key.
// It never prints its contents (fmt, %v, slog all show a redacted value);
// compare with Equal, which runs in constant time; call Wipe when done.
type SecretMaterial struct {
	b []byte
}

// NewSecretMaterial takes ownership of b (the caller must not keep using it).
func NewSecretMaterial(b []byte) *SecretMaterial { return &SecretMaterial{b: b} }

// Bytes returns the material itself, not a copy: for handing to a cipher or
// base64 encoder, not for keeping.
func (s *SecretMaterial) Bytes() []byte {
	if s == nil {
		return nil
	}
	return s.b
}

// Len is the length of the material in bytes.
func (s *SecretMaterial) Len() int { return len(s.Bytes()) }

// Equal compares two materials in constant time (for equal lengths).
func (s *SecretMaterial) Equal(o *SecretMaterial) bool {
	return subtle.ConstantTimeCompare(s.Bytes(), o.Bytes()) == 1
}

// Wipe overwrites the material with zeros.
func (s *SecretMaterial) Wipe() {
	if s == nil {
		return
	}
	clear(s.b)
}

// String redacts, so the material cannot leak through fmt.
func (s *SecretMaterial) String() string { return "keyprotect.SecretMaterial(REDACTED)" }

// GoString redacts, so the material cannot leak through %#v.
func (s *SecretMaterial) GoString() string { return s.String() }

// LogValue redacts, so the material cannot leak through slog.
func (s *SecretMaterial) LogValue() slog.Value { return slog.StringValue("REDACTED") }
