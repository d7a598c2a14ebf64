package protecttest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-vault/coffer/internal/keyprotect"
)

// Shapes lists every key shape OCI allows, in canonical form.
func Shapes() []keyprotect.Shape {
	return []keyprotect.Shape{
		{Algorithm: keyprotect.AES, Length: 16},
		{Algorithm: keyprotect.AES, Length: 24},
		{Algorithm: keyprotect.AES, Length: 32},
		{Algorithm: keyprotect.RSA, Length: 256},
		{Algorithm: keyprotect.RSA, Length: 384},
		{Algorithm: keyprotect.RSA, Length: 512},
		{Algorithm: keyprotect.ECDSA, Length: 32, CurveID: keyprotect.NISTP256},
		{Algorithm: keyprotect.ECDSA, Length: 48, CurveID: keyprotect.NISTP384},
		{Algorithm: keyprotect.ECDSA, Length: 66, CurveID: keyprotect.NISTP521},
	}
}

type version struct {
	v   keyprotect.Version
	m   keyprotect.Material
	h   *keyprotect.Handle
	pub crypto.PublicKey
}

type suite struct {
	p        keyprotect.Protection
	ctx      context.Context
	versions map[keyprotect.Shape]*version
	n        int
}

// Run checks p against everything a Protection must do: every shape, every
// operation, the negatives (wrong associated data, tampered and truncated
// ciphertexts, another version's ciphertext, operations an algorithm does
// not allow, oversize messages, bad digests), import of material made with
// the standard library, the vault wrapping-key round trip, export (or its
// refusal) and destruction. newProtection is called once; the suite makes
// one key version of every shape and reuses it.
func Run(t *testing.T, newProtection func(t *testing.T) keyprotect.Protection) {
	s := &suite{p: newProtection(t), ctx: context.Background(), versions: map[keyprotect.Shape]*version{}}
	if m := s.p.Mode(); m != keyprotect.ModeSoftware && m != keyprotect.ModeHSM {
		t.Fatalf("Mode() = %q", m)
	}
	if keyprotect.IsEmulated(s.p) && s.p.Mode() != keyprotect.ModeHSM {
		t.Fatalf("an emulated protection must report Mode HSM, got %s", s.p.Mode())
	}
	t.Run("Generate", s.testGenerate)
	if t.Failed() {
		return
	}
	t.Run("AES", s.testAES)
	t.Run("DataKey", s.testDataKey)
	t.Run("RSAEncryption", s.testRSAEncryption)
	t.Run("Sign", s.testSign)
	t.Run("SignNegative", s.testSignNegative)
	t.Run("ECDSANoEncryption", s.testECDSANoEncryption)
	t.Run("WrongVersion", s.testWrongVersion)
	t.Run("BlobBinding", s.testBlobBinding)
	t.Run("Import", s.testImport)
	t.Run("ImportNegative", s.testImportNegative)
	t.Run("WrappingKey", s.testWrappingKey)
	t.Run("Export", s.testExport)
	t.Run("Concurrent", s.testConcurrent)
	t.Run("Destroy", s.testDestroy)
}

func (s *suite) newID() string {
	s.n++
	return fmt.Sprintf("ocid1.keyversion.oc1.test.conformance%04d", s.n)
}

func (s *suite) generate(t *testing.T, shape keyprotect.Shape) *version {
	t.Helper()
	id := s.newID()
	m, err := s.p.Generate(s.ctx, id, shape)
	if err != nil {
		t.Fatalf("Generate(%s): %v", shape, err)
	}
	return s.open(t, id, shape, m)
}

func (s *suite) open(t *testing.T, id string, shape keyprotect.Shape, m keyprotect.Material) *version {
	t.Helper()
	if len(m.Blob) == 0 {
		t.Fatalf("%s: empty blob", shape)
	}
	v := keyprotect.Version{ID: id, Shape: shape, Blob: m.Blob}
	h, err := keyprotect.Open(s.ctx, s.p, v)
	if err != nil {
		t.Fatalf("Open(%s): %v", shape, err)
	}
	out := &version{v: v, m: m, h: h}
	if shape.Asymmetric() {
		if m.PublicKey == nil {
			t.Fatalf("%s: no public key", shape)
		}
		if !bytes.Equal(h.PublicKey(), m.PublicKey) {
			t.Fatalf("%s: handle public key differs from the generated one", shape)
		}
		pub, err := x509.ParsePKIXPublicKey(m.PublicKey)
		if err != nil {
			t.Fatalf("%s: public key: %v", shape, err)
		}
		out.pub = pub
	} else if m.PublicKey != nil {
		t.Fatalf("%s: AES key has a public key", shape)
	}
	return out
}

