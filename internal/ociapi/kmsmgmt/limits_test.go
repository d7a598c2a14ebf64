package kmsmgmt_test

import (
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
)

// Past a vault's key-version limit, CreateKey, CreateKeyVersion, ImportKey
// and ImportKeyVersion are 400 LimitExceeded naming the limit.
func TestKeyVersionLimitsThroughSDK(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	env.Server.KMS.SetLimits(kms.Limits{SoftwareVersions: 2, HSMVersions: 2})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	wk, err := v.Mgmt.GetWrappingKey(ctx, keymanagement.GetWrappingKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	material := func() []byte {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return b
	}
	importKey := func(mode keymanagement.ImportKeyDetailsProtectionModeEnum) (keymanagement.ImportKeyResponse, error) {
		return v.Mgmt.ImportKey(ctx, keymanagement.ImportKeyRequest{ImportKeyDetails: keymanagement.ImportKeyDetails{
			CompartmentId: v.CompartmentId, DisplayName: common.String("imported"), KeyShape: keystest.Shape(aes_, 32, ""),
			ProtectionMode:   mode,
			WrappedImportKey: wrapForImport(t, *wk.PublicKey, keymanagement.WrappedImportKeyWrappingAlgorithmSha256, material()),
		}})
	}
	importVersion := func(keyID *string) error {
		_, err := v.Mgmt.ImportKeyVersion(ctx, keymanagement.ImportKeyVersionRequest{KeyId: keyID, ImportKeyVersionDetails: keymanagement.ImportKeyVersionDetails{
			WrappedImportKey: wrapForImport(t, *wk.PublicKey, keymanagement.WrappedImportKeyWrappingAlgorithmSha256, material())}})
		return err
	}

	// SOFTWARE: CreateKey + CreateKeyVersion fill the budget of 2.
	soft := v.CreateKey(t, "soft", keystest.Shape(aes_, 32, ""), software)
	if _, err := v.Mgmt.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: soft.Id}); err != nil {
		t.Fatal(err)
	}
	coffertest.NextSecond() // the same request again, not a replay of it
	_, err = v.Mgmt.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: soft.Id})
	keystest.WantError(t, err, http.StatusBadRequest, "LimitExceeded", "limit of 2 SOFTWARE-protected key versions")
	_, err = v.Mgmt.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: v.CompartmentId, DisplayName: common.String("one more"), KeyShape: keystest.Shape(aes_, 32, ""), ProtectionMode: software}})
	keystest.WantError(t, err, http.StatusBadRequest, "LimitExceeded", "SOFTWARE-protected")
	_, err = importKey(keymanagement.ImportKeyDetailsProtectionModeSoftware)
	keystest.WantError(t, err, http.StatusBadRequest, "LimitExceeded", "SOFTWARE-protected")

	// HSM: ImportKey + ImportKeyVersion fill the budget of 2.
	imp, err := importKey(keymanagement.ImportKeyDetailsProtectionModeHsm)
	if err != nil {
		t.Fatalf("ImportKey: %v", err)
	}
	if err := importVersion(imp.Id); err != nil {
		t.Fatalf("ImportKeyVersion: %v", err)
	}
	keystest.WantError(t, importVersion(imp.Id), http.StatusBadRequest, "LimitExceeded", "limit of 2 HSM-protected key versions")

	vc, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(env.Provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&vc.BaseClient, env.URL)
	u, err := vc.GetVaultUsage(ctx, keymanagement.GetVaultUsageRequest{VaultId: v.Id})
	if err != nil {
		t.Fatal(err)
	}
	if *u.SoftwareKeyVersionCount != 2 || *u.KeyVersionCount != 2 {
		t.Fatalf("usage after refusals: %+v", u.VaultUsage)
	}
}
