// Package kmsmgmt serves the OCI KmsManagementClient operations (keys, key
// versions, wrapping keys, import) on a vault's management endpoint. The
// endpoint a request arrives on names the vault (ociapi.Call.VaultID); a
// key of another vault is not found.
//
// Dev-mode HSM emulation is reported in every key's definedTags under the
// system namespace "Coffer-Tags" ({"Coffer-Tags": {"HsmEmulated": "true"}}),
// the way OCI reports system facts in its "Oracle-Tags" namespace. The
// namespace is Coffer's: values a caller sends for it are ignored.
package kmsmgmt

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// SystemTagNamespace is the definedTags namespace Coffer writes its own
// facts about a key into.
const SystemTagNamespace = "Coffer-Tags"

// HSMEmulatedTag is the tag (in SystemTagNamespace) set to "true" on HSM
// keys whose material the dev-mode emulation keeps in software.
const HSMEmulatedTag = "HsmEmulated"

// Handlers serves the key management operations.
type Handlers struct {
	KMS          *kms.Service
	Compartments ociapi.CompartmentChecker
	// Uploader writes BackupKey's file to a pre-authenticated request URI;
	// nil refuses every URI.
	Uploader *ociapi.BackupUploader
}

// Routes returns the KmsManagementClient routes.
func (h *Handlers) Routes() []ociapi.Route {
	const k = "/20180608/keys/{keyId}"
	return []ociapi.Route{
		{Pattern: "POST /20180608/keys", Operation: "CreateKey", RetryToken: true, Handler: h.create},
		{Pattern: "POST /20180608/keys/import", Operation: "ImportKey", RetryToken: true, Handler: h.importKey},
		{Pattern: "GET /20180608/keys", Operation: "ListKeys", Handler: h.list},
		{Pattern: "GET " + k, Operation: "GetKey", Handler: h.get},
		{Pattern: "PUT " + k, Operation: "UpdateKey", Handler: h.update},
		{Pattern: "POST " + k + "/actions/enable", Operation: "EnableKey", RetryToken: true, Handler: h.enable},
		{Pattern: "POST " + k + "/actions/disable", Operation: "DisableKey", RetryToken: true, Handler: h.disable},
		{Pattern: "POST " + k + "/actions/scheduleDeletion", Operation: "ScheduleKeyDeletion", RetryToken: true, Handler: h.scheduleDeletion},
		{Pattern: "POST " + k + "/actions/cancelDeletion", Operation: "CancelKeyDeletion", RetryToken: true, Handler: h.cancelDeletion},
		{Pattern: "POST " + k + "/actions/changeCompartment", Operation: "ChangeKeyCompartment", RetryToken: true, Handler: h.changeCompartment},
		{Pattern: "POST " + k + "/keyVersions", Operation: "CreateKeyVersion", RetryToken: true, Handler: h.createVersion},
		{Pattern: "POST " + k + "/keyVersions/import", Operation: "ImportKeyVersion", RetryToken: true, Handler: h.importVersion},
		{Pattern: "GET " + k + "/keyVersions", Operation: "ListKeyVersions", Handler: h.listVersions},
		{Pattern: "GET " + k + "/keyVersions/{keyVersionId}", Operation: "GetKeyVersion", Handler: h.getVersion},
		{Pattern: "POST " + k + "/keyVersions/{keyVersionId}/actions/scheduleDeletion", Operation: "ScheduleKeyVersionDeletion", RetryToken: true, Handler: h.scheduleVersionDeletion},
		{Pattern: "POST " + k + "/keyVersions/{keyVersionId}/actions/cancelDeletion", Operation: "CancelKeyVersionDeletion", RetryToken: true, Handler: h.cancelVersionDeletion},
		{Pattern: "GET /20180608/wrappingKeys", Operation: "GetWrappingKey", Handler: h.wrappingKey},
		{Pattern: "GET /20180608/replicaOperations/{replicationId}/status", Operation: "GetReplicationStatus", Handler: h.replicationStatus},
		{Pattern: "POST " + k + "/actions/backup", Operation: "BackupKey", RetryToken: true, Handler: h.backup},
		{Pattern: "POST /20180608/keys/actions/restoreFromFile", Operation: "RestoreKeyFromFile", RetryToken: true, MaxBody: kms.MaxBackupSize, Handler: h.restoreFromFile},
		{Pattern: "POST /20180608/keys/actions/restoreFromObjectStore", Operation: "RestoreKeyFromObjectStore", RetryToken: true, Handler: h.restoreFromObjectStore},
		{Pattern: "POST " + DownloadKeyBackupPath, Operation: iam.OperationDownloadKeyBackup, ReadOnly: true, Handler: h.download},
	}
}

