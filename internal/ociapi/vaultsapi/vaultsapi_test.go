package vaultsapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
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

func stagesOf[T ~string](in []T) string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = string(s)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func TestSecretOperationsThroughSDK(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	d := f.Details("db-password", "hunter2")
	d.Description = common.String("the database")
	d.Metadata = map[string]interface{}{"owner": "payments"}
	d.FreeformTags = map[string]string{"team": "payments"}
	d.SecretRules = []vault.SecretRule{
		vault.SecretExpiryRule{SecretVersionExpiryInterval: common.String("P30D")},
		vault.SecretReuseRule{IsEnforcedOnDeletedSecretVersions: common.Bool(true)},
	}
	created, err := f.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: d})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	s := created.Secret
	if s.LifecycleState != vault.SecretLifecycleStateActive || *s.SecretName != "db-password" || *s.KeyId != f.KeyID ||
		*s.VaultId != *f.Vault.Id || *s.CurrentVersionNumber != 1 || s.Metadata["owner"] != "payments" || created.Etag == nil {
		t.Fatalf("created secret: %+v", s)
	}
	// Rules come back as their SDK subtypes: the ruleType discriminator is written.
	if len(s.SecretRules) != 2 {
		t.Fatalf("rules: %+v", s.SecretRules)
	}
	if r, ok := s.SecretRules[0].(vault.SecretExpiryRule); !ok || *r.SecretVersionExpiryInterval != "P30D" {
		t.Fatalf("expiry rule: %#v", s.SecretRules[0])
	}
	if r, ok := s.SecretRules[1].(vault.SecretReuseRule); !ok || !*r.IsEnforcedOnDeletedSecretVersions {
		t.Fatalf("reuse rule: %#v", s.SecretRules[1])
	}
	if s.TimeOfCurrentVersionExpiry == nil {
		t.Fatal("timeOfCurrentVersionExpiry missing with an expiry rule")
	}

	got, err := f.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: s.Id})
	if err != nil {
		t.Fatalf("GetSecret: %v", err)
	}
	if *got.Id != *s.Id || *got.Etag != *created.Etag {
		t.Fatalf("GetSecret: %+v", got)
	}

	// Update metadata, then a stale etag is 412.
	upd, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, IfMatch: got.Etag,
		UpdateSecretDetails: vault.UpdateSecretDetails{Description: common.String("renamed")}})
	if err != nil {
		t.Fatalf("UpdateSecret: %v", err)
	}
	if *upd.Description != "renamed" || *upd.Etag == *got.Etag {
		t.Fatalf("update: %q etag changed %v", *upd.Description, *upd.Etag != *got.Etag)
	}
	_, err = f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, IfMatch: got.Etag,
		UpdateSecretDetails: vault.UpdateSecretDetails{Description: common.String("stale")}})
	keystest.WantError(t, err, http.StatusPreconditionFailed, "NoEtagMatch")

	// Rules: an empty list clears them; absent leaves them.
	cleared, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id,
		UpdateSecretDetails: vault.UpdateSecretDetails{SecretRules: []vault.SecretRule{}}})
	if err != nil {
		t.Fatalf("clear rules: %v", err)
	}
	if len(cleared.SecretRules) != 0 {
		t.Fatalf("rules after clearing: %+v", cleared.SecretRules)
	}

	// Content makes version 2.
	v2, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id,
		UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: vaultstest.Content("hunter3")}})
	if err != nil {
		t.Fatalf("update content: %v", err)
	}
	if *v2.CurrentVersionNumber != 2 {
		t.Fatalf("current version after update = %d", *v2.CurrentVersionNumber)
	}
	content, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id})
	if err != nil || content != "hunter3" {
		t.Fatalf("bundle after update: %q %v", content, err)
	}

	// Versions.
	ver, err := f.Vaults.GetSecretVersion(ctx, vault.GetSecretVersionRequest{SecretId: s.Id, SecretVersionNumber: common.Int64(1)})
	if err != nil {
		t.Fatalf("GetSecretVersion: %v", err)
	}
	if *ver.VersionNumber != 1 || ver.ContentType != vault.SecretVersionContentTypeBase64 || stagesOf(ver.Stages) != "PREVIOUS" || ver.Etag == nil {
		t.Fatalf("version 1: %+v", ver.SecretVersion)
	}
	_, err = f.Vaults.GetSecretVersion(ctx, vault.GetSecretVersionRequest{SecretId: s.Id, SecretVersionNumber: common.Int64(9)})
	keystest.NotFound(t, err)
	list, err := f.Vaults.ListSecretVersions(ctx, vault.ListSecretVersionsRequest{SecretId: s.Id})
	if err != nil {
		t.Fatalf("ListSecretVersions: %v", err)
	}
	if len(list.Items) != 2 || *list.Items[0].VersionNumber != 2 || stagesOf(list.Items[0].Stages) != "CURRENT,LATEST" {
		t.Fatalf("versions: %+v", list.Items)
	}
	asc, err := f.Vaults.ListSecretVersions(ctx, vault.ListSecretVersionsRequest{SecretId: s.Id, Limit: common.Int(1),
		SortBy: vault.ListSecretVersionsSortByVersionNumber, SortOrder: vault.ListSecretVersionsSortOrderAsc})
	if err != nil || len(asc.Items) != 1 || *asc.Items[0].VersionNumber != 1 || asc.OpcNextPage == nil {
		t.Fatalf("ascending page: %+v %v", asc.Items, err)
	}

	// Compartment: moving to a compartment that does not exist is 404; to
	// the same compartment is accepted.
	_, err = f.Vaults.ChangeSecretCompartment(ctx, vault.ChangeSecretCompartmentRequest{SecretId: s.Id,
		ChangeSecretCompartmentDetails: vault.ChangeSecretCompartmentDetails{CompartmentId: common.String("ocid1.compartment.oc1..nothere")}})
	keystest.NotFound(t, err)
	moved, err := f.Vaults.ChangeSecretCompartment(ctx, vault.ChangeSecretCompartmentRequest{SecretId: s.Id,
		ChangeSecretCompartmentDetails: vault.ChangeSecretCompartmentDetails{CompartmentId: common.String(f.Tenancy)}})
	if err != nil || moved.Etag == nil {
		t.Fatalf("ChangeSecretCompartment: %v", err)
	}

	// Secret deletion: 1 to 30 days; cancel restores.
	_, err = f.Vaults.ScheduleSecretDeletion(ctx, vault.ScheduleSecretDeletionRequest{SecretId: s.Id,
		ScheduleSecretDeletionDetails: vault.ScheduleSecretDeletionDetails{TimeOfDeletion: &common.SDKTime{Time: time.Now().Add(40 * 24 * time.Hour)}}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "between 1 and 30 days")
	sched, err := f.Vaults.ScheduleSecretDeletion(ctx, vault.ScheduleSecretDeletionRequest{SecretId: s.Id})
	if err != nil || sched.Etag == nil {
		t.Fatalf("ScheduleSecretDeletion: %v", err)
	}
	pending, _ := f.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: s.Id})
	if pending.LifecycleState != vault.SecretLifecycleStatePendingDeletion || pending.TimeOfDeletion == nil {
		t.Fatalf("after scheduling: %s", pending.LifecycleState)
	}
	_, _, err = f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id})
	keystest.NotFound(t, err)
	// The name stays taken while pending deletion.
	_, err = f.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: f.Details("db-password", "x")})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "already exists")
	if _, err := f.Vaults.CancelSecretDeletion(ctx, vault.CancelSecretDeletionRequest{SecretId: s.Id}); err != nil {
		t.Fatalf("CancelSecretDeletion: %v", err)
	}
	coffertest.NextSecond() // the same request again, not a replay of it
	_, err = f.Vaults.CancelSecretDeletion(ctx, vault.CancelSecretDeletionRequest{SecretId: s.Id})
	keystest.WantError(t, err, http.StatusConflict, "IncorrectState")

	// Version deletion: only DEPRECATED versions. Version 1 is PREVIOUS.
	_, err = f.Vaults.ScheduleSecretVersionDeletion(ctx, vault.ScheduleSecretVersionDeletionRequest{SecretId: s.Id, SecretVersionNumber: common.Int64(1)})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "DEPRECATED")
	if _, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id,
		UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: vaultstest.Content("hunter4")}}); err != nil {
		t.Fatal(err)
	}
	vd, err := f.Vaults.ScheduleSecretVersionDeletion(ctx, vault.ScheduleSecretVersionDeletionRequest{SecretId: s.Id, SecretVersionNumber: common.Int64(1)})
	if err != nil || vd.Etag == nil {
		t.Fatalf("ScheduleSecretVersionDeletion of a DEPRECATED version: %v", err)
	}
	_, _, err = f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id, VersionNumber: common.Int64(1)})
	keystest.NotFound(t, err)
	if _, err := f.Vaults.CancelSecretVersionDeletion(ctx, vault.CancelSecretVersionDeletionRequest{SecretId: s.Id, SecretVersionNumber: common.Int64(1)}); err != nil {
		t.Fatalf("CancelSecretVersionDeletion: %v", err)
	}
	if c, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id, VersionNumber: common.Int64(1)}); err != nil || c != "hunter2" {
		t.Fatalf("version 1 after cancelling its deletion: %q %v", c, err)
	}

	// Negatives.
	_, err = f.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: common.String("ocid1.vaultsecret.oc1.local.missing")})
	keystest.NotFound(t, err)
	_, err = f.Vaults.GetSecretVersion(ctx, vault.GetSecretVersionRequest{SecretId: s.Id, SecretVersionNumber: common.Int64(0)})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter")
	_, err = f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		SecretContent: vaultstest.Content("x"), CurrentVersionNumber: common.Int64(1)}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "same request")
	_, err = f.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
		CompartmentId: common.String(f.Tenancy), VaultId: f.Vault.Id, KeyId: common.String(f.KeyID), SecretContent: vaultstest.Content("x")}})
	keystest.WantError(t, err, http.StatusBadRequest, "MissingParameter", "secretName")
}

