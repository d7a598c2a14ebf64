package keyprotect

import (
	"crypto"
	"crypto/aes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
)

// WrappingAlgorithm is OCI's wrappingAlgorithm (ImportKey) and algorithm
// (ExportKey).
type WrappingAlgorithm string

// The wrapping algorithms. Both use RSA-OAEP with SHA-256 for the hash and
// MGF1 and an empty label.
const (
	// RSAOAEPSHA256Wrap: the material itself is RSA-OAEP encrypted; fits
	// AES keys only (an RSA private key is too long).
	RSAOAEPSHA256Wrap WrappingAlgorithm = "RSA_OAEP_SHA256"
	// RSAOAEPAESSHA256Wrap: PKCS#11 CKM_RSA_AES_KEY_WRAP. A fresh AES-256
	// key, RSA-OAEP encrypted (exactly the modulus size), followed by the
	// material wrapped under that key with AES Key Wrap with Padding
	// (RFC 5649; OpenSSL's id-aes256-wrap-pad). This is what OCI's import
	// and export scripts build with openssl.
	RSAOAEPAESSHA256Wrap WrappingAlgorithm = "RSA_OAEP_AES_SHA256"
)

// WrappingKeyShape is the shape of a vault's wrapping key: RSA-4096. A
// vault's wrapping key is an ordinary key version of this shape made with
// Protection.Generate (in the token for HSM protection, sealed for
// SOFTWARE); GetWrappingKey returns PublicKeyPEM(Material.PublicKey), and
// UnwrapImport opens what clients wrap for it.
var WrappingKeyShape = Shape{Algorithm: RSA, Length: 512}

// ParseWrappingAlgorithm checks a wrapping algorithm from the wire.
func ParseWrappingAlgorithm(s string) (WrappingAlgorithm, error) {
	switch a := WrappingAlgorithm(s); a {
	case RSAOAEPSHA256Wrap, RSAOAEPAESSHA256Wrap:
		return a, nil
	}
	return "", Errorf(ErrInvalidParameter, "wrapping algorithm %q is not valid: allowed values are RSA_OAEP_SHA256, RSA_OAEP_AES_SHA256", s)
}

// ParseRSAPublicKeyPEM reads ExportKey's publicKey: a PEM "PUBLIC KEY"
// (SubjectPublicKeyInfo) or "RSA PUBLIC KEY" (PKCS#1) block holding an RSA
// key of 2048, 3072 or 4096 bits. Anything else is ErrInvalidParameter.
func ParseRSAPublicKeyPEM(s string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, Errorf(ErrInvalidParameter, "publicKey is not a PEM-encoded public key")
	}
	var pub *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, Errorf(ErrInvalidParameter, "publicKey cannot be parsed")
		}
		p, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, Errorf(ErrInvalidParameter, "publicKey must be an RSA public key")
		}
		pub = p
	case "RSA PUBLIC KEY":
		p, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, Errorf(ErrInvalidParameter, "publicKey cannot be parsed")
		}
		pub = p
	default:
		return nil, Errorf(ErrInvalidParameter, "publicKey must be a PEM PUBLIC KEY block")
	}
	if s := pub.Size(); s != 256 && s != 384 && s != 512 {
		return nil, Errorf(ErrInvalidParameter, "publicKey must be an RSA key of 2048, 3072 or 4096 bits")
	}
	return pub, nil
}

// Wrap wraps material for an RSA public key with alg: what ExportKey
// returns (before base64), and what a client sends to ImportKey.
func Wrap(alg WrappingAlgorithm, pub *rsa.PublicKey, material []byte) ([]byte, error) {
	switch alg {
	case RSAOAEPSHA256Wrap:
		if max := pub.Size() - 2*sha256.Size - 2; len(material) > max {
			return nil, Errorf(ErrInvalidParameter, "key material of %d bytes is too long for RSA_OAEP_SHA256 with this public key (at most %d): use RSA_OAEP_AES_SHA256", len(material), max)
		}
		return rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, material, nil)
	case RSAOAEPAESSHA256Wrap:
		kek := make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, kek); err != nil {
			return nil, fmt.Errorf("wrap: %w", err)
		}
		defer clear(kek)
		wrappedKEK, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, kek, nil)
		if err != nil {
			return nil, fmt.Errorf("wrap: %w", err)
		}
		wrapped, err := WrapKWP(kek, material)
		if err != nil {
			return nil, fmt.Errorf("wrap: %w", err)
		}
		return append(wrappedKEK, wrapped...), nil
	default:
		_, err := ParseWrappingAlgorithm(string(alg))
		return nil, err
	}
}

