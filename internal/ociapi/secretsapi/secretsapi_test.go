package secretsapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

var ctx = context.Background()

func TestBundlesThroughSDK(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	d := f.Details("api-token", "v1-content")
	d.Metadata = map[string]interface{}{"env": "prod"}
	s, err := f.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: d})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		SecretContent: vault.Base64SecretContentDetails{Content: vaultstest.B64("v2-content"), Name: common.String("second")}}}); err != nil {
		t.Fatal(err)
	}

	resp, err := f.Secrets.GetSecretBundle(ctx, sdksecrets.GetSecretBundleRequest{SecretId: s.Id})
	if err != nil {
		t.Fatalf("GetSecretBundle: %v", err)
	}
	if vaultstest.Decode(t, resp.SecretBundle) != "v2-content" || *resp.VersionNumber != 2 || *resp.VersionName != "second" ||
		resp.Etag == nil || resp.Metadata["env"] != "prod" || resp.TimeCreated == nil {
		t.Fatalf("CURRENT bundle: %+v", resp.SecretBundle)
	}
	for _, tc := range []struct {
		name string
		req  sdksecrets.GetSecretBundleRequest
		want string
	}{
		{"version 1", sdksecrets.GetSecretBundleRequest{VersionNumber: common.Int64(1)}, "v1-content"},
		{"by name", sdksecrets.GetSecretBundleRequest{SecretVersionName: common.String("second")}, "v2-content"},
		{"PREVIOUS", sdksecrets.GetSecretBundleRequest{Stage: sdksecrets.GetSecretBundleStagePrevious}, "v1-content"},
		{"LATEST", sdksecrets.GetSecretBundleRequest{Stage: sdksecrets.GetSecretBundleStageLatest}, "v2-content"},
	} {
		tc.req.SecretId = s.Id
		c, _, err := f.Bundle(t, tc.req)
		if err != nil || c != tc.want {
			t.Fatalf("%s: %q %v", tc.name, c, err)
		}
	}
	_, _, err = f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id, VersionNumber: common.Int64(7)})
	keystest.NotFound(t, err)
	_, _, err = f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id, VersionNumber: common.Int64(1), Stage: "CURRENT"})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "at most one")
	_, _, err = f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: common.String("ocid1.vaultsecret.oc1.local.nothere")})
	keystest.NotFound(t, err)

	// By name: vault + name, case-sensitive.
	byName, err := f.Secrets.GetSecretBundleByName(ctx, sdksecrets.GetSecretBundleByNameRequest{SecretName: common.String("api-token"), VaultId: f.Vault.Id})
	if err != nil {
		t.Fatalf("GetSecretBundleByName: %v", err)
	}
	if vaultstest.Decode(t, byName.SecretBundle) != "v2-content" || *byName.SecretId != *s.Id {
		t.Fatalf("by name: %+v", byName.SecretBundle)
	}
	old, err := f.Secrets.GetSecretBundleByName(ctx, sdksecrets.GetSecretBundleByNameRequest{SecretName: common.String("api-token"), VaultId: f.Vault.Id,
		VersionNumber: common.Int64(1)})
	if err != nil || vaultstest.Decode(t, old.SecretBundle) != "v1-content" {
		t.Fatalf("by name, version 1: %v", err)
	}
	_, err = f.Secrets.GetSecretBundleByName(ctx, sdksecrets.GetSecretBundleByNameRequest{SecretName: common.String("API-TOKEN"), VaultId: f.Vault.Id})
	keystest.NotFound(t, err)
	other := keystest.NewVault(t, f.Env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	_, err = f.Secrets.GetSecretBundleByName(ctx, sdksecrets.GetSecretBundleByNameRequest{SecretName: common.String("api-token"), VaultId: other.Id})
	keystest.NotFound(t, err)

	// Bundle versions.
	list, err := f.Secrets.ListSecretBundleVersions(ctx, sdksecrets.ListSecretBundleVersionsRequest{SecretId: s.Id})
	if err != nil {
		t.Fatalf("ListSecretBundleVersions: %v", err)
	}
	if len(list.Items) != 2 || *list.Items[0].VersionNumber != 2 || *list.Items[0].VersionName != "second" {
		t.Fatalf("bundle versions: %+v", list.Items)
	}
	page, err := f.Secrets.ListSecretBundleVersions(ctx, sdksecrets.ListSecretBundleVersionsRequest{SecretId: s.Id, Limit: common.Int(1),
		SortOrder: sdksecrets.ListSecretBundleVersionsSortOrderAsc})
	if err != nil || len(page.Items) != 1 || *page.Items[0].VersionNumber != 1 || page.OpcNextPage == nil {
		t.Fatalf("first page: %+v %v", page.Items, err)
	}
	rest, err := f.Secrets.ListSecretBundleVersions(ctx, sdksecrets.ListSecretBundleVersionsRequest{SecretId: s.Id, Limit: common.Int(1),
		SortOrder: sdksecrets.ListSecretBundleVersionsSortOrderAsc, Page: page.OpcNextPage})
	if err != nil || len(rest.Items) != 1 || *rest.Items[0].VersionNumber != 2 {
		t.Fatalf("second page: %+v %v", rest.Items, err)
	}
	// Pending deletion: bundles and bundle versions answer 404.
	if _, err := f.Vaults.ScheduleSecretDeletion(ctx, vault.ScheduleSecretDeletionRequest{SecretId: s.Id}); err != nil {
		t.Fatal(err)
	}
	_, err = f.Secrets.ListSecretBundleVersions(ctx, sdksecrets.ListSecretBundleVersionsRequest{SecretId: s.Id})
	keystest.NotFound(t, err)
	_, err = f.Secrets.GetSecretBundleByName(ctx, sdksecrets.GetSecretBundleByNameRequest{SecretName: common.String("api-token"), VaultId: f.Vault.Id})
	keystest.NotFound(t, err)
}

