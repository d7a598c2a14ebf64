package keyprotect

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"hash"
	"io"
)

// MaxPlaintextSize bounds Encrypt's plaintext for AES keys. OCI does not
// publish its limit [UNCONFIRMED]; 64 KiB is generous for the small data
// Encrypt is meant for (bulk data goes under a data key) and bounds memory.
// RSA-OAEP plaintexts are further bounded by the key size (k - 2·hLen - 2).
const MaxPlaintextSize = 64 << 10

// Handle performs the operations of one opened key version. It is safe for
// concurrent use. Get one from Open.
type Handle struct {
	id     string
	shape  Shape
	key    Key
	pub    crypto.PublicKey
	pubDER []byte
}

func newHandle(id string, shape Shape, k Key) (*Handle, error) {
	h := &Handle{id: id, shape: shape, key: k}
	switch shape.Algorithm {
	case AES:
		if k.AEAD == nil {
			return nil, fmt.Errorf("protection gave no AEAD for an AES key")
		}
		return h, nil
	case RSA:
		if k.Signer == nil || k.Decrypter == nil {
			return nil, fmt.Errorf("protection gave no signer or decrypter for an RSA key")
		}
		pub, ok := k.Signer.Public().(*rsa.PublicKey)
		if !ok || pub.Size() != shape.Length {
			return nil, fmt.Errorf("protection gave a public key that does not match shape %s", shape)
		}
		h.pub = pub
	case ECDSA:
		if k.Signer == nil {
			return nil, fmt.Errorf("protection gave no signer for an ECDSA key")
		}
		pub, ok := k.Signer.Public().(*ecdsa.PublicKey)
		if !ok || pub.Curve != shape.Curve() {
			return nil, fmt.Errorf("protection gave a public key that does not match shape %s", shape)
		}
		h.pub = pub
	}
	der, err := x509.MarshalPKIXPublicKey(h.pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	h.pubDER = der
	return h, nil
}

// VersionID is the key version OCID this handle was opened for.
func (h *Handle) VersionID() string { return h.id }

// Shape is the key version's shape.
func (h *Handle) Shape() Shape { return h.shape }

// PublicKey is the DER SubjectPublicKeyInfo of an asymmetric key, nil for AES.
func (h *Handle) PublicKey() []byte { return h.pubDER }

// DefaultEncryptionAlgorithm is the algorithm Encrypt uses when the request
// names none: AES_256_GCM for AES keys (OCI's documented default) and
// RSA_OAEP_SHA_256 for RSA keys.
func DefaultEncryptionAlgorithm(s Shape) EncryptionAlgorithm {
	if s.Algorithm == RSA {
		return RSAOAEPSHA256
	}
	return AES256GCM
}

// ParseEncryptionAlgorithm checks an encryptionAlgorithm from the wire;
// "" is allowed and means the key's default.
func ParseEncryptionAlgorithm(s string) (EncryptionAlgorithm, error) {
	switch a := EncryptionAlgorithm(s); a {
	case "", AES256GCM, RSAOAEPSHA1, RSAOAEPSHA256:
		return a, nil
	}
	return "", Errorf(ErrInvalidParameter, "encryptionAlgorithm %q is not valid: allowed values are AES_256_GCM, RSA_OAEP_SHA_1, RSA_OAEP_SHA_256", s)
}

func (h *Handle) checkEncryptionAlgorithm(alg EncryptionAlgorithm) (EncryptionAlgorithm, error) {
	if alg == "" {
		alg = DefaultEncryptionAlgorithm(h.shape)
	}
	switch h.shape.Algorithm {
	case AES:
		if alg == AES256GCM {
			return alg, nil
		}
	case RSA:
		if alg == RSAOAEPSHA1 || alg == RSAOAEPSHA256 {
			return alg, nil
		}
	case ECDSA:
		return "", Errorf(ErrUnsupportedOperation, "ECDSA keys can only sign and verify")
	}
	if _, err := ParseEncryptionAlgorithm(string(alg)); err != nil {
		return "", err
	}
	return "", Errorf(ErrUnsupportedOperation, "encryptionAlgorithm %s cannot be used with %s keys", alg, h.shape.Algorithm)
}

func oaepHash(alg EncryptionAlgorithm) hash.Hash {
	if alg == RSAOAEPSHA1 {
		return sha1.New()
	}
	return sha256.New()
}

func oaepCryptoHash(alg EncryptionAlgorithm) crypto.Hash {
	if alg == RSAOAEPSHA1 {
		return crypto.SHA1
	}
	return crypto.SHA256
}

// Encrypt encrypts plaintext (OCI Encrypt) and returns the ciphertext in
// this package's format (see ParseCiphertext), which names this key
// version. alg "" means DefaultEncryptionAlgorithm. Associated data is
// authenticated with AES-GCM; RSA-OAEP cannot carry it, so a non-empty map
// with an RSA key is ErrInvalidParameter. RSA-OAEP is a public-key
// operation and runs with the public key, in both protection modes.
func (h *Handle) Encrypt(alg EncryptionAlgorithm, plaintext []byte, aad AssociatedData) ([]byte, error) {
	alg, err := h.checkEncryptionAlgorithm(alg)
	if err != nil {
		return nil, err
	}
	header := appendHeader(nil, alg, h.id)
	if alg == AES256GCM {
		if len(plaintext) > MaxPlaintextSize {
			return nil, Errorf(ErrInvalidParameter, "plaintext is %d bytes, more than the %d allowed", len(plaintext), MaxPlaintextSize)
		}
		nonce := make([]byte, gcmNonceSize)
		if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
			return nil, fmt.Errorf("encrypt: nonce: %w", err)
		}
		sealed, err := h.key.AEAD.Seal(nonce, plaintext, append(header, aad.Encode()...))
		if err != nil {
			return nil, fmt.Errorf("encrypt with key version %s: %w", h.id, err)
		}
		out := make([]byte, 0, len(header)+len(nonce)+len(sealed))
		return append(append(append(out, header...), nonce...), sealed...), nil
	}
	if len(aad) > 0 {
		return nil, Errorf(ErrInvalidParameter, "associatedData can only be used with AES_256_GCM")
	}
	pub := h.pub.(*rsa.PublicKey)
	if max := pub.Size() - 2*oaepHash(alg).Size() - 2; len(plaintext) > max {
		return nil, Errorf(ErrInvalidParameter, "plaintext is %d bytes, more than the %d that %s allows with this key", len(plaintext), max, alg)
	}
	ct, err := rsa.EncryptOAEP(oaepHash(alg), rand.Reader, pub, plaintext, nil)
	if err != nil {
		return nil, fmt.Errorf("encrypt with key version %s: %w", h.id, err)
	}
	return append(header, ct...), nil
}

