// Package kmsvault serves the OCI KmsVaultClient operations (vaults on the
// regional kms endpoint) over the kms domain.
package kmsvault

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// Endpoints gives a vault's management and crypto endpoint URLs.
type Endpoints interface {
	VaultEndpoints(v kms.Vault) (management, crypto string)
	// Opened is told about a new vault so its endpoints start serving.
	Opened(ctx context.Context, v kms.Vault) error
}

// Handlers serves the vault operations.
type Handlers struct {
	KMS          *kms.Service
	Endpoints    Endpoints
	Compartments ociapi.CompartmentChecker
	// Uploader writes BackupVault's file to a pre-authenticated request
	// URI; nil refuses every URI.
	Uploader *ociapi.BackupUploader
}

// DownloadVaultBackupPath is Coffer's BackupVault that answers with the
// backup file (iam.OperationDownloadVaultBackup), for the CLI's --file.
const DownloadVaultBackupPath = "/coffer/v1/kms/vaults/{vaultId}/backup"

// Routes returns the KmsVaultClient routes.
func (h *Handlers) Routes() []ociapi.Route {
	return []ociapi.Route{
		{Pattern: "POST /20180608/vaults", Operation: "CreateVault", RetryToken: true, Handler: h.create},
		{Pattern: "GET /20180608/vaults", Operation: "ListVaults", Handler: h.list},
		{Pattern: "GET /20180608/vaults/{vaultId}", Operation: "GetVault", Handler: h.get},
		{Pattern: "PUT /20180608/vaults/{vaultId}", Operation: "UpdateVault", Handler: h.update},
		{Pattern: "POST /20180608/vaults/{vaultId}/actions/scheduleDeletion", Operation: "ScheduleVaultDeletion", RetryToken: true, Handler: h.scheduleDeletion},
		{Pattern: "POST /20180608/vaults/{vaultId}/actions/cancelDeletion", Operation: "CancelVaultDeletion", RetryToken: true, Handler: h.cancelDeletion},
		{Pattern: "GET /20180608/vaults/{vaultId}/usage", Operation: "GetVaultUsage", Handler: h.usage},
		{Pattern: "POST /20180608/vaults/{vaultId}/actions/changeCompartment", Operation: "ChangeVaultCompartment", RetryToken: true, Handler: h.changeCompartment},
		{Pattern: "POST /20180608/vaults/{vaultId}/actions/backup", Operation: "BackupVault", RetryToken: true, Handler: h.backup},
		{Pattern: "POST /20180608/vaults/actions/restoreFromFile", Operation: "RestoreVaultFromFile", RetryToken: true, MaxBody: kms.MaxBackupSize, Handler: h.restoreFromFile},
		{Pattern: "POST /20180608/vaults/actions/restoreFromObjectStore", Operation: "RestoreVaultFromObjectStore", RetryToken: true, Handler: h.restoreFromObjectStore},
		{Pattern: "POST " + DownloadVaultBackupPath, Operation: iam.OperationDownloadVaultBackup, ReadOnly: true, Handler: h.download},
		{Pattern: "POST /20180608/vaults/{vaultId}/actions/createReplica", Operation: "CreateVaultReplica", RetryToken: true, Handler: h.createReplica},
		{Pattern: "POST /20180608/vaults/{vaultId}/actions/deleteReplica", Operation: "DeleteVaultReplica", RetryToken: true, Handler: h.deleteReplica},
		{Pattern: "GET /20180608/vaults/{vaultId}/actions/listReplicas", Operation: "ListVaultReplicas", Handler: h.listReplicas},
	}
}

// Model converts a vault to the SDK's model.
func (h *Handlers) Model(v kms.Vault) keymanagement.Vault {
	mgmt, crypto := h.Endpoints.VaultEndpoints(v)
	ff, def := ociapi.Tags(v.FreeformTags, v.DefinedTags)
	return keymanagement.Vault{
		Id:                  common.String(v.ID),
		CompartmentId:       common.String(v.CompartmentID),
		DisplayName:         common.String(v.DisplayName),
		LifecycleState:      keymanagement.VaultLifecycleStateEnum(v.State),
		VaultType:           keymanagement.VaultVaultTypeEnum(v.VaultType),
		TimeCreated:         &common.SDKTime{Time: v.TimeCreated},
		ManagementEndpoint:  common.String(mgmt),
		CryptoEndpoint:      common.String(crypto),
		WrappingkeyId:       common.String(v.WrappingKeyID),
		FreeformTags:        ff,
		DefinedTags:         def,
		IsPrimary:           common.Bool(v.IsPrimary()),
		RestoredFromVaultId: ociapi.OptString(v.RestoredFromVaultID),
		IsVaultReplicable:   common.Bool(true),
		TimeOfDeletion:      ociapi.OptTime(v.TimeOfDeletion),
		ReplicaDetails:      replicaDetails(v),
	}
}

