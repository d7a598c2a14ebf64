package keyprotect

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
)

// Mode is a key's protection mode, spelled as OCI's protectionMode.
type Mode string

// The protection modes this package implements. (OCI's EXTERNAL is not one.)
const (
	ModeSoftware Mode = "SOFTWARE"
	ModeHSM      Mode = "HSM"
)

// Sealer protects SOFTWARE key material at rest. The server's barrier
// provides it (AES-256-GCM under the root key); this package never sees the
// root key. aad is the context the sealed bytes are bound to (see
// MaterialAAD); Open must fail if it differs from Seal's.
type Sealer interface {
	Seal(aad, plaintext []byte) ([]byte, error)
	Open(aad, ciphertext []byte) ([]byte, error)
}

// Material is what Generate and Import return, for the domain to persist
// with the key version.
type Material struct {
	// Blob is opaque: persist it as is and hand it back in Version.Blob. For
	// SOFTWARE it is the private material sealed by the Sealer; for HSM a
	// reference to the token objects (no secret in it).
	Blob []byte
	// PublicKey is the DER SubjectPublicKeyInfo of an RSA or ECDSA key, nil
	// for AES. Persist it: Verify and GetKeyVersion's publicKey use it
	// without opening the key (PublicKeyPEM gives OCI's PEM form).
	PublicKey []byte
}

// Version identifies one key version's material for Open, Destroy and
// export.
type Version struct {
	// ID is the key version's OCID. It is written into every ciphertext
	// (so Decrypt finds the version after rotation) and bound to the blob.
	ID    string
	Shape Shape
	Blob  []byte
}

// AEAD is AES-GCM with a 12-byte nonce and a 16-byte tag, as a Protection
// provides it for AES keys. Unlike cipher.AEAD it returns errors: an HSM can
// fail.
type AEAD interface {
	Seal(nonce, plaintext, additionalData []byte) ([]byte, error)
	Open(nonce, ciphertext, additionalData []byte) ([]byte, error)
}

// Key is an opened key version as a Protection gives it: the primitives
// only. The Handle built on it (see Open) owns every format, check and
// algorithm choice, so both protection modes behave the same.
type Key struct {
	AEAD      AEAD             // AES keys
	Signer    crypto.Signer    // RSA and ECDSA keys; Public() is the public key
	Decrypter crypto.Decrypter // RSA keys: RSA-OAEP (SHA-1 and SHA-256)
}

// Protection keeps key-version material: SOFTWARE (package software) or
// HSM (package pkcs11hsm, or software.NewEmulatedHSM in dev mode).
// Implementations are safe for concurrent use.
//
// Optional capabilities are separate interfaces checked at run time:
// Exporter (SOFTWARE only) and Emulator.
type Protection interface {
	// Mode is SOFTWARE or HSM; an emulated HSM says HSM.
	Mode() Mode
	// Generate makes new material for a key version of the given
	// (normalized) shape.
	Generate(ctx context.Context, versionID string, shape Shape) (Material, error)
	// Import stores caller-supplied material (raw AES bytes, or a PKCS#8
	// private key) after checking it fits the shape (ErrInvalidMaterial).
	Import(ctx context.Context, versionID string, shape Shape, material *SecretMaterial) (Material, error)
	// Open returns the primitives for a stored version. Most callers want
	// the package-level Open, which returns a Handle.
	Open(ctx context.Context, v Version) (Key, error)
	// Destroy deletes the material for good (HSM: the token objects; SOFTWARE:
	// nothing to do beyond the domain deleting the blob). Call it when a key
	// version's deletion completes. Destroying what is already gone is not
	// an error.
	Destroy(ctx context.Context, v Version) error
}

// Exporter is implemented by protections whose material may leave them
// (SOFTWARE). Use the package-level Export, which wraps the material.
type Exporter interface {
	ExportMaterial(ctx context.Context, v Version) (*SecretMaterial, error)
}

// BackupExporter is implemented by protections whose material may leave
// them inside an encrypted backup (SOFTWARE and the dev-mode emulated HSM,
// whose material is in the database anyway). A real HSM is not one: its
// material stays in the token, so its keys cannot be backed up. The caller
// seals the material into the backup at once and wipes it.
type BackupExporter interface {
	BackupMaterial(ctx context.Context, v Version) (*SecretMaterial, error)
}

// Emulator is implemented by protections that report Mode HSM without an
// HSM behind them (dev mode). Use IsEmulated.
type Emulator interface {
	Emulated() bool
}

// IsEmulated reports whether p only pretends to be an HSM: the server logs
// it at start and records it in key metadata.
func IsEmulated(p Protection) bool {
	e, ok := p.(Emulator)
	return ok && e.Emulated()
}

// Open opens a key version into a Handle that performs its operations.
// The version's shape must be canonical (Shape.Normalize).
func Open(ctx context.Context, p Protection, v Version) (*Handle, error) {
	if err := v.Shape.Validate(); err != nil {
		return nil, fmt.Errorf("open key version %s: %w", v.ID, err)
	}
	if v.ID == "" || len(v.ID) > maxVersionIDLen {
		return nil, fmt.Errorf("open key version: id length %d out of range 1..%d", len(v.ID), maxVersionIDLen)
	}
	k, err := p.Open(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("open key version %s: %w", v.ID, err)
	}
	h, err := newHandle(v.ID, v.Shape, k)
	if err != nil {
		return nil, fmt.Errorf("open key version %s: %w", v.ID, err)
	}
	return h, nil
}

// Export returns the material of a key version wrapped for the caller's RSA
// public key with alg (OCI ExportKey). Protections that are not Exporters
// (HSM, real or emulated) give ErrNotExportable.
func Export(ctx context.Context, p Protection, v Version, alg WrappingAlgorithm, pub *rsa.PublicKey) ([]byte, error) {
	ex, ok := p.(Exporter)
	if !ok || p.Mode() != ModeSoftware {
		return nil, Errorf(ErrNotExportable, "keys with protection mode %s cannot be exported", p.Mode())
	}
	m, err := ex.ExportMaterial(ctx, v)
	if err != nil {
		return nil, fmt.Errorf("export key version %s: %w", v.ID, err)
	}
	defer m.Wipe()
	out, err := Wrap(alg, pub, m.Bytes())
	if err != nil {
		return nil, fmt.Errorf("export key version %s: %w", v.ID, err)
	}
	return out, nil
}

// HSMConfig selects the PKCS#11 token for HSM protection (package
// pkcs11hsm). ModulePath empty means no HSM is configured: the server then
// uses software.NewEmulatedHSM in dev mode and refuses HSM keys otherwise.
type HSMConfig struct {
	ModulePath string // e.g. /usr/lib/softhsm/libsofthsm2.so
	TokenLabel string
	PIN        string
}

// LogValue keeps the PIN out of logs.
func (c HSMConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("modulePath", c.ModulePath), slog.String("tokenLabel", c.TokenLabel), slog.String("pin", "REDACTED"))
}

// Format keeps the PIN out of fmt output (%v, %+v, %#v, %s) as well.
func (c HSMConfig) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "HSMConfig{ModulePath:%q TokenLabel:%q PIN:REDACTED}", c.ModulePath, c.TokenLabel)
}

// ErrHSMUnavailable is returned by pkcs11hsm.New when the binary was built
// without cgo or the module cannot be loaded.
var ErrHSMUnavailable = errors.New("PKCS#11 HSM unavailable")

// ErrHSMLogin comes with ErrHSMUnavailable when the token refused the PIN
// (wrong, expired or locked): trying again with the same PIN only brings
// a lockout closer.
var ErrHSMLogin = errors.New("PKCS#11 login refused")