func TestKeyStateAndRotation(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	s := f.CreateSecret(t, "guarded", "before-rotation")

	// Rotating the master key never breaks old versions.
	if _, err := f.Vault.Mgmt.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: common.String(f.KeyID)}); err != nil {
		t.Fatalf("CreateKeyVersion: %v", err)
	}
	if _, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		SecretContent: vaultstest.Content("after-rotation")}}); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int64]string{1: "before-rotation", 2: "after-rotation"} {
		if c, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id, VersionNumber: common.Int64(n)}); err != nil || c != want {
			t.Fatalf("version %d after key rotation: %q %v", n, c, err)
		}
	}

	// Disabled key: reads fail with a message that names the cause.
	if _, err := f.Vault.Mgmt.DisableKey(ctx, keymanagement.DisableKeyRequest{KeyId: common.String(f.KeyID)}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	_, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id})
	keystest.WantError(t, err, http.StatusBadRequest, "ResourceDisabled", "DISABLED")
	_, err = f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		SecretContent: vaultstest.Content("while-disabled")}})
	keystest.WantError(t, err, http.StatusBadRequest, "ResourceDisabled", "DISABLED")
	// The failed update left the secret ACTIVE, not stuck in UPDATING.
	if got, err := f.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: s.Id}); err != nil || got.LifecycleState != vault.SecretLifecycleStateActive {
		t.Fatalf("after a failed update: %s %v", got.LifecycleState, err)
	}
	if _, err := f.Vault.Mgmt.EnableKey(ctx, keymanagement.EnableKeyRequest{KeyId: common.String(f.KeyID)}); err != nil {
		t.Fatalf("EnableKey: %v", err)
	}
	if c, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id}); err != nil || c != "after-rotation" {
		t.Fatalf("after enabling: %q %v", c, err)
	}

	// Key pending deletion: reads fail too, and cancelling restores them.
	if _, err := f.Vault.Mgmt.ScheduleKeyDeletion(ctx, keymanagement.ScheduleKeyDeletionRequest{KeyId: common.String(f.KeyID)}); err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}
	_, _, err = f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id})
	keystest.WantError(t, err, http.StatusBadRequest, "ResourceDisabled", "PENDING_DELETION")
	if _, err := f.Vault.Mgmt.CancelKeyDeletion(ctx, keymanagement.CancelKeyDeletionRequest{KeyId: common.String(f.KeyID)}); err != nil {
		t.Fatalf("CancelKeyDeletion: %v", err)
	}
	if c, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id, VersionNumber: common.Int64(1)}); err != nil || c != "before-rotation" {
		t.Fatalf("after cancelling key deletion: %q %v", c, err)
	}
}

