// Command regionapp is an ordinary OCI Go SDK program, run by
// TestRegionGoSDK as a separate process so that the SDK reads
// OCI_REGION_METADATA and OCI_DEFAULT_CERTS_PATH fresh, as it would on a
// user's machine. Its clients come from the config file and the region in
// it: no Host and no endpoint is set anywhere. Vault key and crypto
// clients use the vault's managementEndpoint and cryptoEndpoint, as every
// OCI program does.
//
// The one change from a program run against OCI is name resolution: the
// test cannot publish wildcard DNS, so every connection is dialled to
// COFFER_TEST_DIAL. Only DialContext of the SDK's own transport is
// replaced; TLS (the CA bundle from OCI_DEFAULT_CERTS_PATH, server name
// checks) stays the SDK's.
package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	"github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "regionapp:", err)
		os.Exit(1)
	}
}

// dial stands in for wildcard DNS: the only change to the SDK's clients.
func dial(client *common.BaseClient) {
	addr := os.Getenv("COFFER_TEST_DIAL")
	w := client.HTTPClient.(*http.Client).Transport.(*common.OciHTTPTransportWrapper)
	w.TransportTemplate = func(cfg *tls.Config) (http.RoundTripper, error) {
		t, err := common.DefaultTransport(cfg)
		if err != nil {
			return nil, err
		}
		t.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		return t, nil
	}
}

func run(ctx context.Context) error {
	provider, err := common.ConfigurationProviderFromFile(os.Getenv("OCI_CONFIG_FILE"), "")
	if err != nil {
		return err
	}
	tenancy, err := provider.TenancyOCID()
	if err != nil {
		return err
	}

	ic, err := identity.NewIdentityClientWithConfigurationProvider(provider)
	if err != nil {
		return err
	}
	dial(&ic.BaseClient)
	fmt.Println("identity host:", ic.Host)
	t, err := ic.GetTenancy(ctx, identity.GetTenancyRequest{TenancyId: &tenancy})
	if err != nil {
		return fmt.Errorf("GetTenancy: %w", err)
	}
	fmt.Println("tenancy:", *t.Name)

	vc, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(provider)
	if err != nil {
		return err
	}
	dial(&vc.BaseClient)
	fmt.Println("kms host:", vc.Host)
	v, err := vc.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: &tenancy, DisplayName: common.String("region-app"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		return fmt.Errorf("CreateVault: %w", err)
	}
	fmt.Println("management endpoint:", *v.ManagementEndpoint)

	mc, err := keymanagement.NewKmsManagementClientWithConfigurationProvider(provider, *v.ManagementEndpoint)
	if err != nil {
		return err
	}
	dial(&mc.BaseClient)
	k, err := mc.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: &tenancy, DisplayName: common.String("region-app"), ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeSoftware,
		KeyShape: &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmAes, Length: common.Int(32)}}})
	if err != nil {
		return fmt.Errorf("CreateKey: %w", err)
	}

	cc, err := keymanagement.NewKmsCryptoClientWithConfigurationProvider(provider, *v.CryptoEndpoint)
	if err != nil {
		return err
	}
	dial(&cc.BaseClient)
	plain := base64.StdEncoding.EncodeToString([]byte("crypto over the region"))
	enc, err := cc.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{KeyId: k.Id, Plaintext: &plain}})
	if err != nil {
		return fmt.Errorf("Encrypt: %w", err)
	}
	dec, err := cc.Decrypt(ctx, keymanagement.DecryptRequest{DecryptDataDetails: keymanagement.DecryptDataDetails{KeyId: k.Id, Ciphertext: enc.Ciphertext}})
	if err != nil {
		return fmt.Errorf("Decrypt: %w", err)
	}
	fmt.Println("decrypted:", decode(*dec.Plaintext))

	sc, err := vault.NewVaultsClientWithConfigurationProvider(provider)
	if err != nil {
		return err
	}
	dial(&sc.BaseClient)
	fmt.Println("vaults host:", sc.Host)
	content := base64.StdEncoding.EncodeToString([]byte("hello from the region"))
	s, err := sc.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
		CompartmentId: &tenancy, VaultId: v.Id, KeyId: k.Id, SecretName: common.String("region-app"),
		SecretContent: vault.Base64SecretContentDetails{Content: &content}}})
	if err != nil {
		return fmt.Errorf("CreateSecret: %w", err)
	}

	rc, err := secrets.NewSecretsClientWithConfigurationProvider(provider)
	if err != nil {
		return err
	}
	dial(&rc.BaseClient)
	fmt.Println("secrets host:", rc.Host)
	b, err := rc.GetSecretBundle(ctx, secrets.GetSecretBundleRequest{SecretId: s.Id})
	if err != nil {
		return fmt.Errorf("GetSecretBundle: %w", err)
	}
	fmt.Println("bundle:", decode(*b.SecretBundleContent.(secrets.Base64SecretBundleContentDetails).Content))
	return nil
}

func decode(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "<not base64>"
	}
	return string(b)
}
