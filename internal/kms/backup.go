package kms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
)

// Backup and restore of vaults and keys (OCI's BackupVault, BackupKey,
// RestoreVaultFromFile, RestoreKeyFromFile). The work is synchronous: the
// BACKUP_IN_PROGRESS and RESTORING states are never seen. The blob format
// is in backupblob.go.
//
// Key material leaves only inside the sealed content. SOFTWARE keys and
// the dev-mode emulated HSM keys carry their material
// (keyprotect.BackupExporter); keys in a PKCS#11 token cannot be backed up,
// and a vault backup with such a key is refused, naming it. Restore imports
// the material again with the protection of the same flavour, so it is
// sealed under the restoring deployment's barrier. The vault's wrapping key
// is not part of a backup: a restored vault makes a new one on first use
// (same wrapping key OCID). Secrets are not part of an OCI vault backup, and
// not of Coffer's.

// BackupSealer seals backups; the barrier is one (its backup keys).
type BackupSealer interface {
	ActiveBackupKeyID() (string, error)
	SealBackup(id string, aad, plaintext []byte) ([]byte, error)
	OpenBackup(id string, aad, ciphertext []byte) ([]byte, error)
}

type backupSealerBox struct{ BackupSealer }

var _ BackupSealer = (*barrier.Barrier)(nil)

// SetBackupSealer installs what seals backups; until it is called backup
// and restore fail with 503.
func (s *Service) SetBackupSealer(b BackupSealer) { s.backup.Store(&backupSealerBox{b}) }

func (s *Service) backupSealer() (BackupSealer, error) {
	b := s.backup.Load()
	if b == nil || b.BackupSealer == nil {
		return nil, errs.E(errs.Unavailable, "backups are not available on this server yet")
	}
	return b.BackupSealer, nil
}

// backupContent is the sealed part of a backup.
type backupContent struct {
	Vault Vault       `json:"vault"`
	Keys  []backupKey `json:"keys,omitempty"`
}

type backupKey struct {
	Key      Key             `json:"key"`
	Versions []backupVersion `json:"versions"`
}

type backupVersion struct {
	Version KeyVersion `json:"version"` // Blob empty
	// Material is the version's plaintext material (raw AES bytes or
	// PKCS#8 DER); empty once the version was destroyed.
	Material []byte `json:"material,omitempty"`
}

// Backup is an opened backup, ready to restore. Wipe it when done: it
// holds key material.
type Backup struct {
	Header  BackupHeader
	content backupContent
}

// Vault is the backed-up vault record.
func (b *Backup) Vault() Vault { return b.content.Vault }

// Keys are the backed-up keys.
func (b *Backup) Keys() []Key {
	out := make([]Key, len(b.content.Keys))
	for i, k := range b.content.Keys {
		out[i] = k.Key
	}
	return out
}

// Wipe clears the key material.
func (b *Backup) Wipe() {
	for _, k := range b.content.Keys {
		for _, v := range k.Versions {
			clear(v.Material)
		}
	}
}

func (c *backupContent) wipe() { (&Backup{content: *c}).Wipe() }

func checkBackupVault(v Vault) error {
	if v.VaultType != VaultTypeVirtualPrivate {
		return errs.E(errs.Invalid, "vault %s is %s: as in OCI, backup and restore are available only for VIRTUAL_PRIVATE vaults", v.ID, v.VaultType)
	}
	return nil
}

// BackupVault seals a backup of an ACTIVE VIRTUAL_PRIVATE vault, with its
// keys (except DELETED ones) when includeKeys.
func (s *Service) BackupVault(ctx context.Context, id string, includeKeys bool) (Vault, []byte, error) {
	var c backupContent
	var versions [][]KeyVersion
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		if c.Vault, err = getVault(r, id); err != nil {
			return err
		}
		if !includeKeys {
			return nil
		}
		keys, err := vaultKeys(r, id)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.State == KeyDeleted {
				continue
			}
			vs, err := listVersions(r, k.ID)
			if err != nil {
				return err
			}
			c.Keys = append(c.Keys, backupKey{Key: k})
			versions = append(versions, vs)
		}
		return nil
	})
	if err != nil {
		return Vault{}, nil, err
	}
	v := c.Vault
	if err := checkBackupVault(v); err != nil {
		return v, nil, err
	}
	if v.State != VaultActive {
		return v, nil, errs.E(errs.IncorrectState, "vault %s is %s; only an ACTIVE vault can be backed up", v.ID, v.State)
	}
	defer c.wipe()
	for i := range c.Keys {
		if c.Keys[i].Versions, err = s.backupVersions(ctx, c.Keys[i].Key, versions[i]); err != nil {
			return v, nil, err
		}
	}
	blob, err := s.sealBackup(BackupHeader{Kind: BackupKindVault, VaultID: v.ID, Created: s.now()}, &c)
	return v, blob, err
}

