package keyprotect

import (
	"crypto/elliptic"
	"fmt"
	"strconv"
	"strings"
)

// Algorithm is a master encryption key's algorithm, spelled as OCI's
// keyShape.algorithm.
type Algorithm string

// The key algorithms OCI Vault offers.
const (
	AES   Algorithm = "AES"
	RSA   Algorithm = "RSA"
	ECDSA Algorithm = "ECDSA"
)

// CurveID names an elliptic curve, spelled as OCI's keyShape.curveId.
type CurveID string

// The curves OCI Vault offers for ECDSA keys.
const (
	NISTP256 CurveID = "NIST_P256"
	NISTP384 CurveID = "NIST_P384"
	NISTP521 CurveID = "NIST_P521"
)

// Shape is OCI's KeyShape: the algorithm, the length in bytes (not bits: AES-256
// is 32, RSA-2048 is 256, P-256 is 32) and, for ECDSA, the curve.
type Shape struct {
	Algorithm Algorithm
	Length    int
	CurveID   CurveID
}

var (
	aesLengths   = []int{16, 24, 32}
	rsaLengths   = []int{256, 384, 512}
	ecdsaLengths = []int{32, 48, 66}
	curveLengths = map[CurveID]int{NISTP256: 32, NISTP384: 48, NISTP521: 66}
	lengthCurves = map[int]CurveID{32: NISTP256, 48: NISTP384, 66: NISTP521}
)

// Normalize checks the shape and returns it in canonical form: for ECDSA a
// missing curveId is derived from the length (32 → NIST_P256, 48 → NIST_P384,
// 66 → NIST_P521), as the OCI console does; a curveId given with a length
// that does not agree is refused. A curveId on an AES or RSA shape is refused.
// The error is ErrInvalidShape with a message that lists the allowed values,
// fit to be returned to the API caller as is.
func (s Shape) Normalize() (Shape, error) {
	switch s.Algorithm {
	case AES, RSA:
		allowed := aesLengths
		if s.Algorithm == RSA {
			allowed = rsaLengths
		}
		if !contains(allowed, s.Length) {
			return Shape{}, shapeErrorf("keyShape.length %d is not valid for %s: allowed values are %s (bytes)", s.Length, s.Algorithm, joinInts(allowed))
		}
		if s.CurveID != "" {
			return Shape{}, shapeErrorf("keyShape.curveId must not be set for %s keys", s.Algorithm)
		}
		return s, nil
	case ECDSA:
		if s.CurveID == "" {
			c, ok := lengthCurves[s.Length]
			if !ok {
				return Shape{}, shapeErrorf("keyShape.length %d is not valid for ECDSA: allowed values are %s (bytes)", s.Length, joinInts(ecdsaLengths))
			}
			s.CurveID = c
			return s, nil
		}
		want, ok := curveLengths[s.CurveID]
		if !ok {
			return Shape{}, shapeErrorf("keyShape.curveId %q is not valid: allowed values are NIST_P256, NIST_P384, NIST_P521", string(s.CurveID))
		}
		if s.Length != want {
			return Shape{}, shapeErrorf("keyShape.length %d does not match keyShape.curveId %s: the length must be %d (bytes)", s.Length, s.CurveID, want)
		}
		return s, nil
	default:
		return Shape{}, shapeErrorf("keyShape.algorithm %q is not valid: allowed values are AES, RSA, ECDSA", string(s.Algorithm))
	}
}

// Validate reports whether the shape is already canonical (see Normalize).
func (s Shape) Validate() error {
	n, err := s.Normalize()
	if err != nil {
		return err
	}
	if n != s {
		return shapeErrorf("keyShape.curveId is required for ECDSA keys")
	}
	return nil
}

// ValidateDataKeyShape checks the keyShape of GenerateDataEncryptionKey: data
// keys are AES keys of 16, 24 or 32 bytes.
func ValidateDataKeyShape(s Shape) error {
	if s.Algorithm != AES {
		return shapeErrorf("keyShape.algorithm %q is not valid for a data encryption key: allowed value is AES", string(s.Algorithm))
	}
	_, err := s.Normalize()
	return err
}

// Curve returns the elliptic curve of an ECDSA shape, or nil.
func (s Shape) Curve() elliptic.Curve {
	switch s.CurveID {
	case NISTP256:
		return elliptic.P256()
	case NISTP384:
		return elliptic.P384()
	case NISTP521:
		return elliptic.P521()
	}
	return nil
}

// Asymmetric reports whether keys of this shape have a public key.
func (s Shape) Asymmetric() bool { return s.Algorithm == RSA || s.Algorithm == ECDSA }

// String gives a short human form such as "AES-32" or "ECDSA-66-NIST_P521"
// for logs and error messages.
func (s Shape) String() string {
	if s.CurveID != "" {
		return fmt.Sprintf("%s-%d-%s", s.Algorithm, s.Length, s.CurveID)
	}
	return fmt.Sprintf("%s-%d", s.Algorithm, s.Length)
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
