package vaultsapi

import (
	"context"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/secrets"
)

// Targets loads the vault and master key a secret operation is authorized
// against. The KMS domain answers; the server adapts it. A vault or key that
// no longer exists is returned as a resource with only its ids, so that the
// authorizer (not a lookup) decides the answer and a missing resource and a
// denial look the same to the caller.
type Targets interface {
	Vault(ctx context.Context, vaultID string) (*authz.Resource, error)
	// Key returns the key with its compartment, which Coffer's secret-key
	// rule ("use keys" on the secret's key) is evaluated against.
	Key(ctx context.Context, vaultID, keyID string) (*authz.Resource, error)
}

// Compartments says whether a compartment exists.
type Compartments interface {
	CompartmentExists(ctx context.Context, id string) (bool, error)
}

// SecretResource is a secret as the authorizer sees it.
func SecretResource(s *secrets.Secret) *authz.Resource {
	return &authz.Resource{ID: s.ID, Name: s.Name, CompartmentID: s.CompartmentID, VaultID: s.VaultID, KeyID: s.KeyID}
}

// AuthorizeSecret authorizes the call's operation on a loaded secret: the
// request carries the secret, its vault and its master key (with the key's
// compartment), as the policy engine's wire-layer contract asks. vars may
// be nil.
func AuthorizeSecret(c *ociapi.Call, t Targets, s *secrets.Secret, vars map[string]string) error {
	v, err := t.Vault(c.Context(), s.VaultID)
	if err != nil {
		return err
	}
	k, err := t.Key(c.Context(), s.VaultID, s.KeyID)
	if err != nil {
		return err
	}
	return c.Authorize(authz.Request{CompartmentID: s.CompartmentID, Vault: v, Key: k, Secret: SecretResource(s), Vars: vars})
}
