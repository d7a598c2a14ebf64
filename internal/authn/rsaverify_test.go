package authn

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"sync"
	"testing"
)

var (
	fuzzKeysOnce sync.Once
	fuzzKeys     []*rsa.PrivateKey
)

// rsaTestKeys are RSA keys of the sizes API keys have, exponent 65537.
func rsaTestKeys(t testing.TB) []*rsa.PrivateKey {
	fuzzKeysOnce.Do(func() {
		for _, bits := range []int{1024, 2048, 3072} {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				panic(err)
			}
			fuzzKeys = append(fuzzKeys, k)
		}
	})
	return fuzzKeys
}

func sign(t testing.TB, k *rsa.PrivateKey, msg []byte) ([]byte, []byte) {
	d := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return d[:], sig
}

func TestVerifySHA256AgreesWithCryptoRSA(t *testing.T) {
	var c moduli
	for _, k := range rsaTestKeys(t) {
		pub := &k.PublicKey
		digest, sig := sign(t, k, []byte("GET /20190301/secretbundles/x"))
		if err := c.verifySHA256(pub, digest, sig); err != nil {
			t.Fatalf("%d-bit: a good signature failed: %v", pub.N.BitLen(), err)
		}
		// Cached modulus: the second verification takes the other path.
		if err := c.verifySHA256(pub, digest, sig); err != nil {
			t.Fatalf("%d-bit: a good signature failed the second time: %v", pub.N.BitLen(), err)
		}
		other := sha256.Sum256([]byte("GET /20190301/secretbundles/y"))
		bigger := new(big.Int).Add(new(big.Int).SetBytes(sig), pub.N).Bytes() // sig + N: same value mod N
		nPlusSig := make([]byte, len(sig))
		copy(nPlusSig, pub.N.Bytes()) // exactly N
		for name, tc := range map[string]struct{ digest, sig []byte }{
			"other digest":    {other[:], sig},
			"short signature": {digest, sig[1:]},
			"long signature":  {digest, append([]byte{0}, sig...)},
			"signature + N":   {digest, bigger},
			"signature = N":   {digest, nPlusSig},
			"zero signature":  {digest, make([]byte, len(sig))},
			"short digest":    {digest[:31], sig},
		} {
			got := c.verifySHA256(pub, tc.digest, tc.sig)
			want := rsa.VerifyPKCS1v15(pub, crypto.SHA256, tc.digest, tc.sig)
			if (got == nil) != (want == nil) || got == nil {
				t.Errorf("%d-bit, %s: verifySHA256 = %v, crypto/rsa = %v (both must refuse)", pub.N.BitLen(), name, got, want)
			}
		}
	}
	if err := c.verifySHA256(nil, make([]byte, 32), make([]byte, 256)); err == nil {
		t.Error("nil key verified")
	}
}

// FuzzVerifySHA256 flips and replaces bytes of good signatures and digests:
// the verifier accepts exactly what crypto/rsa accepts.
func FuzzVerifySHA256(f *testing.F) {
	f.Add(uint8(0), []byte("msg"), uint16(0), byte(0), false)
	f.Add(uint8(1), []byte("other"), uint16(5), byte(1), true)
	f.Add(uint8(2), []byte(""), uint16(300), byte(0xff), false)
	var c moduli
	f.Fuzz(func(t *testing.T, which uint8, msg []byte, at uint16, x byte, inDigest bool) {
		keys := rsaTestKeys(t)
		k := keys[int(which)%len(keys)]
		digest, sig := sign(t, k, msg)
		if inDigest {
			digest[int(at)%len(digest)] ^= x
		} else {
			sig[int(at)%len(sig)] ^= x
		}
		got := c.verifySHA256(&k.PublicKey, digest, sig)
		want := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest, sig)
		if (got == nil) != (want == nil) {
			t.Fatalf("verifySHA256 = %v, crypto/rsa = %v", got, want)
		}
	})
}

func BenchmarkVerifySHA256(b *testing.B) {
	k := rsaTestKeys(b)[1]
	digest, sig := sign(b, k, []byte("request"))
	var c moduli
	b.Run("precomputed", func(b *testing.B) {
		for b.Loop() {
			if err := c.verifySHA256(&k.PublicKey, digest, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("crypto/rsa", func(b *testing.B) {
		for b.Loop() {
			if err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}
