package kmsmgmt

import (
	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ociapi"
)

// DownloadKeyBackupPath is Coffer's BackupKey that answers with the backup
// file (iam.OperationDownloadKeyBackup), for the CLI's --file; like every
// key operation it is served on the vault's management endpoint.
const DownloadKeyBackupPath = "/coffer/v1/kms/keys/{keyId}/backup"

// backupKey loads and authorizes the key and seals its backup.
func (h *Handlers) backupKey(c *ociapi.Call) (kms.Vault, kms.Key, []byte, error) {
	v, k, err := h.load(c)
	if err != nil {
		return v, k, nil, err
	}
	k, blob, err := h.KMS.BackupKey(c.Context(), v.ID, k.ID)
	return v, k, blob, err
}

// backup is OCI's BackupKey: the file goes to a pre-authenticated request
// URI the operator allowed; the key is as it was (the work is
// synchronous).
func (h *Handlers) backup(c *ociapi.Call) error {
	var d ociapi.BackupDetails
	if err := c.DecodeOptional(&d); err != nil {
		return err
	}
	if d.IsIncludeKeys != nil {
		return errs.E(errs.Invalid, "isIncludeKeys is a BackupVault field, not a BackupKey one")
	}
	uri, err := d.URI()
	if err != nil {
		return err
	}
	if err := h.Uploader.Check(uri); err != nil {
		return err
	}
	v, k, blob, err := h.backupKey(c)
	if err != nil {
		return err
	}
	if err := h.Uploader.Upload(c.Context(), uri, blob); err != nil {
		return err
	}
	return c.Reply(k.ETag, KeyModel(v, k))
}

// download is BackupKey answering with the file.
func (h *Handlers) download(c *ociapi.Call) error {
	if err := c.DecodeOptional(&struct{}{}); err != nil {
		return err
	}
	_, _, blob, err := h.backupKey(c)
	if err != nil {
		return err
	}
	c.ReplyBinary(blob)
	return nil
}

// restoreFromFile is OCI's RestoreKeyFromFile, on the management endpoint
// of the key's vault (which must exist: restore it first). The key keeps
// its OCID and goes back into its compartment when that exists here, else
// into the vault's; the caller needs KEY_RESTORE where it goes. The file
// is opened before that decision, so a caller without permission learns
// whether a file is a backup of this deployment, and nothing else.
func (h *Handlers) restoreFromFile(c *ociapi.Call) error {
	v, err := h.vault(c)
	if err != nil {
		return err
	}
	sum, err := ociapi.CheckContentMD5(c)
	if err != nil {
		return err
	}
	b, err := h.KMS.OpenBackup(c.Body, kms.BackupKindKey)
	if err != nil {
		return err
	}
	defer b.Wipe()
	compartment := v.CompartmentID
	if kc := b.Keys()[0].CompartmentID; kc != "" {
		ok, err := h.Compartments.CompartmentExists(c.Context(), kc)
		if err != nil {
			return err
		}
		if ok {
			compartment = kc
		}
	}
	if err := c.Authorize(authz.Request{CompartmentID: compartment, Vault: v.Resource()}); err != nil {
		return err
	}
	k, err := h.KMS.RestoreKey(c.Context(), b, v.ID, compartment)
	if err != nil {
		return err
	}
	c.W.Header().Set("opc-content-md5", sum)
	return c.Reply(k.ETag, KeyModel(v, k))
}

// restoreFromObjectStore is OCI's RestoreKeyFromObjectStore, which Coffer
// cannot serve: it has no Object Storage.
func (h *Handlers) restoreFromObjectStore(c *ociapi.Call) error {
	v, err := h.vault(c)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: v.CompartmentID, Vault: v.Resource()}); err != nil {
		return err
	}
	return errs.E(errs.Invalid, "RestoreKeyFromObjectStore is not available in Coffer, which has no Object Storage; use RestoreKeyFromFile")
}
