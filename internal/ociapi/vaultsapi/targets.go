package vaultsapi

import (
	"context"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/secrets"
)

// Targets loads the vault and master key a secret operation is authorized
// against; kms.Service is one. A vault or key that no longer exists is
// returned as a resource with only its ids, so that the authorizer (not a
// lookup) decides the answer and a missing resource and a denial look the
// same to the caller. The key comes with its compartment, which Coffer's
// secret-key rule ("use keys" on the secret's key) is evaluated against.
type Targets interface {
	SecretTargets(ctx context.Context, vaultID, keyID string) (vault, key *authz.Resource, err error)
}

// AuthorizeSecret authorizes the call's operation on a secret: the request
// carries the secret, its vault and its master key (with the key's
// compartment), as the policy engine's wire-layer contract asks. vars may
// be nil.
func AuthorizeSecret(c *ociapi.Call, t Targets, s *secrets.Secret, vars map[string]string) error {
	v, k, err := t.SecretTargets(c.Context(), s.VaultID, s.KeyID)
	if err != nil {
		return err
	}
	return c.Authorize(authz.Request{CompartmentID: s.CompartmentID, Vault: v, Key: k, Secret: s.Resource(), Vars: vars})
}
