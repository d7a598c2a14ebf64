//go:build !cgo

package pkcs11hsm

import (
	"fmt"

	"github.com/coffer-vault/coffer/internal/keyprotect"
)

// Protection is unavailable in a binary built without cgo.
type Protection struct{ keyprotect.Protection }

// New fails: PKCS#11 needs cgo.
func New(cfg keyprotect.HSMConfig) (*Protection, error) {
	return nil, fmt.Errorf("%w: this binary was built without cgo", keyprotect.ErrHSMUnavailable)
}

// Close does nothing.
func (p *Protection) Close() error { return nil }
