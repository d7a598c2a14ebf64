package kms

import (
	"errors"
	"strconv"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/recordcache"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Storage of vaults, keys, key versions and wrapping keys. Records are JSON
// (package record); the load functions read through the record cache when r
// is one of its Readers, so what they return may be shared and must not be
// modified: the get functions return a copy.

// load reads the record at key; a missing one is the error missing makes.
// Other errors (a corrupt record, the cache asking for the store) pass
// through unchanged: they name the key already.
func load[T any](r store.Reader, key string, missing func() error) (*T, error) {
	v, err := recordcache.Load[T](r, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, missing()
	}
	return v, err
}

func putVault(tx store.Tx, v Vault) error {
	return record.Put(tx, prefixVault+v.ID, v)
}

// value copies what a load function returned, for the get functions.
func value[T any](p *T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return *p, nil
}

func getVault(r store.Reader, id string) (Vault, error) { return value(loadVault(r, id)) }

// getActiveVault is getVault for a key change in the vault: a vault that is
// not ACTIVE is IncorrectState, saying keys can be "<done> an ACTIVE vault".
func getActiveVault(r store.Reader, id, done string) (Vault, error) {
	v, err := getVault(r, id)
	if err != nil {
		return v, err
	}
	if err := notReplicaVault(&v); err != nil {
		return Vault{}, err
	}
	if v.State != VaultActive {
		return Vault{}, errs.E(errs.IncorrectState, "vault %s is %s; keys can be %s an ACTIVE vault", v.ID, v.State, done)
	}
	return v, nil
}

// loadVault is getVault without the copy.
func loadVault(r store.Reader, id string) (*Vault, error) {
	if !ocid.Valid(id) {
		// Not an OCID (possibly not even UTF-8): nothing to look up.
		return nil, errs.E(errs.NotFound, "vault %s not found or not authorized", strconv.QuoteToASCII(id))
	}
	return load[Vault](r, prefixVault+id, func() error {
		return errs.E(errs.NotFound, "vault %s not found or not authorized", id)
	})
}

func putKey(tx store.Tx, k Key) error {
	if err := noteKeyWrite(tx, k); err != nil {
		return err
	}
	return record.Put(tx, prefixKey+k.ID, k)
}

func getKey(r store.Reader, id string) (Key, error) { return value(loadKey(r, id)) }

func errKeyNotFound() error {
	return errs.E(errs.NotFound, "Key or Vault does not exist or you are not authorized to access them.")
}

// loadKey is getKey without the copy.
func loadKey(r store.Reader, id string) (*Key, error) {
	if !ocid.Valid(id) {
		return nil, errKeyNotFound()
	}
	return load[Key](r, prefixKey+id, errKeyNotFound)
}

// getVaultKey reads a key that must belong to vaultID: a key of another
// vault is not found, as OCI answers on the wrong endpoint.
func getVaultKey(r store.Reader, vaultID, id string) (Key, error) {
	k, err := getKey(r, id)
	if err != nil {
		return k, err
	}
	if k.VaultID != vaultID {
		return Key{}, errKeyNotFound()
	}
	return k, nil
}

// vaultKeys reads the keys of a vault through the vault's key index.
func vaultKeys(r store.Reader, vaultID string) ([]Key, error) {
	ids, err := record.Names(r, prefixVaultKey+vaultID+"/")
	if err != nil {
		return nil, err
	}
	out := make([]Key, 0, len(ids))
	for _, id := range ids {
		k, err := getKey(r, id)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

func putVersion(tx store.Tx, v KeyVersion) error {
	return record.Put(tx, prefixKeyVersion+v.KeyID+"/"+v.ID, v)
}

func getVersion(r store.Reader, keyID, id string) (KeyVersion, error) {
	return value(loadVersion(r, keyID, id))
}

// loadVersion is getVersion without the copy.
func loadVersion(r store.Reader, keyID, id string) (*KeyVersion, error) {
	if !ocid.Valid(id) || !ocid.Valid(keyID) {
		return nil, errs.E(errs.NotFound, "key version not found or not authorized")
	}
	return load[KeyVersion](r, prefixKeyVersion+keyID+"/"+id, func() error {
		return errs.E(errs.NotFound, "key version %s of key %s not found or not authorized", id, keyID)
	})
}

func listVersions(r store.Reader, keyID string) ([]KeyVersion, error) {
	return record.List[KeyVersion](r, prefixKeyVersion+keyID+"/")
}

// getWrappingKey reads a vault's wrapping key; ok is false when the vault
// has none yet.
func getWrappingKey(r store.Reader, vaultID string) (w WrappingKey, ok bool, err error) {
	w, err = record.Get[WrappingKey](r, prefixWrapKey+vaultID)
	if errors.Is(err, store.ErrNotFound) {
		return WrappingKey{}, false, nil
	}
	return w, err == nil, err
}
