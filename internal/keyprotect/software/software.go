// Package software is SOFTWARE key protection: key-version material lives in
// the server's database, sealed by the barrier (a keyprotect.Sealer), and is
// used in memory with Go's standard crypto. It also provides the emulated HSM
// for dev mode (NewEmulatedHSM), which works the same way but reports Mode
// HSM, says it is emulated, and refuses export as a real HSM key would.
package software

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/coffer-vault/coffer/internal/keyprotect"
)

// blobVersion is the first byte of every blob this package writes; the rest
// is the Sealer's output over the material (raw AES bytes or PKCS#8 DER),
// with keyprotect.MaterialAAD(flavour, versionID, shape) as associated data.
const blobVersion = 0x01

// Flavours bound into the Sealer's associated data, so a blob of one cannot
// be opened as the other.
const (
	flavourSoftware    = "SOFTWARE"
	flavourEmulatedHSM = "HSM-EMULATED"
)

// Protection is SOFTWARE protection. It is an Exporter.
type Protection struct{ c core }

// New returns SOFTWARE protection sealing material with s.
func New(s keyprotect.Sealer) *Protection {
	return &Protection{c: core{sealer: s, flavour: flavourSoftware}}
}

// Mode is SOFTWARE.
func (p *Protection) Mode() keyprotect.Mode { return keyprotect.ModeSoftware }

// Generate makes fresh material with crypto/rand and seals it.
func (p *Protection) Generate(ctx context.Context, versionID string, shape keyprotect.Shape) (keyprotect.Material, error) {
	return p.c.generate(versionID, shape)
}

// Import checks material against the shape and seals it.
func (p *Protection) Import(ctx context.Context, versionID string, shape keyprotect.Shape, m *keyprotect.SecretMaterial) (keyprotect.Material, error) {
	return p.c.importMaterial(versionID, shape, m)
}

// Open unseals the blob and returns Go crypto primitives over it.
func (p *Protection) Open(ctx context.Context, v keyprotect.Version) (keyprotect.Key, error) {
	return p.c.open(v)
}

// Destroy has nothing to delete: the material exists only in the blob the
// domain deletes.
func (p *Protection) Destroy(ctx context.Context, v keyprotect.Version) error { return nil }

// ExportMaterial unseals the material for keyprotect.Export.
func (p *Protection) ExportMaterial(ctx context.Context, v keyprotect.Version) (*keyprotect.SecretMaterial, error) {
	return p.c.unseal(v)
}

// BackupMaterial unseals the material for an encrypted backup.
func (p *Protection) BackupMaterial(ctx context.Context, v keyprotect.Version) (*keyprotect.SecretMaterial, error) {
	return p.c.unseal(v)
}

// EmulatedHSM stands in for an HSM when none is configured (dev mode). The
// material is sealed like SOFTWARE material but under a different
// associated-data flavour, Mode is HSM, Emulated is true, and it is not an
// Exporter.
type EmulatedHSM struct{ c core }

// NewEmulatedHSM returns the dev-mode HSM stand-in sealing material with s.
func NewEmulatedHSM(s keyprotect.Sealer) *EmulatedHSM {
	return &EmulatedHSM{c: core{sealer: s, flavour: flavourEmulatedHSM}}
}

// Mode is HSM, as the keys it holds are HSM keys to the API.
func (p *EmulatedHSM) Mode() keyprotect.Mode { return keyprotect.ModeHSM }

// Emulated is true: the server logs it and records it in key metadata.
func (p *EmulatedHSM) Emulated() bool { return true }

// Generate makes fresh material with crypto/rand and seals it.
func (p *EmulatedHSM) Generate(ctx context.Context, versionID string, shape keyprotect.Shape) (keyprotect.Material, error) {
	return p.c.generate(versionID, shape)
}

// Import checks material against the shape and seals it.
func (p *EmulatedHSM) Import(ctx context.Context, versionID string, shape keyprotect.Shape, m *keyprotect.SecretMaterial) (keyprotect.Material, error) {
	return p.c.importMaterial(versionID, shape, m)
}

// Open unseals the blob and returns Go crypto primitives over it.
func (p *EmulatedHSM) Open(ctx context.Context, v keyprotect.Version) (keyprotect.Key, error) {
	return p.c.open(v)
}

// BackupMaterial unseals the material for an encrypted backup: the
// emulation keeps it in the database, so a backup (sealed under the
// backup key) is no weaker than the store. Plain export stays refused.
func (p *EmulatedHSM) BackupMaterial(ctx context.Context, v keyprotect.Version) (*keyprotect.SecretMaterial, error) {
	return p.c.unseal(v)
}

// Destroy has nothing to delete.
func (p *EmulatedHSM) Destroy(ctx context.Context, v keyprotect.Version) error { return nil }

type core struct {
	sealer  keyprotect.Sealer
	flavour string
}