func replicaDetails(v kms.Vault) *keymanagement.VaultReplicaDetails {
	if id := v.ReplicationID(); id != "" {
		return &keymanagement.VaultReplicaDetails{ReplicationId: common.String(id)}
	}
	return nil
}

func (h *Handlers) summary(v kms.Vault) keymanagement.VaultSummary {
	m := h.Model(v)
	return keymanagement.VaultSummary{
		Id: m.Id, CompartmentId: m.CompartmentId, DisplayName: m.DisplayName,
		LifecycleState:     keymanagement.VaultSummaryLifecycleStateEnum(v.State),
		VaultType:          keymanagement.VaultSummaryVaultTypeEnum(v.VaultType),
		TimeCreated:        m.TimeCreated,
		ManagementEndpoint: m.ManagementEndpoint, CryptoEndpoint: m.CryptoEndpoint,
		FreeformTags: m.FreeformTags, DefinedTags: m.DefinedTags,
	}
}

// load reads the vault named in the path and authorizes the operation on it.
func (h *Handlers) load(c *ociapi.Call) (kms.Vault, error) {
	id, err := c.PathID("vaultId", ocid.Vault)
	if err != nil {
		return kms.Vault{}, err
	}
	v, err := h.KMS.GetVault(c.Context(), id)
	if err != nil {
		return v, err
	}
	return v, c.Authorize(authz.Request{CompartmentID: v.CompartmentID, Vault: v.Resource()})
}

func (h *Handlers) create(c *ociapi.Call) error {
	var d keymanagement.CreateVaultDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if _, err := ociapi.CheckID("compartmentId", ociapi.Deref(d.CompartmentId), ociapi.Compartments...); err != nil {
		return err
	}
	if d.DisplayName == nil {
		return errs.E(errs.Missing, "displayName is required")
	}
	if err := c.Authorize(authz.Request{CompartmentID: *d.CompartmentId}); err != nil {
		return err
	}
	if err := ociapi.RequireCompartment(c.Context(), h.Compartments, *d.CompartmentId, errs.NotFound); err != nil {
		return err
	}
	v, err := h.KMS.CreateVault(c.Context(), kms.CreateVaultInput{
		CompartmentID: *d.CompartmentId, DisplayName: *d.DisplayName, VaultType: string(d.VaultType),
		FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags,
	})
	if err != nil {
		return err
	}
	if err := h.Endpoints.Opened(c.Context(), v); err != nil {
		return err
	}
	return c.Reply(v.ETag, h.Model(v))
}

func (h *Handlers) get(c *ociapi.Call) error {
	v, err := h.load(c)
	if err != nil {
		return err
	}
	return c.Reply(v.ETag, h.Model(v))
}

func (h *Handlers) list(c *ociapi.Call) error {
	compartment, err := c.QueryID("compartmentId", ociapi.Compartments...)
	if err != nil {
		return err
	}
	p, err := c.List(ociapi.ListSpec{SortBy: keymanagement.GetListVaultsSortByEnumStringValues()})
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: compartment}); err != nil {
		return err
	}
	vaults, next, err := h.KMS.ListVaults(c.Context(), compartment, kms.ListOptions{
		Limit: p.Limit, Page: p.Page, SortBy: p.SortBy, SortOrder: p.SortOrder,
	})
	if err != nil {
		return err
	}
	return c.ReplyList(ociapi.Models(vaults, h.summary), next)
}