// BackupKey seals a backup of an ENABLED or DISABLED key of vaultID, with
// every version and the vault's record.
func (s *Service) BackupKey(ctx context.Context, vaultID, keyID string) (Key, []byte, error) {
	var c backupContent
	var k Key
	var vs []KeyVersion
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		if c.Vault, err = getVault(r, vaultID); err != nil {
			return err
		}
		if k, err = getVaultKey(r, vaultID, keyID); err != nil {
			return err
		}
		vs, err = listVersions(r, keyID)
		return err
	})
	if err != nil {
		return k, nil, err
	}
	if err := checkBackupVault(c.Vault); err != nil {
		return k, nil, err
	}
	if k.State != KeyEnabled && k.State != KeyDisabled {
		return k, nil, errs.E(errs.IncorrectState, "key %s is %s; only an ENABLED or DISABLED key can be backed up", k.ID, k.State)
	}
	defer c.wipe()
	bvs, err := s.backupVersions(ctx, k, vs)
	if err != nil {
		return k, nil, err
	}
	c.Keys = []backupKey{{Key: k, Versions: bvs}}
	blob, err := s.sealBackup(BackupHeader{Kind: BackupKindKey, VaultID: vaultID, KeyID: k.ID, Created: s.now()}, &c)
	return k, blob, err
}

// backupVersions takes each version's material out of its protection.
func (s *Service) backupVersions(ctx context.Context, k Key, vs []KeyVersion) ([]backupVersion, error) {
	out := make([]backupVersion, 0, len(vs))
	for _, v := range vs {
		bv := backupVersion{Version: v}
		bv.Version.Blob = nil
		if len(v.Blob) > 0 {
			m, err := s.backupMaterial(ctx, k, v)
			if err != nil {
				for _, o := range out {
					clear(o.Material)
				}
				return nil, err
			}
			bv.Material = m
		}
		out = append(out, bv)
	}
	return out, nil
}

func (s *Service) backupMaterial(ctx context.Context, k Key, v KeyVersion) ([]byte, error) {
	if v.Flavour == flavourHSM {
		return nil, errs.E(errs.Invalid, "key %s is kept in the PKCS#11 HSM, whose material cannot leave the token: Coffer cannot back it up (back up the token instead, or schedule the key's deletion before backing up its vault)", k.ID)
	}
	p, err := s.forFlavour(v.Flavour)
	if err != nil {
		return nil, err
	}
	ex, ok := p.(keyprotect.BackupExporter)
	if !ok {
		return nil, errs.E(errs.Invalid, "the material of key %s cannot be backed up", k.ID)
	}
	m, err := ex.BackupMaterial(ctx, keyprotect.Version{ID: v.ID, Shape: k.Shape, Blob: v.Blob})
	if err != nil {
		return nil, fmt.Errorf("kms: back up key version %s: %w", v.ID, err)
	}
	defer m.Wipe()
	return bytes.Clone(m.Bytes()), nil
}

func (s *Service) sealBackup(h BackupHeader, c *backupContent) ([]byte, error) {
	sealer, err := s.backupSealer()
	if err != nil {
		return nil, err
	}
	if h.BackupKeyID, err = sealer.ActiveBackupKeyID(); err != nil {
		return nil, fmt.Errorf("kms: backup key: %w", err)
	}
	h.Created = h.Created.UTC()
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("kms: encode backup: %w", err)
	}
	defer clear(plain)
	header := h.encode()
	if len(header)+len(plain)+12+16 > MaxBackupSize {
		return nil, errs.E(errs.LimitExceeded, "the backup of vault %s would be larger than %d bytes", h.VaultID, MaxBackupSize)
	}
	sealed, err := sealer.SealBackup(h.BackupKeyID, header, plain)
	if err != nil {
		return nil, fmt.Errorf("kms: seal backup: %w", err)
	}
	return append(header, sealed...), nil
}

// errDamaged is the one answer to a backup that does not open with the key
// its header names: tampered with, truncated, or sealed by a key of the
// same id that is not this one. It never says more.
func errDamaged() error {
	return errs.E(errs.Invalid, "the backup is damaged or was not made by this deployment's backup key")
}

