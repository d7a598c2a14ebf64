package identity

import (
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-vault/coffer/internal/store"
)

// errLegacyEntry reports an index entry that Coffer never wrote. The key is
// not quoted: it would hold a name.
var errLegacyEntry = errors.New("identity: legacy index entry of unknown shape")

// MigrateIndexes rewrites, inside tx, the index entries written before names
// and fingerprints were blind index entries: identity/name/<kind>/... and
// identity/apikey/<user>/<fingerprint> move to their keyed-hash keys with
// their values unchanged, and the old keys are deleted. It returns how many
// entries it moved; on a store with none it changes nothing, so running it
// again is harmless. Running it in the caller's transaction lets the caller
// migrate every package at once and record that it did.
func (s *Service) MigrateIndexes(tx store.Tx) (int, error) {
	moved := 0
	names, err := tx.List(legacyPrefixName, "", 0)
	if err != nil {
		return 0, fmt.Errorf("identity: migrate name index: %w", err)
	}
	for _, e := range names {
		kind, rest, ok := strings.Cut(e.Key[len(legacyPrefixName):], "/")
		parent, name := "", rest
		switch {
		case !ok:
			return 0, errLegacyEntry
		case kind == nameCompartment || kind == namePolicy:
			// The parent is an OCID, which has no '/'; names had none either.
			if parent, name, ok = strings.Cut(rest, "/"); !ok {
				return 0, errLegacyEntry
			}
		case kind != nameUser && kind != nameGroup:
			return 0, errLegacyEntry
		}
		if err := move(tx, e, s.nameKey(kind, parent, name)); err != nil {
			return 0, fmt.Errorf("identity: migrate name index: %w", err)
		}
		moved++
	}
	keys, err := tx.List(legacyPrefixAPIKey, "", 0)
	if err != nil {
		return 0, fmt.Errorf("identity: migrate api key index: %w", err)
	}
	for _, e := range keys {
		user, fp, ok := strings.Cut(e.Key[len(legacyPrefixAPIKey):], "/")
		if !ok {
			return 0, errLegacyEntry
		}
		if err := move(tx, e, s.apiKeyKey(user, fp)); err != nil {
			return 0, fmt.Errorf("identity: migrate api key index: %w", err)
		}
		moved++
	}
	if moved > 0 {
		// Other nodes reload what they derived from identity records.
		if _, err := bumpStoredGeneration(tx); err != nil {
			return 0, err
		}
	}
	return moved, nil
}

func move(tx store.Tx, e store.Entry, to string) error {
	if err := tx.Put(to, e.Value); err != nil {
		return err
	}
	return tx.Delete(e.Key)
}