func (h *Handlers) update(c *ociapi.Call) error {
	var d keymanagement.UpdateVaultDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	v, err := h.load(c)
	if err != nil {
		return err
	}
	v, err = h.KMS.UpdateVault(c.Context(), v.ID, kms.UpdateVaultInput{
		DisplayName: d.DisplayName, FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags,
	}, c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(v.ETag, h.Model(v))
}

func (h *Handlers) scheduleDeletion(c *ociapi.Call) error {
	var d keymanagement.ScheduleVaultDeletionDetails
	if err := c.DecodeOptional(&d); err != nil {
		return err
	}
	v, err := h.load(c)
	if err != nil {
		return err
	}
	v, err = h.KMS.ScheduleVaultDeletion(c.Context(), v.ID, ociapi.TimeOf(d.TimeOfDeletion), c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(v.ETag, h.Model(v))
}

func (h *Handlers) cancelDeletion(c *ociapi.Call) error {
	v, err := h.load(c)
	if err != nil {
		return err
	}
	v, err = h.KMS.CancelVaultDeletion(c.Context(), v.ID, c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(v.ETag, h.Model(v))
}

// changeCompartment moves a vault. The caller needs VAULT_MOVE on the vault
// where it is and in the compartment it goes to: the request's
// CompartmentID is the destination (the iam catalogue's move contract).
func (h *Handlers) changeCompartment(c *ociapi.Call) error {
	var d keymanagement.ChangeVaultCompartmentDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if _, err := ociapi.CheckID("compartmentId", ociapi.Deref(d.CompartmentId), ociapi.Compartments...); err != nil {
		return err
	}
	id, err := c.PathID("vaultId", ocid.Vault)
	if err != nil {
		return err
	}
	v, err := h.KMS.GetVault(c.Context(), id)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: *d.CompartmentId, Vault: v.Resource()}); err != nil {
		return err
	}
	if err := ociapi.RequireCompartment(c.Context(), h.Compartments, *d.CompartmentId, errs.RelatedNotFound); err != nil {
		return err
	}
	v, err = h.KMS.ChangeVaultCompartment(c.Context(), v.ID, *d.CompartmentId, c.IfMatch())
	if err != nil {
		return err
	}
	return c.ReplyEmpty(http.StatusOK, v.ETag)
}

func (h *Handlers) usage(c *ociapi.Call) error {
	v, err := h.load(c)
	if err != nil {
		return err
	}
	u, err := h.KMS.GetVaultUsage(c.Context(), v.ID)
	if err != nil {
		return err
	}
	return c.ReplyStatus(http.StatusOK, "", keymanagement.VaultUsage{
		KeyCount: common.Int(u.KeyCount), KeyVersionCount: common.Int(u.KeyVersionCount),
		SoftwareKeyCount: common.Int(u.SoftwareKeyCount), SoftwareKeyVersionCount: common.Int(u.SoftwareKeyVersionCount),
	})
}

// backupVault decodes a backup body, loads and authorizes the vault, and
// seals its backup.
func (h *Handlers) backupVault(c *ociapi.Call, d ociapi.BackupDetails) (kms.Vault, []byte, error) {
	v, err := h.load(c)
	if err != nil {
		return v, nil, err
	}
	return h.KMS.BackupVault(c.Context(), v.ID, d.IsIncludeKeys != nil && *d.IsIncludeKeys)
}

// backup is OCI's BackupVault: the file goes to a pre-authenticated
// request URI the operator allowed. The work is synchronous, so the vault
// is ACTIVE in the answer, as OCI reports it once the backup is done.
func (h *Handlers) backup(c *ociapi.Call) error {
	var d ociapi.BackupDetails
	if err := c.DecodeOptional(&d); err != nil {
		return err
	}
	uri, err := d.URI()
	if err != nil {
		return err
	}
	if err := h.Uploader.Check(uri); err != nil {
		return err
	}
	v, blob, err := h.backupVault(c, d)
	if err != nil {
		return err
	}
	if err := h.Uploader.Upload(c.Context(), uri, blob); err != nil {
		return err
	}
	return c.Reply(v.ETag, h.Model(v))
}

// download is BackupVault answering with the file.
func (h *Handlers) download(c *ociapi.Call) error {
	var d ociapi.BackupDetails
	if err := c.DecodeOptional(&d); err != nil {
		return err
	}
	_, blob, err := h.backupVault(c, d)
	if err != nil {
		return err
	}
	c.ReplyBinary(blob)
	return nil
}

// restoreFromFile is OCI's RestoreVaultFromFile: the body is the backup
// file. The vault keeps its OCID and goes, with its keys, into the
// compartment of the query.
func (h *Handlers) restoreFromFile(c *ociapi.Call) error {
	compartment, err := c.QueryID("compartmentId", ociapi.Compartments...)
	if err != nil {
		return err
	}
	sum, err := ociapi.CheckContentMD5(c)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: compartment}); err != nil {
		return err
	}
	if err := ociapi.RequireCompartment(c.Context(), h.Compartments, compartment, errs.NotFound); err != nil {
		return err
	}
	b, err := h.KMS.OpenBackup(c.Body, kms.BackupKindVault)
	if err != nil {
		return err
	}
	defer b.Wipe()
	v, err := h.KMS.RestoreVault(c.Context(), b, compartment)
	if err != nil {
		return err
	}
	if err := h.Endpoints.Opened(c.Context(), v); err != nil {
		return err
	}
	c.W.Header().Set("opc-content-md5", sum)
	return c.Reply(v.ETag, h.Model(v))
}