// Decrypt decrypts a ciphertext from Encrypt (OCI Decrypt) and returns the
// plaintext and the algorithm the ciphertext names. aad must equal
// Encrypt's. A ciphertext of another key version is ErrWrongKeyVersion, a
// malformed one ErrMalformedCiphertext, one that does not open
// ErrDecryptionFailed.
//
// For RSA keys Decrypt also accepts a raw RSA-OAEP ciphertext of exactly
// the modulus size (made by a client with the public key, as OCI allows);
// alg then picks the OAEP hash ("" means RSA_OAEP_SHA_256). Otherwise alg,
// when not "", must match the ciphertext's.
func (h *Handle) Decrypt(alg EncryptionAlgorithm, ciphertext []byte, aad AssociatedData) (*SecretMaterial, EncryptionAlgorithm, error) {
	if h.shape.Algorithm == ECDSA {
		return nil, "", Errorf(ErrUnsupportedOperation, "ECDSA keys can only sign and verify")
	}
	if h.shape.Algorithm == RSA && len(ciphertext) == h.shape.Length {
		alg, err := h.checkEncryptionAlgorithm(alg)
		if err != nil {
			return nil, "", err
		}
		return h.decryptOAEP(alg, ciphertext, aad)
	}
	p, err := parseCiphertext(ciphertext)
	if err != nil {
		return nil, "", err
	}
	if p.KeyVersionID != h.id {
		return nil, "", Errorf(ErrWrongKeyVersion, "the ciphertext was not produced by key version %s", h.id)
	}
	if alg != "" && alg != p.Algorithm {
		return nil, "", Errorf(ErrInvalidParameter, "encryptionAlgorithm %s does not match the ciphertext's %s", alg, p.Algorithm)
	}
	if _, err := h.checkEncryptionAlgorithm(p.Algorithm); err != nil {
		return nil, "", err
	}
	if p.Algorithm != AES256GCM {
		if len(p.body) != h.shape.Length {
			return nil, "", Errorf(ErrMalformedCiphertext, "the ciphertext has an invalid length")
		}
		return h.decryptOAEP(p.Algorithm, p.body, aad)
	}
	pt, err := h.key.AEAD.Open(p.nonce, p.body, append(append([]byte(nil), p.header...), aad.Encode()...))
	if err != nil {
		return nil, "", Errorf(ErrDecryptionFailed, "the ciphertext could not be decrypted: wrong key or associated data, or corrupted ciphertext")
	}
	return NewSecretMaterial(pt), AES256GCM, nil
}

func (h *Handle) decryptOAEP(alg EncryptionAlgorithm, body []byte, aad AssociatedData) (*SecretMaterial, EncryptionAlgorithm, error) {
	if len(aad) > 0 {
		return nil, "", Errorf(ErrInvalidParameter, "associatedData can only be used with AES_256_GCM")
	}
	pt, err := h.key.Decrypter.Decrypt(rand.Reader, body, &rsa.OAEPOptions{Hash: oaepCryptoHash(alg), MGFHash: oaepCryptoHash(alg)})
	if err != nil {
		return nil, "", Errorf(ErrDecryptionFailed, "the ciphertext could not be decrypted: wrong key or algorithm, or corrupted ciphertext")
	}
	return NewSecretMaterial(pt), alg, nil
}

// GenerateDataKey makes a fresh AES data encryption key of the given shape
// (OCI GenerateDataEncryptionKey) and returns it with its encryption under
// this key (AES_256_GCM, the same format and associated data rules as
// Encrypt). Only AES master keys generate data keys. The wire layer returns
// the plaintext only when includePlaintextKey is true; it should Wipe it.
func (h *Handle) GenerateDataKey(shape Shape, aad AssociatedData) (*SecretMaterial, []byte, error) {
	if h.shape.Algorithm != AES {
		return nil, nil, Errorf(ErrUnsupportedOperation, "only AES keys can generate data encryption keys")
	}
	if err := ValidateDataKeyShape(shape); err != nil {
		return nil, nil, err
	}
	dek := make([]byte, shape.Length)
	if _, err := io.ReadFull(rand.Reader, dek); err != nil {
		return nil, nil, fmt.Errorf("generate data key: %w", err)
	}
	ct, err := h.Encrypt(AES256GCM, dek, aad)
	if err != nil {
		clear(dek)
		return nil, nil, err
	}
	return NewSecretMaterial(dek), ct, nil
}

// PublicKeyPEM encodes a DER SubjectPublicKeyInfo as OCI's publicKey: a
// "PUBLIC KEY" PEM block.
func PublicKeyPEM(der []byte) string {
	if der == nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