// OpenBackup checks a backup blob of the given kind and decrypts it. A
// blob that is not a backup, is damaged, or was made under a backup key
// this deployment does not hold is a 400 with a message that says which.
func (s *Service) OpenBackup(blob []byte, kind string) (*Backup, error) {
	h, sealed, header, err := ParseBackupHeader(blob)
	if err != nil {
		return nil, err
	}
	if h.Kind != kind {
		return nil, errs.E(errs.Invalid, "the file is a backup of a %s, not of a %s", h.Kind, kind)
	}
	sealer, err := s.backupSealer()
	if err != nil {
		return nil, err
	}
	plain, err := sealer.OpenBackup(h.BackupKeyID, header, sealed)
	if errors.Is(err, barrier.ErrUnknownBackupKey) {
		return nil, errs.E(errs.Invalid, "the backup was made under backup key %s, which this deployment does not hold: import it with coffer operator backup-key import", h.BackupKeyID)
	}
	if errors.Is(err, barrier.ErrDecrypt) {
		return nil, errDamaged()
	}
	if err != nil {
		return nil, fmt.Errorf("kms: open backup: %w", err)
	}
	defer clear(plain)
	b := &Backup{Header: h}
	if err := json.Unmarshal(plain, &b.content); err != nil {
		return nil, errDamaged()
	}
	if err := b.check(); err != nil {
		b.Wipe()
		return nil, err
	}
	return b, nil
}

// check verifies that the content agrees with the header and with itself.
// The content is authenticated, so a failure means a bug or a key that
// leaked; it is refused all the same.
func (b *Backup) check() error {
	c := &b.content
	if c.Vault.ID != b.Header.VaultID || c.Vault.VaultType != VaultTypeVirtualPrivate {
		return errDamaged()
	}
	if b.Header.Kind == BackupKindKey && (len(c.Keys) != 1 || c.Keys[0].Key.ID != b.Header.KeyID) {
		return errDamaged()
	}
	seen := map[string]bool{}
	for _, k := range c.Keys {
		if ocid.TypeOf(k.Key.ID) != ocid.Key || !ocid.Valid(k.Key.ID) || k.Key.VaultID != c.Vault.ID || seen[k.Key.ID] {
			return errDamaged()
		}
		seen[k.Key.ID] = true
		if err := k.Key.Shape.Validate(); err != nil {
			return errDamaged()
		}
		current := false
		for _, v := range k.Versions {
			if ocid.TypeOf(v.Version.ID) != ocid.KeyVersion || !ocid.Valid(v.Version.ID) || v.Version.KeyID != k.Key.ID || v.Version.VaultID != c.Vault.ID || seen[v.Version.ID] {
				return errDamaged()
			}
			seen[v.Version.ID] = true
			current = current || v.Version.ID == k.Key.CurrentVersion
		}
		if !current {
			return errDamaged()
		}
	}
	return nil
}

// restoredVersions imports the material of a key's versions with the
// protection of their flavour; the blobs are this deployment's.
func (s *Service) restoredVersions(ctx context.Context, k backupKey) ([]KeyVersion, error) {
	out := make([]KeyVersion, 0, len(k.Versions))
	for _, bv := range k.Versions {
		v := bv.Version
		v.Blob, v.ETag = nil, etag.New()
		if len(bv.Material) > 0 {
			p, err := s.forFlavour(v.Flavour)
			if err != nil {
				return nil, err
			}
			m, err := p.Import(ctx, v.ID, k.Key.Shape, keyprotect.NewSecretMaterial(bytes.Clone(bv.Material)))
			if err != nil {
				return nil, fmt.Errorf("kms: restore key version %s: %w", v.ID, err)
			}
			if !bytes.Equal(m.PublicKey, bv.Version.PublicKey) {
				return nil, errDamaged()
			}
			v.Blob = m.Blob
		}
		out = append(out, v)
	}
	return out, nil
}

// restoreKeyTx writes a restored key, its index entry and its versions. A
// key that exists and is not DELETED is a 409; a DELETED one is replaced.
func (s *Service) restoreKeyTx(tx store.Tx, vault Vault, k Key, vs []KeyVersion) error {
	old, err := getKey(tx, k.ID)
	switch {
	case err == nil && old.State != KeyDeleted:
		return errs.E(errs.Conflict, "key %s already exists (%s): a key is restored only when it no longer exists", k.ID, old.State)
	case err == nil:
		if old.VaultID != vault.ID {
			return errs.E(errs.Conflict, "key %s exists in another vault", k.ID)
		}
		olds, err := listVersions(tx, k.ID)
		if err != nil {
			return err
		}
		for _, v := range olds {
			if err := tx.Delete(prefixKeyVersion + k.ID + "/" + v.ID); err != nil {
				return err
			}
		}
	case !errs.Is(err, errs.NotFound):
		return err
	}
	if err := tx.Put(prefixVaultKey+vault.ID+"/"+k.ID, nil); err != nil {
		return err
	}
	if err := putKey(tx, k); err != nil {
		return err
	}
	for _, v := range vs {
		if v.State != KeyDeleted {
			if err := s.checkVersionRoom(tx, vault, k.ProtectionMode, k.Shape); err != nil {
				return err
			}
		}
		if err := putVersion(tx, v); err != nil {
			return err
		}
	}
	return nil
}