// vault loads the vault whose endpoint the request arrived on.
func (h *Handlers) vault(c *ociapi.Call) (kms.Vault, error) {
	if c.VaultID == "" {
		return kms.Vault{}, errs.E(errs.NoRoute, "key operations are served on a vault's management endpoint")
	}
	return h.KMS.GetVault(c.Context(), c.VaultID)
}

// loadVersion is load for the key-version routes: the key version's id is
// checked before anything is read.
func (h *Handlers) loadVersion(c *ociapi.Call) (kms.Vault, kms.Key, string, error) {
	kvID, err := c.PathID("keyVersionId", ocid.KeyVersion)
	if err != nil {
		return kms.Vault{}, kms.Key{}, "", err
	}
	v, k, err := h.load(c)
	return v, k, kvID, err
}

// load reads the vault and the key named in the path and authorizes the
// operation on them.
func (h *Handlers) load(c *ociapi.Call) (kms.Vault, kms.Key, error) {
	v, err := h.vault(c)
	if err != nil {
		return v, kms.Key{}, err
	}
	id, err := c.PathID("keyId", ocid.Key)
	if err != nil {
		return v, kms.Key{}, err
	}
	k, err := h.KMS.GetKey(c.Context(), v.ID, id)
	if err != nil {
		return v, k, err
	}
	return v, k, c.Authorize(authz.Request{CompartmentID: k.CompartmentID, Vault: v.Resource(), Key: k.Resource()})
}

// keyTags are a key's tags for a reply, with Coffer's system namespace in
// the defined tags.
func keyTags(k kms.Key) (map[string]string, map[string]map[string]any) {
	defined := map[string]map[string]any{}
	for ns, m := range k.DefinedTags {
		if ns != SystemTagNamespace {
			defined[ns] = m
		}
	}
	if k.HSMEmulated {
		defined[SystemTagNamespace] = map[string]any{HSMEmulatedTag: "true"}
	}
	return ociapi.Tags(k.FreeformTags, defined)
}

func userDefinedTags(in map[string]map[string]interface{}) map[string]map[string]any {
	if in == nil {
		return nil
	}
	out := map[string]map[string]any{}
	for ns, m := range in {
		if ns != SystemTagNamespace {
			out[ns] = m
		}
	}
	return out
}

func shapeModel(s keyprotect.Shape) *keymanagement.KeyShape {
	return &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmEnum(s.Algorithm), Length: common.Int(s.Length),
		CurveId: keymanagement.KeyShapeCurveIdEnum(s.CurveID)}
}

func rotationModel(r kms.AutoRotation) *keymanagement.AutoKeyRotationDetails {
	if !r.Enabled && r.TimeOfLastRotation == nil && r.IntervalDays == 0 {
		return nil
	}
	m := &keymanagement.AutoKeyRotationDetails{
		TimeOfScheduleStart: ociapi.OptTime(r.TimeOfScheduleStart), TimeOfNextRotation: ociapi.OptTime(r.TimeOfNextRotation),
		TimeOfLastRotation: ociapi.OptTime(r.TimeOfLastRotation),
		LastRotationStatus: keymanagement.AutoKeyRotationDetailsLastRotationStatusEnum(r.LastStatus),
	}
	if r.IntervalDays > 0 {
		m.RotationIntervalInDays = common.Int(r.IntervalDays)
	}
	if r.LastMessage != "" {
		m.LastRotationMessage = common.String(r.LastMessage)
	}
	return m
}

