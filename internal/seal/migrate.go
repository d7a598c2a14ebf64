package seal

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/shamir"
	"github.com/coffer-vault/coffer/internal/store"
)

// Migration moves the root key of a stopped server's store from one seal
// type to another (or to a new holder of the same type): a fresh root key
// seals the keyring, held the new way, so that the old holder (key file,
// shares, token key) no longer opens the store. Stored values are not
// rewritten. The order makes an interruption harmless: the new holder
// exists (the key file written and synced, the shares handed out, the
// token key found or made and the root key wrapped) before the one
// transaction that re-seals the keyring and records the new seal
// configuration; until that commits, the old holder opens the store, and
// after it the new one does.
type Migration struct {
	// To is TypeKeyFile, TypeShamir or TypePKCS11.
	To string
	// KeyFile is where TypeKeyFile writes the new root key (0600; it must
	// not exist).
	KeyFile string
	// Shares and Threshold are TypeShamir's split; Deliver hands the new
	// shares out before the keyring depends on them.
	Shares, Threshold int
	Deliver           func(shares []string) error
	// Wrapper is TypePKCS11's token key, labelled KeyLabel.
	Wrapper  barrier.KeyWrapper
	KeyLabel string
	// BeforeCommit, when set, runs between making the new holder and the
	// transaction that switches to it (tests stop a migration there).
	BeforeCommit func() error
}

// Migrate checks that current opens st's keyring, makes the new holder of
// a fresh root key, and re-seals the keyring under it (Migration). Every
// server using st must be stopped: one still running keeps the old root
// key in memory.
func Migrate(ctx context.Context, st store.Store, current barrier.RootKey, mig Migration) error {
	if ok, err := barrier.Initialized(ctx, st); err != nil {
		return err
	} else if !ok {
		return errors.New("the store has no keyring: there is nothing to migrate (start the server with the new seal instead)")
	}
	switch mig.To {
	case TypeKeyFile:
		if mig.KeyFile == "" {
			return errors.New("migrating to a key file needs the new key file's path")
		}
	case TypeShamir:
		if err := (barrier.SealConfig{Type: TypeShamir, Shares: mig.Shares, Threshold: mig.Threshold}).Validate(); err != nil {
			return fmt.Errorf("shares and threshold must satisfy 2 <= threshold <= shares <= %d", shamir.MaxShares)
		}
		if mig.Deliver == nil {
			return errors.New("migrating to Shamir shares needs somewhere to deliver them")
		}
	case TypePKCS11:
		if mig.Wrapper == nil || mig.KeyLabel == "" {
			return errors.New("migrating to pkcs11 needs the token key and its label")
		}
	default:
		return fmt.Errorf("cannot migrate to seal type %q (supported: %s, %s, %s)", mig.To, TypeKeyFile, TypeShamir, TypePKCS11)
	}
	b, err := barrier.Unseal(ctx, st, current)
	if err != nil {
		return err
	}
	defer b.Close()
	root, cfg, undo, err := mig.newHolder()
	if err != nil {
		return err
	}
	defer root.Zero()
	if mig.BeforeCommit != nil {
		if err := mig.BeforeCommit(); err != nil {
			return err
		}
	}
	if err := b.Rekey(ctx, root, cfg); err != nil {
		undo()
		return err
	}
	return nil
}

// newHolder makes a fresh root key and its holder outside the store. It
// returns the seal configuration to record (nil for a key file) and how
// to take the holder back if the store is not switched to it.
func (mig Migration) newHolder() (barrier.RootKey, *barrier.SealConfig, func(), error) {
	switch mig.To {
	case TypeKeyFile:
		root, err := barrier.CreateKeyFile(mig.KeyFile)
		if err != nil {
			return barrier.RootKey{}, nil, nil, err
		}
		return root, nil, func() { _ = os.Remove(mig.KeyFile) }, nil
	case TypeShamir:
		cfg := barrier.SealConfig{Type: TypeShamir, Shares: mig.Shares, Threshold: mig.Threshold}
		root, shares, err := splitRoot(cfg)
		if err != nil {
			return barrier.RootKey{}, nil, nil, err
		}
		defer zeroShares(shares)
		texts := shareTexts(shares)
		defer clearStrings(texts)
		if err := mig.Deliver(texts); err != nil {
			root.Zero()
			return barrier.RootKey{}, nil, nil, fmt.Errorf("deliver the new shares: %w", err)
		}
		return root, &cfg, func() {}, nil
	}
	root, err := barrier.GenerateRootKey()
	if err != nil {
		return barrier.RootKey{}, nil, nil, err
	}
	cfg, err := barrier.WrapRootKey(mig.Wrapper, mig.KeyLabel, root)
	if err != nil {
		root.Zero()
		return barrier.RootKey{}, nil, nil, err
	}
	return root, &cfg, func() {}, nil
}

// clearStrings drops the references to texts (Go strings cannot be
// overwritten).
func clearStrings(texts []string) {
	for i := range texts {
		texts[i] = ""
	}
}

// RootKeyFromShares rebuilds the current root key of a Shamir store from
// the text of threshold shares, for an offline migration. Whether it is
// the right key is known when it opens the keyring.
func RootKeyFromShares(texts []string) (barrier.RootKey, error) {
	shares := make([]shamir.Share, 0, len(texts))
	defer func() { zeroShares(shares) }()
	for _, t := range texts {
		sh, err := parseShare(t)
		if err != nil {
			return barrier.RootKey{}, err
		}
		shares = append(shares, sh)
	}
	return barrier.RootKeyFromShares(shares)
}