func TestListSecretsFiltersSortAndPages(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	for _, n := range []string{"delta", "alpha", "echo", "charlie", "bravo"} {
		f.CreateSecret(t, n, "v-"+n)
	}
	var names []string
	var page *string
	for i := 0; ; i++ {
		if i > 10 {
			t.Fatal("pagination does not end")
		}
		resp, err := f.Vaults.ListSecrets(ctx, vault.ListSecretsRequest{CompartmentId: common.String(f.Tenancy), Limit: common.Int(2), Page: page,
			SortBy: vault.ListSecretsSortByName, SortOrder: vault.ListSecretsSortOrderAsc})
		if err != nil {
			t.Fatalf("ListSecrets: %v", err)
		}
		if len(resp.Items) > 2 {
			t.Fatalf("%d items with limit 2", len(resp.Items))
		}
		for _, s := range resp.Items {
			names = append(names, *s.SecretName)
		}
		if page = resp.OpcNextPage; page == nil {
			break
		}
	}
	if got := strings.Join(names, " "); got != "alpha bravo charlie delta echo" {
		t.Fatalf("by name: %s", got)
	}
	def, err := f.Vaults.ListSecrets(ctx, vault.ListSecretsRequest{CompartmentId: common.String(f.Tenancy)})
	if err != nil || len(def.Items) != 5 || *def.Items[0].SecretName != "bravo" {
		t.Fatalf("default order (newest first): %v %v", def.Items, err)
	}
	one, err := f.Vaults.ListSecrets(ctx, vault.ListSecretsRequest{CompartmentId: common.String(f.Tenancy), Name: common.String("echo"), VaultId: f.Vault.Id,
		LifecycleState: vault.SecretSummaryLifecycleStateActive})
	if err != nil || len(one.Items) != 1 || *one.Items[0].SecretName != "echo" {
		t.Fatalf("filtered: %v %v", one.Items, err)
	}
	_, err = f.Vaults.ListSecrets(ctx, vault.ListSecretsRequest{CompartmentId: common.String(f.Tenancy), Page: common.String("garbage")})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter")
	_, err = f.Vaults.ListSecrets(ctx, vault.ListSecretsRequest{CompartmentId: common.String(f.Tenancy), Limit: common.Int(5000)})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "limit")
}