func (s *suite) testGenerate(t *testing.T) {
	for _, shape := range Shapes() {
		v := s.generate(t, shape)
		switch pub := v.pub.(type) {
		case *rsa.PublicKey:
			if pub.Size() != shape.Length {
				t.Errorf("%s: modulus is %d bytes", shape, pub.Size())
			}
		case *ecdsa.PublicKey:
			if pub.Curve != shape.Curve() {
				t.Errorf("%s: curve %s", shape, pub.Curve.Params().Name)
			}
		}
		s.versions[shape] = v
	}
	// Two generations of the same shape give different keys.
	a, b := s.generate(t, Shapes()[0]), s.versions[Shapes()[0]]
	ct, err := a.h.Encrypt("", []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ct = retarget(ct, b.v.ID)
	if _, _, err := b.h.Decrypt("", ct, nil); !errors.Is(err, keyprotect.ErrDecryptionFailed) {
		t.Errorf("two generated AES keys decrypt each other's data: %v", err)
	}
	if _, err := s.p.Generate(s.ctx, s.newID(), keyprotect.Shape{Algorithm: keyprotect.AES, Length: 256}); !errors.Is(err, keyprotect.ErrInvalidShape) {
		t.Errorf("Generate(AES-256 bytes) = %v, want ErrInvalidShape", err)
	}
}

func (s *suite) aesVersions() []*version {
	return []*version{s.versions[Shapes()[0]], s.versions[Shapes()[1]], s.versions[Shapes()[2]]}
}

func (s *suite) rsaVersions() []*version {
	return []*version{s.versions[Shapes()[3]], s.versions[Shapes()[4]], s.versions[Shapes()[5]]}
}

func (s *suite) ecVersions() []*version {
	return []*version{s.versions[Shapes()[6]], s.versions[Shapes()[7]], s.versions[Shapes()[8]]}
}

// retarget rewrites the key version ID in a ciphertext's header.
func retarget(ct []byte, id string) []byte {
	n := int(binary.BigEndian.Uint16(ct[2:4]))
	out := append([]byte{ct[0], ct[1]}, binary.BigEndian.AppendUint16(nil, uint16(len(id)))...)
	out = append(out, id...)
	return append(out, ct[4+n:]...)
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
		return
	}
	if keyprotect.KindOf(err) != keyprotect.KindInvalidParameter {
		t.Errorf("%s: KindOf = %v, want KindInvalidParameter", what, keyprotect.KindOf(err))
	}
}

func (s *suite) testAES(t *testing.T) {
	aad := keyprotect.AssociatedData{"secret": "ocid1.secret.x", "version": "3"}
	for _, v := range s.aesVersions() {
		t.Run(v.v.Shape.String(), func(t *testing.T) {
			for _, pt := range [][]byte{{}, []byte("hello"), bytes.Repeat([]byte{7}, keyprotect.MaxPlaintextSize)} {
				for _, a := range []keyprotect.AssociatedData{nil, aad} {
					ct, err := v.h.Encrypt(keyprotect.AES256GCM, pt, a)
					if err != nil {
						t.Fatalf("Encrypt: %v", err)
					}
					info, err := keyprotect.ParseCiphertext(ct)
					if err != nil || info.KeyVersionID != v.v.ID || info.Algorithm != keyprotect.AES256GCM {
						t.Fatalf("ParseCiphertext = %+v, %v", info, err)
					}
					got, alg, err := v.h.Decrypt("", ct, a)
					if err != nil || !bytes.Equal(got.Bytes(), pt) || alg != keyprotect.AES256GCM {
						t.Fatalf("Decrypt = %d bytes, %s, %v", got.Len(), alg, err)
					}
				}
			}
			ct, err := v.h.Encrypt("", []byte("attack at dawn"), aad)
			if err != nil {
				t.Fatal(err)
			}
			ct2, _ := v.h.Encrypt("", []byte("attack at dawn"), aad)
			if bytes.Equal(ct, ct2) {
				t.Error("two encryptions gave the same ciphertext: nonce reuse")
			}
			_, _, err = v.h.Decrypt("", ct, keyprotect.AssociatedData{"secret": "ocid1.secret.x", "version": "4"})
			wantErr(t, "wrong associated data", err, keyprotect.ErrDecryptionFailed)
			_, _, err = v.h.Decrypt("", ct, nil)
			wantErr(t, "missing associated data", err, keyprotect.ErrDecryptionFailed)
			_, _, err = v.h.Decrypt(keyprotect.RSAOAEPSHA256, ct, aad)
			wantErr(t, "algorithm mismatch", err, keyprotect.ErrInvalidParameter)
			// Flip every byte in turn: never a success, never a panic.
			for i := range ct {
				bad := append([]byte(nil), ct...)
				bad[i] ^= 0x01
				if _, _, err := v.h.Decrypt("", bad, aad); err == nil {
					t.Fatalf("tampered byte %d decrypted", i)
				} else if keyprotect.KindOf(err) != keyprotect.KindInvalidParameter {
					t.Fatalf("tampered byte %d: %v is not KindInvalidParameter", i, err)
				}
			}
			for n := 0; n < len(ct); n++ {
				if _, _, err := v.h.Decrypt("", ct[:n], aad); err == nil {
					t.Fatalf("truncated to %d decrypted", n)
				}
			}
			_, _, err = v.h.Decrypt("", ct[:len(ct)-1], aad)
			wantErr(t, "truncated by one byte", err, keyprotect.ErrDecryptionFailed)
			_, _, err = v.h.Decrypt("", ct[:len(ct)-len("attack at dawn")-1], aad)
			wantErr(t, "truncated into the tag", err, keyprotect.ErrMalformedCiphertext)
			_, err = v.h.Encrypt("", make([]byte, keyprotect.MaxPlaintextSize+1), nil)
			wantErr(t, "oversize plaintext", err, keyprotect.ErrInvalidParameter)
			_, err = v.h.Encrypt(keyprotect.RSAOAEPSHA256, []byte("x"), nil)
			wantErr(t, "RSA-OAEP with AES key", err, keyprotect.ErrUnsupportedOperation)
			_, err = v.h.Encrypt("DES", []byte("x"), nil)
			wantErr(t, "unknown algorithm", err, keyprotect.ErrInvalidParameter)
			_, err = v.h.Sign(keyprotect.SHA256RSAPKCS1V15, keyprotect.MessageRaw, []byte("x"))
			wantErr(t, "Sign with AES key", err, keyprotect.ErrUnsupportedOperation)
			_, err = v.h.Verify(keyprotect.ECDSASHA256, keyprotect.MessageRaw, []byte("x"), []byte("sig"))
			wantErr(t, "Verify with AES key", err, keyprotect.ErrUnsupportedOperation)
		})
	}
}

