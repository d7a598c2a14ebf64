package kmsmgmt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/server"
)

var ctx = context.Background()

const (
	aes_     = keymanagement.KeyShapeAlgorithmAes
	rsa_     = keymanagement.KeyShapeAlgorithmRsa
	ecdsa_   = keymanagement.KeyShapeAlgorithmEcdsa
	software = keymanagement.CreateKeyDetailsProtectionModeSoftware
	hsm      = keymanagement.CreateKeyDetailsProtectionModeHsm
)

func TestKeyLifecycle(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	m := v.Mgmt

	created, err := m.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: v.CompartmentId, DisplayName: common.String("payments"), KeyShape: keystest.Shape(aes_, 32, ""),
		ProtectionMode: software, FreeformTags: map[string]string{"team": "payments"},
	}})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	k := created.Key
	if k.LifecycleState != keymanagement.KeyLifecycleStateEnabled || *k.VaultId != *v.Id || k.ProtectionMode != keymanagement.KeyProtectionModeSoftware ||
		*k.KeyShape.Length != 32 || k.FreeformTags["team"] != "payments" || k.CurrentKeyVersion == nil || created.Etag == nil {
		t.Fatalf("created key: %+v", k)
	}
	if _, ok := k.DefinedTags[kmsmgmt.SystemTagNamespace]; ok {
		t.Fatal("a SOFTWARE key carries the HSM emulation tag")
	}

	got, err := m.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: k.Id})
	if err != nil || *got.Id != *k.Id || *got.Etag != *created.Etag {
		t.Fatalf("GetKey: %v %+v", err, got)
	}
	_, err = m.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: common.String("ocid1.key.oc1.local.nope")})
	keystest.NotFound(t, err)

	upd, err := m.UpdateKey(ctx, keymanagement.UpdateKeyRequest{KeyId: k.Id, IfMatch: got.Etag,
		UpdateKeyDetails: keymanagement.UpdateKeyDetails{DisplayName: common.String("renamed")}})
	if err != nil || *upd.DisplayName != "renamed" {
		t.Fatalf("UpdateKey: %v", err)
	}
	_, err = m.UpdateKey(ctx, keymanagement.UpdateKeyRequest{KeyId: k.Id, IfMatch: got.Etag,
		UpdateKeyDetails: keymanagement.UpdateKeyDetails{DisplayName: common.String("again")}})
	keystest.WantError(t, err, http.StatusPreconditionFailed, "NoEtagMatch")

	dis, err := m.DisableKey(ctx, keymanagement.DisableKeyRequest{KeyId: k.Id})
	if err != nil || dis.LifecycleState != keymanagement.KeyLifecycleStateDisabled {
		t.Fatalf("DisableKey: %v %s", err, dis.LifecycleState)
	}
	_, err = m.UpdateKey(ctx, keymanagement.UpdateKeyRequest{KeyId: k.Id, UpdateKeyDetails: keymanagement.UpdateKeyDetails{DisplayName: common.String("x")}})
	keystest.WantError(t, err, http.StatusConflict, "IncorrectState", "ENABLED")
	_, err = m.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: k.Id})
	keystest.WantError(t, err, http.StatusConflict, "IncorrectState")
	en, err := m.EnableKey(ctx, keymanagement.EnableKeyRequest{KeyId: k.Id})
	if err != nil || en.LifecycleState != keymanagement.KeyLifecycleStateEnabled {
		t.Fatalf("EnableKey: %v %s", err, en.LifecycleState)
	}

	// Rotation.
	first := *k.CurrentKeyVersion
	kv, err := m.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: k.Id})
	if err != nil {
		t.Fatalf("CreateKeyVersion: %v", err)
	}
	if *kv.KeyId != *k.Id || kv.Origin != keymanagement.KeyVersionOriginInternal || *kv.Id == first || kv.PublicKey != nil {
		t.Fatalf("new version: %+v", kv.KeyVersion)
	}
	got, _ = m.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: k.Id})
	if *got.CurrentKeyVersion != *kv.Id {
		t.Fatalf("current version %s, want %s", *got.CurrentKeyVersion, *kv.Id)
	}
	list, err := m.ListKeyVersions(ctx, keymanagement.ListKeyVersionsRequest{KeyId: k.Id})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("ListKeyVersions: %v %d", err, len(list.Items))
	}
	page1, err := m.ListKeyVersions(ctx, keymanagement.ListKeyVersionsRequest{KeyId: k.Id, Limit: common.Int(1)})
	if err != nil || len(page1.Items) != 1 || page1.OpcNextPage == nil {
		t.Fatalf("ListKeyVersions page 1: %v %+v", err, page1)
	}
	page2, err := m.ListKeyVersions(ctx, keymanagement.ListKeyVersionsRequest{KeyId: k.Id, Limit: common.Int(1), Page: page1.OpcNextPage})
	if err != nil || len(page2.Items) != 1 || *page2.Items[0].Id == *page1.Items[0].Id {
		t.Fatalf("ListKeyVersions page 2: %v %+v", err, page2)
	}
	gv, err := m.GetKeyVersion(ctx, keymanagement.GetKeyVersionRequest{KeyId: k.Id, KeyVersionId: common.String(first)})
	if err != nil || *gv.Id != first || gv.LifecycleState != keymanagement.KeyVersionLifecycleStateEnabled {
		t.Fatalf("GetKeyVersion: %v %+v", err, gv)
	}

	// Version deletion: never the current one; 7 to 30 days.
	_, err = m.ScheduleKeyVersionDeletion(ctx, keymanagement.ScheduleKeyVersionDeletionRequest{KeyId: k.Id, KeyVersionId: kv.Id})
	keystest.WantError(t, err, http.StatusConflict, "IncorrectState", "current version")
	_, err = m.ScheduleKeyVersionDeletion(ctx, keymanagement.ScheduleKeyVersionDeletionRequest{KeyId: k.Id, KeyVersionId: common.String(first),
		ScheduleKeyVersionDeletionDetails: keymanagement.ScheduleKeyVersionDeletionDetails{TimeOfDeletion: &common.SDKTime{Time: time.Now().Add(24 * time.Hour)}}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "between 7 and 30 days")
	sv, err := m.ScheduleKeyVersionDeletion(ctx, keymanagement.ScheduleKeyVersionDeletionRequest{KeyId: k.Id, KeyVersionId: common.String(first)})
	if err != nil || sv.LifecycleState != keymanagement.KeyVersionLifecycleStatePendingDeletion || sv.TimeOfDeletion == nil {
		t.Fatalf("ScheduleKeyVersionDeletion: %v %+v", err, sv)
	}
	cv, err := m.CancelKeyVersionDeletion(ctx, keymanagement.CancelKeyVersionDeletionRequest{KeyId: k.Id, KeyVersionId: common.String(first)})
	if err != nil || cv.LifecycleState != keymanagement.KeyVersionLifecycleStateEnabled || cv.TimeOfDeletion != nil {
		t.Fatalf("CancelKeyVersionDeletion: %v %+v", err, cv)
	}
	coffertest.NextSecond() // the same request again, not a replay of it
	_, err = m.CancelKeyVersionDeletion(ctx, keymanagement.CancelKeyVersionDeletionRequest{KeyId: k.Id, KeyVersionId: common.String(first)})
	keystest.WantError(t, err, http.StatusConflict, "IncorrectState")

	// Compartment move (to the same tenancy, the only compartment here);
	// an unknown compartment is refused.
	if _, err := m.ChangeKeyCompartment(ctx, keymanagement.ChangeKeyCompartmentRequest{KeyId: k.Id,
		ChangeKeyCompartmentDetails: keymanagement.ChangeKeyCompartmentDetails{CompartmentId: v.CompartmentId}}); err != nil {
		t.Fatalf("ChangeKeyCompartment: %v", err)
	}
	_, err = m.ChangeKeyCompartment(ctx, keymanagement.ChangeKeyCompartmentRequest{KeyId: k.Id,
		ChangeKeyCompartmentDetails: keymanagement.ChangeKeyCompartmentDetails{CompartmentId: common.String("ocid1.compartment.oc1..nope")}})
	keystest.WantError(t, err, http.StatusBadRequest, "RelatedResourceNotAuthorizedOrNotFound")

	// Key deletion.
	_, err = m.ScheduleKeyDeletion(ctx, keymanagement.ScheduleKeyDeletionRequest{KeyId: k.Id,
		ScheduleKeyDeletionDetails: keymanagement.ScheduleKeyDeletionDetails{TimeOfDeletion: &common.SDKTime{Time: time.Now().Add(31 * 24 * time.Hour)}}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "between 7 and 30 days")
	when := time.Now().Add(10 * 24 * time.Hour)
	sk, err := m.ScheduleKeyDeletion(ctx, keymanagement.ScheduleKeyDeletionRequest{KeyId: k.Id,
		ScheduleKeyDeletionDetails: keymanagement.ScheduleKeyDeletionDetails{TimeOfDeletion: &common.SDKTime{Time: when}}})
	if err != nil || sk.LifecycleState != keymanagement.KeyLifecycleStatePendingDeletion || sk.TimeOfDeletion.Sub(when).Abs() > time.Second {
		t.Fatalf("ScheduleKeyDeletion: %v %+v", err, sk.Key)
	}
	_, err = m.DisableKey(ctx, keymanagement.DisableKeyRequest{KeyId: k.Id})
	keystest.WantError(t, err, http.StatusConflict, "IncorrectState")
	ck, err := m.CancelKeyDeletion(ctx, keymanagement.CancelKeyDeletionRequest{KeyId: k.Id})
	if err != nil || ck.LifecycleState != keymanagement.KeyLifecycleStateEnabled || ck.TimeOfDeletion != nil {
		t.Fatalf("CancelKeyDeletion: %v %+v", err, ck.Key)
	}

	// Usage counts the SOFTWARE key and its two versions.
	vc, _ := keymanagement.NewKmsVaultClientWithConfigurationProvider(env.Provider)
	coffertest.Configure(&vc.BaseClient, env.URL)
	u, err := vc.GetVaultUsage(ctx, keymanagement.GetVaultUsageRequest{VaultId: v.Id})
	if err != nil || *u.SoftwareKeyCount != 1 || *u.SoftwareKeyVersionCount != 2 || *u.KeyCount != 0 {
		t.Fatalf("usage: %v %+v", err, u.VaultUsage)
	}
}

func TestListKeysFiltersSortAndPages(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	v.CreateKey(t, "c-aes16", keystest.Shape(aes_, 16, ""), software)
	v.CreateKey(t, "a-aes32", keystest.Shape(aes_, 32, ""), software)
	v.CreateKey(t, "b-ec384", keystest.Shape(ecdsa_, 48, keymanagement.KeyShapeCurveIdP384), software)
	v.CreateKey(t, "d-hsm", keystest.Shape(aes_, 32, ""), hsm)

	list := func(req keymanagement.ListKeysRequest) []string {
		t.Helper()
		req.CompartmentId = v.CompartmentId
		resp, err := v.Mgmt.ListKeys(ctx, req)
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		var names []string
		for _, k := range resp.Items {
			names = append(names, *k.DisplayName)
		}
		return names
	}
	byName := keymanagement.ListKeysSortByDisplayname
	for _, tc := range []struct {
		name string
		req  keymanagement.ListKeysRequest
		want string
	}{
		{"all by name", keymanagement.ListKeysRequest{SortBy: byName}, "a-aes32 b-ec384 c-aes16 d-hsm"},
		{"desc", keymanagement.ListKeysRequest{SortBy: byName, SortOrder: keymanagement.ListKeysSortOrderDesc}, "d-hsm c-aes16 b-ec384 a-aes32"},
		{"algorithm", keymanagement.ListKeysRequest{SortBy: byName, Algorithm: keymanagement.ListKeysAlgorithmAes}, "a-aes32 c-aes16 d-hsm"},
		{"length", keymanagement.ListKeysRequest{SortBy: byName, Length: common.Int(16)}, "c-aes16"},
		{"curve", keymanagement.ListKeysRequest{SortBy: byName, CurveId: keymanagement.ListKeysCurveIdP384}, "b-ec384"},
		{"protection", keymanagement.ListKeysRequest{SortBy: byName, ProtectionMode: keymanagement.ListKeysProtectionModeHsm}, "d-hsm"},
	} {
		if got := strings.Join(list(tc.req), " "); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.name, got, tc.want)
		}
	}
	var seen []string
	var page *string
	for range 10 {
		resp, err := v.Mgmt.ListKeys(ctx, keymanagement.ListKeysRequest{CompartmentId: v.CompartmentId, SortBy: byName, Limit: common.Int(3), Page: page})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range resp.Items {
			seen = append(seen, *k.DisplayName)
		}
		if page = resp.OpcNextPage; page == nil {
			break
		}
	}
	if strings.Join(seen, " ") != "a-aes32 b-ec384 c-aes16 d-hsm" {
		t.Fatalf("paged: %v", seen)
	}
}

