//go:build cgo

package pkcs11hsm

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/coffer-vault/coffer/internal/keyprotect"
)

const (
	blobVersion = 0x01
	idLen       = 16
	gcmNonceLen = 12
)

// Supported reports whether this binary can load a PKCS#11 module (it was
// built with cgo).
const Supported = true

// Protection is HSM protection on a PKCS#11 token. It is safe for
// concurrent use. It is not an Exporter: HSM keys never leave the token.
type Protection struct {
	c    *crypto11.Context
	raw  *pkcs11.Ctx // second handle on the same module, for C_CreateObject
	slot uint
	pin  string
	mu   sync.Mutex // serialises raw sessions (import, raw RSA)

	oaepOnHost atomic.Bool
}

// checkModule reports a module file cfg names but that is not there as
// ErrHSMUnavailable.
func checkModule(cfg keyprotect.HSMConfig) error {
	if _, err := os.Stat(cfg.ModulePath); err != nil {
		return fmt.Errorf("%w: PKCS#11 module: %v", keyprotect.ErrHSMUnavailable, err)
	}
	return nil
}

// tokenConfig is the crypto11 configuration of cfg's token, with up to
// maxSessions sessions.
func tokenConfig(cfg keyprotect.HSMConfig, maxSessions int) *crypto11.Config {
	return &crypto11.Config{
		Path:        cfg.ModulePath,
		TokenLabel:  cfg.TokenLabel,
		Pin:         cfg.PIN,
		GCMIVLength: gcmNonceLen,
		MaxSessions: maxSessions,
	}
}

// New opens the token named by cfg and logs in. Close it when done. A
// missing module is ErrHSMUnavailable.
func New(cfg keyprotect.HSMConfig) (*Protection, error) {
	if cfg.ModulePath == "" {
		return nil, fmt.Errorf("%w: no PKCS#11 module configured", keyprotect.ErrHSMUnavailable)
	}
	if err := checkModule(cfg); err != nil {
		return nil, err
	}
	c, err := crypto11.Configure(tokenConfig(cfg, 32))
	if err != nil {
		return nil, fmt.Errorf("open PKCS#11 token %q: %w", cfg.TokenLabel, err)
	}
	p := &Protection{c: c, pin: cfg.PIN}
	if err := p.openRaw(cfg); err != nil {
		c.Close()
		return nil, fmt.Errorf("open PKCS#11 token %q: %w", cfg.TokenLabel, err)
	}
	return p, nil
}

func (p *Protection) openRaw(cfg keyprotect.HSMConfig) error {
	raw := pkcs11.New(cfg.ModulePath)
	if raw == nil {
		return fmt.Errorf("%w: cannot load %s", keyprotect.ErrHSMUnavailable, cfg.ModulePath)
	}
	// crypto11 initialised the module already; the module is one per
	// process, so this handle shares its state (and its login).
	if err := raw.Initialize(); err != nil && !isP11(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		raw.Destroy()
		return fmt.Errorf("initialize: %w", err)
	}
	slots, err := raw.GetSlotList(true)
	if err != nil {
		raw.Destroy()
		return fmt.Errorf("slot list: %w", err)
	}
	for _, s := range slots {
		ti, err := raw.GetTokenInfo(s)
		if err == nil && ti.Label == cfg.TokenLabel {
			p.raw, p.slot = raw, s
			return nil
		}
	}
	raw.Destroy()
	return fmt.Errorf("token %q not found", cfg.TokenLabel)
}

// Close releases the token. The second handle is released without
// C_Finalize (crypto11 finalises the module when its last context closes).
func (p *Protection) Close() error {
	p.mu.Lock()
	if p.raw != nil {
		p.raw.Destroy()
		p.raw = nil
	}
	p.mu.Unlock()
	return p.c.Close()
}

func isP11(err error, code uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == code
}

// Mode is HSM.
func (p *Protection) Mode() keyprotect.Mode { return keyprotect.ModeHSM }

func newID() ([]byte, error) {
	id := make([]byte, idLen)
	_, err := io.ReadFull(rand.Reader, id)
	return id, err
}