func (s *suite) testDataKey(t *testing.T) {
	aad := keyprotect.AssociatedData{"purpose": "dek"}
	for _, v := range s.aesVersions() {
		for _, n := range []int{16, 24, 32} {
			dek, ct, err := v.h.GenerateDataKey(keyprotect.Shape{Algorithm: keyprotect.AES, Length: n}, aad)
			if err != nil {
				t.Fatalf("%s: GenerateDataKey(%d): %v", v.v.Shape, n, err)
			}
			if dek.Len() != n {
				t.Fatalf("data key is %d bytes, want %d", dek.Len(), n)
			}
			got, _, err := v.h.Decrypt("", ct, aad)
			if err != nil || !got.Equal(dek) {
				t.Fatalf("%s: data key does not decrypt back: %v", v.v.Shape, err)
			}
			if fmt.Sprint(dek) == fmt.Sprint(dek.Bytes()) {
				t.Fatal("SecretMaterial prints its bytes")
			}
		}
		for _, bad := range []keyprotect.Shape{{Algorithm: keyprotect.AES, Length: 20}, {Algorithm: keyprotect.RSA, Length: 256}, {Algorithm: keyprotect.AES, Length: 256}} {
			_, _, err := v.h.GenerateDataKey(bad, nil)
			wantErr(t, "data key shape "+bad.String(), err, keyprotect.ErrInvalidShape)
		}
	}
	for _, v := range append(s.rsaVersions()[:1], s.ecVersions()[:1]...) {
		_, _, err := v.h.GenerateDataKey(keyprotect.Shape{Algorithm: keyprotect.AES, Length: 32}, nil)
		wantErr(t, "data key from "+v.v.Shape.String(), err, keyprotect.ErrUnsupportedOperation)
	}
}

