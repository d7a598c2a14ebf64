package kms

import (
	"context"
	"crypto/rsa"
	"errors"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/store"
)

// CryptoTarget is a key and the version a crypto operation uses, loaded
// together so the wire layer can authorize on the key before acting.
type CryptoTarget struct {
	Key     Key
	Version KeyVersion
}

// LoadCryptoTarget reads a key of vaultID and one of its versions
// (versionID "" means the current version). A key of another vault, or a
// version of another key, is not found.
func (s *Service) LoadCryptoTarget(ctx context.Context, vaultID, keyID, versionID string) (CryptoTarget, error) {
	var t CryptoTarget
	err := s.cache.Read(ctx, func(r store.Reader) (err error) {
		if t.Key, err = getVaultKey(r, vaultID, keyID); err != nil {
			return err
		}
		if versionID == "" {
			versionID = t.Key.CurrentVersion
		}
		t.Version, err = getVersion(r, keyID, versionID)
		return err
	})
	return t, err
}

// DecryptVersion says which key version a Decrypt must load: the one the
// request names, else the one the ciphertext names, else (a raw RSA-OAEP
// ciphertext made with the public key) the current one ("").
func DecryptVersion(requested string, ciphertext []byte) string {
	if requested != "" {
		return requested
	}
	if info, err := keyprotect.ParseCiphertext(ciphertext); err == nil {
		return info.KeyVersionID
	}
	return ""
}

// usable checks that the key and version may be used for cryptography: a
// disabled key, or a key or version pending deletion, cannot (OCI).
func (t CryptoTarget) usable() error {
	switch t.Key.State {
	case KeyEnabled:
	case KeyDisabled:
		return errs.E(errs.IncorrectState, "key %s is DISABLED and cannot be used; enable it first", t.Key.ID)
	case KeyPendingDeletion:
		return errs.E(errs.IncorrectState, "key %s is PENDING_DELETION and cannot be used; cancel its deletion first", t.Key.ID)
	default:
		return errs.E(errs.IncorrectState, "key %s is %s and cannot be used", t.Key.ID, t.Key.State)
	}
	switch t.Version.State {
	case KeyEnabled:
		return nil
	case KeyPendingDeletion:
		return errs.E(errs.IncorrectState, "key version %s is PENDING_DELETION and cannot be used; cancel its deletion first", t.Version.ID)
	}
	return errs.E(errs.IncorrectState, "key version %s is %s and cannot be used", t.Version.ID, t.Version.State)
}

func (s *Service) handle(ctx context.Context, t CryptoTarget) (*keyprotect.Handle, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	return s.open(ctx, t.Version.material(t.Key.Shape))
}

// Encrypt encrypts plaintext with the target version (OCI Encrypt). The
// ciphertext names the version, so Decrypt works after rotation.
func (s *Service) Encrypt(ctx context.Context, t CryptoTarget, alg keyprotect.EncryptionAlgorithm, plaintext []byte, aad keyprotect.AssociatedData) ([]byte, keyprotect.EncryptionAlgorithm, error) {
	h, err := s.handle(ctx, t)
	if err != nil {
		return nil, "", err
	}
	if alg == "" {
		alg = keyprotect.DefaultEncryptionAlgorithm(t.Key.Shape)
	}
	ct, err := h.Encrypt(alg, plaintext, aad)
	return ct, alg, cryptoErr(err)
}

// Decrypt decrypts a ciphertext of the target version (OCI Decrypt). Wrong
// associated data or a damaged ciphertext is 400 InvalidParameter.
func (s *Service) Decrypt(ctx context.Context, t CryptoTarget, alg keyprotect.EncryptionAlgorithm, ciphertext []byte, aad keyprotect.AssociatedData) (*keyprotect.SecretMaterial, keyprotect.EncryptionAlgorithm, error) {
	h, err := s.handle(ctx, t)
	if err != nil {
		return nil, "", err
	}
	pt, used, err := h.Decrypt(alg, ciphertext, aad)
	return pt, used, cryptoErr(err)
}