func blobFor(id []byte) []byte { return append([]byte{blobVersion}, id...) }

func parseBlob(v keyprotect.Version) ([]byte, error) {
	if len(v.Blob) != 1+idLen || v.Blob[0] != blobVersion {
		return nil, fmt.Errorf("key version %s: %w: not a PKCS#11 object reference", v.ID, keyprotect.ErrCorruptBlob)
	}
	return v.Blob[1:], nil
}

// Generate creates the key in the token: non-extractable, sensitive, with
// CKA_LABEL the version ID.
func (p *Protection) Generate(ctx context.Context, versionID string, shape keyprotect.Shape) (keyprotect.Material, error) {
	if err := shape.Validate(); err != nil {
		return keyprotect.Material{}, err
	}
	id, err := newID()
	if err != nil {
		return keyprotect.Material{}, err
	}
	label := []byte(versionID)
	var pub crypto.PublicKey
	switch shape.Algorithm {
	case keyprotect.AES:
		if _, err := p.c.GenerateSecretKeyWithLabel(id, label, shape.Length*8, crypto11.CipherAES); err != nil {
			return keyprotect.Material{}, fmt.Errorf("generate %s in token: %w", shape, err)
		}
	case keyprotect.RSA:
		k, err := p.c.GenerateRSAKeyPairWithLabel(id, label, shape.Length*8)
		if err != nil {
			return keyprotect.Material{}, fmt.Errorf("generate %s in token: %w", shape, err)
		}
		pub = k.Public()
	case keyprotect.ECDSA:
		k, err := p.c.GenerateECDSAKeyPairWithLabel(id, label, shape.Curve())
		if err != nil {
			return keyprotect.Material{}, fmt.Errorf("generate %s in token: %w", shape, err)
		}
		pub = k.Public()
	}
	return material(id, pub)
}

func material(id []byte, pub crypto.PublicKey) (keyprotect.Material, error) {
	m := keyprotect.Material{Blob: blobFor(id)}
	if pub != nil {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return keyprotect.Material{}, fmt.Errorf("marshal public key: %w", err)
		}
		m.PublicKey = der
	}
	return m, nil
}

// Open finds the token objects and returns primitives that run in the
// token.
func (p *Protection) Open(ctx context.Context, v keyprotect.Version) (keyprotect.Key, error) {
	id, err := parseBlob(v)
	if err != nil {
		return keyprotect.Key{}, err
	}
	label := []byte(v.ID)
	notFound := fmt.Errorf("key version %s: %w: no token object with this id and label", v.ID, keyprotect.ErrMaterialNotFound)
	switch v.Shape.Algorithm {
	case keyprotect.AES:
		ks, err := p.c.FindKeys(id, label)
		if err != nil {
			return keyprotect.Key{}, fmt.Errorf("key version %s: find key: %w", v.ID, err)
		}
		if len(ks) != 1 {
			return keyprotect.Key{}, notFound
		}
		k := ks[0]
		a, err := p.c.GetAttribute(k, crypto11.CkaValueLen)
		if err != nil || a == nil || len(a.Value) < 4 {
			return keyprotect.Key{}, fmt.Errorf("key version %s: read CKA_VALUE_LEN: %v", v.ID, err)
		}
		if n := ulong(a.Value); n != uint64(v.Shape.Length) {
			return keyprotect.Key{}, fmt.Errorf("key version %s: %w: token key is %d bytes, shape is %s", v.ID, keyprotect.ErrCorruptBlob, n, v.Shape)
		}
		g, err := k.NewGCM()
		if err != nil {
			return keyprotect.Key{}, fmt.Errorf("key version %s: %w", v.ID, err)
		}
		return keyprotect.Key{AEAD: gcm{g}}, nil
	case keyprotect.RSA, keyprotect.ECDSA:
		ss, err := p.c.FindKeyPairs(id, label)
		if err != nil {
			return keyprotect.Key{}, fmt.Errorf("key version %s: find key pair: %w", v.ID, err)
		}
		if len(ss) != 1 {
			return keyprotect.Key{}, notFound
		}
		s := ss[0]
		if v.Shape.Algorithm == keyprotect.ECDSA {
			if _, ok := s.Public().(*ecdsa.PublicKey); !ok {
				return keyprotect.Key{}, fmt.Errorf("key version %s: %w: token key is not ECDSA", v.ID, keyprotect.ErrCorruptBlob)
			}
			return keyprotect.Key{Signer: s}, nil
		}
		d, ok := s.(crypto.Decrypter)
		if _, isRSA := s.Public().(*rsa.PublicKey); !ok || !isRSA {
			return keyprotect.Key{}, fmt.Errorf("key version %s: %w: token key is not RSA", v.ID, keyprotect.ErrCorruptBlob)
		}
		return keyprotect.Key{Signer: s, Decrypter: &rsaDecrypter{p: p, inner: d, id: id, label: label, size: v.Shape.Length}}, nil
	}
	return keyprotect.Key{}, fmt.Errorf("key version %s: %w", v.ID, keyprotect.ErrInvalidShape)
}

