// Package protecttest is the conformance suite every keyprotect.Protection
// must pass (Run), with the test doubles it needs (NewSealer). Both the
// SOFTWARE and the PKCS#11 HSM protections run it; so does the emulated HSM.
package protecttest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"io"
	"sync/atomic"
)

// Sealer is an in-memory keyprotect.Sealer: AES-256-GCM under a random key,
// standing in for the server's barrier. It counts its calls so tests can
// check that material really goes through it.
type Sealer struct {
	aead         cipher.AEAD
	Seals, Opens atomic.Int64
}

// NewSealer returns a Sealer with a fresh random key.
func NewSealer() *Sealer {
	key := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		panic(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &Sealer{aead: g}
}

// Seal encrypts plaintext bound to aad; the output is nonce || ciphertext.
func (s *Sealer) Seal(aad, plaintext []byte) ([]byte, error) {
	s.Seals.Add(1)
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plaintext, aad), nil
}

// Open reverses Seal; it fails if aad differs.
func (s *Sealer) Open(aad, ciphertext []byte) ([]byte, error) {
	s.Opens.Add(1)
	if len(ciphertext) < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, errors.New("sealed value too short")
	}
	n := s.aead.NonceSize()
	return s.aead.Open(nil, ciphertext[:n], ciphertext[n:], aad)
}
