package barrier

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/coffer-vault/coffer/internal/shamir"
	"github.com/coffer-vault/coffer/internal/store"
)

// SealConfigPath is the storage key of the seal configuration. It is
// stored in the clear: it names how the root key is split, which is no
// secret, and must be readable while sealed.
const SealConfigPath = "core/seal-config"

// The seal types a store records in its seal configuration. A store
// without one holds its root key in a key file (or dev mode).
const (
	// SealShamir: the root key is split into Shamir shares.
	SealShamir = "shamir"
	// SealPKCS11: the root key is stored wrapped by an AES key that never
	// leaves a PKCS#11 token (an auto-unseal seal, as Vault's pkcs11).
	SealPKCS11 = "pkcs11"
)

// ErrAlreadyInitialized is returned by Initialize when the store already
// has a keyring.
var ErrAlreadyInitialized = errors.New("barrier: already initialized")

// ErrNotInitialized is returned when a store has no keyring yet.
var ErrNotInitialized = errors.New("barrier: not initialized")

// SealConfig says how the root key is sealed outside the store.
type SealConfig struct {
	Type string `json:"type"`
	// Shares and Threshold are the Shamir split (SealShamir).
	Shares    int `json:"shares"`
	Threshold int `json:"threshold"`
	// KeyLabel names the token key that wraps the root key, Mechanism how
	// it wraps, and WrappedRootKey is the wrapped root key, base64
	// (SealPKCS11). The wrapped key is no secret without the token.
	KeyLabel       string `json:"keyLabel,omitempty"`
	Mechanism      string `json:"mechanism,omitempty"`
	WrappedRootKey string `json:"wrappedRootKey,omitempty"`
}

// Validate checks a seal configuration: a Shamir split's numbers, or that
// a PKCS#11 one names its key and holds a wrapped root key.
func (c SealConfig) Validate() error {
	switch c.Type {
	case SealShamir:
		if c.Threshold < 2 || c.Shares < c.Threshold || c.Shares > shamir.MaxShares {
			return fmt.Errorf("barrier: need 2 <= threshold (%d) <= shares (%d) <= %d", c.Threshold, c.Shares, shamir.MaxShares)
		}
		return nil
	case SealPKCS11:
		if c.KeyLabel == "" || c.Mechanism == "" || c.WrappedRootKey == "" || c.Shares != 0 || c.Threshold != 0 {
			return errors.New("barrier: a pkcs11 seal configuration needs a key label, a mechanism and a wrapped root key, and no shares")
		}
		return nil
	}
	return fmt.Errorf("barrier: unknown seal type %q", c.Type)
}

func reserved(key string) bool { return key == KeyringPath || key == SealConfigPath }

// Split splits the root key into n Shamir shares, any k of which rebuild
// it.
func (k RootKey) Split(n, threshold int) ([]shamir.Share, error) {
	return shamir.Split(k.b[:], n, threshold)
}

// RootKeyFromShares rebuilds a root key from Shamir shares. Whether it is
// the right key is only known when it opens the keyring (ErrWrongRootKey).
func RootKeyFromShares(shares []shamir.Share) (RootKey, error) {
	raw, err := shamir.Combine(shares)
	if err != nil {
		return RootKey{}, fmt.Errorf("barrier: combine shares: %w", err)
	}
	defer clear(raw)
	return NewRootKey(raw)
}

// Status describes the open keyring.
type Status struct {
	// Term is the active term: new values are sealed with it.
	Term uint32
	// Terms is how many terms the keyring holds.
	Terms int
	// Installed is when the active term was added (zero if unknown).
	Installed time.Time
}

// Initialized reports whether st holds a keyring.
func Initialized(ctx context.Context, st store.Store) (bool, error) {
	found := false
	err := st.View(ctx, func(r store.Reader) error {
		_, err := r.Get(KeyringPath)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		found = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("barrier: look for keyring: %w", err)
	}
	return found, nil
}

// ReadSealConfig returns the stored seal configuration; ok is false when
// there is none (a key-file store, or one not initialized).
func ReadSealConfig(ctx context.Context, st store.Store) (cfg SealConfig, ok bool, err error) {
	err = st.View(ctx, func(r store.Reader) error {
		b, err := r.Get(SealConfigPath)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		ok = true
		return json.Unmarshal(b, &cfg)
	})
	if err != nil {
		return SealConfig{}, false, fmt.Errorf("barrier: read seal config: %w", err)
	}
	return cfg, ok, nil
}

// Initialize creates the keyring of an empty store, sealed by root, and
// records cfg, in one transaction. It fails with ErrAlreadyInitialized if
// the store has a keyring.
func Initialize(ctx context.Context, st store.Store, root RootKey, cfg SealConfig, now time.Time) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	rootAEAD, err := newAEAD(root.b[:])
	if err != nil {
		return err
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(KeyringPath); err == nil {
			return ErrAlreadyInitialized
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		kr, err := newKeyring(now)
		if err != nil {
			return err
		}
		defer kr.clear()
		if err := putKeyring(tx, rootAEAD, kr); err != nil {
			return err
		}
		return tx.Put(SealConfigPath, cb)
	})
	if err != nil {
		return fmt.Errorf("barrier: initialize: %w", err)
	}
	return nil
}