func TestShapesOCIDoesNotAllow(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	for _, tc := range []struct {
		shape *keymanagement.KeyShape
		want  string
	}{
		{keystest.Shape(aes_, 256, ""), "allowed values are 16, 24, 32"},
		{keystest.Shape(aes_, 8, ""), "allowed values are 16, 24, 32"},
		{keystest.Shape(rsa_, 2048, ""), "allowed values are 256, 384, 512"},
		{keystest.Shape(rsa_, 128, ""), "allowed values are 256, 384, 512"},
		{keystest.Shape(ecdsa_, 64, ""), "allowed values are 32, 48, 66"},
		{keystest.Shape(ecdsa_, 32, keymanagement.KeyShapeCurveIdP384), "must be 48"},
		{keystest.Shape("DES", 8, ""), "allowed values are AES, RSA, ECDSA"},
		{keystest.Shape(ecdsa_, 32, "CURVE25519"), "NIST_P256, NIST_P384, NIST_P521"},
		{keystest.Shape(aes_, 32, keymanagement.KeyShapeCurveIdP256), "curveId must not be set"},
	} {
		_, err := v.Mgmt.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
			CompartmentId: v.CompartmentId, DisplayName: common.String("bad"), KeyShape: tc.shape, ProtectionMode: software,
		}})
		keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", tc.want)
	}
	// Every allowed shape is made, in both modes.
	for _, s := range []*keymanagement.KeyShape{
		keystest.Shape(aes_, 16, ""), keystest.Shape(aes_, 24, ""), keystest.Shape(rsa_, 256, ""),
		keystest.Shape(ecdsa_, 32, ""), keystest.Shape(ecdsa_, 66, keymanagement.KeyShapeCurveIdP521),
	} {
		k := v.CreateKey(t, "ok", s, hsm)
		if s.Algorithm == ecdsa_ && k.KeyShape.CurveId == "" {
			t.Errorf("ECDSA key without curveId: %+v", k.KeyShape)
		}
	}
	_, err := v.Mgmt.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
		CompartmentId: v.CompartmentId, DisplayName: common.String("x"), KeyShape: keystest.Shape(aes_, 32, ""), ProtectionMode: "EXTERNAL",
	}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "HSM, SOFTWARE")
}

