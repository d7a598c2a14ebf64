package cli

import (
	"context"
	"fmt"

	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"
)

// The SDK clients, built only when a command runs. Regional clients use
// --endpoint or COFFER_ENDPOINT when set, otherwise the endpoint the SDK
// derives from the region, so the same commands work against OCI.

func (g *globals) kmsVaultClient() (keymanagement.KmsVaultClient, error) {
	p, err := g.configProvider()
	if err != nil {
		return keymanagement.KmsVaultClient{}, err
	}
	c, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(p)
	if err != nil {
		return c, &configError{fmt.Errorf("kms vault client: %w", err)}
	}
	g.configure(&c.BaseClient, g.regionalEndpoint())
	return c, nil
}

func (g *globals) vaultsClient() (vault.VaultsClient, error) {
	p, err := g.configProvider()
	if err != nil {
		return vault.VaultsClient{}, err
	}
	c, err := vault.NewVaultsClientWithConfigurationProvider(p)
	if err != nil {
		return c, &configError{fmt.Errorf("vaults client: %w", err)}
	}
	g.configure(&c.BaseClient, g.regionalEndpoint())
	return c, nil
}

func (g *globals) secretsClient() (secrets.SecretsClient, error) {
	p, err := g.configProvider()
	if err != nil {
		return secrets.SecretsClient{}, err
	}
	c, err := secrets.NewSecretsClientWithConfigurationProvider(p)
	if err != nil {
		return c, &configError{fmt.Errorf("secrets client: %w", err)}
	}
	g.configure(&c.BaseClient, g.regionalEndpoint())
	return c, nil
}

func (g *globals) identityClient() (identity.IdentityClient, error) {
	p, err := g.configProvider()
	if err != nil {
		return identity.IdentityClient{}, err
	}
	c, err := identity.NewIdentityClientWithConfigurationProvider(p)
	if err != nil {
		return c, &configError{fmt.Errorf("identity client: %w", err)}
	}
	g.configure(&c.BaseClient, g.regionalEndpoint())
	return c, nil
}

// vaultEndpoints resolves a key or crypto command's endpoint: --endpoint
// as given, or the vault's managementEndpoint or cryptoEndpoint looked up
// with --vault-id (Coffer's addition: no endpoint to copy around).
func (g *globals) vaultEndpoint(ctx context.Context, vaultID string, crypto bool) (string, error) {
	if g.endpoint != "" {
		return g.endpoint, nil
	}
	if vaultID == "" {
		return "", usageErrorf("pass --endpoint (the vault's %s) or --vault-id", map[bool]string{false: "management-endpoint", true: "crypto-endpoint"}[crypto])
	}
	c, err := g.kmsVaultClient()
	if err != nil {
		return "", err
	}
	resp, err := c.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: &vaultID})
	if err != nil {
		return "", &stepError{step: "look up the endpoints of vault " + vaultID, err: err}
	}
	ep := resp.ManagementEndpoint
	if crypto {
		ep = resp.CryptoEndpoint
	}
	if ep == nil || *ep == "" {
		return "", fmt.Errorf("vault %s has no endpoint yet (state %s)", vaultID, resp.LifecycleState)
	}
	return *ep, nil
}

func (g *globals) kmsManagementClient(ctx context.Context, vaultID string) (keymanagement.KmsManagementClient, error) {
	ep, err := g.vaultEndpoint(ctx, vaultID, false)
	if err != nil {
		return keymanagement.KmsManagementClient{}, err
	}
	p, err := g.configProvider()
	if err != nil {
		return keymanagement.KmsManagementClient{}, err
	}
	c, err := keymanagement.NewKmsManagementClientWithConfigurationProvider(p, ep)
	if err != nil {
		return c, &configError{fmt.Errorf("kms management client: %w", err)}
	}
	g.configure(&c.BaseClient, "")
	return c, nil
}

func (g *globals) kmsCryptoClient(ctx context.Context, vaultID string) (keymanagement.KmsCryptoClient, error) {
	ep, err := g.vaultEndpoint(ctx, vaultID, true)
	if err != nil {
		return keymanagement.KmsCryptoClient{}, err
	}
	p, err := g.configProvider()
	if err != nil {
		return keymanagement.KmsCryptoClient{}, err
	}
	c, err := keymanagement.NewKmsCryptoClientWithConfigurationProvider(p, ep)
	if err != nil {
		return c, &configError{fmt.Errorf("kms crypto client: %w", err)}
	}
	g.configure(&c.BaseClient, "")
	return c, nil
}
