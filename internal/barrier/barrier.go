// Package barrier holds Coffer's root key and encrypts everything at rest.
//
// The root key (256 bits) never touches the store. It seals a keyring, kept
// in the store under KeyringPath, whose terms are the AES-256-GCM keys that
// encrypt every stored value. Each ciphertext carries the term that sealed
// it, so old values still open after the keyring gains a new term, and every
// value is bound to its storage key as associated data, so a value copied to
// another key does not open.
//
// The keyring also holds the index key: the key of the blind index
// ([Barrier.NameIndex]) that turns names in storage keys into keyed hashes.
// It is created with the keyring (or added at the first unseal of a store
// written before it existed) and kept, unchanged, across rotation and
// rekeying: changing it would orphan every index entry.
//
// The keyring holds the backup keys too (backupkey.go): the keys that seal
// vault and key backups, created and kept the same way, so that a backup
// opens after rotation and rekeying, and in another deployment that
// imported the key.
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
	"time"

	"github.com/coffer-vault/coffer/internal/blindindex"
	"github.com/coffer-vault/coffer/internal/store"
)

// KeyringPath is the storage key of the sealed keyring.
const KeyringPath = "core/keyring"

// RootKeySize is the size of the root key in bytes.
const RootKeySize = 32

const (
	formatVersion = 1
	headerSize    = 1 + 4 + 12
	// keyringAAD binds the sealed keyring. v2 keyrings hold the index key,
	// v3 keyrings the backup keys too; a binary that knows only an older
	// version cannot open them, which is the point: it would drop what it
	// does not know when it rewrote the keyring.
	keyringAAD       = "coffer/keyring/v3"
	v2KeyringAAD     = "coffer/keyring/v2"
	legacyKeyringAAD = "coffer/keyring/v1"
	// sealerAADPrefix separates values sealed for callers (Seal, Open) from
	// stored values, whose associated data is their storage key.
	sealerAADPrefix = "coffer/sealer/v1\x00"
)

// ErrSealed is returned while the barrier has no keyring.
var ErrSealed = errors.New("barrier: sealed")

// ErrWrongRootKey is returned when a root key does not open the keyring:
// a wrong key file, or shares from different splits. It comes wrapped in
// "barrier: STEP: ", which names the package.
var ErrWrongRootKey = errors.New("wrong root key")

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

// Zero overwrites the key; the zero key opens nothing.
func (k *RootKey) Zero() { clear(k.b[:]) }

type keyring struct {
	Active uint32            `json:"active"`
	Terms  map[uint32][]byte `json:"terms"`
	// Installed records when each term was added (absent for keyrings
	// written before rotation existed).
	Installed map[uint32]time.Time `json:"installed,omitempty"`
	// Index is the blind index key (absent in v1 keyrings).
	Index []byte `json:"index,omitempty"`
	// Backup holds the backup keys by their id (absent before v3);
	// BackupActive names the one new backups are sealed with.
	Backup       map[string][]byte `json:"backup,omitempty"`
	BackupActive string            `json:"backupActive,omitempty"`
}

func (kr *keyring) clear() {
	for _, k := range kr.Terms {
		clear(k)
	}
	clear(kr.Index)
	for _, k := range kr.Backup {
		clear(k)
	}
}

