// Package barrier holds Coffer's root key and encrypts everything at rest.
//
// The root key (256 bits) never touches the store. It seals a keyring, kept
// in the store under KeyringPath, whose terms are the AES-256-GCM keys that
// encrypt every stored value. Each ciphertext carries the term that sealed
// it, so old values still open after the keyring gains a new term, and every
// value is bound to its storage key as associated data, so a value copied to
// another key does not open.
//
// Layout of a sealed value: version (1 byte) | term (4 bytes, big endian) |
// nonce (12 bytes) | AES-GCM ciphertext and tag.
package barrier

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/coffer-vault/coffer/internal/store"
)

// KeyringPath is the storage key of the sealed keyring.
const KeyringPath = "core/keyring"

// RootKeySize is the size of the root key in bytes.
const RootKeySize = 32

const (
	formatVersion = 1
	headerSize    = 1 + 4 + 12
	keyringAAD    = "coffer/keyring/v1"
	// sealerAADPrefix separates values sealed for callers (Seal, Open) from
	// stored values, whose associated data is their storage key.
	sealerAADPrefix = "coffer/sealer/v1\x00"
)

// ErrSealed is returned while the barrier has no keyring.
var ErrSealed = errors.New("barrier: sealed")

// ErrDecrypt is returned when a ciphertext does not open: wrong key, wrong
// associated data, or tampering.
var ErrDecrypt = errors.New("barrier: ciphertext does not open")

// RootKey is the 256-bit key that seals the keyring. It prints as redacted.
type RootKey struct{ b [RootKeySize]byte }

// NewRootKey returns a root key from 32 bytes.
func NewRootKey(b []byte) (RootKey, error) {
	var k RootKey
	if len(b) != RootKeySize {
		return k, fmt.Errorf("barrier: root key must be %d bytes, got %d", RootKeySize, len(b))
	}
	copy(k.b[:], b)
	return k, nil
}

// GenerateRootKey returns a fresh random root key.
func GenerateRootKey() (RootKey, error) {
	var k RootKey
	if _, err := io.ReadFull(rand.Reader, k.b[:]); err != nil {
		return k, fmt.Errorf("barrier: generate root key: %w", err)
	}
	return k, nil
}

// String never shows the key.
func (RootKey) String() string { return "RootKey(REDACTED)" }

// GoString never shows the key.
func (RootKey) GoString() string { return "RootKey(REDACTED)" }

// LogValue never shows the key.
func (RootKey) LogValue() slog.Value { return slog.StringValue("REDACTED") }

type keyring struct {
	Active uint32            `json:"active"`
	Terms  map[uint32][]byte `json:"terms"`
}

// Barrier encrypts and decrypts values with the keyring's terms.
type Barrier struct {
	mu     sync.RWMutex
	active uint32
	aeads  map[uint32]cipher.AEAD
}

// Unseal opens the keyring stored in st with root, creating it on first use.
func Unseal(ctx context.Context, st store.Store, root RootKey) (*Barrier, error) {
	rootAEAD, err := newAEAD(root.b[:])
	if err != nil {
		return nil, err
	}
	var kr keyring
	err = st.Update(ctx, func(tx store.Tx) error {
		sealed, err := tx.Get(KeyringPath)
		if errors.Is(err, store.ErrNotFound) {
			term := make([]byte, 32)
			if _, err := io.ReadFull(rand.Reader, term); err != nil {
				return fmt.Errorf("generate keyring term: %w", err)
			}
			kr = keyring{Active: 1, Terms: map[uint32][]byte{1: term}}
			plain, err := json.Marshal(kr)
			if err != nil {
				return err
			}
			ct, err := seal(rootAEAD, 0, plain, []byte(keyringAAD))
			if err != nil {
				return err
			}
			return tx.Put(KeyringPath, ct)
		}
		if err != nil {
			return err
		}
		plain, err := open(func(uint32) cipher.AEAD { return rootAEAD }, sealed, []byte(keyringAAD))
		if err != nil {
			return fmt.Errorf("the root key does not open this data directory's keyring: %w", err)
		}
		defer clear(plain)
		return json.Unmarshal(plain, &kr)
	})
	if err != nil {
		return nil, fmt.Errorf("barrier: unseal: %w", err)
	}
	b := &Barrier{active: kr.Active, aeads: make(map[uint32]cipher.AEAD, len(kr.Terms))}
	for term, key := range kr.Terms {
		a, err := newAEAD(key)
		if err != nil {
			return nil, err
		}
		b.aeads[term] = a
		clear(key)
	}
	if b.aeads[b.active] == nil {
		return nil, errors.New("barrier: keyring has no active term")
	}
	return b, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("barrier: %w", err)
	}
	return cipher.NewGCM(block)
}