// restoreFromObjectStore is OCI's RestoreVaultFromObjectStore, which
// Coffer cannot serve: it has no Object Storage.
func (h *Handlers) restoreFromObjectStore(c *ociapi.Call) error {
	compartment, err := c.QueryID("compartmentId", ociapi.Compartments...)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: compartment}); err != nil {
		return err
	}
	return errs.E(errs.Invalid, "RestoreVaultFromObjectStore is not available in Coffer, which has no Object Storage; use RestoreVaultFromFile")
}

// replicaRequest is CreateVaultReplicaDetails and DeleteVaultReplicaDetails
// as Coffer reads them: replicaVaultMetadata (EXTERNAL vaults only) is
// refused.
type replicaRequest struct {
	ReplicaRegion        *string         `json:"replicaRegion"`
	ReplicaVaultMetadata json.RawMessage `json:"replicaVaultMetadata"`
}

func (h *Handlers) replicaRegion(c *ociapi.Call) (string, error) {
	var d replicaRequest
	if err := c.Decode(&d); err != nil {
		return "", err
	}
	if m := bytes.TrimSpace(d.ReplicaVaultMetadata); len(m) > 0 && !bytes.Equal(m, []byte("null")) {
		return "", errs.E(errs.Invalid, "replicaVaultMetadata is for EXTERNAL vaults, which Coffer does not support")
	}
	region := ociapi.Deref(d.ReplicaRegion)
	if region == "" {
		return "", errs.E(errs.Missing, "replicaRegion is required")
	}
	return region, nil
}

// createReplica is OCI's CreateVaultReplica: 202 with the replication's
// id as the work request id (GetReplicationStatus follows it).
func (h *Handlers) createReplica(c *ociapi.Call) error {
	return h.replicaOp(c, h.KMS.CreateVaultReplica)
}

// deleteReplica is OCI's DeleteVaultReplica.
func (h *Handlers) deleteReplica(c *ociapi.Call) error {
	return h.replicaOp(c, h.KMS.DeleteVaultReplica)
}

func (h *Handlers) replicaOp(c *ociapi.Call, op func(ctx context.Context, vaultID, region, ifMatch string) (string, error)) error {
	region, err := h.replicaRegion(c)
	if err != nil {
		return err
	}
	v, err := h.load(c)
	if err != nil {
		return err
	}
	id, err := op(c.Context(), v.ID, region, c.IfMatch())
	if err != nil {
		return err
	}
	c.W.Header().Set("opc-work-request-id", id)
	return c.ReplyEmpty(http.StatusAccepted, "")
}

// listReplicas is OCI's ListVaultReplicas: a vault has one replica at most.
func (h *Handlers) listReplicas(c *ociapi.Call) error {
	if _, err := c.List(ociapi.ListSpec{SortBy: keymanagement.GetListVaultReplicasSortByEnumStringValues()}); err != nil {
		return err
	}
	v, err := h.load(c)
	if err != nil {
		return err
	}
	reps := h.KMS.ListVaultReplicas(v)
	out := make([]keymanagement.VaultReplicaSummary, 0, len(reps))
	for _, r := range reps {
		mgmt, crypto := r.ManagementEndpoint, r.CryptoEndpoint
		if !v.IsPrimary() {
			mgmt, crypto = h.Endpoints.VaultEndpoints(v)
		}
		out = append(out, keymanagement.VaultReplicaSummary{
			Region: common.String(r.Region), Status: keymanagement.VaultReplicaSummaryStatusEnum(r.Status),
			ManagementEndpoint: ociapi.OptString(mgmt), CryptoEndpoint: ociapi.OptString(crypto),
		})
	}
	return c.ReplyList(out, "")
}
