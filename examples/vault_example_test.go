package examples_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"os"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
)

// A vault, a key in it and a round trip through the key, with the config
// and endpoint that `coffer server --dev` prints.
func Example_vault() {
	ctx := context.Background()
	provider := common.CustomProfileConfigProvider(os.Getenv("OCI_CONFIG_FILE"), "DEFAULT")
	tenancy, err := provider.TenancyOCID()
	if err != nil {
		log.Fatal(err)
	}

	vaults, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(provider)
	if err != nil {
		log.Fatal(err)
	}
	vaults.Host = os.Getenv("COFFER_ENDPOINT")
	v, err := vaults.CreateVault(ctx, keymanagement.CreateVaultRequest{
		CreateVaultDetails: keymanagement.CreateVaultDetails{
			CompartmentId: &tenancy,
			DisplayName:   common.String("payments"),
			VaultType:     keymanagement.CreateVaultDetailsVaultTypeDefault,
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	// Key and crypto calls go to the vault's own endpoints, as in OCI.
	keys, err := keymanagement.NewKmsManagementClientWithConfigurationProvider(provider, *v.ManagementEndpoint)
	if err != nil {
		log.Fatal(err)
	}
	k, err := keys.CreateKey(ctx, keymanagement.CreateKeyRequest{
		CreateKeyDetails: keymanagement.CreateKeyDetails{
			CompartmentId:  &tenancy,
			DisplayName:    common.String("payments-key"),
			KeyShape:       &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmAes, Length: common.Int(32)},
			ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeSoftware,
		},
	})
	if err != nil {
		log.Fatal(err)
	}

	crypto, err := keymanagement.NewKmsCryptoClientWithConfigurationProvider(provider, *v.CryptoEndpoint)
	if err != nil {
		log.Fatal(err)
	}
	enc, err := crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
		KeyId: k.Id, Plaintext: common.String(base64.StdEncoding.EncodeToString([]byte("card 4111"))),
	}})
	if err != nil {
		log.Fatal(err)
	}
	dec, err := crypto.Decrypt(ctx, keymanagement.DecryptRequest{DecryptDataDetails: keymanagement.DecryptDataDetails{
		KeyId: k.Id, Ciphertext: enc.Ciphertext,
	}})
	if err != nil {
		log.Fatal(err)
	}
	plain, err := base64.StdEncoding.DecodeString(*dec.Plaintext)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(*v.DisplayName, k.LifecycleState)
	fmt.Println(string(plain))
	// Output:
	// payments ENABLED
	// card 4111
}
