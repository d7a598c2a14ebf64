package vaultsapi_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
	"github.com/coffer-vault/coffer/internal/secrets"
)

// The 31st version in use is 400 LimitExceeded through the SDK (the SDK does
// not retry it), with a message that says to schedule deletion of
// deprecated versions; doing so makes room.
func TestSecretVersionLimitThroughSDK(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	s := f.CreateSecret(t, "limited", "v1")
	update := func(c string) error {
		_, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id,
			UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: vaultstest.Content(c)}})
		return err
	}
	for i := 2; i <= secrets.DefaultMaxVersionsInUse; i++ {
		if err := update(fmt.Sprintf("v%d", i)); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	keystest.WantError(t, update("too many"), http.StatusBadRequest, "LimitExceeded", "schedule deletion of DEPRECATED versions")
	if c, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id}); err != nil || c != fmt.Sprintf("v%d", secrets.DefaultMaxVersionsInUse) {
		t.Fatalf("CURRENT after the refused update: %q %v", c, err)
	}
	if _, err := f.Vaults.ScheduleSecretVersionDeletion(ctx, vault.ScheduleSecretVersionDeletionRequest{SecretId: s.Id, SecretVersionNumber: common.Int64(1)}); err != nil {
		t.Fatal(err)
	}
	if err := update("fits"); err != nil {
		t.Fatalf("update after scheduling a deletion: %v", err)
	}
}