// KeyModel converts a key to the SDK's model.
func KeyModel(v kms.Vault, k kms.Key) keymanagement.Key {
	ff, def := keyTags(k)
	return keymanagement.Key{
		CompartmentId: common.String(k.CompartmentID), CurrentKeyVersion: common.String(k.CurrentVersion),
		DisplayName: common.String(k.DisplayName), Id: common.String(k.ID), KeyShape: shapeModel(k.Shape),
		LifecycleState: keymanagement.KeyLifecycleStateEnum(k.State), TimeCreated: &common.SDKTime{Time: k.TimeCreated},
		VaultId: common.String(k.VaultID), DefinedTags: def, FreeformTags: ff,
		ProtectionMode: keymanagement.KeyProtectionModeEnum(k.ProtectionMode), TimeOfDeletion: ociapi.OptTime(k.TimeOfDeletion),
		IsPrimary: common.Bool(k.SourceRegion == ""), IsAutoRotationEnabled: common.Bool(k.AutoRotation.Enabled),
		AutoKeyRotationDetails: rotationModel(k.AutoRotation),
		RestoredFromKeyId:      ociapi.OptString(k.RestoredFromKeyID),
		ReplicaDetails:         keyReplicaDetails(v),
	}
}

// keyReplicaDetails: the keys and versions of a replicated vault report
// the vault's replicationId.
func keyReplicaDetails(v kms.Vault) *keymanagement.KeyReplicaDetails {
	if id := v.ReplicationID(); id != "" {
		return &keymanagement.KeyReplicaDetails{ReplicationId: common.String(id)}
	}
	return nil
}

func keySummary(k kms.Key) keymanagement.KeySummary {
	ff, def := keyTags(k)
	return keymanagement.KeySummary{
		CompartmentId: common.String(k.CompartmentID), DisplayName: common.String(k.DisplayName), Id: common.String(k.ID),
		LifecycleState: keymanagement.KeySummaryLifecycleStateEnum(k.State), TimeCreated: &common.SDKTime{Time: k.TimeCreated},
		VaultId: common.String(k.VaultID), DefinedTags: def, FreeformTags: ff,
		ProtectionMode:        keymanagement.KeySummaryProtectionModeEnum(k.ProtectionMode),
		Algorithm:             keymanagement.KeySummaryAlgorithmEnum(k.Shape.Algorithm),
		IsAutoRotationEnabled: common.Bool(k.AutoRotation.Enabled),
	}
}

// VersionModel converts a key version to the SDK's model.
func VersionModel(vault kms.Vault, k kms.Key, v kms.KeyVersion) keymanagement.KeyVersion {
	m := keymanagement.KeyVersion{
		CompartmentId: common.String(k.CompartmentID), Id: common.String(v.ID), KeyId: common.String(v.KeyID),
		TimeCreated: &common.SDKTime{Time: v.TimeCreated}, VaultId: common.String(v.VaultID),
		LifecycleState: keymanagement.KeyVersionLifecycleStateEnum(v.State),
		Origin:         keymanagement.KeyVersionOriginEnum(v.Origin), TimeOfDeletion: ociapi.OptTime(v.TimeOfDeletion),
		IsPrimary: common.Bool(k.SourceRegion == ""), IsAutoRotated: common.Bool(v.IsAutoRotated),
	}
	if id := vault.ReplicationID(); id != "" {
		m.ReplicaDetails = &keymanagement.KeyVersionReplicaDetails{ReplicationId: common.String(id)}
	}
	if pem := v.PublicKeyPEM(); pem != "" {
		m.PublicKey = common.String(pem)
	}
	return m
}