func (s *suite) testRSAEncryption(t *testing.T) {
	for _, v := range s.rsaVersions() {
		pub := v.pub.(*rsa.PublicKey)
		for _, alg := range []keyprotect.EncryptionAlgorithm{keyprotect.RSAOAEPSHA1, keyprotect.RSAOAEPSHA256} {
			hLen := sha256.Size
			if alg == keyprotect.RSAOAEPSHA1 {
				hLen = sha1.Size
			}
			max := pub.Size() - 2*hLen - 2
			for _, pt := range [][]byte{[]byte("a"), bytes.Repeat([]byte{9}, max)} {
				ct, err := v.h.Encrypt(alg, pt, nil)
				if err != nil {
					t.Fatalf("%s %s: Encrypt: %v", v.v.Shape, alg, err)
				}
				info, err := keyprotect.ParseCiphertext(ct)
				if err != nil || info.KeyVersionID != v.v.ID || info.Algorithm != alg {
					t.Fatalf("ParseCiphertext = %+v, %v", info, err)
				}
				got, galg, err := v.h.Decrypt("", ct, nil)
				if err != nil || !bytes.Equal(got.Bytes(), pt) || galg != alg {
					t.Fatalf("%s %s: Decrypt: %v", v.v.Shape, alg, err)
				}
				bad := append([]byte(nil), ct...)
				bad[len(bad)-1] ^= 1
				_, _, err = v.h.Decrypt("", bad, nil)
				wantErr(t, "tampered RSA ciphertext", err, keyprotect.ErrDecryptionFailed)
			}
			_, err := v.h.Encrypt(alg, make([]byte, max+1), nil)
			wantErr(t, "RSA plaintext too long", err, keyprotect.ErrInvalidParameter)
			// A client encrypting with the public key alone (raw OAEP).
			h := sha256.New()
			if alg == keyprotect.RSAOAEPSHA1 {
				h = sha1.New()
			}
			raw, err := rsa.EncryptOAEP(h, rand.Reader, pub, []byte("from a client"), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := v.h.Decrypt(alg, raw, nil)
			if err != nil || string(got.Bytes()) != "from a client" {
				t.Fatalf("%s %s: raw OAEP ciphertext: %v", v.v.Shape, alg, err)
			}
		}
		_, err := v.h.Encrypt(keyprotect.RSAOAEPSHA256, []byte("x"), keyprotect.AssociatedData{"a": "b"})
		wantErr(t, "associated data with RSA", err, keyprotect.ErrInvalidParameter)
		_, err = v.h.Encrypt(keyprotect.AES256GCM, []byte("x"), nil)
		wantErr(t, "AES-GCM with RSA key", err, keyprotect.ErrUnsupportedOperation)
		ct, err := v.h.Encrypt("", []byte("default"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if info, _ := keyprotect.ParseCiphertext(ct); info.Algorithm != keyprotect.RSAOAEPSHA256 {
			t.Errorf("default RSA algorithm = %s", info.Algorithm)
		}
		_, _, err = v.h.Decrypt("", ct[:len(ct)-1], nil)
		wantErr(t, "truncated RSA ciphertext", err, keyprotect.ErrMalformedCiphertext)
	}
}

func (s *suite) testSign(t *testing.T) {
	msg := []byte("the message to be signed")
	for _, v := range append(s.rsaVersions(), s.ecVersions()...) {
		for _, alg := range keyprotect.SigningAlgorithms() {
			if (v.v.Shape.Algorithm == keyprotect.RSA) != (alg[0] == 'S') {
				continue
			}
			h := alg.Hash().New()
			h.Write(msg)
			digest := h.Sum(nil)
			for _, mt := range []keyprotect.MessageType{"", keyprotect.MessageRaw, keyprotect.MessageDigest} {
				in := msg
				if mt == keyprotect.MessageDigest {
					in = digest
				}
				sig, err := v.h.Sign(alg, mt, in)
				if err != nil {
					t.Fatalf("%s %s %s: Sign: %v", v.v.Shape, alg, mt, err)
				}
				ok, err := v.h.Verify(alg, mt, in, sig)
				if err != nil || !ok {
					t.Fatalf("%s %s %s: Verify = %v, %v", v.v.Shape, alg, mt, ok, err)
				}
				ok, err = keyprotect.Verify(v.v.Shape, v.m.PublicKey, alg, mt, append([]byte("x"), in[1:]...), sig)
				if err != nil || ok {
					t.Fatalf("%s %s %s: Verify(altered message) = %v, %v", v.v.Shape, alg, mt, ok, err)
				}
				// The standard library agrees.
				if !stdlibVerify(v.pub, alg, digest, sig) {
					t.Fatalf("%s %s %s: the standard library rejects the signature", v.v.Shape, alg, mt)
				}
			}
		}
	}
}

func stdlibVerify(pub crypto.PublicKey, alg keyprotect.SigningAlgorithm, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if bytes.Contains([]byte(alg), []byte("PSS")) {
			return rsa.VerifyPSS(k, alg.Hash(), digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(k, alg.Hash(), digest, sig) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	}
	return false
}

func (s *suite) testSignNegative(t *testing.T) {
	r, e := s.rsaVersions()[0], s.ecVersions()[0]
	_, err := r.h.Sign(keyprotect.ECDSASHA256, keyprotect.MessageRaw, []byte("x"))
	wantErr(t, "ECDSA alg on RSA key", err, keyprotect.ErrUnsupportedOperation)
	_, err = e.h.Sign(keyprotect.SHA256RSAPKCSPSS, keyprotect.MessageRaw, []byte("x"))
	wantErr(t, "RSA alg on ECDSA key", err, keyprotect.ErrUnsupportedOperation)
	_, err = r.h.Sign("SHA_1_RSA", keyprotect.MessageRaw, []byte("x"))
	wantErr(t, "unknown signing algorithm", err, keyprotect.ErrInvalidParameter)
	_, err = r.h.Sign(keyprotect.SHA256RSAPKCS1V15, "HEX", []byte("x"))
	wantErr(t, "unknown message type", err, keyprotect.ErrInvalidParameter)
	for _, v := range []*version{r, e} {
		alg := keyprotect.SHA256RSAPKCS1V15
		if v == e {
			alg = keyprotect.ECDSASHA256
		}
		_, err = v.h.Sign(alg, keyprotect.MessageRaw, make([]byte, keyprotect.MaxMessageSize))
		if err != nil {
			t.Errorf("%s: message of exactly %d bytes: %v", v.v.Shape, keyprotect.MaxMessageSize, err)
		}
		_, err = v.h.Sign(alg, keyprotect.MessageRaw, make([]byte, keyprotect.MaxMessageSize+1))
		wantErr(t, "oversize message", err, keyprotect.ErrMessageTooLarge)
		_, err = v.h.Verify(alg, keyprotect.MessageRaw, make([]byte, keyprotect.MaxMessageSize+1), []byte("sig"))
		wantErr(t, "oversize message (verify)", err, keyprotect.ErrMessageTooLarge)
		for _, n := range []int{0, 20, 31, 33, 48} {
			_, err = v.h.Sign(alg, keyprotect.MessageDigest, make([]byte, n))
			wantErr(t, fmt.Sprintf("%d-byte digest", n), err, keyprotect.ErrInvalidDigest)
			_, err = v.h.Verify(alg, keyprotect.MessageDigest, make([]byte, n), []byte("sig"))
			wantErr(t, fmt.Sprintf("%d-byte digest (verify)", n), err, keyprotect.ErrInvalidDigest)
		}
		ok, err := v.h.Verify(alg, keyprotect.MessageRaw, []byte("x"), []byte("garbage"))
		if ok || err != nil {
			t.Errorf("%s: garbage signature: %v, %v", v.v.Shape, ok, err)
		}
	}
}

func (s *suite) testECDSANoEncryption(t *testing.T) {
	for _, v := range s.ecVersions() {
		_, err := v.h.Encrypt("", []byte("x"), nil)
		wantErr(t, "Encrypt with ECDSA", err, keyprotect.ErrUnsupportedOperation)
		ct, _ := s.aesVersions()[0].h.Encrypt("", []byte("x"), nil)
		_, _, err = v.h.Decrypt("", retarget(ct, v.v.ID), nil)
		wantErr(t, "Decrypt with ECDSA", err, keyprotect.ErrUnsupportedOperation)
	}
}

func (s *suite) testWrongVersion(t *testing.T) {
	a, b := s.aesVersions()[2], s.aesVersions()[0]
	ct, err := a.h.Encrypt("", []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = b.h.Decrypt("", ct, nil)
	wantErr(t, "another version's ciphertext", err, keyprotect.ErrWrongKeyVersion)
	_, _, err = b.h.Decrypt("", retarget(ct, b.v.ID), nil)
	wantErr(t, "another version's ciphertext, relabelled", err, keyprotect.ErrDecryptionFailed)
	r1, r2 := s.rsaVersions()[0], s.generate(t, s.rsaVersions()[0].v.Shape)
	ct, err = r1.h.Encrypt("", []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r2.h.Decrypt("", ct, nil)
	wantErr(t, "another RSA version's ciphertext", err, keyprotect.ErrWrongKeyVersion)
	_, _, err = r2.h.Decrypt("", retarget(ct, r2.v.ID), nil)
	wantErr(t, "another RSA version's ciphertext, relabelled", err, keyprotect.ErrDecryptionFailed)
}

func (s *suite) testBlobBinding(t *testing.T) {
	for _, v := range []*version{s.aesVersions()[0], s.rsaVersions()[0], s.ecVersions()[0]} {
		other := v.v
		other.ID = v.v.ID + "-other"
		if _, err := keyprotect.Open(s.ctx, s.p, other); err == nil {
			t.Errorf("%s: blob opened under another key version ID", v.v.Shape)
		}
		reshaped := v.v
		reshaped.Shape = keyprotect.Shape{Algorithm: keyprotect.AES, Length: 16}
		if reshaped.Shape == v.v.Shape {
			reshaped.Shape.Length = 32
		}
		if _, err := keyprotect.Open(s.ctx, s.p, reshaped); err == nil {
			t.Errorf("%s: blob opened as %s", v.v.Shape, reshaped.Shape)
		}
		garbage := v.v
		garbage.Blob = []byte{0xff, 1, 2, 3}
		if _, err := keyprotect.Open(s.ctx, s.p, garbage); err == nil {
			t.Errorf("%s: garbage blob opened", v.v.Shape)
		}
	}
}

func (s *suite) importMaterial(t *testing.T, shape keyprotect.Shape, material []byte) *version {
	t.Helper()
	id := s.newID()
	m, err := s.p.Import(s.ctx, id, shape, keyprotect.NewSecretMaterial(append([]byte(nil), material...)))
	if err != nil {
		t.Fatalf("Import(%s): %v", shape, err)
	}
	return s.open(t, id, shape, m)
}

// testImport imports material made with the standard library and checks
// the protection uses it: ciphertexts open with the stdlib, signatures
// verify with the stdlib public key, stdlib ciphertexts decrypt.
func (s *suite) testImport(t *testing.T) {
	for _, n := range []int{16, 24, 32} {
		key := make([]byte, n)
		rand.Read(key)
		v := s.importMaterial(t, keyprotect.Shape{Algorithm: keyprotect.AES, Length: n}, key)
		aad := keyprotect.AssociatedData{"k": "v"}
		ct, err := v.h.Encrypt("", []byte("imported"), aad)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := StdlibOpenGCM(key, ct, aad)
		if err != nil || string(pt) != "imported" {
			t.Fatalf("AES-%d: stdlib cannot open the protection's ciphertext: %v", n, err)
		}
		ct2, err := StdlibSealGCM(key, v.v.ID, []byte("made by stdlib"), aad)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := v.h.Decrypt("", ct2, aad)
		if err != nil || string(got.Bytes()) != "made by stdlib" {
			t.Fatalf("AES-%d: protection cannot open a stdlib ciphertext: %v", n, err)
		}
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(rk)
	v := s.importMaterial(t, keyprotect.Shape{Algorithm: keyprotect.RSA, Length: 256}, der)
	if !v.pub.(*rsa.PublicKey).Equal(&rk.PublicKey) {
		t.Fatal("imported RSA key has another public key")
	}
	sig, err := v.h.Sign(keyprotect.SHA256RSAPKCSPSS, keyprotect.MessageRaw, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("m"))
	if err := rsa.VerifyPSS(&rk.PublicKey, crypto.SHA256, d[:], sig, nil); err != nil {
		t.Fatalf("stdlib rejects imported RSA key's signature: %v", err)
	}
	ct, err := v.h.Encrypt(keyprotect.RSAOAEPSHA256, []byte("to stdlib"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := rsa.DecryptOAEP(sha256.New(), nil, rk, ct[len(ct)-256:], nil)
	if err != nil || string(pt) != "to stdlib" {
		t.Fatalf("stdlib cannot decrypt: %v", err)
	}
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ = x509.MarshalPKCS8PrivateKey(ek)
	v = s.importMaterial(t, keyprotect.Shape{Algorithm: keyprotect.ECDSA, Length: 48, CurveID: keyprotect.NISTP384}, der)
	sig, err = v.h.Sign(keyprotect.ECDSASHA384, keyprotect.MessageRaw, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	d384 := crypto.SHA384.New()
	d384.Write([]byte("m"))
	if !ecdsa.VerifyASN1(&ek.PublicKey, d384.Sum(nil), sig) {
		t.Fatal("stdlib rejects imported ECDSA key's signature")
	}
}

func (s *suite) testImportNegative(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rk)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ek)
	for _, c := range []struct {
		name     string
		shape    keyprotect.Shape
		material []byte
	}{
		{"AES too short", keyprotect.Shape{Algorithm: keyprotect.AES, Length: 32}, make([]byte, 16)},
		{"AES too long", keyprotect.Shape{Algorithm: keyprotect.AES, Length: 16}, make([]byte, 32)},
		{"RSA size mismatch", keyprotect.Shape{Algorithm: keyprotect.RSA, Length: 384}, rsaDER},
		{"RSA garbage", keyprotect.Shape{Algorithm: keyprotect.RSA, Length: 256}, []byte("not a key")},
		{"RSA given EC", keyprotect.Shape{Algorithm: keyprotect.RSA, Length: 256}, ecDER},
		{"EC curve mismatch", keyprotect.Shape{Algorithm: keyprotect.ECDSA, Length: 48, CurveID: keyprotect.NISTP384}, ecDER},
		{"EC given RSA", keyprotect.Shape{Algorithm: keyprotect.ECDSA, Length: 32, CurveID: keyprotect.NISTP256}, rsaDER},
	} {
		_, err := s.p.Import(s.ctx, s.newID(), c.shape, keyprotect.NewSecretMaterial(c.material))
		wantErr(t, c.name, err, keyprotect.ErrInvalidMaterial)
	}
}

// testWrappingKey plays ImportKey end to end: the vault's wrapping key is an
// RSA-4096 key version of this protection; a client wraps material for its
// public key with both algorithms; UnwrapImport and Import take it in.
func (s *suite) testWrappingKey(t *testing.T) {
	wk := s.generate(t, keyprotect.WrappingKeyShape)
	pub, err := keyprotect.ParseRSAPublicKeyPEM(keyprotect.PublicKeyPEM(wk.m.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	aesKey := make([]byte, 32)
	rand.Read(aesKey)
	aesShape := keyprotect.Shape{Algorithm: keyprotect.AES, Length: 32}
	for _, alg := range []keyprotect.WrappingAlgorithm{keyprotect.RSAOAEPSHA256Wrap, keyprotect.RSAOAEPAESSHA256Wrap} {
		wrapped, err := keyprotect.Wrap(alg, pub, aesKey)
		if err != nil {
			t.Fatal(err)
		}
		m, err := keyprotect.UnwrapImport(wk.h, alg, wrapped, aesShape)
		if err != nil {
			t.Fatalf("%s: UnwrapImport: %v", alg, err)
		}
		v := s.importMaterial(t, aesShape, m.Bytes())
		ct, _ := v.h.Encrypt("", []byte("byok"), nil)
		if pt, err := StdlibOpenGCM(aesKey, ct, nil); err != nil || string(pt) != "byok" {
			t.Fatalf("%s: imported key is not the wrapped one: %v", alg, err)
		}
		bad := append([]byte(nil), wrapped...)
		bad[len(bad)-1] ^= 1
		_, err = keyprotect.UnwrapImport(wk.h, alg, bad, aesShape)
		wantErr(t, string(alg)+" tampered", err, keyprotect.ErrInvalidMaterial)
		_, err = keyprotect.UnwrapImport(wk.h, alg, wrapped, keyprotect.Shape{Algorithm: keyprotect.AES, Length: 16})
		wantErr(t, string(alg)+" shape mismatch", err, keyprotect.ErrInvalidMaterial)
		_, err = keyprotect.UnwrapImport(wk.h, alg, wrapped[:len(wrapped)-8], aesShape)
		wantErr(t, string(alg)+" truncated", err, keyprotect.ErrInvalidMaterial)
	}
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKCS8PrivateKey(rk)
	_, err = keyprotect.Wrap(keyprotect.RSAOAEPSHA256Wrap, pub, der)
	wantErr(t, "RSA key with RSA_OAEP_SHA256", err, keyprotect.ErrInvalidParameter)
	wrapped, err := keyprotect.Wrap(keyprotect.RSAOAEPAESSHA256Wrap, pub, der)
	if err != nil {
		t.Fatal(err)
	}
	rsaShape := keyprotect.Shape{Algorithm: keyprotect.RSA, Length: 256}
	m, err := keyprotect.UnwrapImport(wk.h, keyprotect.RSAOAEPAESSHA256Wrap, wrapped, rsaShape)
	if err != nil {
		t.Fatalf("RSA import: %v", err)
	}
	v := s.importMaterial(t, rsaShape, m.Bytes())
	if !v.pub.(*rsa.PublicKey).Equal(&rk.PublicKey) {
		t.Fatal("imported RSA key differs from the wrapped one")
	}
	_, err = keyprotect.UnwrapImport(wk.h, "AES_KW", wrapped, rsaShape)
	wantErr(t, "unknown wrapping algorithm", err, keyprotect.ErrInvalidParameter)
}

// testExport exports every shape for a client RSA key and checks the
// material with the standard library; a protection that is not exportable
// must refuse with ErrNotExportable.
func (s *suite) testExport(t *testing.T) {
	client, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, exportable := s.p.(keyprotect.Exporter)
	exportable = exportable && s.p.Mode() == keyprotect.ModeSoftware
	for _, shape := range Shapes() {
		v := s.versions[shape]
		for _, alg := range []keyprotect.WrappingAlgorithm{keyprotect.RSAOAEPAESSHA256Wrap, keyprotect.RSAOAEPSHA256Wrap} {
			out, err := keyprotect.Export(s.ctx, s.p, v.v, alg, &client.PublicKey)
			if !exportable {
				wantErr(t, "export from "+string(s.p.Mode()), err, keyprotect.ErrNotExportable)
				continue
			}
			if err != nil && alg == keyprotect.RSAOAEPSHA256Wrap && shape.Algorithm != keyprotect.AES {
				// Private keys fit RSA-OAEP only when small (P-256 does).
				wantErr(t, "export asymmetric key with RSA_OAEP_SHA256", err, keyprotect.ErrInvalidParameter)
				continue
			}
			if err != nil {
				t.Fatalf("Export(%s, %s): %v", shape, alg, err)
			}
			material, err := StdlibUnwrap(client, alg, out)
			if err != nil {
				t.Fatalf("Export(%s, %s): client cannot unwrap: %v", shape, alg, err)
			}
			s.checkExported(t, v, material)
		}
	}
}

func (s *suite) checkExported(t *testing.T, v *version, material []byte) {
	t.Helper()
	switch v.v.Shape.Algorithm {
	case keyprotect.AES:
		aad := keyprotect.AssociatedData{"exported": "yes"}
		ct, _ := v.h.Encrypt("", []byte("interop"), aad)
		if pt, err := StdlibOpenGCM(material, ct, aad); err != nil || string(pt) != "interop" {
			t.Fatalf("%s: exported key does not open the protection's ciphertext: %v", v.v.Shape, err)
		}
	case keyprotect.RSA:
		k, err := x509.ParsePKCS8PrivateKey(material)
		if err != nil {
			t.Fatalf("%s: exported RSA key: %v", v.v.Shape, err)
		}
		rk := k.(*rsa.PrivateKey)
		for _, alg := range []keyprotect.EncryptionAlgorithm{keyprotect.RSAOAEPSHA1, keyprotect.RSAOAEPSHA256} {
			ct, _ := v.h.Encrypt(alg, []byte("interop"), nil)
			h := sha256.New()
			if alg == keyprotect.RSAOAEPSHA1 {
				h = sha1.New()
			}
			pt, err := rsa.DecryptOAEP(h, nil, rk, ct[len(ct)-v.v.Shape.Length:], nil)
			if err != nil || string(pt) != "interop" {
				t.Fatalf("%s %s: stdlib cannot decrypt with the exported key: %v", v.v.Shape, alg, err)
			}
		}
	case keyprotect.ECDSA:
		k, err := x509.ParsePKCS8PrivateKey(material)
		if err != nil {
			t.Fatalf("%s: exported ECDSA key: %v", v.v.Shape, err)
		}
		if !k.(*ecdsa.PrivateKey).PublicKey.Equal(v.pub) {
			t.Fatalf("%s: exported key does not match the public key", v.v.Shape)
		}
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	v := s.aesVersions()[2]
	r := s.rsaVersions()[0]
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				msg := []byte(fmt.Sprintf("goroutine %d message %d", i, j))
				ct, err := v.h.Encrypt("", msg, nil)
				if err != nil {
					errs <- err
					return
				}
				pt, _, err := v.h.Decrypt("", ct, nil)
				if err != nil || !bytes.Equal(pt.Bytes(), msg) {
					errs <- fmt.Errorf("round trip %d/%d: %v", i, j, err)
					return
				}
				if j%5 == 0 {
					if _, err := r.h.Sign(keyprotect.SHA256RSAPKCSPSS, keyprotect.MessageRaw, msg); err != nil {
						errs <- err
						return
					}
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func (s *suite) testDestroy(t *testing.T) {
	for _, shape := range []keyprotect.Shape{Shapes()[0], Shapes()[3], Shapes()[6]} {
		v := s.generate(t, shape)
		if err := s.p.Destroy(s.ctx, v.v); err != nil {
			t.Fatalf("Destroy(%s): %v", shape, err)
		}
		if err := s.p.Destroy(s.ctx, v.v); err != nil {
			t.Fatalf("Destroy(%s) twice: %v", shape, err)
		}
	}
}

// StdlibOpenGCM decrypts a keyprotect AES_256_GCM ciphertext with the raw
// key and crypto/cipher alone, following the documented format. It is the
// interoperability check for the format.
func StdlibOpenGCM(key, ct []byte, aad keyprotect.AssociatedData) ([]byte, error) {
	if len(ct) < 4 {
		return nil, errors.New("short")
	}
	n := int(binary.BigEndian.Uint16(ct[2:4]))
	if len(ct) < 4+n+12+16 {
		return nil, errors.New("short")
	}
	header, nonce, body := ct[:4+n], ct[4+n:4+n+12], ct[4+n+12:]
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return g.Open(nil, nonce, body, append(append([]byte(nil), header...), aad.Encode()...))
}

// StdlibSealGCM builds a keyprotect AES_256_GCM ciphertext with crypto/cipher
// alone.
func StdlibSealGCM(key []byte, versionID string, pt []byte, aad keyprotect.AssociatedData) ([]byte, error) {
	header := append([]byte{1, 1}, binary.BigEndian.AppendUint16(nil, uint16(len(versionID)))...)
	header = append(header, versionID...)
	nonce := make([]byte, 12)
	rand.Read(nonce)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	out := append(append([]byte(nil), header...), nonce...)
	return g.Seal(out, nonce, pt, append(append([]byte(nil), header...), aad.Encode()...)), nil
}

// StdlibUnwrap undoes keyprotect.Wrap as an OCI client would, with the
// client's private key: RSA-OAEP-SHA256 with crypto/rsa, then (for
// RSA_OAEP_AES_SHA256) RFC 5649 key unwrap.
func StdlibUnwrap(priv *rsa.PrivateKey, alg keyprotect.WrappingAlgorithm, wrapped []byte) ([]byte, error) {
	k := priv.Size()
	if alg == keyprotect.RSAOAEPSHA256Wrap {
		return rsa.DecryptOAEP(sha256.New(), nil, priv, wrapped, nil)
	}
	if len(wrapped) < k {
		return nil, errors.New("short")
	}
	kek, err := rsa.DecryptOAEP(sha256.New(), nil, priv, wrapped[:k], nil)
	if err != nil {
		return nil, err
	}
	return keyprotect.UnwrapKWP(kek, wrapped[k:])
}