// ulong decodes a CK_ULONG attribute value (native byte order, 4 or 8
// bytes).
func ulong(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.NativeEndian.Uint64(b)
	}
	return uint64(binary.NativeEndian.Uint32(b))
}

// Destroy deletes the token objects (secret key, or private and public
// key). Objects already gone are not an error.
func (p *Protection) Destroy(ctx context.Context, v keyprotect.Version) error {
	id, err := parseBlob(v)
	if err != nil {
		return err
	}
	label := []byte(v.ID)
	if v.Shape.Algorithm == keyprotect.AES {
		ks, err := p.c.FindKeys(id, label)
		if err != nil {
			return fmt.Errorf("destroy key version %s: %w", v.ID, err)
		}
		for _, k := range ks {
			if err := k.Delete(); err != nil {
				return fmt.Errorf("destroy key version %s: %w", v.ID, err)
			}
		}
		return nil
	}
	ss, err := p.c.FindKeyPairs(id, label)
	if err != nil {
		return fmt.Errorf("destroy key version %s: %w", v.ID, err)
	}
	for _, s := range ss {
		if err := s.Delete(); err != nil {
			return fmt.Errorf("destroy key version %s: %w", v.ID, err)
		}
	}
	return nil
}

var curveOIDs = map[elliptic.Curve]asn1.ObjectIdentifier{
	elliptic.P256(): {1, 2, 840, 10045, 3, 1, 7},
	elliptic.P384(): {1, 3, 132, 0, 34},
	elliptic.P521(): {1, 3, 132, 0, 35},
}

