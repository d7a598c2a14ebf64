package kms

import (
	"context"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/page"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// CreateKeyVersion rotates an ENABLED key: a new version with fresh
// material becomes current; older versions still decrypt.
func (s *Service) CreateKeyVersion(ctx context.Context, vaultID, keyID string) (KeyVersion, error) {
	return s.rotate(ctx, vaultID, keyID, OriginInternal, false, func(p keyprotect.Protection, versionID string, shape keyprotect.Shape) (keyprotect.Material, error) {
		return p.Generate(ctx, versionID, shape)
	})
}

func (s *Service) rotate(ctx context.Context, vaultID, keyID, origin string, auto bool, mk makeMaterial) (KeyVersion, error) {
	k, err := s.GetKey(ctx, vaultID, keyID)
	if err != nil {
		return KeyVersion{}, err
	}
	if err := s.cache.Read(ctx, func(r store.Reader) error { return notReplicaKeyVault(r, vaultID) }); err != nil {
		return KeyVersion{}, err
	}
	if k.State != KeyEnabled {
		return KeyVersion{}, errs.E(errs.IncorrectState, "key %s is %s; only an ENABLED key can be rotated", k.ID, k.State)
	}
	cur, err := s.currentFlavour(ctx, k)
	if err != nil {
		return KeyVersion{}, err
	}
	p, err := s.forFlavour(cur)
	if err != nil {
		return KeyVersion{}, err
	}
	now := s.now().UTC()
	v := KeyVersion{ID: ocid.New(ocid.KeyVersion, s.region), KeyID: k.ID, VaultID: k.VaultID, Origin: origin,
		State: KeyEnabled, TimeCreated: now, Flavour: cur, IsAutoRotated: auto, ETag: etag.New()}
	m, err := mk(p, v.ID, k.Shape)
	if err != nil {
		return KeyVersion{}, cryptoErr(err)
	}
	v.Blob, v.PublicKey = m.Blob, m.PublicKey
	err = s.st.Update(ctx, func(tx store.Tx) error {
		k, err := getVaultKey(tx, vaultID, keyID)
		if err != nil {
			return err
		}
		if k.State != KeyEnabled {
			return errs.E(errs.IncorrectState, "key %s is %s; only an ENABLED key can be rotated", k.ID, k.State)
		}
		vault, err := getVault(tx, vaultID)
		if err != nil {
			return err
		}
		if err := notReplicaVault(&vault); err != nil {
			return err
		}
		if err := s.checkVersionRoom(tx, vault, k.ProtectionMode, k.Shape); err != nil {
			return err
		}
		k.CurrentVersion = v.ID
		if auto {
			k.AutoRotation.TimeOfLastRotation = &now
			next := now.Add(time.Duration(k.AutoRotation.IntervalDays) * 24 * time.Hour)
			k.AutoRotation.TimeOfNextRotation = &next
			k.AutoRotation.LastStatus, k.AutoRotation.LastMessage = RotationSuccess, ""
		}
		k.ETag = etag.New()
		if err := putVersion(tx, v); err != nil {
			return err
		}
		return putKey(tx, k)
	})
	if err != nil {
		_ = s.destroy(context.WithoutCancel(ctx), v.material(k.Shape))
		return KeyVersion{}, fmt.Errorf("kms: rotate key %s: %w", keyID, err)
	}
	return v, nil
}

// currentFlavour is the protection flavour of a key's current version: new
// versions keep it, so a key never mixes token and software material.
func (s *Service) currentFlavour(ctx context.Context, k Key) (string, error) {
	var v KeyVersion
	err := s.st.View(ctx, func(r store.Reader) (err error) { v, err = getVersion(r, k.ID, k.CurrentVersion); return err })
	if err != nil {
		return "", err
	}
	return v.Flavour, nil
}

// GetKeyVersion returns a version of a key of vaultID.
func (s *Service) GetKeyVersion(ctx context.Context, vaultID, keyID, versionID string) (Key, KeyVersion, error) {
	var k Key
	var v KeyVersion
	err := s.st.View(ctx, func(r store.Reader) (err error) {
		if k, err = getVaultKey(r, vaultID, keyID); err != nil {
			return err
		}
		v, err = getVersion(r, keyID, versionID)
		return err
	})
	return k, v, err
}

// ListKeyVersions lists a key's versions, newest first by default.
func (s *Service) ListKeyVersions(ctx context.Context, vaultID, keyID string, opts ListOptions) ([]KeyVersion, string, error) {
	desc, err := opts.descending()
	if err != nil {
		return nil, "", err
	}
	if _, err := sortKeyFunc(opts.SortBy); err != nil {
		return nil, "", err
	}
	var vs []KeyVersion
	err = s.st.View(ctx, func(r store.Reader) error {
		if _, err := getVaultKey(r, vaultID, keyID); err != nil {
			return err
		}
		vs, err = listVersions(r, keyID)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	// Versions have no name: both sort orders sort by creation time.
	keyOf := func(v KeyVersion) (string, string) {
		return v.TimeCreated.UTC().Format("20060102T150405.000000000"), v.ID
	}
	page.Sort(vs, keyOf, desc)
	return page.Slice(vs, keyOf, desc, opts.Page, opts.Limit)
}

// ScheduleKeyVersionDeletion puts a version in PENDING_DELETION. The
// current version cannot be deleted: rotate first.
func (s *Service) ScheduleKeyVersionDeletion(ctx context.Context, vaultID, keyID, versionID string, timeOfDeletion *time.Time, ifMatch string) (Key, KeyVersion, error) {
	when, err := DeletionTime(s.now().UTC(), timeOfDeletion)
	if err != nil {
		return Key{}, KeyVersion{}, err
	}
	return s.mutateVersion(ctx, vaultID, keyID, versionID, ifMatch, func(k Key, v *KeyVersion) error {
		if k.State != KeyEnabled && k.State != KeyDisabled {
			return errs.E(errs.IncorrectState, "key %s is %s; its versions cannot be scheduled for deletion", k.ID, k.State)
		}
		if v.ID == k.CurrentVersion {
			return errs.E(errs.IncorrectState, "key version %s is the key's current version and cannot be deleted: rotate the key first", v.ID)
		}
		if v.State != KeyEnabled {
			return errs.E(errs.IncorrectState, "key version %s is %s; only an ENABLED key version can be scheduled for deletion", v.ID, v.State)
		}
		v.State, v.TimeOfDeletion = KeyPendingDeletion, &when
		return nil
	})
}

// CancelKeyVersionDeletion returns a version pending deletion to ENABLED.
func (s *Service) CancelKeyVersionDeletion(ctx context.Context, vaultID, keyID, versionID, ifMatch string) (Key, KeyVersion, error) {
	return s.mutateVersion(ctx, vaultID, keyID, versionID, ifMatch, func(k Key, v *KeyVersion) error {
		if v.State != KeyPendingDeletion {
			return errs.E(errs.IncorrectState, "key version %s is %s; only a key version pending deletion can have its deletion cancelled", v.ID, v.State)
		}
		v.State, v.TimeOfDeletion = KeyEnabled, nil
		return nil
	})
}

func (s *Service) mutateVersion(ctx context.Context, vaultID, keyID, versionID, ifMatch string, fn func(Key, *KeyVersion) error) (Key, KeyVersion, error) {
	var k Key
	var v KeyVersion
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if k, err = getVaultKey(tx, vaultID, keyID); err != nil {
			return err
		}
		if v, err = getVersion(tx, keyID, versionID); err != nil {
			return err
		}
		if err := notReplicaKeyVault(tx, vaultID); err != nil {
			return err
		}
		if !etag.Matches(ifMatch, v.ETag) {
			return errs.E(errs.PreconditionFailed, "the if-match etag does not match key version %s", versionID)
		}
		before := v.State
		if err := fn(k, &v); err != nil {
			return err
		}
		v.ETag = etag.New()
		if v.State != before {
			if err := noteKey(tx, k, keyStateChange(before, v.State)); err != nil {
				return err
			}
		}
		return putVersion(tx, v)
	})
	return k, v, err
}

// WrappingKey is a vault's RSA-4096 wrapping key, for ImportKey.
type WrappingKey struct {
	ID          string    `json:"id"`
	VaultID     string    `json:"vaultId"`
	TimeCreated time.Time `json:"timeCreated"`
	PublicKey   []byte    `json:"publicKey"`
	Flavour     string    `json:"flavour"`
	Blob        []byte    `json:"blob"`
	ETag        string    `json:"etag"`
}

// PublicKeyPEM is the wrapping key's public key as OCI returns it.
func (w WrappingKey) PublicKeyPEM() string { return keyprotect.PublicKeyPEM(w.PublicKey) }

// GetWrappingKey returns the vault's wrapping key, generating it on first
// use (in the HSM when there is one, emulated or real).
func (s *Service) GetWrappingKey(ctx context.Context, vaultID string) (WrappingKey, error) {
	var w WrappingKey
	var vault Vault
	found := false
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		if vault, err = getVault(r, vaultID); err != nil {
			return err
		}
		w, found, err = getWrappingKey(r, vaultID)
		return err
	})
	if err != nil || found {
		return w, err
	}
	mode := ModeSoftware
	if p, err := s.protections(); err != nil {
		return w, err
	} else if p.HSM != nil {
		mode = ModeHSM
	}
	p, flavour, err := s.forMode(mode)
	if err != nil {
		return w, err
	}
	m, err := p.Generate(ctx, vault.WrappingKeyID, keyprotect.WrappingKeyShape)
	if err != nil {
		return w, fmt.Errorf("kms: generate wrapping key of vault %s: %w", vaultID, err)
	}
	fresh := WrappingKey{ID: vault.WrappingKeyID, VaultID: vaultID, TimeCreated: s.now().UTC(),
		PublicKey: m.PublicKey, Flavour: flavour, Blob: m.Blob, ETag: etag.New()}
	lost := false
	err = s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if w, lost, err = getWrappingKey(tx, vaultID); err != nil || lost {
			return err
		}
		w = fresh
		return record.Put(tx, prefixWrapKey+vaultID, fresh)
	})
	if err != nil || lost {
		// Another request made it first; ours is not needed. (HSM objects
		// are found by CKA_ID and label together, so the winner's objects
		// are untouched.)
		_ = s.destroy(context.WithoutCancel(ctx), material{id: fresh.ID, shape: keyprotect.WrappingKeyShape, flavour: flavour, blob: fresh.Blob})
	}
	return w, err
}

