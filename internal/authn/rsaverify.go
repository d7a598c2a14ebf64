package authn

import (
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"sync"

	"filippo.io/bigmod"
)

// RSA verification of request signatures, with the modulus precomputed per
// key. crypto/rsa rebuilds the modulus (R² mod N) on every VerifyPKCS1v15
// call, a third of the cost of verifying the signature that every request
// carries. filippo.io/bigmod is the same constant-time arithmetic that
// crypto/rsa uses, published as a module; the check itself is the one
// crypto/rsa makes: the signature is as long as the modulus and smaller
// than it, and s^e mod N equals the EMSA-PKCS1-v1_5 encoding of the SHA-256
// digest, compared in constant time. FuzzVerifySHA256 holds it to
// crypto/rsa's answers.

// sha256DigestInfo is the DER prefix of a SHA-256 DigestInfo (RFC 8017 9.2).
var sha256DigestInfo = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

var errBadSignature = errors.New("signature does not verify")

// moduli caches the precomputed modulus of each public key the verifier
// meets. Keys are pointers: the identity and token caches hand out the same
// *rsa.PublicKey for a key until it changes. The map is bounded by being
// emptied when full.
type moduli struct {
	mu sync.Mutex
	m  map[*rsa.PublicKey]*bigmod.Modulus
}

const maxModuli = 4096

func (c *moduli) get(pub *rsa.PublicKey) (*bigmod.Modulus, error) {
	c.mu.Lock()
	m, ok := c.m[pub]
	c.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := bigmod.NewModulus(pub.N.Bytes())
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxModuli {
		c.m = map[*rsa.PublicKey]*bigmod.Modulus{}
	}
	c.m[pub] = m
	c.mu.Unlock()
	return m, nil
}

// verifySHA256 checks an RSASSA-PKCS1-v1_5 signature over a SHA-256 digest,
// as rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig) does.
func (c *moduli) verifySHA256(pub *rsa.PublicKey, digest, sig []byte) error {
	if pub == nil || pub.N == nil || pub.E < 2 || len(digest) != 32 {
		return errBadSignature
	}
	k := (pub.N.BitLen() + 7) / 8
	if len(sig) != k || k < len(sha256DigestInfo)+len(digest)+11 {
		return errBadSignature
	}
	n, err := c.get(pub)
	if err != nil {
		return errBadSignature
	}
	s, err := bigmod.NewNat().SetBytes(sig, n)
	if err != nil { // s >= N
		return errBadSignature
	}
	em := bigmod.NewNat().ExpShortVarTime(s, uint(pub.E), n).Bytes(n)
	want := make([]byte, k)
	want[1] = 1
	tail := len(sha256DigestInfo) + len(digest)
	for i := 2; i < k-tail-1; i++ {
		want[i] = 0xff
	}
	copy(want[k-tail:], sha256DigestInfo)
	copy(want[k-len(digest):], digest)
	if subtle.ConstantTimeCompare(em, want) != 1 {
		return errBadSignature
	}
	return nil
}