func versionSummary(k kms.Key, v kms.KeyVersion) keymanagement.KeyVersionSummary {
	return keymanagement.KeyVersionSummary{
		CompartmentId: common.String(k.CompartmentID), Id: common.String(v.ID), KeyId: common.String(v.KeyID),
		Origin: keymanagement.KeyVersionSummaryOriginEnum(v.Origin), TimeCreated: &common.SDKTime{Time: v.TimeCreated},
		VaultId: common.String(v.VaultID), LifecycleState: keymanagement.KeyVersionSummaryLifecycleStateEnum(v.State),
		TimeOfDeletion: ociapi.OptTime(v.TimeOfDeletion), IsAutoRotated: common.Bool(v.IsAutoRotated),
	}
}

func parseShape(s *keymanagement.KeyShape) (keyprotect.Shape, error) {
	if s == nil {
		return keyprotect.Shape{}, errs.E(errs.Missing, "keyShape is required")
	}
	if s.Algorithm == "" {
		return keyprotect.Shape{}, errs.E(errs.Missing, "keyShape.algorithm is required: allowed values are AES, RSA, ECDSA")
	}
	if s.Length == nil {
		return keyprotect.Shape{}, errs.E(errs.Missing, "keyShape.length is required (in bytes: AES 16, 24, 32; RSA 256, 384, 512; ECDSA 32, 48, 66)")
	}
	return keyprotect.Shape{Algorithm: keyprotect.Algorithm(s.Algorithm), Length: *s.Length, CurveID: keyprotect.CurveID(s.CurveId)}, nil
}

func rotationInput(enabled *bool, d *keymanagement.AutoKeyRotationDetails) kms.AutoRotationInput {
	in := kms.AutoRotationInput{Enabled: enabled}
	if d != nil {
		in.IntervalDays = d.RotationIntervalInDays
		if d.TimeOfScheduleStart != nil {
			t := d.TimeOfScheduleStart.Time
			in.TimeOfScheduleStart = &t
		}
	}
	return in
}

// authorizeCreate checks a create or import in the endpoint's vault.
func (h *Handlers) authorizeCreate(c *ociapi.Call, compartment *string) (kms.Vault, error) {
	if compartment == nil {
		return kms.Vault{}, errs.E(errs.Missing, "compartmentId is required")
	}
	if _, err := ociapi.CheckID("compartmentId", *compartment, ociapi.Compartments...); err != nil {
		return kms.Vault{}, err
	}
	v, err := h.vault(c)
	if err != nil {
		return v, err
	}
	if err := c.Authorize(authz.Request{CompartmentID: *compartment, Vault: v.Resource()}); err != nil {
		return v, err
	}
	return v, ociapi.RequireCompartment(c.Context(), h.Compartments, *compartment, errs.NotFound)
}

// newKey is what CreateKey and ImportKey share: the fields of their
// bodies that describe the key.
type newKey struct {
	compartment, displayName *string
	shape                    *keymanagement.KeyShape
	protectionMode           string
	freeform                 map[string]string
	defined                  map[string]map[string]any
	autoRotation             *bool
	rotation                 *keymanagement.AutoKeyRotationDetails
}

// createKey checks a new key's fields (check adds the operation's own,
// run after the shape and before authorizing), authorizes the create in
// the endpoint's vault, makes the key with mk and replies with it.
func (h *Handlers) createKey(c *ociapi.Call, d newKey, check func() error, mk func(ctx context.Context, vaultID string, in kms.CreateKeyInput) (kms.Key, error)) error {
	if d.displayName == nil {
		return errs.E(errs.Missing, "displayName is required")
	}
	shape, err := parseShape(d.shape)
	if err != nil {
		return err
	}
	if err := check(); err != nil {
		return err
	}
	v, err := h.authorizeCreate(c, d.compartment)
	if err != nil {
		return err
	}
	k, err := mk(c.Context(), v.ID, kms.CreateKeyInput{
		CompartmentID: *d.compartment, DisplayName: *d.displayName, Shape: shape, ProtectionMode: d.protectionMode,
		FreeformTags: d.freeform, DefinedTags: userDefinedTags(d.defined),
		AutoRotation: rotationInput(d.autoRotation, d.rotation),
	})
	if err != nil {
		return err
	}
	return c.Reply(k.ETag, KeyModel(v, k))
}

