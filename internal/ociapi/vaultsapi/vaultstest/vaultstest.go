// Package vaultstest helps tests and benchmarks of the secrets APIs: it
// starts a coffertest server, makes a vault with an AES master key through
// the official SDK (KmsVaultClient and KmsManagementClient), and returns
// VaultsClient and SecretsClient instances on the server with retries and
// the circuit breaker off.
package vaultstest

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
)

// Fixture is a running server with a vault, an AES key and secrets clients.
type Fixture struct {
	Env     *coffertest.Env
	Tenancy string
	Vault   keystest.Vault
	KeyID   string
	Vaults  vault.VaultsClient
	Secrets sdksecrets.SecretsClient
}

// Start starts a server and prepares the fixture.
func Start(t testing.TB, opts coffertest.Options) *Fixture {
	t.Helper()
	return On(t, coffertest.Start(t, opts))
}

// On prepares the fixture on a running server.
func On(t testing.TB, env *coffertest.Env) *Fixture {
	t.Helper()
	f := &Fixture{Env: env, Tenancy: keystest.Tenancy(t, env)}
	f.Vault = keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	f.KeyID = *f.AESKey(t, "secrets-key").Id
	var err error
	if f.Vaults, err = vault.NewVaultsClientWithConfigurationProvider(env.Provider); err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&f.Vaults.BaseClient, env.URL)
	if f.Secrets, err = sdksecrets.NewSecretsClientWithConfigurationProvider(env.Provider); err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&f.Secrets.BaseClient, env.URL)
	return f
}

// AESKey creates a SOFTWARE AES-256 key in the fixture's vault.
func (f *Fixture) AESKey(t testing.TB, name string) keymanagement.Key {
	t.Helper()
	return f.Vault.CreateKey(t, name, keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, ""),
		keymanagement.CreateKeyDetailsProtectionModeSoftware)
}

// B64 is base64 of s.
func B64(s string) *string { return common.String(base64.StdEncoding.EncodeToString([]byte(s))) }

// Content is BASE64 secret content for create and update.
func Content(s string) vault.Base64SecretContentDetails {
	return vault.Base64SecretContentDetails{Content: B64(s)}
}

// CreateSecret creates a secret with content in the fixture's vault and
// tenancy, failing the test on error.
func (f *Fixture) CreateSecret(t testing.TB, name, content string) vault.Secret {
	t.Helper()
	resp, err := f.Vaults.CreateSecret(context.Background(), vault.CreateSecretRequest{CreateSecretDetails: f.Details(name, content)})
	if err != nil {
		t.Fatalf("CreateSecret %s: %v", name, err)
	}
	return resp.Secret
}

// Details is a CreateSecretDetails in the fixture's vault with its key.
func (f *Fixture) Details(name, content string) vault.CreateSecretDetails {
	return vault.CreateSecretDetails{
		CompartmentId: common.String(f.Tenancy), VaultId: f.Vault.Id, KeyId: common.String(f.KeyID),
		SecretName: common.String(name), SecretContent: Content(content),
	}
}

// Bundle reads a bundle and returns its decoded content.
func (f *Fixture) Bundle(t testing.TB, req sdksecrets.GetSecretBundleRequest) (string, sdksecrets.SecretBundle, error) {
	t.Helper()
	resp, err := f.Secrets.GetSecretBundle(context.Background(), req)
	if err != nil {
		return "", resp.SecretBundle, err
	}
	return Decode(t, resp.SecretBundle), resp.SecretBundle, nil
}

// Decode returns a bundle's content, failing the test when the SDK could
// not see it (a missing contentType discriminator).
func Decode(t testing.TB, b sdksecrets.SecretBundle) string {
	t.Helper()
	c, ok := b.SecretBundleContent.(sdksecrets.Base64SecretBundleContentDetails)
	if !ok || c.Content == nil {
		t.Fatalf("bundle content is %T, not BASE64 content", b.SecretBundleContent)
	}
	raw, err := base64.StdEncoding.DecodeString(*c.Content)
	if err != nil {
		t.Fatalf("bundle content is not base64: %v", err)
	}
	return string(raw)
}