// TestStageTransitions drives the reference's transition table through the
// SDK: each step is a request and the stages every version has afterwards.
func TestStageTransitions(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	s := f.CreateSecret(t, "staged", "c1")
	content := func(c string, stage vault.SecretContentDetailsStageEnum) vault.UpdateSecretDetails {
		return vault.UpdateSecretDetails{SecretContent: vault.Base64SecretContentDetails{Content: vaultstest.B64(c), Stage: stage}}
	}
	promote := func(n int64) vault.UpdateSecretDetails {
		return vault.UpdateSecretDetails{CurrentVersionNumber: common.Int64(n)}
	}
	steps := []struct {
		name    string
		update  *vault.UpdateSecretDetails
		want    []string // stages of versions 1..n
		current string   // CURRENT content afterwards
	}{
		{"create", nil, []string{"CURRENT,LATEST"}, "c1"},
		{"update content", ptr(content("c2", "")), []string{"PREVIOUS", "CURRENT,LATEST"}, "c2"},
		{"upload PENDING", ptr(content("c3", vault.SecretContentDetailsStagePending)), []string{"PREVIOUS", "CURRENT", "LATEST,PENDING"}, "c2"},
		{"promote pending", ptr(promote(3)), []string{"DEPRECATED", "PREVIOUS", "CURRENT,LATEST"}, "c3"},
		{"roll back", ptr(promote(2)), []string{"DEPRECATED", "CURRENT", "LATEST,PREVIOUS"}, "c2"},
		{"roll forward", ptr(promote(3)), []string{"DEPRECATED", "PREVIOUS", "CURRENT,LATEST"}, "c3"},
		{"explicit CURRENT", ptr(content("c4", vault.SecretContentDetailsStageCurrent)), []string{"DEPRECATED", "DEPRECATED", "PREVIOUS", "CURRENT,LATEST"}, "c4"},
	}
	sent := map[string]bool{}
	for _, st := range steps {
		if st.update != nil {
			if b, _ := json.Marshal(st.update); sent[string(b)] {
				coffertest.NextSecond() // the same update again, not a replay of it
			} else {
				sent[string(b)] = true
			}
			if _, err := f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: *st.update}); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		list, err := f.Vaults.ListSecretVersions(ctx, vault.ListSecretVersionsRequest{SecretId: s.Id, SortOrder: vault.ListSecretVersionsSortOrderAsc})
		if err != nil {
			t.Fatalf("%s: list: %v", st.name, err)
		}
		var got []string
		for _, v := range list.Items {
			got = append(got, stagesOf(v.Stages))
		}
		if strings.Join(got, " | ") != strings.Join(st.want, " | ") {
			t.Fatalf("%s: stages %v, want %v", st.name, got, st.want)
		}
		if c, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id}); err != nil || c != st.current {
			t.Fatalf("%s: CURRENT content %q (%v), want %q", st.name, c, err, st.current)
		}
	}
	// Bundles by stage agree with the table's last row.
	for stage, want := range map[sdksecrets.GetSecretBundleStageEnum]string{"PREVIOUS": "c3", "LATEST": "c4", "CURRENT": "c4", "DEPRECATED": "c2"} {
		c, b, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id, Stage: stage})
		if err != nil || c != want {
			t.Fatalf("stage %s: %q %v, want %q", stage, c, err, want)
		}
		if !strings.Contains(stagesOf(b.Stages), string(stage)) {
			t.Fatalf("stage %s bundle carries %v", stage, b.Stages)
		}
	}
	_, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id, Stage: "PENDING"})
	keystest.NotFound(t, err)
	// Only DEPRECATED versions may be deleted: 3 is PREVIOUS, 1 is DEPRECATED.
	_, err = f.Vaults.ScheduleSecretVersionDeletion(ctx, vault.ScheduleSecretVersionDeletionRequest{SecretId: s.Id, SecretVersionNumber: common.Int64(3)})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "DEPRECATED")
	if _, err := f.Vaults.ScheduleSecretVersionDeletion(ctx, vault.ScheduleSecretVersionDeletionRequest{SecretId: s.Id, SecretVersionNumber: common.Int64(1)}); err != nil {
		t.Fatalf("delete DEPRECATED version: %v", err)
	}
	// A version pending deletion cannot become CURRENT.
	_, err = f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: promote(1)})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter")
	_, err = f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: promote(9)})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "does not exist")
}