func TestHSMEmulationIsSaid(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	// The SDK's default protection mode is HSM; none is given here.
	k := v.CreateKey(t, "default-mode", keystest.Shape(aes_, 32, ""), "")
	if k.ProtectionMode != keymanagement.KeyProtectionModeHsm {
		t.Fatalf("protection mode %s", k.ProtectionMode)
	}
	if k.DefinedTags[kmsmgmt.SystemTagNamespace][kmsmgmt.HSMEmulatedTag] != "true" {
		t.Fatalf("emulated HSM key does not say so: %v", k.DefinedTags)
	}
	// The caller cannot remove or forge the system tag.
	upd, err := v.Mgmt.UpdateKey(ctx, keymanagement.UpdateKeyRequest{KeyId: k.Id, UpdateKeyDetails: keymanagement.UpdateKeyDetails{
		DefinedTags: map[string]map[string]interface{}{kmsmgmt.SystemTagNamespace: {"HsmEmulated": "false"}, "ops": {"owner": "me"}}}})
	if err != nil || upd.DefinedTags[kmsmgmt.SystemTagNamespace][kmsmgmt.HSMEmulatedTag] != "true" || upd.DefinedTags["ops"]["owner"] != "me" {
		t.Fatalf("UpdateKey tags: %v %v", err, upd.DefinedTags)
	}
	if !strings.Contains(env.Out.String(), "HSM keys are EMULATED") {
		t.Errorf("dev instructions do not say HSM keys are emulated:\n%s", env.Out)
	}
	if !strings.Contains(env.Logs.String(), "HSM keys are emulated in software") {
		t.Errorf("startup log does not say HSM keys are emulated")
	}
}

