// Package secretstest provides test doubles for the secrets domain: a fake
// KeyUser that wraps data keys with in-memory AES keys and can be told to
// disable, rotate or misplace a key, so tests of the secrets service (and of
// the wire layer above it) need no KMS.
package secretstest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
)

// KeyUser is a fake secrets.KeyUser. The zero value is not usable; call
// NewKeyUser.
type KeyUser struct {
	mu   sync.Mutex
	keys map[string]*key // by key OCID

	// Wraps and Unwraps count calls.
	Wraps, Unwraps atomic.Int64
	// BeforeWrap, when set, runs at the start of every WrapDataKey (outside
	// the fake's lock); tests use it to widen race windows.
	BeforeWrap func()
	// Compartment, when set, is the compartment Resources reports for the
	// fake's own keys and their vaults.
	Compartment string
}

type key struct {
	vault    string
	aes      bool
	disabled bool
	versions map[string][]byte // key version OCID -> AES-256 key
	current  string
}

// NewKeyUser returns an empty fake.
func NewKeyUser() *KeyUser { return &KeyUser{keys: map[string]*key{}} }

// AddKey creates an enabled AES key in vaultID and returns its OCID.
func (k *KeyUser) AddKey(vaultID string) string { return k.add(vaultID, true) }

// AddRSAKey creates an asymmetric key, which cannot wrap data keys.
func (k *KeyUser) AddRSAKey(vaultID string) string { return k.add(vaultID, false) }

func (k *KeyUser) add(vaultID string, isAES bool) string {
	id := ocid.New(ocid.Key, "test")
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[id] = &key{vault: vaultID, aes: isAES, versions: map[string][]byte{}}
	k.rotateLocked(id)
	return id
}

// Rotate gives keyID a new current version; old versions still unwrap.
func (k *KeyUser) Rotate(keyID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rotateLocked(keyID)
}

func (k *KeyUser) rotateLocked(keyID string) {
	kv := ocid.New(ocid.KeyVersion, "test")
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	k.keys[keyID].versions[kv] = b
	k.keys[keyID].current = kv
}

// SetDisabled disables or enables keyID.
func (k *KeyUser) SetDisabled(keyID string, disabled bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[keyID].disabled = disabled
}

func (k *KeyUser) lookup(keyID string) (*key, error) {
	kk, ok := k.keys[keyID]
	if !ok {
		return nil, errs.E(errs.RelatedNotFound, "key not found or not authorized")
	}
	if kk.disabled {
		return nil, errs.E(errs.IncorrectState, "key is disabled")
	}
	return kk, nil
}

// WrapDataKey implements secrets.KeyUser.
func (k *KeyUser) WrapDataKey(ctx context.Context, vaultID, keyID string, dek, aad []byte) ([]byte, string, error) {
	if f := k.BeforeWrap; f != nil {
		f()
	}
	k.Wraps.Add(1)
	k.mu.Lock()
	defer k.mu.Unlock()
	kk, err := k.lookup(keyID)
	if err != nil {
		return nil, "", err
	}
	if kk.vault != vaultID {
		return nil, "", errs.E(errs.RelatedNotFound, "key not found in the vault or not authorized")
	}
	if !kk.aes {
		return nil, "", errs.E(errs.Invalid, "key is not an AES key and cannot encrypt secrets")
	}
	g := gcm(kk.versions[kk.current])
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", err
	}
	return g.Seal(nonce, nonce, dek, aad), kk.current, nil
}

// UnwrapDataKey implements secrets.KeyUser.
func (k *KeyUser) UnwrapDataKey(ctx context.Context, keyID, keyVersionID string, wrapped, aad []byte) ([]byte, error) {
	k.Unwraps.Add(1)
	k.mu.Lock()
	defer k.mu.Unlock()
	kk, err := k.lookup(keyID)
	if err != nil {
		return nil, err
	}
	mat, ok := kk.versions[keyVersionID]
	if !ok {
		return nil, errs.E(errs.RelatedNotFound, "key version not found")
	}
	g := gcm(mat)
	if len(wrapped) < g.NonceSize() {
		return nil, errs.E(errs.Invalid, "wrapped key is malformed")
	}
	dek, err := g.Open(nil, wrapped[:g.NonceSize()], wrapped[g.NonceSize():], aad)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, fmt.Errorf("fake unwrap: %w", err), "wrapped key does not authenticate")
	}
	return dek, nil
}

// Resources implements secrets.KeyUser: the fake has no vault or key
// records, so both come back with only their ids, unless Compartment is
// set: then a key the fake made, in its vault, comes back in Compartment.
func (k *KeyUser) Resources(_ store.Reader, vaultID, keyID string) (vault, key *authz.Resource, err error) {
	vault, key = &authz.Resource{ID: vaultID, VaultID: vaultID}, &authz.Resource{ID: keyID, VaultID: vaultID}
	k.mu.Lock()
	defer k.mu.Unlock()
	if kk, ok := k.keys[keyID]; ok && k.Compartment != "" && kk.vault == vaultID {
		vault.CompartmentID, key.CompartmentID = k.Compartment, k.Compartment
	}
	return vault, key, nil
}

// Opener implements secrets.KeyUser: it checks the key now and unwraps
// with UnwrapDataKey.
func (k *KeyUser) Opener(_ store.Reader, keyID, keyVersionID string) (func(context.Context, []byte, []byte) ([]byte, error), error) {
	k.mu.Lock()
	_, err := k.lookup(keyID)
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
		return k.UnwrapDataKey(ctx, keyID, keyVersionID, wrapped, aad)
	}, nil
}

func gcm(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}
