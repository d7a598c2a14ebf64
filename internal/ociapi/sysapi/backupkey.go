package sysapi

import (
	"context"
	"errors"
	"log/slog"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ociapi"
)

// Paths of the backup key operations (signed, authorized in the tenancy).
const (
	ExportBackupKeyPath = Prefix + "backup-key/export"
	ImportBackupKeyPath = Prefix + "backup-key/import"
)

// BackupKeyring is the keyring's backup key as the operator API uses it;
// the barrier is one.
type BackupKeyring interface {
	ExportBackupKey(ctx context.Context, passphrase []byte) (file []byte, id string, err error)
	ImportBackupKey(ctx context.Context, file, passphrase []byte) (id string, err error)
}

var _ BackupKeyring = (*barrier.Barrier)(nil)

// ExportBackupKeyRequest asks for the active backup key wrapped under a
// passphrase. The passphrase crosses the (TLS) connection; the key does
// not, except wrapped.
type ExportBackupKeyRequest struct {
	Passphrase string `json:"passphrase"`
}

// LogValue keeps the passphrase out of logs.
func (ExportBackupKeyRequest) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// ImportBackupKeyRequest gives a file ExportBackupKey wrote, with its
// passphrase.
type ImportBackupKeyRequest struct {
	File       string `json:"file"`
	Passphrase string `json:"passphrase"`
}

// LogValue keeps the passphrase out of logs.
func (ImportBackupKeyRequest) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// BackupKeyResponse answers both: the key's id, and for an export the
// file.
type BackupKeyResponse struct {
	KeyID string `json:"keyId"`
	File  string `json:"file,omitempty"`
}

func backupKeyErr(err error) error {
	switch {
	case errors.Is(err, barrier.ErrWeakPassphrase):
		return errs.E(errs.Invalid, "%s", barrier.ErrWeakPassphrase.Error())
	case errors.Is(err, barrier.ErrBackupKeyFile):
		return errs.Wrap(errs.Invalid, err, "%s", barrier.ErrBackupKeyFile.Error())
	}
	return err
}

// backupKeyCall decodes c's body into req, authorizes c and returns the
// keyring, which Unavailable says this server lacks.
func (h *Handlers) backupKeyCall(c *ociapi.Call, req any) (BackupKeyring, error) {
	if err := decode(c, req); err != nil {
		return nil, err
	}
	if err := h.authorize(c); err != nil {
		return nil, err
	}
	if h.BackupKeys == nil {
		return nil, errs.E(errs.Unavailable, "the backup key is not available on this server")
	}
	return h.BackupKeys, nil
}

func (h *Handlers) exportBackupKey(c *ociapi.Call) error {
	var req ExportBackupKeyRequest
	kr, err := h.backupKeyCall(c, &req)
	if err != nil {
		return err
	}
	pass := []byte(req.Passphrase)
	defer clear(pass)
	file, id, err := kr.ExportBackupKey(c.Context(), pass)
	if err != nil {
		return backupKeyErr(err)
	}
	return reply(c, BackupKeyResponse{KeyID: id, File: string(file)})
}

func (h *Handlers) importBackupKey(c *ociapi.Call) error {
	var req ImportBackupKeyRequest
	kr, err := h.backupKeyCall(c, &req)
	if err != nil {
		return err
	}
	pass := []byte(req.Passphrase)
	defer clear(pass)
	id, err := kr.ImportBackupKey(c.Context(), []byte(req.File), pass)
	if err != nil {
		return backupKeyErr(err)
	}
	return reply(c, BackupKeyResponse{KeyID: id})
}
