//go:build cgo

package pkcs11hsm

import (
	"errors"
	"fmt"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/coffer-vault/coffer/internal/keyprotect"
)

// SealKey is the AES-256 key in a PKCS#11 token that wraps a server's root
// key (--seal pkcs11). It is found by its CKA_LABEL alone, which must name
// exactly one secret key in the token. Encryption and decryption run in
// the token (CKM_AES_GCM); the key is sensitive and not extractable.
type SealKey struct {
	c    *crypto11.Context
	aead gcm
}

// OpenSealKey logs into the token of cfg and finds the AES key labelled
// label; when there is none and generate is set, it creates one (token
// object, 256 bits, sensitive, not extractable). Errors: the module, token
// or PIN unusable wrap keyprotect.ErrHSMUnavailable (and a refused PIN
// also keyprotect.ErrHSMLogin); a missing key wraps
// keyprotect.ErrMaterialNotFound. Close the key when done.
func OpenSealKey(cfg keyprotect.HSMConfig, label string, generate bool) (*SealKey, error) {
	if label == "" {
		return nil, errors.New("pkcs11 seal: no seal key label")
	}
	if cfg.ModulePath == "" {
		return nil, fmt.Errorf("%w: no PKCS#11 module configured (--pkcs11-module)", keyprotect.ErrHSMUnavailable)
	}
	if err := checkModule(cfg); err != nil {
		return nil, err
	}
	c, err := crypto11.Configure(tokenConfig(cfg, 4))
	if err != nil {
		if loginRefused(err) {
			return nil, fmt.Errorf("%w: %w: token %q: %v", keyprotect.ErrHSMUnavailable, keyprotect.ErrHSMLogin, cfg.TokenLabel, err)
		}
		return nil, fmt.Errorf("%w: open token %q: %v", keyprotect.ErrHSMUnavailable, cfg.TokenLabel, err)
	}
	k, err := findSealKey(c, label, generate)
	if err != nil {
		c.Close()
		return nil, err
	}
	g, err := k.NewGCM()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("pkcs11 seal key %q: %w", label, err)
	}
	return &SealKey{c: c, aead: gcm{g}}, nil
}

func findSealKey(c *crypto11.Context, label string, generate bool) (*crypto11.SecretKey, error) {
	ks, err := c.FindKeys(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("pkcs11 seal key %q: find: %w", label, err)
	}
	switch {
	case len(ks) > 1:
		return nil, fmt.Errorf("pkcs11 seal key %q: %d secret keys in the token carry this label; it must name one", label, len(ks))
	case len(ks) == 1:
		a, err := c.GetAttribute(ks[0], crypto11.CkaValueLen)
		if err != nil || a == nil || len(a.Value) < 4 || ulong(a.Value) != 32 {
			return nil, fmt.Errorf("pkcs11 seal key %q: not an AES-256 key (CKA_VALUE_LEN: %v)", label, err)
		}
		return ks[0], nil
	case !generate:
		return nil, fmt.Errorf("pkcs11 seal key %q: %w: no secret key with this label in the token", label, keyprotect.ErrMaterialNotFound)
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	k, err := c.GenerateSecretKeyWithLabel(id, []byte(label), 256, crypto11.CipherAES)
	if err != nil {
		return nil, fmt.Errorf("pkcs11 seal key %q: generate in token: %w", label, err)
	}
	return k, nil
}

// loginRefused reports whether err is the token refusing the PIN, which
// retrying with the same PIN only brings closer to a lockout.
func loginRefused(err error) bool {
	var e pkcs11.Error
	if !errors.As(err, &e) {
		return false
	}
	switch uint(e) {
	case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE,
		pkcs11.CKR_PIN_EXPIRED, pkcs11.CKR_PIN_LOCKED:
		return true
	}
	return false
}

// Seal encrypts in the token with AES-GCM; nonce is 12 bytes.
func (k *SealKey) Seal(nonce, plaintext, ad []byte) ([]byte, error) {
	return k.aead.Seal(nonce, plaintext, ad)
}

// Open decrypts in the token what Seal returned.
func (k *SealKey) Open(nonce, ciphertext, ad []byte) ([]byte, error) {
	return k.aead.Open(nonce, ciphertext, ad)
}

// Close logs out of the token (when no other context of the module is
// open) and releases its sessions.
func (k *SealKey) Close() error { return k.c.Close() }
