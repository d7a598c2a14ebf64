package kms

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// The backup blob, as BackupVault and BackupKey write it and the restore
// operations read it:
//
//	magic "COFFERBK" | u8 format (1) | u8 kind (1 vault, 2 key)
//	u8 len | backup key id | u16 len | vault OCID | u16 len | key OCID (empty for a vault)
//	i64 created (Unix seconds)
//	sealed content: nonce (12) | AES-256-GCM ciphertext and tag
//
// (integers big-endian). The header is the associated data of the
// ciphertext, so no field of it can be changed without the backup failing
// to open. The content is JSON: the vault record and, for a key backup or a
// vault backup with its keys, each key with every version and its material.
// It is sealed under a backup key of the keyring (internal/barrier), never
// under the root key or a keyring term, so another deployment that holds
// the backup key can restore it.

// MaxBackupSize bounds a backup blob: BackupVault refuses to make a larger
// one, and the restore operations refuse a larger body.
const MaxBackupSize = 16 << 20

// Backup kinds, as the header spells them.
const (
	BackupKindVault = "vault"
	BackupKindKey   = "key"
)

const (
	backupMagic   = "COFFERBK"
	backupFormat  = 1
	maxBackupKeID = 64
	maxBackupOCID = 255
)

// BackupHeader is the clear part of a backup blob.
type BackupHeader struct {
	Kind        string // BackupKindVault or BackupKindKey
	BackupKeyID string // the keyring backup key that sealed it
	VaultID     string
	KeyID       string // empty for a vault backup
	Created     time.Time
}

func errNotBackup(why string) error {
	return errs.E(errs.Invalid, "the body is not a Coffer backup file (%s)", why)
}

// encode returns the header's bytes.
func (h BackupHeader) encode() []byte {
	b := append([]byte(backupMagic), backupFormat, 0)
	if h.Kind == BackupKindKey {
		b[len(backupMagic)+1] = 2
	} else {
		b[len(backupMagic)+1] = 1
	}
	b = append(b, byte(len(h.BackupKeyID)))
	b = append(b, h.BackupKeyID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.VaultID)))
	b = append(b, h.VaultID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.KeyID)))
	b = append(b, h.KeyID...)
	return binary.BigEndian.AppendUint64(b, uint64(h.Created.Unix()))
}

// ParseBackupHeader reads the header of a backup blob and returns it with
// the sealed content that follows. Every length is checked before it is
// used; a blob that is not one is a 400 saying so.
func ParseBackupHeader(blob []byte) (h BackupHeader, sealed, header []byte, err error) {
	if len(blob) > MaxBackupSize {
		return h, nil, nil, errs.E(errs.Invalid, "the backup is larger than %d bytes", MaxBackupSize)
	}
	if !bytes.HasPrefix(blob, []byte(backupMagic)) {
		return h, nil, nil, errNotBackup("no Coffer backup header")
	}
	rest := blob[len(backupMagic):]
	if len(rest) < 3 {
		return h, nil, nil, errNotBackup("truncated header")
	}
	if rest[0] != backupFormat {
		return h, nil, nil, errs.E(errs.Invalid, "the backup has format version %d, which this Coffer cannot read (it reads version %d)", rest[0], backupFormat)
	}
	switch rest[1] {
	case 1:
		h.Kind = BackupKindVault
	case 2:
		h.Kind = BackupKindKey
	default:
		return h, nil, nil, errNotBackup("unknown kind")
	}
	n := int(rest[2])
	rest = rest[3:]
	if n == 0 || n > maxBackupKeID || len(rest) < n {
		return h, nil, nil, errNotBackup("truncated header")
	}
	h.BackupKeyID, rest = string(rest[:n]), rest[n:]
	field := func() (string, bool) {
		if len(rest) < 2 {
			return "", false
		}
		n := int(binary.BigEndian.Uint16(rest))
		if n > maxBackupOCID || len(rest) < 2+n {
			return "", false
		}
		s := string(rest[2 : 2+n])
		rest = rest[2+n:]
		return s, true
	}
	var ok bool
	if h.VaultID, ok = field(); !ok || ocid.TypeOf(h.VaultID) != ocid.Vault || !ocid.Valid(h.VaultID) {
		return h, nil, nil, errNotBackup("bad vault id")
	}
	if h.KeyID, ok = field(); !ok {
		return h, nil, nil, errNotBackup("truncated header")
	}
	if (h.Kind == BackupKindKey) != (h.KeyID != "") || (h.KeyID != "" && (ocid.TypeOf(h.KeyID) != ocid.Key || !ocid.Valid(h.KeyID))) {
		return h, nil, nil, errNotBackup("bad key id")
	}
	if len(rest) < 8 {
		return h, nil, nil, errNotBackup("truncated header")
	}
	h.Created = time.Unix(int64(binary.BigEndian.Uint64(rest)), 0).UTC()
	rest = rest[8:]
	if len(rest) < 12+16 {
		return h, nil, nil, errNotBackup("truncated content")
	}
	return h, rest, blob[:len(blob)-len(rest)], nil
}
