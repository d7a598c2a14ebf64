package keyprotect

import (
	"encoding/binary"
	"maps"
	"slices"
)

// EncryptionAlgorithm is OCI's encryptionAlgorithm.
type EncryptionAlgorithm string

// The encryption algorithms OCI offers.
const (
	AES256GCM     EncryptionAlgorithm = "AES_256_GCM" // any AES length, despite the name
	RSAOAEPSHA1   EncryptionAlgorithm = "RSA_OAEP_SHA_1"
	RSAOAEPSHA256 EncryptionAlgorithm = "RSA_OAEP_SHA_256"
)

// Limits and sizes of the ciphertext format (see ParseCiphertext).
const (
	ciphertextVersion = 0x01
	maxVersionIDLen   = 512
	gcmNonceSize      = 12
	gcmTagSize        = 16
)

var algByte = map[EncryptionAlgorithm]byte{AES256GCM: 1, RSAOAEPSHA1: 2, RSAOAEPSHA256: 3}

// CiphertextInfo is what a ciphertext says about itself.
type CiphertextInfo struct {
	KeyVersionID string
	Algorithm    EncryptionAlgorithm
}

type parsedCiphertext struct {
	CiphertextInfo
	header []byte // bytes 0..4+n
	nonce  []byte // AES only
	body   []byte
}

// ParseCiphertext reads the key version ID and algorithm from a ciphertext
// made by Handle.Encrypt, so the domain can load that version before calling
// Decrypt. It checks the structure and the exact lengths that can be checked
// without the key; a ciphertext that fails is ErrMalformedCiphertext. It
// never panics, whatever the input.
//
// A raw RSA-OAEP ciphertext (made by a client with the public key alone)
// does not parse: the domain then uses the request's keyVersionId (or the
// key's current version) and Handle.Decrypt accepts it by its exact length.
//
// The ciphertext format, version 1 (what Encrypt returns; the wire layer
// base64-encodes it):
//
//	offset  size  field
//	0       1     format version, 0x01
//	1       1     algorithm: 0x01 AES_256_GCM, 0x02 RSA_OAEP_SHA_1, 0x03 RSA_OAEP_SHA_256
//	2       2     n = length of the key version ID, big-endian, 1..512
//	4       n     key version ID (the OCID)
//	AES_256_GCM: 12-byte nonce, then the GCM ciphertext with its 16-byte tag
//	RSA_OAEP_*:  the OAEP ciphertext, exactly the modulus size
//
// The header (bytes 0..4+n) is part of the GCM associated data, so the
// algorithm and version ID cannot be changed without detection.
func ParseCiphertext(b []byte) (CiphertextInfo, error) {
	p, err := parseCiphertext(b)
	return p.CiphertextInfo, err
}

func parseCiphertext(b []byte) (parsedCiphertext, error) {
	var p parsedCiphertext
	if len(b) < 4 {
		return p, Errorf(ErrMalformedCiphertext, "the ciphertext is too short")
	}
	if b[0] != ciphertextVersion {
		return p, Errorf(ErrMalformedCiphertext, "the ciphertext has an unknown format")
	}
	switch b[1] {
	case 1:
		p.Algorithm = AES256GCM
	case 2:
		p.Algorithm = RSAOAEPSHA1
	case 3:
		p.Algorithm = RSAOAEPSHA256
	default:
		return p, Errorf(ErrMalformedCiphertext, "the ciphertext names an unknown algorithm")
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n == 0 || n > maxVersionIDLen || len(b) < 4+n {
		return p, Errorf(ErrMalformedCiphertext, "the ciphertext has an invalid key version")
	}
	p.KeyVersionID = string(b[4 : 4+n])
	p.header = b[:4+n]
	rest := b[4+n:]
	if p.Algorithm == AES256GCM {
		if len(rest) < gcmNonceSize+gcmTagSize {
			return p, Errorf(ErrMalformedCiphertext, "the ciphertext is too short")
		}
		p.nonce, p.body = rest[:gcmNonceSize], rest[gcmNonceSize:]
	} else {
		if len(rest) != 256 && len(rest) != 384 && len(rest) != 512 {
			return p, Errorf(ErrMalformedCiphertext, "the ciphertext has an invalid length")
		}
		p.body = rest
	}
	return p, nil
}

func appendHeader(b []byte, alg EncryptionAlgorithm, versionID string) []byte {
	b = append(b, ciphertextVersion, algByte[alg])
	return appendU16String(b, versionID)
}

// AssociatedData is OCI's associatedData (map<string,string>): extra
// authenticated context that Decrypt must be given again, byte for byte.
type AssociatedData map[string]string

// Encode is the canonical, injective byte form of the map that feeds the
// GCM associated data: nil for an empty or nil map (OCI treats an absent
// map and an empty one alike), otherwise
//
//	u32 count, then for each key in byte-wise sorted order:
//	u32 len(key) key u32 len(value) value
//
// (u32 big-endian). Two maps encode alike exactly when they are equal.
func (a AssociatedData) Encode() []byte {
	if len(a) == 0 {
		return nil
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(len(a)))
	for _, k := range slices.Sorted(maps.Keys(a)) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		v := a[k]
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}