// Import creates token objects from plaintext material with C_CreateObject
// (sensitive, non-extractable). See the package comment for why this uses a
// second handle on the module.
func (p *Protection) Import(ctx context.Context, versionID string, shape keyprotect.Shape, m *keyprotect.SecretMaterial) (keyprotect.Material, error) {
	if err := shape.Validate(); err != nil {
		return keyprotect.Material{}, err
	}
	key, err := keyprotect.ParseMaterial(shape, m.Bytes())
	if err != nil {
		return keyprotect.Material{}, err
	}
	id, err := newID()
	if err != nil {
		return keyprotect.Material{}, err
	}
	common := func(class uint, keyType uint) []*pkcs11.Attribute {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, []byte(versionID)),
		}
	}
	private := func(class, keyType uint, attrs ...*pkcs11.Attribute) []*pkcs11.Attribute {
		return append(append(common(class, keyType),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false)), attrs...)
	}
	var templates [][]*pkcs11.Attribute
	var pub crypto.PublicKey
	switch k := key.(type) {
	case []byte:
		templates = append(templates, private(pkcs11.CKO_SECRET_KEY, pkcs11.CKK_AES,
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, k),
			pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
			pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true)))
	case *rsa.PrivateKey:
		if len(k.Primes) != 2 {
			return keyprotect.Material{}, keyprotect.Errorf(keyprotect.ErrInvalidMaterial, "multi-prime RSA keys cannot be imported")
		}
		k.Precompute()
		e := beBytes(int64(k.E))
		templates = append(templates,
			private(pkcs11.CKO_PRIVATE_KEY, pkcs11.CKK_RSA,
				pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
				pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
				pkcs11.NewAttribute(pkcs11.CKA_MODULUS, k.N.Bytes()),
				pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, e),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE_EXPONENT, k.D.Bytes()),
				pkcs11.NewAttribute(pkcs11.CKA_PRIME_1, k.Primes[0].Bytes()),
				pkcs11.NewAttribute(pkcs11.CKA_PRIME_2, k.Primes[1].Bytes()),
				pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_1, k.Precomputed.Dp.Bytes()),
				pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_2, k.Precomputed.Dq.Bytes()),
				pkcs11.NewAttribute(pkcs11.CKA_COEFFICIENT, k.Precomputed.Qinv.Bytes())),
			append(common(pkcs11.CKO_PUBLIC_KEY, pkcs11.CKK_RSA),
				pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
				pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
				pkcs11.NewAttribute(pkcs11.CKA_MODULUS, k.N.Bytes()),
				pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, e)))
		pub = &k.PublicKey
	case *ecdsa.PrivateKey:
		params, err := asn1.Marshal(curveOIDs[k.Curve])
		if err != nil {
			return keyprotect.Material{}, err
		}
		scalar, err := k.Bytes()
		if err != nil {
			return keyprotect.Material{}, keyprotect.Errorf(keyprotect.ErrInvalidMaterial, "ECDSA key material is not a valid private key")
		}
		defer clear(scalar)
		point, err := k.PublicKey.Bytes()
		if err != nil {
			return keyprotect.Material{}, keyprotect.Errorf(keyprotect.ErrInvalidMaterial, "ECDSA key material is not a valid private key")
		}
		ecPoint, err := asn1.Marshal(point)
		if err != nil {
			return keyprotect.Material{}, err
		}
		templates = append(templates,
			private(pkcs11.CKO_PRIVATE_KEY, pkcs11.CKK_EC,
				pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
				pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
				pkcs11.NewAttribute(pkcs11.CKA_VALUE, scalar)),
			append(common(pkcs11.CKO_PUBLIC_KEY, pkcs11.CKK_EC),
				pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
				pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
				pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, ecPoint)))
		pub = &k.PublicKey
	}
	if err := p.createObjects(templates); err != nil {
		return keyprotect.Material{}, fmt.Errorf("import key version %s into token: %w", versionID, err)
	}
	return material(id, pub)
}

func beBytes(v int64) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(v))
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func (p *Protection) createObjects(templates [][]*pkcs11.Attribute) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.raw == nil {
		return errors.New("protection is closed")
	}
	sh, err := p.raw.OpenSession(p.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	defer p.raw.CloseSession(sh)
	if err := p.raw.Login(sh, pkcs11.CKU_USER, p.pin); err != nil && !isP11(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN) {
		return fmt.Errorf("login: %w", err)
	}
	var created []pkcs11.ObjectHandle
	for _, t := range templates {
		h, err := p.raw.CreateObject(sh, t)
		if err != nil {
			for _, c := range created {
				_ = p.raw.DestroyObject(sh, c)
			}
			return fmt.Errorf("C_CreateObject: %w", err)
		}
		created = append(created, h)
	}
	return nil
}

// gcm adapts crypto11's AEAD, whose Seal panics on token errors, to
// keyprotect.AEAD.
type gcm struct{ a cipher.AEAD }

func (g gcm) Seal(nonce, plaintext, ad []byte) (out []byte, err error) {
	if len(nonce) != gcmNonceLen {
		return nil, fmt.Errorf("pkcs11 AES-GCM: nonce must be %d bytes", gcmNonceLen)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("pkcs11 AES-GCM encrypt: %v", r)
		}
	}()
	return g.a.Seal(nil, nonce, plaintext, ad), nil
}

func (g gcm) Open(nonce, ciphertext, ad []byte) ([]byte, error) {
	if len(nonce) != gcmNonceLen {
		return nil, fmt.Errorf("pkcs11 AES-GCM: nonce must be %d bytes", gcmNonceLen)
	}
	return g.a.Open(nil, nonce, ciphertext, ad)
}
