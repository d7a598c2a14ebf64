package keyprotect

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
)

// MaterialAAD is the associated data a protection passes to its Sealer for
// a version's material. It binds the sealed bytes to the protection flavour
// (so an emulated-HSM blob copied into a SOFTWARE key record does not open,
// and cannot be exported that way), the key version ID and the shape (so a
// blob moved to another version or reshaped does not open):
//
//	"coffer-keyprotect-material-v1" 0x00
//	u16 len(flavour) flavour
//	u16 len(versionID) versionID
//	u16 len(algorithm) algorithm  u16 length  u16 len(curveID) curveID
//
// (u16 is big-endian.)
func MaterialAAD(flavour, versionID string, shape Shape) []byte {
	b := []byte("coffer-keyprotect-material-v1\x00")
	b = appendU16String(b, flavour)
	b = appendU16String(b, versionID)
	b = appendU16String(b, string(shape.Algorithm))
	b = binary.BigEndian.AppendUint16(b, uint16(shape.Length))
	b = appendU16String(b, string(shape.CurveID))
	return b
}

func appendU16String(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// ParseMaterial checks plaintext key material against a shape and decodes
// it: raw key bytes of exactly shape.Length for AES (returned as []byte, the
// same slice), an unencrypted PKCS#8 DER private key for RSA (*rsa.PrivateKey,
// modulus of exactly shape.Length bytes) and ECDSA (*ecdsa.PrivateKey on the
// shape's curve). A mismatch is ErrInvalidMaterial. Protections use it on
// import and when opening SOFTWARE blobs.
func ParseMaterial(shape Shape, b []byte) (any, error) {
	switch shape.Algorithm {
	case AES:
		if len(b) != shape.Length {
			return nil, Errorf(ErrInvalidMaterial, "key material is %d bytes long, but keyShape.length is %d", len(b), shape.Length)
		}
		return b, nil
	case RSA:
		k, err := x509.ParsePKCS8PrivateKey(b)
		if err != nil {
			return nil, Errorf(ErrInvalidMaterial, "RSA key material must be an unencrypted PKCS#8 private key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, Errorf(ErrInvalidMaterial, "key material is not an RSA private key")
		}
		if rk.Size() != shape.Length {
			return nil, Errorf(ErrInvalidMaterial, "RSA key material has a %d-byte modulus, but keyShape.length is %d", rk.Size(), shape.Length)
		}
		if rk.E != 65537 {
			// PKCS#11 tokens and OCI both expect F4; other exponents are a
			// sign of a mistake more often than a need.
			return nil, Errorf(ErrInvalidMaterial, "RSA key material must use public exponent 65537")
		}
		return rk, nil
	case ECDSA:
		k, err := x509.ParsePKCS8PrivateKey(b)
		if err != nil {
			return nil, Errorf(ErrInvalidMaterial, "ECDSA key material must be an unencrypted PKCS#8 private key")
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, Errorf(ErrInvalidMaterial, "key material is not an ECDSA private key")
		}
		if ek.Curve != shape.Curve() {
			return nil, Errorf(ErrInvalidMaterial, "ECDSA key material is on curve %s, but keyShape.curveId is %s", ek.Curve.Params().Name, shape.CurveID)
		}
		return ek, nil
	default:
		return nil, Errorf(ErrInvalidShape, "keyShape.algorithm %q is not valid", string(shape.Algorithm))
	}
}

// MarshalMaterial encodes a private key as this package's material form
// (PKCS#8 DER); AES material is its own form.
func MarshalMaterial(key any) (*SecretMaterial, error) {
	if b, ok := key.([]byte); ok {
		return NewSecretMaterial(append([]byte(nil), b...)), nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return NewSecretMaterial(der), nil
}