func TestKeyOfAnotherVaultIsNotFound(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	a := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	b := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	k := a.CreateKey(t, "a-key", keystest.Shape(aes_, 32, ""), software)

	_, err := b.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: k.Id})
	keystest.NotFound(t, err)
	_, err = b.Mgmt.DisableKey(ctx, keymanagement.DisableKeyRequest{KeyId: k.Id})
	keystest.NotFound(t, err)
	_, err = b.Mgmt.ListKeyVersions(ctx, keymanagement.ListKeyVersionsRequest{KeyId: k.Id})
	keystest.NotFound(t, err)
	_, err = b.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
		KeyId: k.Id, Plaintext: common.String(base64.StdEncoding.EncodeToString([]byte("x")))}})
	keystest.NotFound(t, err)
	list, err := b.Mgmt.ListKeys(ctx, keymanagement.ListKeysRequest{CompartmentId: b.CompartmentId})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("vault b lists %d keys (%v)", len(list.Items), err)
	}
	// The right endpoint works.
	if _, err := a.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: k.Id}); err != nil {
		t.Fatal(err)
	}
}

func TestAutoRotationAndDeletionJobs(t *testing.T) {
	clock := keystest.NewClock()
	env := coffertest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.Now = clock.Now; c.JobInterval = time.Hour }})
	def := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	vp := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeVirtualPrivate)

	create := func(v keystest.Vault, days int) (keymanagement.Key, error) {
		resp, err := v.Mgmt.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
			CompartmentId: v.CompartmentId, DisplayName: common.String("rotating"), KeyShape: keystest.Shape(aes_, 32, ""),
			ProtectionMode: software, IsAutoRotationEnabled: common.Bool(true),
			AutoKeyRotationDetails: &keymanagement.AutoKeyRotationDetails{RotationIntervalInDays: common.Int(days)},
		}})
		return resp.Key, err
	}
	_, err := create(def, 60)
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "VIRTUAL_PRIVATE")
	for _, days := range []int{59, 366} {
		_, err = create(vp, days)
		keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "60 to 365")
	}
	k, err := create(vp, 60)
	if err != nil {
		t.Fatal(err)
	}
	if !*k.IsAutoRotationEnabled || *k.AutoKeyRotationDetails.RotationIntervalInDays != 60 || k.AutoKeyRotationDetails.TimeOfNextRotation == nil {
		t.Fatalf("auto rotation: %+v", k.AutoKeyRotationDetails)
	}
	enc, err := vp.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
		KeyId: k.Id, Plaintext: common.String(base64.StdEncoding.EncodeToString([]byte("before rotation")))}})
	if err != nil {
		t.Fatal(err)
	}

	// Requests are signed with the real time, so the server's clock goes
	// forward only while the jobs run.
	jobsAt := func(d time.Duration) {
		clock.Advance(d)
		env.Server.RunJobs(ctx)
		clock.Advance(-d)
	}
	env.Server.RunJobs(ctx)
	if got, _ := vp.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: k.Id}); *got.CurrentKeyVersion != *k.CurrentKeyVersion {
		t.Fatal("rotated before the interval")
	}
	jobsAt(61 * 24 * time.Hour)
	got, _ := vp.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: k.Id})
	if *got.CurrentKeyVersion == *k.CurrentKeyVersion || got.AutoKeyRotationDetails.LastRotationStatus != keymanagement.AutoKeyRotationDetailsLastRotationStatusSuccess ||
		got.AutoKeyRotationDetails.TimeOfLastRotation == nil {
		t.Fatalf("not rotated: %+v", got.AutoKeyRotationDetails)
	}
	kv, err := vp.Mgmt.GetKeyVersion(ctx, keymanagement.GetKeyVersionRequest{KeyId: k.Id, KeyVersionId: got.CurrentKeyVersion})
	if err != nil || !*kv.IsAutoRotated {
		t.Fatalf("new version not marked auto-rotated: %v %+v", err, kv.KeyVersion)
	}
	dec, err := vp.Crypto.Decrypt(ctx, keymanagement.DecryptRequest{DecryptDataDetails: keymanagement.DecryptDataDetails{KeyId: k.Id, Ciphertext: enc.Ciphertext}})
	if err != nil || *dec.Plaintext != base64.StdEncoding.EncodeToString([]byte("before rotation")) || *dec.KeyVersionId != *k.CurrentKeyVersion {
		t.Fatalf("old ciphertext after rotation: %v", err)
	}
	// Turning rotation off stops it.
	off, err := vp.Mgmt.UpdateKey(ctx, keymanagement.UpdateKeyRequest{KeyId: k.Id, UpdateKeyDetails: keymanagement.UpdateKeyDetails{IsAutoRotationEnabled: common.Bool(false)}})
	if err != nil || *off.IsAutoRotationEnabled {
		t.Fatalf("disable auto rotation: %v", err)
	}
	jobsAt(400 * 24 * time.Hour)
	if again, _ := vp.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: k.Id}); *again.CurrentKeyVersion != *got.CurrentKeyVersion {
		t.Fatal("rotated with auto rotation off")
	}

	// The old version's deletion completes after its window; it no longer
	// decrypts.
	if _, err := vp.Mgmt.ScheduleKeyVersionDeletion(ctx, keymanagement.ScheduleKeyVersionDeletionRequest{KeyId: k.Id, KeyVersionId: k.CurrentKeyVersion}); err != nil {
		t.Fatal(err)
	}
	_, err = vp.Crypto.Decrypt(ctx, keymanagement.DecryptRequest{DecryptDataDetails: keymanagement.DecryptDataDetails{KeyId: k.Id, Ciphertext: enc.Ciphertext}})
	keystest.WantError(t, err, http.StatusConflict, "IncorrectState", "PENDING_DELETION")
	jobsAt(31 * 24 * time.Hour)
	old, err := vp.Mgmt.GetKeyVersion(ctx, keymanagement.GetKeyVersionRequest{KeyId: k.Id, KeyVersionId: k.CurrentKeyVersion})
	if err != nil || old.LifecycleState != keymanagement.KeyVersionLifecycleStateDeleted {
		t.Fatalf("version after its deletion time: %v %s", err, old.LifecycleState)
	}

	// Vault deletion takes its keys along; cancelling brings them back.
	other := vp.CreateKey(t, "other", keystest.Shape(rsa_, 256, ""), software)
	vc, _ := keymanagement.NewKmsVaultClientWithConfigurationProvider(env.Provider)
	coffertest.Configure(&vc.BaseClient, env.URL)
	if _, err := vc.ScheduleVaultDeletion(ctx, keymanagement.ScheduleVaultDeletionRequest{VaultId: vp.Id}); err != nil {
		t.Fatal(err)
	}
	pk, _ := vp.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: other.Id})
	if pk.LifecycleState != keymanagement.KeyLifecycleStatePendingDeletion {
		t.Fatalf("key of a vault pending deletion is %s", pk.LifecycleState)
	}
	_, err = vp.Mgmt.CancelKeyDeletion(ctx, keymanagement.CancelKeyDeletionRequest{KeyId: other.Id})
	keystest.WantError(t, err, http.StatusConflict, "IncorrectState", "vault")
	if _, err := vc.CancelVaultDeletion(ctx, keymanagement.CancelVaultDeletionRequest{VaultId: vp.Id}); err != nil {
		t.Fatal(err)
	}
	if pk, _ := vp.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: other.Id}); pk.LifecycleState != keymanagement.KeyLifecycleStateEnabled {
		t.Fatalf("key after the vault's deletion was cancelled: %s", pk.LifecycleState)
	}
	// A key scheduled after the vault's time is a conflict.
	if _, err := vp.Mgmt.ScheduleKeyDeletion(ctx, keymanagement.ScheduleKeyDeletionRequest{KeyId: other.Id}); err != nil {
		t.Fatal(err)
	}
	_, err = vc.ScheduleVaultDeletion(ctx, keymanagement.ScheduleVaultDeletionRequest{VaultId: vp.Id,
		ScheduleVaultDeletionDetails: keymanagement.ScheduleVaultDeletionDetails{TimeOfDeletion: &common.SDKTime{Time: clock.Now().Add(8 * 24 * time.Hour)}}})
	keystest.WantError(t, err, http.StatusConflict, "Conflict", "after the vault")
	// The key's own deletion completes.
	jobsAt(31 * 24 * time.Hour)
	if pk, _ := vp.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: other.Id}); pk.LifecycleState != keymanagement.KeyLifecycleStateDeleted {
		t.Fatalf("key after its deletion time: %s", pk.LifecycleState)
	}
}