// WrappedMaterial is ImportKey's wrappedImportKey.
type WrappedMaterial struct {
	Algorithm keyprotect.WrappingAlgorithm
	Material  []byte // decoded from base64
}

func (s *Service) unwrapImport(ctx context.Context, vaultID string, wm WrappedMaterial, shape keyprotect.Shape) (*keyprotect.SecretMaterial, error) {
	if _, err := keyprotect.ParseWrappingAlgorithm(string(wm.Algorithm)); err != nil {
		return nil, cryptoErr(err)
	}
	w, err := s.GetWrappingKey(ctx, vaultID)
	if err != nil {
		return nil, err
	}
	h, err := s.open(ctx, material{id: w.ID, shape: keyprotect.WrappingKeyShape, flavour: w.Flavour, blob: w.Blob})
	if err != nil {
		return nil, err
	}
	sm, err := keyprotect.UnwrapImport(h, wm.Algorithm, wm.Material, shape)
	if err != nil {
		return nil, cryptoErr(err)
	}
	return sm, nil
}

// ImportKey creates a key from material the caller wrapped with the vault's
// wrapping key.
func (s *Service) ImportKey(ctx context.Context, vaultID string, in CreateKeyInput, wm WrappedMaterial) (Key, error) {
	shape, err := in.Shape.Normalize()
	if err != nil {
		return Key{}, cryptoErr(err)
	}
	if in.ProtectionMode == "" {
		in.ProtectionMode = ModeHSM
	}
	if _, _, err := s.forMode(in.ProtectionMode); err != nil {
		return Key{}, err
	}
	sm, err := s.unwrapImport(ctx, vaultID, wm, shape)
	if err != nil {
		return Key{}, err
	}
	defer sm.Wipe()
	return s.createKey(ctx, vaultID, in, OriginExternal, func(p keyprotect.Protection, versionID string, shape keyprotect.Shape) (keyprotect.Material, error) {
		return p.Import(ctx, versionID, shape, sm)
	})
}

// ImportKeyVersion rotates a key to imported material.
func (s *Service) ImportKeyVersion(ctx context.Context, vaultID, keyID string, wm WrappedMaterial) (KeyVersion, error) {
	k, err := s.GetKey(ctx, vaultID, keyID)
	if err != nil {
		return KeyVersion{}, err
	}
	if k.State != KeyEnabled {
		return KeyVersion{}, errs.E(errs.IncorrectState, "key %s is %s; only an ENABLED key can be rotated", k.ID, k.State)
	}
	sm, err := s.unwrapImport(ctx, vaultID, wm, k.Shape)
	if err != nil {
		return KeyVersion{}, err
	}
	defer sm.Wipe()
	return s.rotate(ctx, vaultID, keyID, OriginExternal, false, func(p keyprotect.Protection, versionID string, shape keyprotect.Shape) (keyprotect.Material, error) {
		return p.Import(ctx, versionID, shape, sm)
	})
}