func (h *Handlers) create(c *ociapi.Call) error {
	var d keymanagement.CreateKeyDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	return h.createKey(c, newKey{compartment: d.CompartmentId, displayName: d.DisplayName, shape: d.KeyShape,
		protectionMode: string(d.ProtectionMode), freeform: d.FreeformTags, defined: d.DefinedTags,
		autoRotation: d.IsAutoRotationEnabled, rotation: d.AutoKeyRotationDetails,
	}, func() error {
		if d.ProtectionMode == keymanagement.CreateKeyDetailsProtectionModeExternal || d.ExternalKeyReference != nil {
			return errs.E(errs.Invalid, "protectionMode EXTERNAL is not supported by Coffer: allowed values are HSM, SOFTWARE")
		}
		return nil
	}, h.KMS.CreateKey)
}

func decodeWrapped(w *keymanagement.WrappedImportKey) (kms.WrappedMaterial, error) {
	if w == nil || w.KeyMaterial == nil {
		return kms.WrappedMaterial{}, errs.E(errs.Missing, "wrappedImportKey.keyMaterial is required")
	}
	if w.WrappingAlgorithm == "" {
		return kms.WrappedMaterial{}, errs.E(errs.Missing, "wrappedImportKey.wrappingAlgorithm is required: allowed values are RSA_OAEP_SHA256, RSA_OAEP_AES_SHA256")
	}
	b, err := base64.StdEncoding.DecodeString(*w.KeyMaterial)
	if err != nil {
		return kms.WrappedMaterial{}, errs.E(errs.Invalid, "wrappedImportKey.keyMaterial must be base64")
	}
	return kms.WrappedMaterial{Algorithm: keyprotect.WrappingAlgorithm(w.WrappingAlgorithm), Material: b}, nil
}

func (h *Handlers) importKey(c *ociapi.Call) error {
	var d keymanagement.ImportKeyDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	var wm kms.WrappedMaterial
	return h.createKey(c, newKey{compartment: d.CompartmentId, displayName: d.DisplayName, shape: d.KeyShape,
		protectionMode: string(d.ProtectionMode), freeform: d.FreeformTags, defined: d.DefinedTags,
		autoRotation: d.IsAutoRotationEnabled, rotation: d.AutoKeyRotationDetails,
	}, func() (err error) {
		wm, err = decodeWrapped(d.WrappedImportKey)
		return err
	}, func(ctx context.Context, vaultID string, in kms.CreateKeyInput) (kms.Key, error) {
		return h.KMS.ImportKey(ctx, vaultID, in, wm)
	})
}

func (h *Handlers) list(c *ociapi.Call) error {
	compartment, err := c.QueryID("compartmentId", ociapi.Compartments...)
	if err != nil {
		return err
	}
	p, err := c.List(ociapi.ListSpec{SortBy: keymanagement.GetListKeysSortByEnumStringValues()})
	if err != nil {
		return err
	}
	length := 0
	if s := c.Query("length"); s != "" {
		if length, err = strconv.Atoi(s); err != nil {
			return errs.E(errs.Invalid, "query parameter length must be an integer")
		}
	}
	v, err := h.vault(c)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: compartment, Vault: v.Resource()}); err != nil {
		return err
	}
	keys, next, err := h.KMS.ListKeys(c.Context(), v.ID, compartment, kms.KeyFilter{
		ProtectionMode: c.Query("protectionMode"), Algorithm: keyprotect.Algorithm(c.Query("algorithm")),
		Length: length, CurveID: keyprotect.CurveID(c.Query("curveId")),
	}, kms.ListOptions{Limit: p.Limit, Page: p.Page, SortBy: p.SortBy, SortOrder: p.SortOrder})
	if err != nil {
		return err
	}
	return c.ReplyList(ociapi.Models(keys, keySummary), next)
}