func restoredKey(k Key, compartmentID string) Key {
	k.CompartmentID = compartmentID
	k.RestoredFromKeyID = k.ID
	k.SourceRegion = ""
	k.ETag = etag.New()
	return k
}

// RestoreVault restores a vault backup into compartmentID with the vault's
// OCID, in state ACTIVE, and its keys (if the backup has them) with theirs,
// in the same compartment: the caller is authorized there, not in the
// compartments the keys came from. A vault (or key) that exists and is not
// DELETED is a 409, a vault pending deletion included; a DELETED one is
// replaced and keeps its endpoint slot.
func (s *Service) RestoreVault(ctx context.Context, b *Backup, compartmentID string) (Vault, error) {
	v := b.content.Vault
	v.CompartmentID, v.State, v.TimeOfDeletion = compartmentID, VaultActive, nil
	v.RestoredFromVaultID, v.ETag = v.ID, etag.New()
	// A restored vault is this region's own, even from a replica's backup.
	v.Replication, v.SourceRegion, v.ReplicaOpID, v.ReplicaGeneration, v.ReplicaApplied = nil, "", "", 0, time.Time{}
	keys := make([]Key, len(b.content.Keys))
	versions := make([][]KeyVersion, len(b.content.Keys))
	for i, bk := range b.content.Keys {
		keys[i] = restoredKey(bk.Key, compartmentID)
		var err error
		if versions[i], err = s.restoredVersions(ctx, bk); err != nil {
			return Vault{}, err
		}
	}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		old, err := getVault(tx, v.ID)
		switch {
		case err == nil && old.State != VaultDeleted:
			return errs.E(errs.Conflict, "vault %s already exists (%s): a vault is restored only when it no longer exists", v.ID, old.State)
		case err == nil:
			v.Slot = old.Slot
		case errs.Is(err, errs.NotFound):
			if v.Slot, err = nextSlot(tx); err != nil {
				return err
			}
			if err := tx.Put(prefixSlot+strconv.Itoa(v.Slot), []byte(v.ID)); err != nil {
				return err
			}
		default:
			return err
		}
		if err := putVault(tx, v); err != nil {
			return err
		}
		for i := range keys {
			if err := s.restoreKeyTx(tx, v, keys[i], versions[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Vault{}, fmt.Errorf("kms: restore vault %s: %w", v.ID, err)
	}
	return v, nil
}

// RestoreKey restores a key backup into vaultID, which must be the key's
// own vault and ACTIVE, placing the key in compartmentID. The key keeps
// its OCID and its versions theirs; one that exists and is not DELETED is
// a 409.
func (s *Service) RestoreKey(ctx context.Context, b *Backup, vaultID, compartmentID string) (Key, error) {
	bk := b.content.Keys[0]
	if b.Header.VaultID != vaultID {
		return Key{}, errs.E(errs.Invalid, "the backup is of a key of vault %s: restore it on that vault's management endpoint (restore the vault first if it no longer exists)", b.Header.VaultID)
	}
	k := restoredKey(bk.Key, compartmentID)
	vs, err := s.restoredVersions(ctx, bk)
	if err != nil {
		return Key{}, err
	}
	err = s.st.Update(ctx, func(tx store.Tx) error {
		vault, err := getActiveVault(tx, vaultID, "restored only into")
		if err != nil {
			return err
		}
		return s.restoreKeyTx(tx, vault, k, vs)
	})
	if err != nil {
		return Key{}, fmt.Errorf("kms: restore key %s: %w", k.ID, err)
	}
	return k, nil
}

// nextSlot takes the next endpoint slot number.
func nextSlot(tx store.Tx) (int, error) {
	slot := 1
	if b, err := tx.Get(keyNextSlot); err == nil {
		if slot, err = strconv.Atoi(string(b)); err != nil {
			return 0, fmt.Errorf("kms: corrupt slot counter: %w", err)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	return slot, tx.Put(keyNextSlot, []byte(strconv.Itoa(slot+1)))
}
