package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/oracle/oci-go-sdk/v65/vault"
)

// lookupTimeout bounds the calls made to explain a 404: they run after the
// command has already failed, so they must not hold the user much longer.
const lookupTimeout = 10 * time.Second

// secretByNameAdvice explains a 404 on a secret read by name. OCI answers
// 404 both for "no such name" and for "not allowed", so the reply alone
// cannot tell them apart; a caller allowed to list the vault's secrets can,
// and most people who hit this (administrators, the secret's owners) are.
// So it asks the vault for its compartment and lists the secrets of that
// name: none means the name is missing, one means the 404 is about access
// (or the version asked for), and a refusal leaves both open, which the
// advice then says along with how to find out. secretID is the secret's
// OCID when it was found, for the explain command that follows.
func (g *globals) secretByNameAdvice(vaultID, name string) (advice, secretID string) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	compartment, found, id, state, err := g.findSecretByName(ctx, vaultID, name)
	switch {
	case err != nil:
		return fmt.Sprintf(`There is no secret named %q in vault %s, or you may not read it: the service answers 404 for both.
You may not list the vault's secrets either, so this command cannot tell which. To find out, someone who may
(the vault's administrator) can run:
  coffer vault secret list --compartment-id <vault-compartment> --vault-id %s --name %s
An empty list means the name is wrong; a secret in it means the 404 is about access:
reading a bundle needs read secret-family (secret-bundles) and use keys on the secret's key.`, name, vaultID, vaultID, name), ""
	case !found:
		return fmt.Sprintf("There is no secret named %q in vault %s (a list of the vault's secrets in compartment %s found none).\nCheck the name (names are case-sensitive) and the vault, or create it with coffer vault secret create-base64.", name, vaultID, compartment), ""
	case state != vault.SecretSummaryLifecycleStateActive:
		return fmt.Sprintf("The secret named %q in vault %s (%s) is %s, so its content cannot be read.", name, vaultID, id, state), ""
	}
	return fmt.Sprintf(`The secret named %q exists in vault %s (%s), so the 404 means you may not read its content,
or no version of it matches the --stage, --version-number or --secret-version-name asked for.
`+secretBundleNotFound, name, vaultID, id), id
}

// findSecretByName lists the secrets named name in the vault, in the
// vault's compartment.
func (g *globals) findSecretByName(ctx context.Context, vaultID, name string) (compartment string, found bool, id string, state vault.SecretSummaryLifecycleStateEnum, err error) {
	kc, err := g.kmsVaultClient()
	if err != nil {
		return "", false, "", "", err
	}
	v, err := kc.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: &vaultID})
	if err != nil || v.CompartmentId == nil {
		return "", false, "", "", fmt.Errorf("get vault: %w", err)
	}
	compartment = *v.CompartmentId
	vc, err := g.vaultsClient()
	if err != nil {
		return "", false, "", "", err
	}
	r, err := vc.ListSecrets(ctx, vault.ListSecretsRequest{CompartmentId: &compartment, VaultId: &vaultID, Name: &name})
	if err != nil {
		return "", false, "", "", fmt.Errorf("list secrets: %w", err)
	}
	for _, s := range r.Items {
		if s.SecretName != nil && *s.SecretName == name && s.Id != nil {
			return compartment, true, *s.Id, s.LifecycleState, nil
		}
	}
	return compartment, false, "", "", nil
}
