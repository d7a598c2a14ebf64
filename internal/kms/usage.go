package kms

import "github.com/coffer-vault/coffer/internal/store"

// countUsage counts a vault's keys and key versions that are not deleted.
func countUsage(r store.Reader, vaultID string) (VaultUsage, error) {
	var u VaultUsage
	keys, err := vaultKeys(r, vaultID)
	if err != nil {
		return u, err
	}
	for _, k := range keys {
		if k.State == KeyDeleted {
			continue
		}
		vs, err := listVersions(r, k.ID)
		if err != nil {
			return u, err
		}
		n := 0
		for _, v := range vs {
			if v.State != KeyDeleted {
				n++
			}
		}
		if k.ProtectionMode == ModeSoftware {
			u.SoftwareKeyCount++
			u.SoftwareKeyVersionCount += n
		} else {
			u.KeyCount++
			u.KeyVersionCount += n
		}
	}
	return u, nil
}