// UnwrapImport opens wrappedImportKey.keyMaterial (decoded from base64)
// with the vault's wrapping key and checks the result against the shape
// being imported. The RSA-OAEP step runs wherever the wrapping key lives
// (in the token for HSM protection); the AES key-unwrap step and the
// result are in memory, and the result goes to Protection.Import. Every
// failure to unwrap or to match the shape is ErrInvalidMaterial, with no
// detail that could serve as an oracle.
func UnwrapImport(wrappingKey *Handle, alg WrappingAlgorithm, wrapped []byte, shape Shape) (*SecretMaterial, error) {
	if wrappingKey.shape.Algorithm != RSA {
		return nil, fmt.Errorf("unwrap: wrapping key is %s, not RSA", wrappingKey.shape)
	}
	if _, err := ParseWrappingAlgorithm(string(alg)); err != nil {
		return nil, err
	}
	k := wrappingKey.shape.Length
	bad := Errorf(ErrInvalidMaterial, "wrappedImportKey.keyMaterial could not be unwrapped with the vault's wrapping key and %s", alg)
	oaep := &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256}
	var material []byte
	switch alg {
	case RSAOAEPSHA256Wrap:
		if len(wrapped) != k {
			return nil, bad
		}
		m, err := wrappingKey.key.Decrypter.Decrypt(rand.Reader, wrapped, oaep)
		if err != nil {
			return nil, bad
		}
		material = m
	case RSAOAEPAESSHA256Wrap:
		if len(wrapped) < k+16 || (len(wrapped)-k)%8 != 0 {
			return nil, bad
		}
		kek, err := wrappingKey.key.Decrypter.Decrypt(rand.Reader, wrapped[:k], oaep)
		if err != nil || len(kek) != 32 {
			// OCI's scripts use AES-256; accept only that.
			clear(kek)
			return nil, bad
		}
		m, err := UnwrapKWP(kek, wrapped[k:])
		clear(kek)
		if err != nil {
			return nil, bad
		}
		material = m
	}
	if _, err := ParseMaterial(shape, material); err != nil {
		clear(material)
		return nil, err
	}
	return NewSecretMaterial(material), nil
}

var errKWP = errors.New("AES key unwrap failed")

var kwpAIV = [4]byte{0xA6, 0x59, 0x59, 0xA6}

// WrapKWP is AES Key Wrap with Padding (RFC 5649) under kek (16, 24 or 32
// bytes). x/crypto has no implementation; this one follows the RFC's
// index-based form and is checked against its test vectors.
func WrapKWP(kek, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(plaintext) == 0 || uint64(len(plaintext)) > 1<<32-1 {
		return nil, errors.New("AES key wrap: plaintext length out of range")
	}
	n := (len(plaintext) + 7) / 8
	var a [8]byte
	copy(a[:4], kwpAIV[:])
	binary.BigEndian.PutUint32(a[4:], uint32(len(plaintext)))
	r := make([]byte, 8+8*n) // a || padded plaintext
	copy(r, a[:])
	copy(r[8:], plaintext)
	if n == 1 {
		block.Encrypt(r, r)
		return r, nil
	}
	var b [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(b[:8], r[:8])
			copy(b[8:], r[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(r[:8], binary.BigEndian.Uint64(b[:8])^t)
			copy(r[8*i:], b[8:])
		}
	}
	return r, nil
}

// UnwrapKWP reverses WrapKWP. It checks the integrity value, the length
// and the zero padding, all before returning, and gives one error for any
// failure.
func UnwrapKWP(kek, ciphertext []byte) ([]byte, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < 16 || len(ciphertext)%8 != 0 {
		return nil, errKWP
	}
	n := len(ciphertext)/8 - 1
	r := append([]byte(nil), ciphertext...)
	if n == 1 {
		block.Decrypt(r, r)
	} else {
		var b [16]byte
		for j := 5; j >= 0; j-- {
			for i := n; i >= 1; i-- {
				t := uint64(n*j + i)
				binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(r[:8])^t)
				copy(b[8:], r[8*i:8*i+8])
				block.Decrypt(b[:], b[:])
				copy(r[:8], b[:8])
				copy(r[8*i:], b[8:])
			}
		}
	}
	aivOK := subtle.ConstantTimeCompare(r[:4], kwpAIV[:]) == 1
	mli := int(binary.BigEndian.Uint32(r[4:8]))
	// RFC 5649 section 3: 8(n-1) < MLI <= 8n.
	if !aivOK || mli <= 8*(n-1) || mli > 8*n {
		clear(r)
		return nil, errKWP
	}
	var pad byte
	for _, c := range r[8+mli:] {
		pad |= c
	}
	if pad != 0 {
		clear(r)
		return nil, errKWP
	}
	out := append([]byte(nil), r[8:8+mli]...)
	clear(r)
	return out, nil
}
