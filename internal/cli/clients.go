package cli

import (
	"context"
	"fmt"
	"github.com/coffer-vault/coffer/internal/sdklog"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"
)

// The SDK clients, built only when a command runs. Regional clients use
// --endpoint or COFFER_ENDPOINT when set, otherwise the endpoint the SDK
// derives from the region, so the same commands work against OCI.

func (g *globals) kmsVaultClient() (keymanagement.KmsVaultClient, error) {
	return newClient(g, "kms vault", keymanagement.NewKmsVaultClientWithConfigurationProvider, g.regionalEndpoint(),
		func(c *keymanagement.KmsVaultClient) *common.BaseClient { return &c.BaseClient })
}

func (g *globals) vaultsClient() (vault.VaultsClient, error) {
	return newClient(g, "vaults", vault.NewVaultsClientWithConfigurationProvider, g.regionalEndpoint(),
		func(c *vault.VaultsClient) *common.BaseClient { return &c.BaseClient })
}

func (g *globals) secretsClient() (secrets.SecretsClient, error) {
	return newClient(g, "secrets", secrets.NewSecretsClientWithConfigurationProvider, g.regionalEndpoint(),
		func(c *secrets.SecretsClient) *common.BaseClient { return &c.BaseClient })
}

func (g *globals) identityClient() (identity.IdentityClient, error) {
	return newClient(g, "identity", identity.NewIdentityClientWithConfigurationProvider, g.regionalEndpoint(),
		func(c *identity.IdentityClient) *common.BaseClient { return &c.BaseClient })
}

// newClient builds an SDK client with the configuration provider of
// --auth, then applies the endpoint (empty: the SDK's own) and the retry
// policy to its BaseClient, which base returns.
func newClient[C any](g *globals, name string, mk func(common.ConfigurationProvider) (C, error), host string, base func(*C) *common.BaseClient) (C, error) {
	var zero C
	// The SDK's verbose debug logging (OCI_GO_SDK_DEBUG=verbose) dumps
	// request and response bodies, secret content included.
	sdklog.Limit()
	p, err := g.configProvider()
	if err != nil {
		return zero, err
	}
	c, err := mk(p)
	if err != nil {
		return zero, &configError{fmt.Errorf("%s client: %w", name, err)}
	}
	g.configure(base(&c), host)
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
	return newClient(g, "kms management", func(p common.ConfigurationProvider) (keymanagement.KmsManagementClient, error) {
		return keymanagement.NewKmsManagementClientWithConfigurationProvider(p, ep)
	}, "", func(c *keymanagement.KmsManagementClient) *common.BaseClient { return &c.BaseClient })
}

func (g *globals) kmsCryptoClient(ctx context.Context, vaultID string) (keymanagement.KmsCryptoClient, error) {
	ep, err := g.vaultEndpoint(ctx, vaultID, true)
	if err != nil {
		return keymanagement.KmsCryptoClient{}, err
	}
	return newClient(g, "kms crypto", func(p common.ConfigurationProvider) (keymanagement.KmsCryptoClient, error) {
		return keymanagement.NewKmsCryptoClientWithConfigurationProvider(p, ep)
	}, "", func(c *keymanagement.KmsCryptoClient) *common.BaseClient { return &c.BaseClient })
}
