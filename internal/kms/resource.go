package kms

import (
	"context"
	"fmt"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/store"
)

// The methods below give the wire layer's authorizers and the identity
// domain what they ask of the KMS, so that no adapter has to translate
// vaults and keys into authorization targets or compartment usage.

// VaultResource returns the vault as the authorizer sees it; a vault that
// does not exist is errs.NotFound.
func (s *Service) VaultResource(ctx context.Context, vaultID string) (*authz.Resource, error) {
	v, err := s.GetVault(ctx, vaultID)
	if err != nil {
		return nil, err
	}
	return v.Resource(), nil
}

// KeyResource returns the key of a vault as the authorizer sees it; a key
// that does not exist, or belongs to another vault, is errs.NotFound.
func (s *Service) KeyResource(ctx context.Context, vaultID, keyID string) (*authz.Resource, error) {
	k, err := s.GetKey(ctx, vaultID, keyID)
	if err != nil {
		return nil, err
	}
	return k.Resource(), nil
}

// SecretTargets returns the vault and the master key a secret names, as
// the authorizer sees them, from one snapshot. As in Resources (what the
// secrets domain's reads use), a vault or key that does not exist is a
// resource with only its ids, so that the authorizer (not a lookup)
// decides the answer and a missing resource and a denial look the same to
// the caller; other errors are returned.
func (s *Service) SecretTargets(ctx context.Context, vaultID, keyID string) (vault, key *authz.Resource, err error) {
	err = s.cache.Read(ctx, func(r store.Reader) error {
		vault, key, err = s.Resources(r, vaultID, keyID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return vault, key, nil
}

// CompartmentInUse implements identity.CompartmentUsage: it names a vault,
// then a key (a key may sit in another compartment than its vault), in the
// compartment that is not DELETED.
func (s *Service) CompartmentInUse(ctx context.Context, compartmentID string) (string, bool, error) {
	vaults, err := s.AllVaults(ctx)
	if err != nil {
		return "", false, err
	}
	for _, v := range vaults {
		if v.CompartmentID == compartmentID && v.State != VaultDeleted {
			return fmt.Sprintf("vault %s (%s)", v.DisplayName, v.State), true, nil
		}
	}
	for _, v := range vaults {
		if v.State == VaultDeleted {
			continue
		}
		for page := ""; ; {
			keys, next, err := s.ListKeys(ctx, v.ID, compartmentID, KeyFilter{}, ListOptions{Limit: 1000, Page: page})
			if err != nil {
				return "", false, err
			}
			for _, k := range keys {
				if k.State != KeyDeleted {
					return fmt.Sprintf("key %s (%s)", k.DisplayName, k.State), true, nil
				}
			}
			if next == "" {
				break
			}
			page = next
		}
	}
	return "", false, nil
}