// wrapForImport wraps material for the vault's wrapping key the way OCI's
// import scripts do, with the standard library and RFC 5649 key wrap.
func wrapForImport(t *testing.T, pemKey string, alg keymanagement.WrappedImportKeyWrappingAlgorithmEnum, material []byte) *keymanagement.WrappedImportKey {
	t.Helper()
	block, _ := pem.Decode([]byte(pemKey))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("wrapping key is not a PEM public key: %q", pemKey)
	}
	pk, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub := pk.(*rsa.PublicKey)
	if pub.Size() != 512 {
		t.Fatalf("wrapping key is %d bits, want 4096", pub.Size()*8)
	}
	var out []byte
	switch alg {
	case keymanagement.WrappedImportKeyWrappingAlgorithmSha256:
		out, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, material, nil)
	default:
		kek := make([]byte, 32)
		_, _ = rand.Read(kek)
		wk, err2 := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, kek, nil)
		if err2 != nil {
			t.Fatal(err2)
		}
		w, err2 := keyprotect.WrapKWP(kek, material)
		if err2 != nil {
			t.Fatal(err2)
		}
		out = append(wk, w...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return &keymanagement.WrappedImportKey{KeyMaterial: common.String(base64.StdEncoding.EncodeToString(out)), WrappingAlgorithm: alg}
}