func ptr[T any](v T) *T { return &v }

func TestCreateSecretRetryToken(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	req := vault.CreateSecretRequest{OpcRetryToken: common.String("once-only"), CreateSecretDetails: f.Details("retried", "v1")}
	a, err := f.Vaults.CreateSecret(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.NextSecond() // a retry re-signed in another second
	b, err := f.Vaults.CreateSecret(ctx, req)
	if err != nil {
		t.Fatalf("replayed create: %v", err)
	}
	if *a.Id != *b.Id {
		t.Fatalf("same retry token made two secrets: %s %s", *a.Id, *b.Id)
	}
	list, err := f.Vaults.ListSecrets(ctx, vault.ListSecretsRequest{CompartmentId: common.String(f.Tenancy)})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("%d secrets after a retried create (%v)", len(list.Items), err)
	}
	req.CreateSecretDetails = f.Details("other", "v1")
	_, err = f.Vaults.CreateSecret(ctx, req)
	keystest.WantError(t, err, http.StatusConflict, "InvalidatedRetryToken")
}

// plainContent is secretContent with the deprecated PLAIN content type, which
// this SDK cannot send by itself.
type plainContent struct{ Content string }

func (plainContent) GetName() *string                              { return nil }
func (plainContent) GetStage() vault.SecretContentDetailsStageEnum { return "" }
func (p plainContent) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"contentType": "PLAIN", "content": p.Content})
}