func seal(a cipher.AEAD, term uint32, plain, aad []byte) ([]byte, error) {
	out := make([]byte, headerSize, headerSize+len(plain)+a.Overhead())
	out[0] = formatVersion
	binary.BigEndian.PutUint32(out[1:5], term)
	if _, err := io.ReadFull(rand.Reader, out[5:headerSize]); err != nil {
		return nil, fmt.Errorf("barrier: nonce: %w", err)
	}
	return a.Seal(out, out[5:headerSize], plain, aad), nil
}

func open(lookup func(uint32) cipher.AEAD, ct, aad []byte) ([]byte, error) {
	if len(ct) < headerSize+16 || ct[0] != formatVersion {
		return nil, ErrDecrypt
	}
	a := lookup(binary.BigEndian.Uint32(ct[1:5]))
	if a == nil {
		return nil, ErrDecrypt
	}
	plain, err := a.Open(nil, ct[5:headerSize], ct[headerSize:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

func (b *Barrier) lookup(term uint32) cipher.AEAD {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.aeads[term]
}

func (b *Barrier) encrypt(plain, aad []byte) ([]byte, error) {
	b.mu.RLock()
	term, a := b.active, b.aeads[b.active]
	b.mu.RUnlock()
	return seal(a, term, plain, aad)
}

// Seal encrypts plaintext for a caller that stores the result itself (for
// example wrapped key material). aad binds it to its context.
func (b *Barrier) Seal(aad, plaintext []byte) ([]byte, error) {
	return b.encrypt(plaintext, sealerAAD(aad))
}

// Open decrypts what Seal returned with the same aad.
func (b *Barrier) Open(aad, ciphertext []byte) ([]byte, error) {
	return open(b.lookup, ciphertext, sealerAAD(aad))
}

func sealerAAD(aad []byte) []byte {
	out := make([]byte, 0, len(sealerAADPrefix)+len(aad))
	return append(append(out, sealerAADPrefix...), aad...)
}

// Wrap returns a store whose values are encrypted with the barrier, bound to
// their keys. The keyring itself is not reachable through it.
func (b *Barrier) Wrap(st store.Store) store.Store { return &sealedStore{b: b, st: st} }

type sealedStore struct {
	b  *Barrier
	st store.Store
}

func (s *sealedStore) View(ctx context.Context, fn func(store.Reader) error) error {
	return s.st.View(ctx, func(r store.Reader) error { return fn(sealedReader{b: s.b, r: r}) })
}

func (s *sealedStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.st.Update(ctx, func(tx store.Tx) error { return fn(sealedTx{sealedReader{b: s.b, r: tx}, tx}) })
}

func (s *sealedStore) Close() error { return s.st.Close() }

type sealedReader struct {
	b *Barrier
	r store.Reader
}

var errReserved = errors.New("barrier: the keyring is not reachable through the sealed store")

func (r sealedReader) Get(key string) ([]byte, error) {
	if key == KeyringPath {
		return nil, errReserved
	}
	ct, err := r.r.Get(key)
	if err != nil {
		return nil, err
	}
	plain, err := open(r.b.lookup, ct, []byte(key))
	if err != nil {
		return nil, fmt.Errorf("barrier: value at %q: %w", key, err)
	}
	return plain, nil
}

func (r sealedReader) List(prefix, after string, limit int) ([]store.Entry, error) {
	entries, err := r.r.List(prefix, after, limit)
	if err != nil {
		return nil, err
	}
	out := entries[:0]
	for _, e := range entries {
		if e.Key == KeyringPath {
			continue
		}
		plain, err := open(r.b.lookup, e.Value, []byte(e.Key))
		if err != nil {
			return nil, fmt.Errorf("barrier: value at %q: %w", e.Key, err)
		}
		out = append(out, store.Entry{Key: e.Key, Value: plain})
	}
	return out, nil
}

type sealedTx struct {
	sealedReader
	tx store.Tx
}

func (t sealedTx) Put(key string, value []byte) error {
	if key == KeyringPath {
		return errReserved
	}
	ct, err := t.b.encrypt(value, []byte(key))
	if err != nil {
		return err
	}
	return t.tx.Put(key, ct)
}

func (t sealedTx) Delete(key string) error {
	if key == KeyringPath {
		return errReserved
	}
	return t.tx.Delete(key)
}
