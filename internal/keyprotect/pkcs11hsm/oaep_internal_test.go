//go:build cgo

package pkcs11hsm

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"math/big"
	"testing"
)

// oaepDecode must agree with crypto/rsa on what EncryptOAEP produces, and
// refuse anything else.
func TestOAEPDecodeMatchesStdlib(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	raw := func(ct []byte) []byte {
		m := new(big.Int).Exp(new(big.Int).SetBytes(ct), k.D, k.N)
		return m.FillBytes(make([]byte, k.Size()))
	}
	for _, newHash := range []func() hash.Hash{sha1.New, sha256.New} {
		for _, n := range []int{0, 1, 32, k.Size() - 2*newHash().Size() - 2} {
			msg := bytes.Repeat([]byte{0x5a}, n)
			ct, err := rsa.EncryptOAEP(newHash(), rand.Reader, &k.PublicKey, msg, nil)
			if err != nil {
				t.Fatal(err)
			}
			em := raw(ct)
			got, err := oaepDecode(newHash(), em)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("oaepDecode(%d bytes) = %v", n, err)
			}
			for _, i := range []int{0, 1, 40, len(em) - 1} {
				bad := append([]byte(nil), em...)
				bad[i] ^= 1
				if _, err := oaepDecode(newHash(), bad); err == nil {
					t.Fatalf("tampered byte %d decoded", i)
				}
			}
		}
	}
	ct, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, &k.PublicKey, []byte("x"), nil)
	if _, err := oaepDecode(sha256.New(), raw(ct)); err == nil {
		t.Fatal("SHA-1 OAEP decoded as SHA-256")
	}
	if _, err := oaepDecode(sha256.New(), make([]byte, 10)); err == nil {
		t.Fatal("short input decoded")
	}
}