func TestPlainContentRefused(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	d := f.Details("plain", "")
	d.SecretContent = plainContent{Content: "not base64"}
	_, err := f.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: d})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "PLAIN", "base64")
	s := f.CreateSecret(t, "plain2", "ok")
	_, err = f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: plainContent{Content: "x"}}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "PLAIN", "base64")
	// Bad base64 and oversized content are 400 too.
	_, err = f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		SecretContent: vault.Base64SecretContentDetails{Content: common.String("!!!")}}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "base64")
	_, err = f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{
		SecretContent: vaultstest.Content(strings.Repeat("x", 26*1024))}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "25 KB")
}

func TestKeyChecksOnCreate(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	rsa := f.Vault.CreateKey(t, "rsa", keystest.Shape(keymanagement.KeyShapeAlgorithmRsa, 256, ""), keymanagement.CreateKeyDetailsProtectionModeSoftware)
	d := f.Details("on-rsa", "x")
	d.KeyId = rsa.Id
	_, err := f.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: d})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "AES")

	other := keystest.NewVault(t, f.Env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	otherKey := other.CreateKey(t, "elsewhere", keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, ""), keymanagement.CreateKeyDetailsProtectionModeSoftware)
	d = f.Details("other-vault-key", "x")
	d.KeyId = otherKey.Id
	_, err = f.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: d})
	// The key is not in the secret's vault: to the authorizer it is a key
	// nobody may use, so the answer is the usual 404.
	keystest.NotFound(t, err)

	// An HSM key (emulated in dev mode) works like a software one.
	hsm := f.Vault.CreateKey(t, "hsm", keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, ""), keymanagement.CreateKeyDetailsProtectionModeHsm)
	d = f.Details("on-hsm", "hsm-content")
	d.KeyId = hsm.Id
	s, err := f.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: d})
	if err != nil {
		t.Fatalf("secret on an HSM key: %v", err)
	}
	if c, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id}); err != nil || c != "hsm-content" {
		t.Fatalf("bundle on HSM key: %q %v", c, err)
	}
}