// openCiphertext decrypts a Coffer AES ciphertext with the standard
func TestImportKeyAndVersion(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	wk, err := v.Mgmt.GetWrappingKey(ctx, keymanagement.GetWrappingKeyRequest{})
	if err != nil {
		t.Fatalf("GetWrappingKey: %v", err)
	}
	if *wk.Id != *v.WrappingkeyId || *wk.VaultId != *v.Id || wk.LifecycleState != keymanagement.WrappingKeyLifecycleStateEnabled {
		t.Fatalf("wrapping key: %+v", wk.WrappingKey)
	}
	again, _ := v.Mgmt.GetWrappingKey(ctx, keymanagement.GetWrappingKeyRequest{})
	if *again.PublicKey != *wk.PublicKey {
		t.Fatal("wrapping key changed between calls")
	}

	// AES, RSA_OAEP_SHA256: client material, then stdlib opens what Coffer
	// encrypts with it.
	aesKey := make([]byte, 32)
	_, _ = rand.Read(aesKey)
	imp, err := v.Mgmt.ImportKey(ctx, keymanagement.ImportKeyRequest{ImportKeyDetails: keymanagement.ImportKeyDetails{
		CompartmentId: v.CompartmentId, DisplayName: common.String("imported-aes"), KeyShape: keystest.Shape(aes_, 32, ""),
		ProtectionMode:   keymanagement.ImportKeyDetailsProtectionModeSoftware,
		WrappedImportKey: wrapForImport(t, *wk.PublicKey, keymanagement.WrappedImportKeyWrappingAlgorithmSha256, aesKey),
	}})
	if err != nil {
		t.Fatalf("ImportKey AES: %v", err)
	}
	kv, _ := v.Mgmt.GetKeyVersion(ctx, keymanagement.GetKeyVersionRequest{KeyId: imp.Id, KeyVersionId: imp.CurrentKeyVersion})
	if kv.Origin != keymanagement.KeyVersionOriginExternal {
		t.Fatalf("imported version origin %s", kv.Origin)
	}
	encrypt := func(keyID *string, pt string) []byte {
		enc, err := v.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
			KeyId: keyID, Plaintext: common.String(base64.StdEncoding.EncodeToString([]byte(pt)))}})
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := base64.StdEncoding.DecodeString(*enc.Ciphertext)
		return ct
	}
	if got := keystest.OpenCiphertext(t, aesKey, encrypt(imp.Id, "hello import")); string(got) != "hello import" {
		t.Fatalf("stdlib decrypted %q", got)
	}

	// ImportKeyVersion rotates to new client material (RSA_OAEP_AES_SHA256).
	aes2 := make([]byte, 32)
	_, _ = rand.Read(aes2)
	iv, err := v.Mgmt.ImportKeyVersion(ctx, keymanagement.ImportKeyVersionRequest{KeyId: imp.Id, ImportKeyVersionDetails: keymanagement.ImportKeyVersionDetails{
		WrappedImportKey: wrapForImport(t, *wk.PublicKey, keymanagement.WrappedImportKeyWrappingAlgorithmAesSha256, aes2)}})
	if err != nil || iv.Origin != keymanagement.KeyVersionOriginExternal {
		t.Fatalf("ImportKeyVersion: %v", err)
	}
	if got := keystest.OpenCiphertext(t, aes2, encrypt(imp.Id, "second")); string(got) != "second" {
		t.Fatalf("stdlib decrypted %q", got)
	}

	// ECDSA private key (PKCS#8) with RSA_OAEP_AES_SHA256: a signature from
	// Coffer verifies with the client's own public key.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	eck, err := v.Mgmt.ImportKey(ctx, keymanagement.ImportKeyRequest{ImportKeyDetails: keymanagement.ImportKeyDetails{
		CompartmentId: v.CompartmentId, DisplayName: common.String("imported-ec"), KeyShape: keystest.Shape(ecdsa_, 32, ""),
		ProtectionMode:   keymanagement.ImportKeyDetailsProtectionModeHsm,
		WrappedImportKey: wrapForImport(t, *wk.PublicKey, keymanagement.WrappedImportKeyWrappingAlgorithmAesSha256, der),
	}})
	if err != nil {
		t.Fatalf("ImportKey ECDSA: %v", err)
	}
	msg := []byte("signed by an imported key")
	sig, err := v.Crypto.Sign(ctx, keymanagement.SignRequest{SignDataDetails: keymanagement.SignDataDetails{KeyId: eck.Id,
		Message: common.String(base64.StdEncoding.EncodeToString(msg)), SigningAlgorithm: keymanagement.SignDataDetailsSigningAlgorithmEcdsaSha256}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(*sig.Signature)
	d := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(&ec.PublicKey, d[:], raw) {
		t.Fatal("stdlib rejects the signature of the imported key")
	}

	// Material that does not match the shape, or is not wrapped for this
	// vault, is a 400.
	_, err = v.Mgmt.ImportKey(ctx, keymanagement.ImportKeyRequest{ImportKeyDetails: keymanagement.ImportKeyDetails{
		CompartmentId: v.CompartmentId, DisplayName: common.String("bad"), KeyShape: keystest.Shape(aes_, 16, ""),
		ProtectionMode:   keymanagement.ImportKeyDetailsProtectionModeSoftware,
		WrappedImportKey: wrapForImport(t, *wk.PublicKey, keymanagement.WrappedImportKeyWrappingAlgorithmSha256, aesKey),
	}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter")
	_, err = v.Mgmt.ImportKey(ctx, keymanagement.ImportKeyRequest{ImportKeyDetails: keymanagement.ImportKeyDetails{
		CompartmentId: v.CompartmentId, DisplayName: common.String("bad"), KeyShape: keystest.Shape(aes_, 32, ""),
		WrappedImportKey: &keymanagement.WrappedImportKey{KeyMaterial: common.String(base64.StdEncoding.EncodeToString(make([]byte, 512))),
			WrappingAlgorithm: keymanagement.WrappedImportKeyWrappingAlgorithmSha256},
	}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "could not be unwrapped")
}
