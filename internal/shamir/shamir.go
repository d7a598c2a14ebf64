// Package shamir splits a secret into shares so that any threshold of them
// rebuild it and fewer reveal nothing, by Shamir's scheme over GF(2^8).
//
// Each byte of the secret is the constant term of its own random polynomial
// of degree threshold-1; a share is that polynomial evaluated at one
// non-zero point x for every byte, followed by x itself. Arithmetic uses
// the AES field (x^8 + x^4 + x^3 + x + 1) and is written without
// secret-dependent branches or table look-ups.
//
// # Text form
//
// A share's text form is standard base64 of its bytes. Shares are secrets:
// [Share] prints as redacted and must be written out with [Share.Text] on
// purpose.
package shamir

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// MaxShares is the most shares a secret can be split into: x is one
// non-zero byte.
const MaxShares = 255

// MaxShareText bounds the text form accepted by ParseShare, so that a
// parser of outside input never decodes more than a root key's share needs
// with room to spare.
const MaxShareText = 1024

// ErrInvalidShare is returned for a share that cannot be one: bad
// encoding, wrong length, x of zero.
var ErrInvalidShare = errors.New("shamir: invalid share")

// Share is one share of a secret. It prints as redacted.
type Share struct{ b []byte }

// X is the share's point, 1..255; two shares with the same X are the same
// share (or from different splits).
func (s Share) X() byte {
	if len(s.b) == 0 {
		return 0
	}
	return s.b[len(s.b)-1]
}

// Len is the length of the secret the share belongs to.
func (s Share) Len() int { return max(len(s.b)-1, 0) }

// Text returns the share in its text form, for handing to its holder.
func (s Share) Text() string { return base64.StdEncoding.EncodeToString(s.b) }

// Bytes returns a copy of the share's bytes.
func (s Share) Bytes() []byte { return append([]byte(nil), s.b...) }

// Equal reports whether two shares are the same, in constant time.
func (s Share) Equal(o Share) bool { return subtle.ConstantTimeCompare(s.b, o.b) == 1 }

// Zero overwrites the share's bytes.
func (s Share) Zero() { clear(s.b) }

// String never shows the share.
func (Share) String() string { return "shamir.Share(REDACTED)" }

// GoString never shows the share.
func (Share) GoString() string { return "shamir.Share(REDACTED)" }

// LogValue never shows the share.
func (Share) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// ShareFromBytes returns a share from its bytes (secret bytes then x),
// copying them.
func ShareFromBytes(b []byte) (Share, error) {
	if len(b) < 2 || b[len(b)-1] == 0 {
		return Share{}, ErrInvalidShare
	}
	return Share{b: append([]byte(nil), b...)}, nil
}

// ParseShare decodes a share's text form; surrounding white space is
// ignored.
func ParseShare(text []byte) (Share, error) {
	t := strings.TrimSpace(string(text))
	if len(t) == 0 || len(t) > MaxShareText {
		return Share{}, fmt.Errorf("%w: expected base64 text of at most %d characters", ErrInvalidShare, MaxShareText)
	}
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(t)))
	n, err := base64.StdEncoding.Decode(raw, []byte(t))
	defer clear(raw)
	if err != nil {
		return Share{}, fmt.Errorf("%w: not base64", ErrInvalidShare)
	}
	s, err := ShareFromBytes(raw[:n])
	if err != nil {
		return Share{}, fmt.Errorf("%w: too short or x is zero", ErrInvalidShare)
	}
	return s, nil
}

// Split splits secret into n shares, any k of which rebuild it. 2 <= k <= n
// <= MaxShares.
func Split(secret []byte, n, k int) ([]Share, error) {
	return split(rand.Reader, secret, n, k)
}

func split(r io.Reader, secret []byte, n, k int) ([]Share, error) {
	switch {
	case len(secret) == 0:
		return nil, errors.New("shamir: empty secret")
	case k < 2:
		return nil, errors.New("shamir: threshold must be at least 2")
	case n < k:
		return nil, errors.New("shamir: shares must be at least the threshold")
	case n > MaxShares:
		return nil, fmt.Errorf("shamir: at most %d shares", MaxShares)
	}
	shares := make([]Share, n)
	for i := range shares {
		b := make([]byte, len(secret)+1)
		b[len(secret)] = byte(i + 1)
		shares[i] = Share{b: b}
	}
	coeffs := make([]byte, k)
	defer clear(coeffs)
	for j, s := range secret {
		coeffs[0] = s
		if _, err := io.ReadFull(r, coeffs[1:]); err != nil {
			return nil, fmt.Errorf("shamir: random coefficients: %w", err)
		}
		for i := range shares {
			shares[i].b[j] = eval(coeffs, byte(i+1))
		}
	}
	return shares, nil
}

// eval evaluates the polynomial with coefficients c (constant first) at x
// by Horner's rule.
func eval(c []byte, x byte) byte {
	var y byte
	for i := len(c) - 1; i >= 0; i-- {
		y = mul(y, x) ^ c[i]
	}
	return y
}

// Combine rebuilds the secret from shares. Given at least the threshold of
// one split's shares it returns the secret; given fewer, or shares of
// different splits, it returns bytes unrelated to the secret: callers must
// check the result (for example by opening something sealed with it).
func Combine(shares []Share) ([]byte, error) {
	if len(shares) < 2 {
		return nil, errors.New("shamir: at least two shares are needed")
	}
	size := len(shares[0].b)
	xs := make([]byte, len(shares))
	for i, s := range shares {
		if len(s.b) != size || size < 2 || s.X() == 0 {
			return nil, fmt.Errorf("%w: shares differ in length or are malformed", ErrInvalidShare)
		}
		xs[i] = s.X()
		for _, x := range xs[:i] {
			if x == xs[i] {
				return nil, fmt.Errorf("%w: two shares have the same point", ErrInvalidShare)
			}
		}
	}
	// Lagrange basis at 0: l_i = prod_{j!=i} x_j / (x_j - x_i); in
	// GF(2^8) subtraction is xor.
	basis := make([]byte, len(shares))
	for i := range shares {
		num, den := byte(1), byte(1)
		for j := range shares {
			if i == j {
				continue
			}
			num = mul(num, xs[j])
			den = mul(den, xs[j]^xs[i])
		}
		basis[i] = mul(num, inv(den))
	}
	secret := make([]byte, size-1)
	for k := range secret {
		var v byte
		for i, s := range shares {
			v ^= mul(s.b[k], basis[i])
		}
		secret[k] = v
	}
	return secret, nil
}

// mul multiplies in GF(2^8) modulo x^8+x^4+x^3+x+1, in constant time.
func mul(a, b byte) byte {
	var p byte
	for range 8 {
		p ^= a & -(b & 1)
		hi := a >> 7
		a = a<<1 ^ 0x1b&-hi
		b >>= 1
	}
	return p
}

// inv returns a^254, the inverse of a non-zero a (0 maps to 0).
func inv(a byte) byte {
	// a^254 = a^(2+4+8+16+32+64+128).
	r := byte(1)
	sq := a
	for range 7 {
		sq = mul(sq, sq)
		r = mul(r, sq)
	}
	return r
}