func TestAutoGenerationAndRotation(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	d := f.Details("generated", "")
	d.SecretContent = nil
	d.EnableAutoGeneration = common.Bool(true)
	d.SecretGenerationContext = vault.PassphraseGenerationContext{GenerationTemplate: vault.PassphraseGenerationContextGenerationTemplateSecretsDefaultPassword,
		PassphraseLength: common.Int(40)}
	d.RotationConfig = &vault.RotationConfig{RotationInterval: common.String("P30D"), IsScheduledRotationEnabled: common.Bool(true)}
	resp, err := f.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: d})
	if err != nil {
		t.Fatalf("CreateSecret with generation: %v", err)
	}
	s := resp.Secret
	gc, ok := s.SecretGenerationContext.(vault.PassphraseGenerationContext)
	if !ok || *gc.PassphraseLength != 40 || !*s.IsAutoGenerationEnabled {
		t.Fatalf("generation context: %#v", s.SecretGenerationContext)
	}
	if s.RotationStatus != vault.SecretRotationStatusScheduled || s.NextRotationTime == nil {
		t.Fatalf("rotation: %s %v", s.RotationStatus, s.NextRotationTime)
	}
	first, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id})
	if err != nil || len(first) != 40 {
		t.Fatalf("generated content length %d (%v)", len(first), err)
	}
	rot, err := f.Vaults.RotateSecret(ctx, vault.RotateSecretRequest{SecretId: s.Id})
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	if rot.OpcWorkRequestId == nil || *rot.OpcWorkRequestId == "" || rot.RawResponse.StatusCode != http.StatusAccepted {
		t.Fatalf("RotateSecret response: %d work request %v", rot.RawResponse.StatusCode, rot.OpcWorkRequestId)
	}
	second, b, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: s.Id})
	if err != nil || second == first || *b.VersionNumber != 2 {
		t.Fatalf("after rotation: version %d, content changed %v (%v)", *b.VersionNumber, second != first, err)
	}
	// Content cannot be set while generation is enabled.
	_, err = f.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: s.Id, UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: vaultstest.Content("x")}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "generation")
	if _, err := f.Vaults.CancelSecretRotation(ctx, vault.CancelSecretRotationRequest{SecretId: s.Id}); err != nil {
		t.Fatalf("CancelSecretRotation: %v", err)
	}
	after, _ := f.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: s.Id})
	if after.RotationStatus != vault.SecretRotationStatusNotEnabled || *after.RotationConfig.IsScheduledRotationEnabled {
		t.Fatalf("after cancelling rotation: %s", after.RotationStatus)
	}
	// A secret with an ADB target cannot be rotated by Coffer; the target
	// comes back with its discriminator.
	plain := f.Details("adb", "x")
	plain.RotationConfig = &vault.RotationConfig{TargetSystemDetails: vault.AdbTargetSystemDetails{AdbId: common.String("ocid1.autonomousdatabase.oc1..x")}}
	adb, err := f.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: plain})
	if err != nil {
		t.Fatalf("create with ADB target: %v", err)
	}
	if tgt, ok := adb.RotationConfig.TargetSystemDetails.(vault.AdbTargetSystemDetails); !ok || *tgt.AdbId != "ocid1.autonomousdatabase.oc1..x" {
		t.Fatalf("ADB target: %#v", adb.RotationConfig.TargetSystemDetails)
	}
	_, err = f.Vaults.RotateSecret(ctx, vault.RotateSecretRequest{SecretId: adb.Id})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "ADB")
}
