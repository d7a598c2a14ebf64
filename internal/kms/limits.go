package kms

import (
	"cmp"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/store"
)

// Limits bounds the key versions a vault may hold, as OCI's service limits
// do (docs/oci-behaviours.md#keys). Versions count while they are not DELETED (enabled,
// disabled and pending deletion alike); an asymmetric (RSA, ECDSA) version
// counts twice. CreateKey, CreateKeyVersion, ImportKey and ImportKeyVersion
// past a limit fail with errs.LimitExceeded naming it. A zero field means
// OCI's default (DefaultLimits).
type Limits struct {
	// SoftwareVersions bounds SOFTWARE-protected key versions per vault, of
	// either type. OCI documents 100 for virtual vaults and no separate
	// figure for virtual private vaults; Coffer applies 100 to both.
	SoftwareVersions int
	// HSMVersions bounds HSM-protected key versions in a DEFAULT (virtual)
	// vault.
	HSMVersions int
	// PrivateHSMVersions bounds HSM-protected key versions in a
	// VIRTUAL_PRIVATE vault.
	PrivateHSMVersions int
}

// DefaultLimits are OCI's paid-tenancy limits.
func DefaultLimits() Limits {
	return Limits{SoftwareVersions: 100, HSMVersions: 100, PrivateHSMVersions: 3000}
}

// SetLimits replaces the key-version limits; zero fields keep OCI's
// defaults. Tests use small numbers; operators may raise them.
func (s *Service) SetLimits(l Limits) {
	d := DefaultLimits()
	l = Limits{
		SoftwareVersions:   cmp.Or(l.SoftwareVersions, d.SoftwareVersions),
		HSMVersions:        cmp.Or(l.HSMVersions, d.HSMVersions),
		PrivateHSMVersions: cmp.Or(l.PrivateHSMVersions, d.PrivateHSMVersions),
	}
	s.limits.Store(&l)
}

func (s *Service) currentLimits() Limits {
	if l := s.limits.Load(); l != nil {
		return *l
	}
	return DefaultLimits()
}

// versionUnits is what one version of a key of this shape counts for.
func versionUnits(shape keyprotect.Shape) int {
	if shape.Algorithm == keyprotect.AES {
		return 1
	}
	return 2
}

// checkVersionRoom refuses one more version of a key with this protection
// mode and shape in vault when the vault's limit would be passed. It runs
// inside the transaction that writes the version.
func (s *Service) checkVersionRoom(r store.Reader, vault Vault, mode string, shape keyprotect.Shape) error {
	l := s.currentLimits()
	limit, what := l.SoftwareVersions, "SOFTWARE-protected"
	if mode != ModeSoftware {
		limit, what = l.HSMVersions, "HSM-protected"
		if vault.VaultType == VaultTypeVirtualPrivate {
			limit = l.PrivateHSMVersions
		}
	}
	keys, err := vaultKeys(r, vault.ID)
	if err != nil {
		return err
	}
	used := 0
	for _, k := range keys {
		if k.State == KeyDeleted || (k.ProtectionMode == ModeSoftware) != (mode == ModeSoftware) {
			continue
		}
		vs, err := listVersions(r, k.ID)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.State != KeyDeleted {
				used += versionUnits(k.Shape)
			}
		}
	}
	if need := versionUnits(shape); used+need > limit {
		return errs.E(errs.LimitExceeded, "vault %s has reached its limit of %d %s key versions for a %s vault (%d in use; asymmetric versions count twice): schedule deletion of unused keys or key versions, or use another vault",
			vault.ID, limit, what, vault.VaultType, used)
	}
	return nil
}