// newKeyring returns a keyring with one fresh term and a fresh index key.
func newKeyring(now time.Time) (keyring, error) {
	term, index := make([]byte, 32), make([]byte, blindindex.KeySize)
	if _, err := io.ReadFull(rand.Reader, term); err != nil {
		return keyring{}, fmt.Errorf("generate keyring term: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, index); err != nil {
		return keyring{}, fmt.Errorf("generate index key: %w", err)
	}
	kr := keyring{Active: 1, Terms: map[uint32][]byte{1: term}, Index: index}
	if err := kr.addBackupKey(); err != nil {
		return keyring{}, err
	}
	if !now.IsZero() {
		kr.Installed = map[uint32]time.Time{1: now.UTC()}
	}
	return kr, nil
}

// Barrier encrypts and decrypts values with the keyring's terms. It keeps
// the root key's cipher while unsealed so that the keyring can gain terms
// (Rotate) or be sealed under a new root key (Rekey); Close drops both.
type Barrier struct {
	st store.Store // the raw store holding the keyring

	mu        sync.RWMutex
	root      cipher.AEAD // nil once closed
	active    uint32
	aeads     map[uint32]cipher.AEAD
	installed map[uint32]time.Time
	index     *blindindex.Index
	// backup are the backup keys' ciphers by id; backupActive seals.
	backup       map[string]cipher.AEAD
	backupActive string
}

// Unseal opens the keyring stored in st with root, creating it on first use.
// A keyring written before the index key or the backup key existed gains
// them, in the same transaction that read it.
func Unseal(ctx context.Context, st store.Store, root RootKey) (*Barrier, error) {
	rootAEAD, err := newAEAD(root.b[:])
	if err != nil {
		return nil, err
	}
	var kr keyring
	err = st.Update(ctx, func(tx store.Tx) error {
		kr.clear()
		sealed, err := tx.Get(KeyringPath)
		if errors.Is(err, store.ErrNotFound) {
			if kr, err = newKeyring(time.Time{}); err != nil {
				return err
			}
			return putKeyring(tx, rootAEAD, kr)
		}
		if err != nil {
			return err
		}
		if kr, err = openKeyring(rootAEAD, sealed); err != nil {
			return err
		}
		if len(kr.Index) != 0 && kr.Backup[kr.BackupActive] != nil {
			return nil
		}
		if len(kr.Index) == 0 {
			kr.Index = make([]byte, blindindex.KeySize)
			if _, err := io.ReadFull(rand.Reader, kr.Index); err != nil {
				return fmt.Errorf("generate index key: %w", err)
			}
		}
		if kr.Backup[kr.BackupActive] == nil {
			if err := kr.addBackupKey(); err != nil {
				return err
			}
		}
		return putKeyring(tx, rootAEAD, kr)
	})
	if err != nil {
		return nil, fmt.Errorf("barrier: unseal: %w", err)
	}
	defer kr.clear()
	b := &Barrier{st: st, root: rootAEAD}
	if err := b.install(kr); err != nil {
		return nil, err
	}
	return b, nil
}

// openKeyring decrypts a sealed keyring with the root key's cipher: a v3
// keyring, a v2 one (no backup key yet) or a v1 one (no index key either).
func openKeyring(rootAEAD cipher.AEAD, sealed []byte) (keyring, error) {
	var kr keyring
	lookup := func(uint32) (cipher.AEAD, error) { return rootAEAD, nil }
	var plain []byte
	var err error
	for _, aad := range []string{keyringAAD, v2KeyringAAD, legacyKeyringAAD} {
		if plain, err = open(lookup, sealed, []byte(aad)); err == nil {
			break
		}
	}
	if err != nil {
		return kr, fmt.Errorf("%w: it does not open this data directory's keyring", ErrWrongRootKey)
	}
	defer clear(plain)
	if err := json.Unmarshal(plain, &kr); err != nil {
		return kr, fmt.Errorf("keyring: %w", err)
	}
	return kr, nil
}

// putKeyring seals kr with the root key's cipher and stores it.
func putKeyring(tx store.Tx, rootAEAD cipher.AEAD, kr keyring) error {
	ct, err := sealKeyring(rootAEAD, kr)
	if err != nil {
		return err
	}
	return tx.Put(KeyringPath, ct)
}

// sealKeyring seals a v3 keyring; one without an index key or an active
// backup key is refused, so that no path can write a keyring that lost
// them.
func sealKeyring(rootAEAD cipher.AEAD, kr keyring) ([]byte, error) {
	if len(kr.Index) != blindindex.KeySize {
		return nil, errors.New("barrier: keyring has no index key")
	}
	if len(kr.Backup[kr.BackupActive]) != BackupKeySize {
		return nil, errors.New("barrier: keyring has no backup key")
	}
	plain, err := json.Marshal(kr)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	return seal(rootAEAD, 0, plain, []byte(keyringAAD))
}

// install replaces the barrier's terms with the keyring's.
func (b *Barrier) install(kr keyring) error {
	aeads := make(map[uint32]cipher.AEAD, len(kr.Terms))
	for term, key := range kr.Terms {
		a, err := newAEAD(key)
		if err != nil {
			return err
		}
		aeads[term] = a
	}
	if aeads[kr.Active] == nil {
		return errors.New("barrier: keyring has no active term")
	}
	index, err := blindindex.New(kr.Index)
	if err != nil {
		return fmt.Errorf("barrier: keyring index key: %w", err)
	}
	backup := make(map[string]cipher.AEAD, len(kr.Backup))
	for id, key := range kr.Backup {
		a, err := newAEAD(key)
		if err != nil {
			return err
		}
		backup[id] = a
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.root == nil {
		return ErrSealed
	}
	b.active, b.aeads, b.installed, b.index = kr.Active, aeads, kr.Installed, index
	b.backup, b.backupActive = backup, kr.BackupActive
	return nil
}

// NameIndex returns the blind index keyed by the keyring's index key, for
// the parts of storage keys that hold names. It is the same for every term
// and root key, and keeps working after Close (callers drop it when the
// server seals).
func (b *Barrier) NameIndex() (*blindindex.Index, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.root == nil {
		return nil, ErrSealed
	}
	return b.index, nil
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

func open(lookup func(uint32) (cipher.AEAD, error), ct, aad []byte) ([]byte, error) {
	if len(ct) < headerSize+16 || ct[0] != formatVersion {
		return nil, ErrDecrypt
	}
	a, err := lookup(binary.BigEndian.Uint32(ct[1:5]))
	if err != nil {
		return nil, err
	}
	plain, err := a.Open(nil, ct[5:headerSize], ct[headerSize:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}

// term returns the cipher of a term, or ErrSealed / ErrDecrypt.
func (b *Barrier) term(term uint32) (cipher.AEAD, bool, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.root == nil {
		return nil, false, ErrSealed
	}
	a, ok := b.aeads[term]
	return a, ok, nil
}

// lookupIn returns a term lookup that, when a value names a term this
// barrier has not seen (another node sharing the store rotated), reloads
// the keyring through r, the transaction the value was read in.
func (b *Barrier) lookupIn(r store.Reader) func(uint32) (cipher.AEAD, error) {
	return func(t uint32) (cipher.AEAD, error) {
		a, ok, err := b.term(t)
		if err != nil || ok {
			return a, err
		}
		if err := b.reload(r); err != nil {
			return nil, err
		}
		if a, ok, err = b.term(t); err != nil || ok {
			return a, err
		}
		return nil, ErrDecrypt
	}
}

// lookup is lookupIn over a fresh read transaction of the raw store.
func (b *Barrier) lookup(t uint32) (cipher.AEAD, error) {
	a, ok, err := b.term(t)
	if err != nil || ok {
		return a, err
	}
	var out cipher.AEAD
	err = b.st.View(context.Background(), func(r store.Reader) error {
		var err error
		out, err = b.lookupIn(r)(t)
		return err
	})
	return out, err
}

func (b *Barrier) reload(r store.Reader) error {
	b.mu.RLock()
	root := b.root
	b.mu.RUnlock()
	if root == nil {
		return ErrSealed
	}
	sealed, err := r.Get(KeyringPath)
	if err != nil {
		return fmt.Errorf("barrier: reload keyring: %w", err)
	}
	kr, err := openKeyring(root, sealed)
	if err != nil {
		return fmt.Errorf("barrier: reload keyring: %w", err)
	}
	defer kr.clear()
	return b.install(kr)
}

func (b *Barrier) encrypt(plain, aad []byte) ([]byte, error) {
	b.mu.RLock()
	term, a := b.active, b.aeads[b.active]
	b.mu.RUnlock()
	if a == nil {
		return nil, ErrSealed
	}
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
	if reserved(key) {
		return nil, errReserved
	}
	ct, err := r.r.Get(key)
	if err != nil {
		return nil, err
	}
	plain, err := open(r.b.lookupIn(r.r), ct, []byte(key))
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
		if reserved(e.Key) {
			continue
		}
		plain, err := open(r.b.lookupIn(r.r), e.Value, []byte(e.Key))
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
	if reserved(key) {
		return errReserved
	}
	ct, err := t.b.encrypt(value, []byte(key))
	if err != nil {
		return err
	}
	return t.tx.Put(key, ct)
}

func (t sealedTx) Delete(key string) error {
	if reserved(key) {
		return errReserved
	}
	return t.tx.Delete(key)
}