// TestConcurrentUpdates: N UpdateSecret calls at once leave dense version
// numbers and exactly one CURRENT; any that lose the race get 409.
func TestConcurrentUpdates(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	s := f.CreateSecret(t, "contended", "v0")
	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, conflicts := 0, 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
				SecretContent: vaultstest.Content(fmt.Sprintf("writer-%d", i))}})
			mu.Lock()
			defer mu.Unlock()
			var se common.ServiceError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &se) && se.GetHTTPStatusCode() == http.StatusConflict:
				conflicts++
			default:
				t.Errorf("concurrent update: %v", err)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d updates succeeded, %d refused with 409", ok, conflicts)
	if ok == 0 || ok+conflicts != n {
		t.Fatalf("%d succeeded, %d conflicts, of %d", ok, conflicts, n)
	}
	list, err := f.Vaults.ListSecretVersions(ctx, vault.ListSecretVersionsRequest{SecretId: s.Id, SortOrder: vault.ListSecretVersionsSortOrderAsc})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != ok+1 {
		t.Fatalf("%d versions after %d successful updates", len(list.Items), ok)
	}
	current := 0
	for i, v := range list.Items {
		if *v.VersionNumber != int64(i+1) {
			t.Fatalf("version numbers not dense: position %d has %d", i, *v.VersionNumber)
		}
		for _, st := range v.Stages {
			if st == vault.SecretVersionSummaryStagesCurrent {
				current++
			}
		}
	}
	got, err := f.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: s.Id})
	if err != nil {
		t.Fatal(err)
	}
	if current != 1 || *got.CurrentVersionNumber != int64(ok+1) || got.LifecycleState != vault.SecretLifecycleStateActive {
		t.Fatalf("%d CURRENT versions, current number %d, state %s", current, *got.CurrentVersionNumber, got.LifecycleState)
	}
	c, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id})
	if err != nil || !strings.HasPrefix(c, "writer-") {
		t.Fatalf("CURRENT content %q %v", c, err)
	}
}

// TestNoPlaintextAtRestOrInLogs plants canary secrets and searches every
// database file and the server log for them, raw and base64-encoded.
func TestNoPlaintextAtRestOrInLogs(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	canaries := []string{"CANARY-7f3a9c-plain-secret-value", "CANARY-second-version-0b1e"}
	s := f.CreateSecret(t, "canary", canaries[0])
	if _, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		SecretContent: vaultstest.Content(canaries[1])}}); err != nil {
		t.Fatal(err)
	}
	// Read them back (several times: later reads come from the record
	// and data-key caches), and fail a request that carries one.
	for range 3 {
		for n := int64(1); n <= 2; n++ {
			if c, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id, VersionNumber: common.Int64(n)}); err != nil || c != canaries[n-1] {
				t.Fatalf("version %d: %q %v", n, c, err)
			}
		}
	}
	if f.Env.Server.CacheStats().Hits == 0 {
		t.Fatal("no read came from the record cache")
	}
	_, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, IfMatch: common.String("stale"), UpdateSecretDetails: vault.UpdateSecretDetails{
		SecretContent: vaultstest.Content(canaries[0])}})
	keystest.WantError(t, err, http.StatusPreconditionFailed, "NoEtagMatch")
	f.Env.Stop() // flush the WAL into the files we search

	var forms [][]byte
	for _, c := range canaries {
		forms = append(forms, []byte(c), []byte(base64.StdEncoding.EncodeToString([]byte(c))),
			// a shorter core survives any base64 alignment
			[]byte(c[4:20]))
	}
	// Every file the server wrote: the database and anything else a cache
	// might have spilled.
	var files []string
	err = filepath.WalkDir(f.Env.DataDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s (%v)", f.Env.DataDir, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range forms {
			if bytes.Contains(b, form) {
				t.Fatalf("%s contains secret content %q", filepath.Base(name), form)
			}
		}
	}
	logs := f.Env.Logs.Bytes()
	if len(logs) == 0 {
		t.Fatal("no logs captured")
	}
	for _, form := range forms {
		if bytes.Contains(logs, form) {
			t.Fatalf("logs contain secret content %q", form)
		}
	}
}