func (c core) generate(versionID string, shape keyprotect.Shape) (keyprotect.Material, error) {
	if err := shape.Validate(); err != nil {
		return keyprotect.Material{}, err
	}
	var key any
	switch shape.Algorithm {
	case keyprotect.AES:
		b := make([]byte, shape.Length)
		if _, err := io.ReadFull(rand.Reader, b); err != nil {
			return keyprotect.Material{}, fmt.Errorf("generate %s: %w", shape, err)
		}
		key = b
	case keyprotect.RSA:
		k, err := rsa.GenerateKey(rand.Reader, shape.Length*8)
		if err != nil {
			return keyprotect.Material{}, fmt.Errorf("generate %s: %w", shape, err)
		}
		key = k
	case keyprotect.ECDSA:
		k, err := ecdsa.GenerateKey(shape.Curve(), rand.Reader)
		if err != nil {
			return keyprotect.Material{}, fmt.Errorf("generate %s: %w", shape, err)
		}
		key = k
	}
	m, err := keyprotect.MarshalMaterial(key)
	if b, ok := key.([]byte); ok {
		clear(b)
	}
	if err != nil {
		return keyprotect.Material{}, fmt.Errorf("generate %s: %w", shape, err)
	}
	defer m.Wipe()
	return c.seal(versionID, shape, m.Bytes(), key)
}

func (c core) importMaterial(versionID string, shape keyprotect.Shape, m *keyprotect.SecretMaterial) (keyprotect.Material, error) {
	if err := shape.Validate(); err != nil {
		return keyprotect.Material{}, err
	}
	key, err := keyprotect.ParseMaterial(shape, m.Bytes())
	if err != nil {
		return keyprotect.Material{}, err
	}
	return c.seal(versionID, shape, m.Bytes(), key)
}

func (c core) seal(versionID string, shape keyprotect.Shape, material []byte, key any) (keyprotect.Material, error) {
	sealed, err := c.sealer.Seal(keyprotect.MaterialAAD(c.flavour, versionID, shape), material)
	if err != nil {
		return keyprotect.Material{}, fmt.Errorf("seal key version %s: %w", versionID, err)
	}
	out := keyprotect.Material{Blob: append([]byte{blobVersion}, sealed...)}
	if s, ok := key.(crypto.Signer); ok {
		der, err := x509.MarshalPKIXPublicKey(s.Public())
		if err != nil {
			return keyprotect.Material{}, fmt.Errorf("marshal public key: %w", err)
		}
		out.PublicKey = der
	}
	return out, nil
}

func (c core) unseal(v keyprotect.Version) (*keyprotect.SecretMaterial, error) {
	if len(v.Blob) < 1 || v.Blob[0] != blobVersion {
		return nil, fmt.Errorf("key version %s: %w: unknown blob format", v.ID, keyprotect.ErrCorruptBlob)
	}
	pt, err := c.sealer.Open(keyprotect.MaterialAAD(c.flavour, v.ID, v.Shape), v.Blob[1:])
	if err != nil {
		return nil, fmt.Errorf("key version %s: %w: %v", v.ID, keyprotect.ErrCorruptBlob, err)
	}
	return keyprotect.NewSecretMaterial(pt), nil
}

func (c core) open(v keyprotect.Version) (keyprotect.Key, error) {
	m, err := c.unseal(v)
	if err != nil {
		return keyprotect.Key{}, err
	}
	defer m.Wipe()
	key, err := keyprotect.ParseMaterial(v.Shape, m.Bytes())
	if err != nil {
		return keyprotect.Key{}, fmt.Errorf("key version %s: %w: %v", v.ID, keyprotect.ErrCorruptBlob, err)
	}
	switch k := key.(type) {
	case []byte:
		block, err := aes.NewCipher(k)
		if err != nil {
			return keyprotect.Key{}, err
		}
		g, err := cipher.NewGCM(block)
		if err != nil {
			return keyprotect.Key{}, err
		}
		return keyprotect.Key{AEAD: gcm{g}}, nil
	case *rsa.PrivateKey:
		return keyprotect.Key{Signer: k, Decrypter: k}, nil
	case *ecdsa.PrivateKey:
		return keyprotect.Key{Signer: k}, nil
	}
	return keyprotect.Key{}, fmt.Errorf("key version %s: unexpected material type %T", v.ID, key)
}

// gcm adapts cipher.AEAD to keyprotect.AEAD.
type gcm struct{ a cipher.AEAD }

func (g gcm) Seal(nonce, plaintext, ad []byte) ([]byte, error) {
	if len(nonce) != g.a.NonceSize() {
		return nil, fmt.Errorf("gcm: nonce must be %d bytes", g.a.NonceSize())
	}
	return g.a.Seal(nil, nonce, plaintext, ad), nil
}

func (g gcm) Open(nonce, ciphertext, ad []byte) ([]byte, error) {
	if len(nonce) != g.a.NonceSize() {
		return nil, fmt.Errorf("gcm: nonce must be %d bytes", g.a.NonceSize())
	}
	return g.a.Open(nil, nonce, ciphertext, ad)
}
