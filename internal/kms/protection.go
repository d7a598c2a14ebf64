package kms

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/keyprotect"
)

// Protection flavours recorded with every key version (and wrapping key), so
// a version opens with the protection that made it even after the server's
// configuration changes (for example a PKCS#11 module added to a dev data
// directory whose HSM keys were emulated).
const (
	flavourSoftware    = "SOFTWARE"
	flavourHSM         = "HSM"          // a PKCS#11 token
	flavourEmulatedHSM = "HSM_EMULATED" // dev mode: HSM keys kept in software
)

// Protections are the key protections a Service uses. The server builds them
// at start: SOFTWARE and the emulated HSM seal material with the barrier;
// HSM is the PKCS#11 token when one is configured, the emulated HSM in dev
// mode without one, and nil otherwise (HSM keys are then refused).
type Protections struct {
	Software keyprotect.Protection
	HSM      keyprotect.Protection
	// EmulatedHSM opens HSM keys made while the HSM was emulated; nil when
	// HSM is itself the emulation.
	EmulatedHSM keyprotect.Protection
}

// HSMEmulated reports whether HSM keys made now are emulated in software.
func (p Protections) HSMEmulated() bool { return p.HSM != nil && keyprotect.IsEmulated(p.HSM) }

// SetProtections installs the key protections. Call it once, before
// serving; key operations fail with 503 until it is called.
func (s *Service) SetProtections(p Protections) {
	s.protMu.Lock()
	defer s.protMu.Unlock()
	s.prot = &p
}

func (s *Service) protections() (*Protections, error) {
	s.protMu.RLock()
	defer s.protMu.RUnlock()
	if s.prot == nil || s.prot.Software == nil {
		return nil, errs.E(errs.Unavailable, "key protection is not configured on this server")
	}
	return s.prot, nil
}

// forMode returns the protection and flavour new material of a mode gets.
func (s *Service) forMode(mode string) (keyprotect.Protection, string, error) {
	p, err := s.protections()
	if err != nil {
		return nil, "", err
	}
	switch mode {
	case ModeSoftware:
		return p.Software, flavourSoftware, nil
	case ModeHSM:
		if p.HSM == nil {
			return nil, "", errs.E(errs.Invalid, "protectionMode HSM is not available: this server has no PKCS#11 module configured (--pkcs11-module); use protectionMode SOFTWARE")
		}
		if keyprotect.IsEmulated(p.HSM) {
			return p.HSM, flavourEmulatedHSM, nil
		}
		return p.HSM, flavourHSM, nil
	}
	return nil, "", errs.E(errs.Invalid, "protectionMode %q is not valid: allowed values are HSM, SOFTWARE", mode)
}

// forFlavour returns the protection that opens material of a flavour.
func (s *Service) forFlavour(flavour string) (keyprotect.Protection, error) {
	p, err := s.protections()
	if err != nil {
		return nil, err
	}
	switch flavour {
	case flavourSoftware:
		return p.Software, nil
	case flavourHSM:
		if p.HSM != nil && !keyprotect.IsEmulated(p.HSM) {
			return p.HSM, nil
		}
		return nil, errs.E(errs.Unavailable, "this key is kept in a PKCS#11 HSM, and the server has no PKCS#11 module configured")
	case flavourEmulatedHSM:
		if p.HSM != nil && keyprotect.IsEmulated(p.HSM) {
			return p.HSM, nil
		}
		if p.EmulatedHSM != nil {
			return p.EmulatedHSM, nil
		}
		return nil, errs.E(errs.Unavailable, "this key was made by the dev-mode HSM emulation, which is not available")
	}
	return nil, fmt.Errorf("kms: unknown protection flavour %q", flavour)
}

// handleCache keeps opened key versions: material never changes for a
// version ID, so a handle stays valid until the version is destroyed.
// Opening is the expensive part of a crypto call (unsealing, parsing an RSA
// private key, a token lookup).
type handleCache struct {
	mu sync.Mutex
	m  map[string]*keyprotect.Handle
}

const maxCachedHandles = 4096

func (c *handleCache) get(id string) *keyprotect.Handle {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *handleCache) put(id string, h *keyprotect.Handle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedHandles {
		c.m = map[string]*keyprotect.Handle{}
	}
	c.m[id] = h
}

func (c *handleCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// material is what opens one key version: its ID, shape, protection
// flavour and persisted blob.
type material struct {
	id      string
	shape   keyprotect.Shape
	flavour string
	blob    []byte
}

func (s *Service) open(ctx context.Context, m material) (*keyprotect.Handle, error) {
	if h := s.handles.get(m.id); h != nil {
		return h, nil
	}
	if len(m.blob) == 0 {
		return nil, errs.E(errs.IncorrectState, "the key material of key version %s has been destroyed", m.id)
	}
	p, err := s.forFlavour(m.flavour)
	if err != nil {
		return nil, err
	}
	h, err := keyprotect.Open(ctx, p, keyprotect.Version{ID: m.id, Shape: m.shape, Blob: m.blob})
	if err != nil {
		return nil, fmt.Errorf("kms: %w", err)
	}
	s.handles.put(m.id, h)
	return h, nil
}

func (s *Service) destroy(ctx context.Context, m material) error {
	s.handles.drop(m.id)
	if len(m.blob) == 0 {
		return nil
	}
	p, err := s.forFlavour(m.flavour)
	if err != nil {
		return err
	}
	return p.Destroy(ctx, keyprotect.Version{ID: m.id, Shape: m.shape, Blob: m.blob})
}

// cryptoErr turns a keyprotect error into an errs error: the caller's
// mistakes keep their message (written for the caller, never holding
// secrets) as 400 InvalidParameter; anything else stays internal.
func cryptoErr(err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	if keyprotect.KindOf(err) == keyprotect.KindInvalidParameter {
		return errs.Wrap(errs.Invalid, err, "%s", callerMessage(err))
	}
	return err
}

// callerMessage is the innermost message of a keyprotect caller error, the
// one meant for the API caller (outer layers add version IDs, which are
// harmless but noisy).
func callerMessage(err error) string {
	msg := err.Error()
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		if keyprotect.KindOf(u) != keyprotect.KindInvalidParameter {
			break
		}
		switch u {
		case keyprotect.ErrInvalidShape, keyprotect.ErrInvalidParameter, keyprotect.ErrUnsupportedOperation,
			keyprotect.ErrMalformedCiphertext, keyprotect.ErrDecryptionFailed, keyprotect.ErrWrongKeyVersion,
			keyprotect.ErrMessageTooLarge, keyprotect.ErrInvalidDigest, keyprotect.ErrInvalidMaterial, keyprotect.ErrNotExportable:
			return msg
		}
		msg = u.Error()
	}
	return msg
}