func (h *Handlers) get(c *ociapi.Call) error {
	v, k, err := h.load(c)
	if err != nil {
		return err
	}
	return c.Reply(k.ETag, KeyModel(v, k))
}

func (h *Handlers) update(c *ociapi.Call) error {
	var d keymanagement.UpdateKeyDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	v, k, err := h.load(c)
	if err != nil {
		return err
	}
	k, err = h.KMS.UpdateKey(c.Context(), v.ID, k.ID, kms.UpdateKeyInput{
		DisplayName: d.DisplayName, FreeformTags: d.FreeformTags, DefinedTags: userDefinedTags(d.DefinedTags),
		AutoRotation: rotationInput(d.IsAutoRotationEnabled, d.AutoKeyRotationDetails),
	}, c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(k.ETag, KeyModel(v, k))
}

func (h *Handlers) keyAction(c *ociapi.Call, act func(ctx context.Context, vaultID, keyID, ifMatch string) (kms.Key, error)) error {
	v, k, err := h.load(c)
	if err != nil {
		return err
	}
	k, err = act(c.Context(), v.ID, k.ID, c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(k.ETag, KeyModel(v, k))
}

func (h *Handlers) enable(c *ociapi.Call) error  { return h.keyAction(c, h.KMS.EnableKey) }
func (h *Handlers) disable(c *ociapi.Call) error { return h.keyAction(c, h.KMS.DisableKey) }
func (h *Handlers) cancelDeletion(c *ociapi.Call) error {
	return h.keyAction(c, h.KMS.CancelKeyDeletion)
}

func (h *Handlers) scheduleDeletion(c *ociapi.Call) error {
	var d keymanagement.ScheduleKeyDeletionDetails
	if err := c.DecodeOptional(&d); err != nil {
		return err
	}
	return h.keyAction(c, func(ctx context.Context, vaultID, keyID, ifMatch string) (kms.Key, error) {
		return h.KMS.ScheduleKeyDeletion(ctx, vaultID, keyID, ociapi.TimeOf(d.TimeOfDeletion), ifMatch)
	})
}

func (h *Handlers) changeCompartment(c *ociapi.Call) error {
	var d keymanagement.ChangeKeyCompartmentDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if d.CompartmentId == nil {
		return errs.E(errs.Missing, "compartmentId is required")
	}
	if _, err := ociapi.CheckID("compartmentId", *d.CompartmentId, ociapi.Compartments...); err != nil {
		return err
	}
	v, k, err := h.load(c)
	if err != nil {
		return err
	}
	if err := ociapi.RequireCompartment(c.Context(), h.Compartments, *d.CompartmentId, errs.RelatedNotFound); err != nil {
		return err
	}
	k, err = h.KMS.ChangeKeyCompartment(c.Context(), v.ID, k.ID, *d.CompartmentId, c.IfMatch())
	if err != nil {
		return err
	}
	return c.ReplyEmpty(http.StatusOK, k.ETag)
}

func (h *Handlers) createVersion(c *ociapi.Call) error {
	var d keymanagement.ExternalKeyVersionReference
	if err := c.DecodeOptional(&d); err != nil {
		return err
	}
	if d.ExternalKeyVersionId != nil && *d.ExternalKeyVersionId != "" {
		return errs.E(errs.Invalid, "externalKeyVersionId is for EXTERNAL keys, which Coffer does not support")
	}
	v, k, err := h.load(c)
	if err != nil {
		return err
	}
	kv, err := h.KMS.CreateKeyVersion(c.Context(), v.ID, k.ID)
	if err != nil {
		return err
	}
	return c.Reply(kv.ETag, VersionModel(v, k, kv))
}

func (h *Handlers) importVersion(c *ociapi.Call) error {
	var d keymanagement.ImportKeyVersionDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	wm, err := decodeWrapped(d.WrappedImportKey)
	if err != nil {
		return err
	}
	v, k, err := h.load(c)
	if err != nil {
		return err
	}
	kv, err := h.KMS.ImportKeyVersion(c.Context(), v.ID, k.ID, wm)
	if err != nil {
		return err
	}
	return c.Reply(kv.ETag, VersionModel(v, k, kv))
}

func (h *Handlers) listVersions(c *ociapi.Call) error {
	p, err := c.List(ociapi.ListSpec{SortBy: keymanagement.GetListKeyVersionsSortByEnumStringValues()})
	if err != nil {
		return err
	}
	v, k, err := h.load(c)
	if err != nil {
		return err
	}
	vs, next, err := h.KMS.ListKeyVersions(c.Context(), v.ID, k.ID, kms.ListOptions{
		Limit: p.Limit, Page: p.Page, SortBy: p.SortBy, SortOrder: p.SortOrder,
	})
	if err != nil {
		return err
	}
	return c.ReplyList(ociapi.Models(vs, func(kv kms.KeyVersion) keymanagement.KeyVersionSummary { return versionSummary(k, kv) }), next)
}

func (h *Handlers) getVersion(c *ociapi.Call) error {
	v, k, kvID, err := h.loadVersion(c)
	if err != nil {
		return err
	}
	k, kv, err := h.KMS.GetKeyVersion(c.Context(), v.ID, k.ID, kvID)
	if err != nil {
		return err
	}
	return c.Reply(kv.ETag, VersionModel(v, k, kv))
}

func (h *Handlers) scheduleVersionDeletion(c *ociapi.Call) error {
	var d keymanagement.ScheduleKeyVersionDeletionDetails
	if err := c.DecodeOptional(&d); err != nil {
		return err
	}
	v, k, kvID, err := h.loadVersion(c)
	if err != nil {
		return err
	}
	k, kv, err := h.KMS.ScheduleKeyVersionDeletion(c.Context(), v.ID, k.ID, kvID, ociapi.TimeOf(d.TimeOfDeletion), c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(kv.ETag, VersionModel(v, k, kv))
}

func (h *Handlers) cancelVersionDeletion(c *ociapi.Call) error {
	v, k, kvID, err := h.loadVersion(c)
	if err != nil {
		return err
	}
	k, kv, err := h.KMS.CancelKeyVersionDeletion(c.Context(), v.ID, k.ID, kvID, c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(kv.ETag, VersionModel(v, k, kv))
}

func (h *Handlers) wrappingKey(c *ociapi.Call) error {
	v, err := h.vault(c)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: v.CompartmentID, Vault: v.Resource()}); err != nil {
		return err
	}
	w, err := h.KMS.GetWrappingKey(c.Context(), v.ID)
	if err != nil {
		return err
	}
	return c.Reply(w.ETag, keymanagement.WrappingKey{
		CompartmentId: common.String(v.CompartmentID), Id: common.String(w.ID),
		LifecycleState: keymanagement.WrappingKeyLifecycleStateEnabled, PublicKey: common.String(w.PublicKeyPEM()),
		TimeCreated: &common.SDKTime{Time: w.TimeCreated}, VaultId: common.String(v.ID),
	})
}

// replicationStatus is OCI's GetReplicationStatus for a replication of the
// endpoint's vault (kmsvault's CreateVaultReplica and DeleteVaultReplica).
func (h *Handlers) replicationStatus(c *ociapi.Call) error {
	id, err := c.PathID("replicationId", ocid.VaultReplication)
	if err != nil {
		return err
	}
	v, err := h.vault(c)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: v.CompartmentID, Vault: v.Resource()}); err != nil {
		return err
	}
	st, err := h.KMS.GetReplicationStatus(v, id)
	if err != nil {
		return err
	}
	return c.Reply("", keymanagement.ReplicationStatusDetails{ReplicaDetails: []keymanagement.ReplicaDetails{{
		Region: common.String(st.Region), Status: keymanagement.ReplicaDetailsStatusEnum(st.Status),
	}}})
}