// TestReadsSeeEveryWrite: with the read path warm (served from the record
// cache), every kind of write is seen by the very next read.
func TestReadsSeeEveryWrite(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	s := f.CreateSecret(t, "moving", "v1")
	read := func(req sdksecrets.GetSecretBundleRequest) (string, sdksecrets.SecretBundle, error) {
		req.SecretId = s.Id
		return f.Bundle(t, req)
	}
	current := sdksecrets.GetSecretBundleRequest{}
	warm := func() {
		t.Helper()
		for range 2 {
			if _, _, err := read(current); err != nil {
				t.Fatalf("warm-up read: %v", err)
			}
		}
	}
	want := func(step, content string) {
		t.Helper()
		if c, _, err := read(current); err != nil || c != content {
			t.Fatalf("%s: read %q, %v; want %q", step, c, err, content)
		}
	}
	update := func(d vault.UpdateSecretDetails) {
		t.Helper()
		if _, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: d}); err != nil {
			t.Fatalf("UpdateSecret: %v", err)
		}
	}
	hits := f.Env.Server.CacheStats().Hits

	warm()
	update(vault.UpdateSecretDetails{SecretContent: vaultstest.Content("v2")})
	want("new content", "v2")
	if c, _, err := read(sdksecrets.GetSecretBundleRequest{Stage: sdksecrets.GetSecretBundleStagePrevious}); err != nil || c != "v1" {
		t.Fatalf("PREVIOUS after update: %q %v", c, err)
	}
	byName, err := f.Secrets.GetSecretBundleByName(ctx, sdksecrets.GetSecretBundleByNameRequest{SecretName: common.String("moving"), VaultId: f.Vault.Id})
	if err != nil || vaultstest.Decode(t, byName.SecretBundle) != "v2" {
		t.Fatalf("by name after update: %v", err)
	}

	warm()
	update(vault.UpdateSecretDetails{CurrentVersionNumber: common.Int64(1)})
	want("rollback to version 1", "v1")

	warm()
	update(vault.UpdateSecretDetails{Metadata: map[string]interface{}{"owner": "payments"}, Description: common.String("now described")})
	if _, b, err := read(current); err != nil || b.Metadata["owner"] != "payments" {
		t.Fatalf("metadata after update: %v %v", b.Metadata, err)
	}
	if got, err := f.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: s.Id}); err != nil || got.Description == nil || *got.Description != "now described" {
		t.Fatalf("GetSecret after update: %v", err)
	}

	warm()
	update(vault.UpdateSecretDetails{SecretContent: vaultstest.Content("v3")})
	vers, err := f.Secrets.ListSecretBundleVersions(ctx, sdksecrets.ListSecretBundleVersionsRequest{SecretId: s.Id})
	if err != nil || len(vers.Items) != 3 || *vers.Items[0].VersionNumber != 3 {
		t.Fatalf("bundle versions after update: %d %v", len(vers.Items), err)
	}
	if _, err := f.Vaults.ScheduleSecretVersionDeletion(ctx, vault.ScheduleSecretVersionDeletionRequest{SecretId: s.Id, SecretVersionNumber: common.Int64(2),
		ScheduleSecretVersionDeletionDetails: vault.ScheduleSecretVersionDeletionDetails{TimeOfDeletion: &common.SDKTime{Time: time.Now().Add(72 * time.Hour)}}}); err != nil {
		t.Fatalf("ScheduleSecretVersionDeletion: %v", err)
	}
	_, _, err = read(sdksecrets.GetSecretBundleRequest{VersionNumber: common.Int64(2)})
	keystest.NotFound(t, err)

	warm()
	if _, err := f.Vaults.ScheduleSecretDeletion(ctx, vault.ScheduleSecretDeletionRequest{SecretId: s.Id}); err != nil {
		t.Fatalf("ScheduleSecretDeletion: %v", err)
	}
	_, _, err = read(current)
	keystest.NotFound(t, err)
	if _, err := f.Vaults.CancelSecretDeletion(ctx, vault.CancelSecretDeletionRequest{SecretId: s.Id}); err != nil {
		t.Fatalf("CancelSecretDeletion: %v", err)
	}
	want("after cancelling deletion", "v3")

	warm()
	if _, err := f.Vault.Mgmt.DisableKey(ctx, keymanagement.DisableKeyRequest{KeyId: common.String(f.KeyID)}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	_, _, err = read(current)
	keystest.WantError(t, err, http.StatusBadRequest, "ResourceDisabled", "DISABLED")
	if _, err := f.Vault.Mgmt.EnableKey(ctx, keymanagement.EnableKeyRequest{KeyId: common.String(f.KeyID)}); err != nil {
		t.Fatalf("EnableKey: %v", err)
	}
	want("after enabling the key", "v3")

	warm()
	vc := keystest.VaultClient(t, f.Env, f.Env.Provider)
	if _, err := vc.ScheduleVaultDeletion(ctx, keymanagement.ScheduleVaultDeletionRequest{VaultId: f.Vault.Id,
		ScheduleVaultDeletionDetails: keymanagement.ScheduleVaultDeletionDetails{TimeOfDeletion: &common.SDKTime{Time: time.Now().Add(10 * 24 * time.Hour)}}}); err != nil {
		t.Fatalf("ScheduleVaultDeletion: %v", err)
	}
	_, _, err = read(current)
	keystest.WantError(t, err, http.StatusBadRequest, "ResourceDisabled", "PENDING_DELETION")

	if got := f.Env.Server.CacheStats().Hits - hits; got < 10 {
		t.Fatalf("only %d reads were served from the record cache: the test did not exercise it", got)
	}
}
