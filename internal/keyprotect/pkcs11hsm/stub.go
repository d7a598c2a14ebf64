//go:build !cgo

package pkcs11hsm

import (
	"fmt"

	"github.com/coffer-vault/coffer/internal/keyprotect"
)

// Supported is false: this binary was built without cgo.
const Supported = false

// Protection is unavailable in a binary built without cgo.
type Protection struct{ keyprotect.Protection }

// New fails: PKCS#11 needs cgo to load the module. The release binaries
// and the default container image are built without it, so the message
// says how to get a binary that has it.
func New(cfg keyprotect.HSMConfig) (*Protection, error) {
	return nil, fmt.Errorf("%w: this binary was built without cgo (CGO_ENABLED=0, as the release binaries and the default container image are), so it cannot load a PKCS#11 module; build with cgo (CGO_ENABLED=1 go build ./cmd/coffer) or use the container image's hsm target", keyprotect.ErrHSMUnavailable)
}

// Close does nothing.
func (p *Protection) Close() error { return nil }

// SealKey is unavailable in a binary built without cgo.
type SealKey struct{}

// OpenSealKey fails: see New.
func OpenSealKey(cfg keyprotect.HSMConfig, label string, generate bool) (*SealKey, error) {
	_, err := New(cfg)
	return nil, err
}

// Seal is never reached: OpenSealKey fails.
func (*SealKey) Seal(nonce, plaintext, ad []byte) ([]byte, error) {
	return nil, keyprotect.ErrHSMUnavailable
}

// Open is never reached: OpenSealKey fails.
func (*SealKey) Open(nonce, ciphertext, ad []byte) ([]byte, error) {
	return nil, keyprotect.ErrHSMUnavailable
}

// Close does nothing.
func (*SealKey) Close() error { return nil }
