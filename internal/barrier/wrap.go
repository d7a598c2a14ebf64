package barrier

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
)

// KeyWrapper is a key kept outside the store that wraps the root key for
// an auto-unseal seal (SealPKCS11): an AEAD whose key never leaves its
// token. The caller chooses the nonce.
type KeyWrapper interface {
	Seal(nonce, plaintext, aad []byte) ([]byte, error)
	Open(nonce, ciphertext, aad []byte) ([]byte, error)
}

// MechanismAESGCM is how a SealPKCS11 configuration's root key is wrapped:
// CKM_AES_GCM with a 12-byte nonce from crypto/rand and a 128-bit tag.
const MechanismAESGCM = "CKM_AES_GCM"

const (
	wrapVersion  = 1
	wrapNonceLen = 12
	// wrappedLen is version | nonce | ciphertext of the root key | tag.
	wrappedLen    = 1 + wrapNonceLen + RootKeySize + 16
	wrapAADPrefix = "coffer/root-key/pkcs11/v1\x00"
)

// wrapAAD binds a wrapped root key to the label of the key that wrapped
// it, so a configuration edited to name another key does not open.
func wrapAAD(label string) []byte { return []byte(wrapAADPrefix + label) }

// WrapRootKey wraps root with w, the token key labelled label, and returns
// the seal configuration that records it.
func WrapRootKey(w KeyWrapper, label string, root RootKey) (SealConfig, error) {
	nonce := make([]byte, wrapNonceLen)
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return SealConfig{}, fmt.Errorf("barrier: wrap root key: nonce: %w", err)
	}
	ct, err := w.Seal(nonce, root.b[:], wrapAAD(label))
	if err != nil {
		return SealConfig{}, fmt.Errorf("barrier: wrap root key with token key %q: %w", label, err)
	}
	if len(ct) != RootKeySize+16 {
		return SealConfig{}, fmt.Errorf("barrier: wrap root key with token key %q: %d bytes of ciphertext, want %d", label, len(ct), RootKeySize+16)
	}
	blob := append(append([]byte{wrapVersion}, nonce...), ct...)
	cfg := SealConfig{Type: SealPKCS11, KeyLabel: label, Mechanism: MechanismAESGCM, WrappedRootKey: base64.StdEncoding.EncodeToString(blob)}
	return cfg, cfg.Validate()
}

// UnwrapRootKey unwraps the root key recorded in cfg with w. A key that
// does not unwrap it is ErrWrongRootKey; whether the root key opens the
// keyring is only known at Unseal.
func UnwrapRootKey(w KeyWrapper, cfg SealConfig) (RootKey, error) {
	if err := cfg.Validate(); err != nil || cfg.Type != SealPKCS11 {
		return RootKey{}, fmt.Errorf("barrier: unwrap root key: not a pkcs11 seal configuration (%v)", err)
	}
	if cfg.Mechanism != MechanismAESGCM {
		return RootKey{}, fmt.Errorf("barrier: unwrap root key: unknown mechanism %q", cfg.Mechanism)
	}
	blob, err := base64.StdEncoding.DecodeString(cfg.WrappedRootKey)
	if err != nil || len(blob) != wrappedLen || blob[0] != wrapVersion {
		return RootKey{}, fmt.Errorf("barrier: unwrap root key: the stored wrapped root key is malformed")
	}
	plain, err := w.Open(blob[1:1+wrapNonceLen], blob[1+wrapNonceLen:], wrapAAD(cfg.KeyLabel))
	if err != nil {
		return RootKey{}, fmt.Errorf("barrier: unwrap root key: %w: token key %q does not unwrap this data directory's root key (%v)", ErrWrongRootKey, cfg.KeyLabel, err)
	}
	defer clear(plain)
	return NewRootKey(plain)
}
