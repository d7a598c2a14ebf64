package examples_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"os"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"
)

// A secret written with VaultsClient and read back with SecretsClient. The
// vault and its AES key come from the environment (VAULT_ID, KEY_ID), as
// OCIDs should: for example $V and $K of the CLI walkthrough.
func Example_secret() {
	ctx := context.Background()
	provider := common.CustomProfileConfigProvider(os.Getenv("OCI_CONFIG_FILE"), "DEFAULT")
	tenancy, err := provider.TenancyOCID()
	if err != nil {
		log.Fatal(err)
	}
	vaultID, keyID := os.Getenv("VAULT_ID"), os.Getenv("KEY_ID")

	vc, err := vault.NewVaultsClientWithConfigurationProvider(provider)
	if err != nil {
		log.Fatal(err)
	}
	vc.Host = os.Getenv("COFFER_ENDPOINT")
	pw := []byte("s3cr3t")
	s, err := vc.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
		CompartmentId: &tenancy, VaultId: &vaultID, KeyId: &keyID, SecretName: common.String("db-password"),
		SecretContent: vault.Base64SecretContentDetails{Content: common.String(base64.StdEncoding.EncodeToString(pw))},
	}})
	if err != nil {
		log.Fatal(err)
	}

	sc, err := secrets.NewSecretsClientWithConfigurationProvider(provider)
	if err != nil {
		log.Fatal(err)
	}
	sc.Host = os.Getenv("COFFER_ENDPOINT")
	b, err := sc.GetSecretBundle(ctx, secrets.GetSecretBundleRequest{SecretId: s.Id}) // CURRENT by default
	if err != nil {
		log.Fatal(err)
	}
	content := b.SecretBundleContent.(secrets.Base64SecretBundleContentDetails).Content
	plain, err := base64.StdEncoding.DecodeString(*content)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*b.VersionNumber, string(plain))
	// Output: 1 s3cr3t
}
