package secrets

import (
	"errors"
	"fmt"
	"strings"

	"github.com/coffer-vault/coffer/internal/store"
)

// MigrateIndexes rewrites, inside tx, the name index entries written before
// names were blind index entries (secrets/name/<vault>/<name>): each moves
// to its keyed-hash key with its value unchanged, and the old key is
// deleted. It returns how many entries it moved; on a store with none it
// changes nothing, so running it again is harmless. Retry-token records of
// older stores are left to expire (they hold only a hash of the token).
func (s *Service) MigrateIndexes(tx store.Tx) (int, error) {
	ents, err := tx.List(legacyPrefixName, "", 0)
	if err != nil {
		return 0, fmt.Errorf("secrets: migrate name index: %w", err)
	}
	for _, e := range ents {
		// The vault OCID has no '/'; the name is everything after it.
		vaultID, name, ok := strings.Cut(e.Key[len(legacyPrefixName):], "/")
		if !ok {
			// The key is not quoted: it would hold a name.
			return 0, errors.New("secrets: migrate name index: legacy entry of unknown shape")
		}
		if err := tx.Put(s.nameKey(vaultID, name), e.Value); err != nil {
			return 0, fmt.Errorf("secrets: migrate name index: %w", err)
		}
		if err := tx.Delete(e.Key); err != nil {
			return 0, fmt.Errorf("secrets: migrate name index: %w", err)
		}
	}
	return len(ents), nil
}