// Status returns the active term and the keyring's size.
func (b *Barrier) Status() (Status, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.root == nil {
		return Status{}, ErrSealed
	}
	return Status{Term: b.active, Terms: len(b.aeads), Installed: b.installed[b.active]}, nil
}

// Rotate adds a fresh term to the keyring and makes it the active one:
// values written from now on are sealed with it, and values sealed with
// older terms still open. It returns the new term.
func (b *Barrier) Rotate(ctx context.Context, now time.Time) (uint32, error) {
	b.mu.RLock()
	root := b.root
	b.mu.RUnlock()
	if root == nil {
		return 0, ErrSealed
	}
	var kr keyring
	err := b.st.Update(ctx, func(tx store.Tx) error {
		sealed, err := tx.Get(KeyringPath)
		if err != nil {
			return err
		}
		if kr, err = openKeyring(root, sealed); err != nil {
			return err
		}
		next := slices.Max(slices.Collect(maps.Keys(kr.Terms))) + 1
		term := make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, term); err != nil {
			return fmt.Errorf("generate keyring term: %w", err)
		}
		kr.Terms[next] = term
		if kr.Installed == nil {
			kr.Installed = map[uint32]time.Time{}
		}
		kr.Installed[next] = now.UTC()
		kr.Active = next
		ct, err := sealKeyring(root, kr)
		if err != nil {
			return err
		}
		return tx.Put(KeyringPath, ct)
	})
	defer kr.clear()
	if err != nil {
		return 0, fmt.Errorf("barrier: rotate: %w", err)
	}
	if err := b.install(kr); err != nil {
		return 0, err
	}
	return kr.Active, nil
}

// Rekey seals the keyring under a new root key (the terms, and so every
// stored value, stay as they are) and, in the same transaction, records
// cfg as the seal configuration; a nil cfg removes any, which makes the
// store a key-file one. From then on only newRoot unseals the store.
func (b *Barrier) Rekey(ctx context.Context, newRoot RootKey, cfg *SealConfig) error {
	b.mu.RLock()
	root := b.root
	b.mu.RUnlock()
	if root == nil {
		return ErrSealed
	}
	newAEADRoot, err := newAEAD(newRoot.b[:])
	if err != nil {
		return err
	}
	var cb []byte
	if cfg != nil {
		if err := cfg.Validate(); err != nil {
			return err
		}
		if cb, err = json.Marshal(cfg); err != nil {
			return err
		}
	}
	err = b.st.Update(ctx, func(tx store.Tx) error {
		sealed, err := tx.Get(KeyringPath)
		if err != nil {
			return err
		}
		kr, err := openKeyring(root, sealed)
		if err != nil {
			return err
		}
		defer kr.clear()
		ct, err := sealKeyring(newAEADRoot, kr)
		if err != nil {
			return err
		}
		if err := tx.Put(KeyringPath, ct); err != nil {
			return err
		}
		if cb != nil {
			return tx.Put(SealConfigPath, cb)
		}
		return tx.Delete(SealConfigPath)
	})
	if err != nil {
		return fmt.Errorf("barrier: rekey: %w", err)
	}
	b.mu.Lock()
	if b.root != nil {
		b.root = newAEADRoot
	}
	b.mu.Unlock()
	return nil
}

// Close drops the root key and every term from memory: from then on the
// barrier and the stores it wraps fail with ErrSealed. (Go cannot promise
// that no copy of an expanded AES key survives in freed memory; dropping
// every reference is what it can do.)
func (b *Barrier) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.root, b.aeads, b.installed, b.active, b.index = nil, nil, nil, 0, nil
	b.backup, b.backupActive = nil, ""
}