// GenerateDataKey makes a data encryption key and its encryption under the
// target version (OCI GenerateDataEncryptionKey).
func (s *Service) GenerateDataKey(ctx context.Context, t CryptoTarget, shape keyprotect.Shape, aad keyprotect.AssociatedData) (*keyprotect.SecretMaterial, []byte, error) {
	h, err := s.handle(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	dek, ct, err := h.GenerateDataKey(shape, aad)
	return dek, ct, cryptoErr(err)
}

// Sign signs a message or digest with the target version (OCI Sign).
func (s *Service) Sign(ctx context.Context, t CryptoTarget, alg keyprotect.SigningAlgorithm, mt keyprotect.MessageType, msg []byte) ([]byte, error) {
	h, err := s.handle(ctx, t)
	if err != nil {
		return nil, err
	}
	sig, err := h.Sign(alg, mt, msg)
	return sig, cryptoErr(err)
}

// Verify checks a signature with the target version's public key (OCI
// Verify). It needs no key material, but the key must be usable, as for
// every crypto operation.
func (s *Service) Verify(ctx context.Context, t CryptoTarget, alg keyprotect.SigningAlgorithm, mt keyprotect.MessageType, msg, sig []byte) (bool, error) {
	if err := t.usable(); err != nil {
		return false, err
	}
	if !t.Key.Shape.Asymmetric() {
		return false, errs.E(errs.Invalid, "AES keys cannot sign or verify")
	}
	ok, err := keyprotect.Verify(t.Key.Shape, t.Version.PublicKey, alg, mt, msg, sig)
	return ok, cryptoErr(err)
}

// Export wraps the target version's material for the caller's RSA public
// key (OCI ExportKey). Only SOFTWARE keys can be exported.
func (s *Service) Export(ctx context.Context, t CryptoTarget, alg keyprotect.WrappingAlgorithm, pub *rsa.PublicKey) ([]byte, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if t.Key.ProtectionMode != ModeSoftware || t.Version.Flavour != flavourSoftware {
		return nil, errs.E(errs.Invalid, "key %s has protection mode %s and cannot be exported: only SOFTWARE keys can", t.Key.ID, t.Key.ProtectionMode)
	}
	p, err := s.forFlavour(t.Version.Flavour)
	if err != nil {
		return nil, err
	}
	if len(t.Version.Blob) == 0 {
		return nil, errs.E(errs.IncorrectState, "the key material of key version %s has been destroyed", t.Version.ID)
	}
	out, err := keyprotect.Export(ctx, p, keyprotect.Version{ID: t.Version.ID, Shape: t.Key.Shape, Blob: t.Version.Blob}, alg, pub)
	return out, cryptoErr(err)
}

// secretAADKey names the one associated-data entry a data key wrapped for
// the secrets domain carries.
const secretAADKey = "coffer.secrets.aad"

// WrapDataKey implements secrets.KeyUser: dek is encrypted under the current
// version of keyID, which must be an ENABLED AES key of vaultID.
func (s *Service) WrapDataKey(ctx context.Context, vaultID, keyID string, dek, aad []byte) ([]byte, string, error) {
	t, err := s.LoadCryptoTarget(ctx, vaultID, keyID, "")
	if errs.Is(err, errs.NotFound) {
		return nil, "", errs.E(errs.RelatedNotFound, "key %s not found in vault %s or not authorized", keyID, vaultID)
	}
	if err != nil {
		return nil, "", err
	}
	if t.Key.Shape.Algorithm != keyprotect.AES {
		return nil, "", errs.E(errs.Invalid, "key %s is an %s key; secrets must be encrypted with an AES key", keyID, t.Key.Shape.Algorithm)
	}
	ct, _, err := s.Encrypt(ctx, t, keyprotect.AES256GCM, dek, keyprotect.AssociatedData{secretAADKey: string(aad)})
	if err != nil {
		return nil, "", keyUnusable(err)
	}
	return ct, t.Version.ID, nil
}

// UnwrapDataKey implements secrets.KeyUser: it opens a data key wrapped by
// WrapDataKey with keyVersionID. A disabled key or a key pending deletion
// fails with Disabled (see keyUnusable).
func (s *Service) UnwrapDataKey(ctx context.Context, keyID, keyVersionID string, wrapped, aad []byte) ([]byte, error) {
	var unwrap func(context.Context, []byte, []byte) ([]byte, error)
	err := s.cache.Read(ctx, func(r store.Reader) (err error) {
		unwrap, err = s.Opener(r, keyID, keyVersionID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return unwrap(ctx, wrapped, aad)
}

// Resources implements secrets.KeyUser: the vault and key a secret names,
// read from r, as the authorizer sees them. One that does not exist is a
// resource with only its ids, so that the authorizer decides the answer and
// a missing resource and a denial look the same to the caller.
func (s *Service) Resources(r store.Reader, vaultID, keyID string) (vault, key *authz.Resource, err error) {
	vault = &authz.Resource{ID: vaultID, VaultID: vaultID}
	v, err := loadVault(r, vaultID)
	switch {
	case err == nil:
		vault = v.Resource()
	case !errs.Is(err, errs.NotFound):
		return nil, nil, err
	}
	key = &authz.Resource{ID: keyID, VaultID: vaultID}
	k, err := loadKey(r, keyID)
	switch {
	case err == nil && k.VaultID == vaultID:
		key = k.Resource()
	case err != nil && !errs.Is(err, errs.NotFound):
		return nil, nil, err
	}
	return vault, key, nil
}

// Opener implements secrets.KeyUser: it reads keyID and its version
// keyVersionID from r, checks that both may be used now, and returns what
// unwraps data keys with that version. A disabled key or a key pending
// deletion fails with Disabled (see keyUnusable).
func (s *Service) Opener(r store.Reader, keyID, keyVersionID string) (func(ctx context.Context, wrapped, aad []byte) ([]byte, error), error) {
	k, err := loadKey(r, keyID)
	var v *KeyVersion
	if err == nil {
		v, err = loadVersion(r, keyID, keyVersionID)
	}
	if errs.Is(err, errs.NotFound) {
		return nil, errs.E(errs.RelatedNotFound, "key %s or its version %s not found or not authorized", keyID, keyVersionID)
	}
	if err != nil {
		return nil, err
	}
	if err := (CryptoTarget{Key: *k, Version: *v}).usable(); err != nil {
		return nil, keyUnusable(err)
	}
	cache := s.dataKeys.Load()
	if !cache.caches(v.Flavour) {
		cache = nil
	}
	return func(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
		var id [32]byte
		if cache != nil {
			id = dataKeyID(v.ID, wrapped, aad)
			if dek, ok := cache.get(id); ok {
				return dek, nil
			}
		}
		pt, _, err := s.Decrypt(ctx, CryptoTarget{Key: *k, Version: *v}, keyprotect.AES256GCM, wrapped, keyprotect.AssociatedData{secretAADKey: string(aad)})
		if err != nil {
			return nil, keyUnusable(err)
		}
		defer pt.Wipe()
		if cache != nil {
			cache.put(id, k.ID, pt.Bytes())
		}
		return append([]byte(nil), pt.Bytes()...), nil
	}, nil
}

// keyUnusable turns "this key cannot be used in its state" into a
// Disabled error for the secrets domain. Direct crypto calls keep OCI's 409
// IncorrectState, but for secret reads and writes the SDK's default retry
// policy (every SecretsClient call) would retry a 409 IncorrectState for
// about 90 seconds before the caller saw it: 400 ResourceDisabled fails at
// once with the same message.
func keyUnusable(err error) error {
	var e *errs.Error
	if errors.As(err, &e) && e.Kind == errs.IncorrectState {
		// The cause below the state error, so the log says the reason once.
		return &errs.Error{Kind: errs.Disabled, Msg: "the secret's master encryption key cannot be used: " + errs.Message(err), Err: e.Err}
	}
	return err
}
