package kmscrypto_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/keyprotect/pkcs11hsm/softhsmtest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/server"
)

var ctx = context.Background()

const (
	aes_     = keymanagement.KeyShapeAlgorithmAes
	rsa_     = keymanagement.KeyShapeAlgorithmRsa
	ecdsa_   = keymanagement.KeyShapeAlgorithmEcdsa
	software = keymanagement.CreateKeyDetailsProtectionModeSoftware
	hsm      = keymanagement.CreateKeyDetailsProtectionModeHsm
)

func b64(b []byte) *string { return common.String(base64.StdEncoding.EncodeToString(b)) }

func unb64(t testing.TB, s *string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(*s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encrypt(t testing.TB, v keystest.Vault, keyID *string, pt []byte, aad map[string]string) keymanagement.EncryptedData {
	t.Helper()
	resp, err := v.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
		KeyId: keyID, Plaintext: b64(pt), AssociatedData: aad}})
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return resp.EncryptedData
}

func decrypt(v keystest.Vault, keyID, ct *string, aad map[string]string) (keymanagement.DecryptResponse, error) {
	return v.Crypto.Decrypt(ctx, keymanagement.DecryptRequest{DecryptDataDetails: keymanagement.DecryptDataDetails{
		KeyId: keyID, Ciphertext: ct, AssociatedData: aad}})
}

func TestEncryptDecrypt(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	for _, mode := range []keymanagement.CreateKeyDetailsProtectionModeEnum{software, hsm} {
		k := v.CreateKey(t, "aes", keystest.Shape(aes_, 24, ""), mode)
		aad := map[string]string{"tenant": "acme", "purpose": "test"}
		enc := encrypt(t, v, k.Id, []byte("attack at dawn"), aad)
		if *enc.KeyVersionId != *k.CurrentKeyVersion || enc.EncryptionAlgorithm != keymanagement.EncryptedDataEncryptionAlgorithmAes256Gcm {
			t.Fatalf("EncryptedData: %+v", enc)
		}
		dec, err := decrypt(v, k.Id, enc.Ciphertext, aad)
		if err != nil || string(unb64(t, dec.Plaintext)) != "attack at dawn" || dec.PlaintextChecksum == nil {
			t.Fatalf("Decrypt: %v", err)
		}
		_, err = decrypt(v, k.Id, enc.Ciphertext, map[string]string{"tenant": "evil", "purpose": "test"})
		keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "could not be decrypted")
		_, err = decrypt(v, k.Id, enc.Ciphertext, nil)
		keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter")
		bad := unb64(t, enc.Ciphertext)
		bad[len(bad)-1] ^= 1
		_, err = decrypt(v, k.Id, b64(bad), aad)
		keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter")
		_, err = decrypt(v, k.Id, b64([]byte{1, 2, 3}), nil)
		keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter")
		_, err = decrypt(v, k.Id, common.String("not base64!"), nil)
		keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "base64")
	}

	// A ciphertext of another key of the same vault.
	k1 := v.CreateKey(t, "one", keystest.Shape(aes_, 32, ""), software)
	k2 := v.CreateKey(t, "two", keystest.Shape(aes_, 32, ""), software)
	enc := encrypt(t, v, k1.Id, []byte("x"), nil)
	_, err := decrypt(v, k2.Id, enc.Ciphertext, nil)
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "not produced by key")

	// RSA-OAEP with SHA-256 (default) and SHA-1; associated data is refused.
	rk := v.CreateKey(t, "rsa", keystest.Shape(rsa_, 256, ""), software)
	renc := encrypt(t, v, rk.Id, []byte("rsa secret"), nil)
	if renc.EncryptionAlgorithm != keymanagement.EncryptedDataEncryptionAlgorithmRsaOaepSha256 {
		t.Fatalf("RSA default algorithm %s", renc.EncryptionAlgorithm)
	}
	if dec, err := decrypt(v, rk.Id, renc.Ciphertext, nil); err != nil || string(unb64(t, dec.Plaintext)) != "rsa secret" {
		t.Fatalf("RSA Decrypt: %v", err)
	}
	r1, err := v.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{KeyId: rk.Id,
		Plaintext: b64([]byte("sha1")), EncryptionAlgorithm: keymanagement.EncryptDataDetailsEncryptionAlgorithmRsaOaepSha1}})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := decrypt(v, rk.Id, r1.Ciphertext, nil); err != nil || string(unb64(t, dec.Plaintext)) != "sha1" {
		t.Fatalf("RSA SHA-1 Decrypt: %v", err)
	}
	_, err = v.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{KeyId: rk.Id,
		Plaintext: b64([]byte("x")), AssociatedData: map[string]string{"a": "b"}}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "associatedData")
	// ECDSA keys do not encrypt; AES keys do not sign.
	ek := v.CreateKey(t, "ec", keystest.Shape(ecdsa_, 32, ""), software)
	_, err = v.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{KeyId: ek.Id, Plaintext: b64([]byte("x"))}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "sign and verify")
	_, err = v.Crypto.Sign(ctx, keymanagement.SignRequest{SignDataDetails: keymanagement.SignDataDetails{KeyId: k1.Id, Message: b64([]byte("x")),
		SigningAlgorithm: keymanagement.SignDataDetailsSigningAlgorithmSha256RsaPkcsPss}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter")
	// Too much associated data.
	_, err = v.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{KeyId: k1.Id,
		Plaintext: b64([]byte("x")), AssociatedData: map[string]string{"a": strings.Repeat("b", 5000)}}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "associatedData")
	_, err = v.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{KeyId: common.String("ocid1.key.oc1..nope"), Plaintext: b64([]byte("x"))}})
	keystest.NotFound(t, err)
}

func TestDisableDeleteAndRotation(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	k := v.CreateKey(t, "k", keystest.Shape(aes_, 32, ""), software)
	enc := encrypt(t, v, k.Id, []byte("old data"), nil)

	if _, err := v.Mgmt.DisableKey(ctx, keymanagement.DisableKeyRequest{KeyId: k.Id}); err != nil {
		t.Fatal(err)
	}
	_, err := decrypt(v, k.Id, enc.Ciphertext, nil)
	keystest.WantError(t, err, http.StatusConflict, "IncorrectState", "DISABLED")
	_, err = v.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{KeyId: k.Id, Plaintext: b64([]byte("x"))}})
	keystest.WantError(t, err, http.StatusConflict, "IncorrectState", "DISABLED")
	if _, err := v.Mgmt.EnableKey(ctx, keymanagement.EnableKeyRequest{KeyId: k.Id}); err != nil {
		t.Fatal(err)
	}
	if _, err := decrypt(v, k.Id, enc.Ciphertext, nil); err != nil {
		t.Fatalf("decrypt after enable: %v", err)
	}

	// Rotation: new ciphertexts use the new version, the old still opens.
	kv, err := v.Mgmt.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: k.Id})
	if err != nil {
		t.Fatal(err)
	}
	enc2 := encrypt(t, v, k.Id, []byte("new data"), nil)
	if *enc2.KeyVersionId != *kv.Id {
		t.Fatalf("encrypted with %s after rotation to %s", *enc2.KeyVersionId, *kv.Id)
	}
	dec, err := decrypt(v, k.Id, enc.Ciphertext, nil)
	if err != nil || string(unb64(t, dec.Plaintext)) != "old data" || *dec.KeyVersionId != *k.CurrentKeyVersion {
		t.Fatalf("old ciphertext after rotation: %v", err)
	}
	// Encrypting with an explicit older version works too.
	old, err := v.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
		KeyId: k.Id, KeyVersionId: k.CurrentKeyVersion, Plaintext: b64([]byte("pinned"))}})
	if err != nil || *old.KeyVersionId != *k.CurrentKeyVersion {
		t.Fatalf("Encrypt with keyVersionId: %v", err)
	}

	if _, err := v.Mgmt.ScheduleKeyDeletion(ctx, keymanagement.ScheduleKeyDeletionRequest{KeyId: k.Id}); err != nil {
		t.Fatal(err)
	}
	_, err = decrypt(v, k.Id, enc2.Ciphertext, nil)
	keystest.WantError(t, err, http.StatusConflict, "IncorrectState", "PENDING_DELETION")
	_, err = v.Crypto.GenerateDataEncryptionKey(ctx, keymanagement.GenerateDataEncryptionKeyRequest{GenerateKeyDetails: keymanagement.GenerateKeyDetails{
		KeyId: k.Id, KeyShape: keystest.Shape(aes_, 32, ""), IncludePlaintextKey: common.Bool(true)}})
	keystest.WantError(t, err, http.StatusConflict, "IncorrectState")
}

func TestGenerateDataEncryptionKey(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	k := v.CreateKey(t, "k", keystest.Shape(aes_, 32, ""), hsm)
	aad := map[string]string{"file": "a.txt"}
	for _, length := range []int{16, 24, 32} {
		with, err := v.Crypto.GenerateDataEncryptionKey(ctx, keymanagement.GenerateDataEncryptionKeyRequest{GenerateKeyDetails: keymanagement.GenerateKeyDetails{
			KeyId: k.Id, KeyShape: keystest.Shape(aes_, length, ""), IncludePlaintextKey: common.Bool(true), AssociatedData: aad}})
		if err != nil {
			t.Fatal(err)
		}
		dek := unb64(t, with.Plaintext)
		if len(dek) != length || with.PlaintextChecksum == nil {
			t.Fatalf("data key of %d bytes, want %d", len(dek), length)
		}
		dec, err := decrypt(v, k.Id, with.Ciphertext, aad)
		if err != nil || !bytes.Equal(unb64(t, dec.Plaintext), dek) {
			t.Fatalf("decrypting the data key: %v", err)
		}
	}
	without, err := v.Crypto.GenerateDataEncryptionKey(ctx, keymanagement.GenerateDataEncryptionKeyRequest{GenerateKeyDetails: keymanagement.GenerateKeyDetails{
		KeyId: k.Id, KeyShape: keystest.Shape(aes_, 32, ""), IncludePlaintextKey: common.Bool(false)}})
	if err != nil || without.Plaintext != nil || without.Ciphertext == nil {
		t.Fatalf("without plaintext: %v %+v", err, without.GeneratedKey)
	}
	_, err = v.Crypto.GenerateDataEncryptionKey(ctx, keymanagement.GenerateDataEncryptionKeyRequest{GenerateKeyDetails: keymanagement.GenerateKeyDetails{
		KeyId: k.Id, KeyShape: keystest.Shape(aes_, 64, ""), IncludePlaintextKey: common.Bool(false)}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "16, 24, 32")
	rk := v.CreateKey(t, "rsa", keystest.Shape(rsa_, 256, ""), software)
	_, err = v.Crypto.GenerateDataEncryptionKey(ctx, keymanagement.GenerateDataEncryptionKeyRequest{GenerateKeyDetails: keymanagement.GenerateKeyDetails{
		KeyId: rk.Id, KeyShape: keystest.Shape(aes_, 32, ""), IncludePlaintextKey: common.Bool(false)}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "only AES keys")
}

// exportPrivate exports a SOFTWARE key version with RSA_OAEP_AES_SHA256 and
// unwraps it with the standard library (RSA-OAEP) and RFC 5649.
func exportMaterial(t *testing.T, v keystest.Vault, keyID, versionID *string) []byte {
	t.Helper()
	wrapper, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&wrapper.PublicKey)
	resp, err := v.Crypto.ExportKey(ctx, keymanagement.ExportKeyRequest{ExportKeyDetails: keymanagement.ExportKeyDetails{
		KeyId: keyID, KeyVersionId: versionID, Algorithm: keymanagement.ExportKeyDetailsAlgorithmAesSha256,
		PublicKey: common.String(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))),
	}})
	if err != nil {
		t.Fatalf("ExportKey: %v", err)
	}
	if *resp.KeyId != *keyID || resp.Algorithm != keymanagement.ExportedKeyDataAlgorithmAesSha256 {
		t.Fatalf("ExportedKeyData: %+v", resp.ExportedKeyData)
	}
	blob := unb64(t, resp.EncryptedKey)
	kek, err := rsa.DecryptOAEP(sha256.New(), nil, wrapper, blob[:256], nil)
	if err != nil {
		t.Fatalf("unwrap exported key: %v", err)
	}
	m, err := keyprotect.UnwrapKWP(kek, blob[256:])
	if err != nil {
		t.Fatalf("unwrap exported key: %v", err)
	}
	return m
}

// openAES opens a Coffer AES ciphertext with the standard library
func TestInteroperabilityWithStandardLibrary(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)

	// AES: the exported key opens Coffer's ciphertext.
	ak := v.CreateKey(t, "aes", keystest.Shape(aes_, 32, ""), software)
	key := exportMaterial(t, v, ak.Id, nil)
	if len(key) != 32 {
		t.Fatalf("exported AES key is %d bytes", len(key))
	}
	if got := keystest.OpenCiphertext(t, key, unb64(t, encrypt(t, v, ak.Id, []byte("interop"), nil).Ciphertext)); string(got) != "interop" {
		t.Fatalf("stdlib decrypted %q", got)
	}

	// RSA: Coffer's signatures verify with the exported key; stdlib
	// signatures verify with Coffer; stdlib OAEP ciphertexts decrypt with
	// Coffer, and Coffer's with stdlib.
	rk := v.CreateKey(t, "rsa", keystest.Shape(rsa_, 256, ""), software)
	priv, err := x509.ParsePKCS8PrivateKey(exportMaterial(t, v, rk.Id, rk.CurrentKeyVersion))
	if err != nil {
		t.Fatal(err)
	}
	rpriv := priv.(*rsa.PrivateKey)
	kv, _ := v.Mgmt.GetKeyVersion(ctx, keymanagement.GetKeyVersionRequest{KeyId: rk.Id, KeyVersionId: rk.CurrentKeyVersion})
	block, _ := pem.Decode([]byte(*kv.PublicKey))
	pub, _ := x509.ParsePKIXPublicKey(block.Bytes)
	if !rpriv.PublicKey.Equal(pub) {
		t.Fatal("GetKeyVersion's publicKey does not match the exported private key")
	}
	msg := []byte("a message to sign")
	for _, alg := range keyprotect.SigningAlgorithms() {
		if strings.HasPrefix(string(alg), "ECDSA") {
			continue
		}
		sig := sign(t, v, rk, alg, msg)
		h := alg.Hash().New()
		h.Write(msg)
		d := h.Sum(nil)
		if strings.Contains(string(alg), "PSS") {
			err = rsa.VerifyPSS(&rpriv.PublicKey, alg.Hash(), d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		} else {
			err = rsa.VerifyPKCS1v15(&rpriv.PublicKey, alg.Hash(), d, sig)
		}
		if err != nil {
			t.Errorf("%s: stdlib rejects Coffer's signature: %v", alg, err)
		}
		var opts crypto.SignerOpts = alg.Hash()
		if strings.Contains(string(alg), "PSS") {
			opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: alg.Hash()}
		}
		mine, _ := rpriv.Sign(rand.Reader, d, opts)
		if !verify(t, v, rk, alg, keymanagement.VerifyDataDetailsMessageTypeDigest, d, mine) {
			t.Errorf("%s: Coffer rejects the stdlib signature of a digest", alg)
		}
		mine[0] ^= 1
		if verify(t, v, rk, alg, keymanagement.VerifyDataDetailsMessageTypeRaw, msg, mine) {
			t.Errorf("%s: Coffer accepts a damaged signature", alg)
		}
	}
	oaep, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &rpriv.PublicKey, []byte("from stdlib"), nil)
	if dec, err := decrypt(v, rk.Id, b64(oaep), nil); err != nil || string(unb64(t, dec.Plaintext)) != "from stdlib" {
		t.Fatalf("raw OAEP ciphertext: %v", err)
	}
	ct := unb64(t, encrypt(t, v, rk.Id, []byte("to stdlib"), nil).Ciphertext)
	if pt, err := rsa.DecryptOAEP(sha256.New(), nil, rpriv, ct[len(ct)-256:], nil); err != nil || string(pt) != "to stdlib" {
		t.Fatalf("stdlib OAEP decrypt: %v", err)
	}

	// ECDSA, every curve and hash.
	for _, tc := range []struct {
		length int
		alg    keyprotect.SigningAlgorithm
	}{{32, keyprotect.ECDSASHA256}, {48, keyprotect.ECDSASHA384}, {66, keyprotect.ECDSASHA512}} {
		ek := v.CreateKey(t, "ec", keystest.Shape(ecdsa_, tc.length, ""), software)
		p, err := x509.ParsePKCS8PrivateKey(exportMaterial(t, v, ek.Id, nil))
		if err != nil {
			t.Fatal(err)
		}
		epriv := p.(*ecdsa.PrivateKey)
		sig := sign(t, v, ek, tc.alg, msg)
		h := tc.alg.Hash().New()
		h.Write(msg)
		d := h.Sum(nil)
		if !ecdsa.VerifyASN1(&epriv.PublicKey, d, sig) {
			t.Errorf("%s: stdlib rejects Coffer's signature", tc.alg)
		}
		mine, _ := ecdsa.SignASN1(rand.Reader, epriv, d)
		if !verify(t, v, ek, tc.alg, keymanagement.VerifyDataDetailsMessageTypeRaw, msg, mine) {
			t.Errorf("%s: Coffer rejects the stdlib signature", tc.alg)
		}
	}

	// Sign refuses too long a message and wrong digests.
	_, err = v.Crypto.Sign(ctx, keymanagement.SignRequest{SignDataDetails: keymanagement.SignDataDetails{KeyId: rk.Id, Message: b64(make([]byte, 4097)),
		SigningAlgorithm: keymanagement.SignDataDetailsSigningAlgorithmSha256RsaPkcsPss}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "4096")
	_, err = v.Crypto.Sign(ctx, keymanagement.SignRequest{SignDataDetails: keymanagement.SignDataDetails{KeyId: rk.Id, Message: b64(make([]byte, 20)),
		SigningAlgorithm: keymanagement.SignDataDetailsSigningAlgorithmSha256RsaPkcsPss, MessageType: keymanagement.SignDataDetailsMessageTypeDigest}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "digest")

	// HSM keys never leave.
	hk := v.CreateKey(t, "hsm", keystest.Shape(aes_, 32, ""), hsm)
	wrapper, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&wrapper.PublicKey)
	_, err = v.Crypto.ExportKey(ctx, keymanagement.ExportKeyRequest{ExportKeyDetails: keymanagement.ExportKeyDetails{
		KeyId: hk.Id, Algorithm: keymanagement.ExportKeyDetailsAlgorithmSha256,
		PublicKey: common.String(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))),
	}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "only SOFTWARE keys")
	_, err = v.Crypto.ExportKey(ctx, keymanagement.ExportKeyRequest{ExportKeyDetails: keymanagement.ExportKeyDetails{
		KeyId: ak.Id, Algorithm: keymanagement.ExportKeyDetailsAlgorithmSha256, PublicKey: common.String("not a key")}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter", "PEM")
}

func sign(t *testing.T, v keystest.Vault, k keymanagement.Key, alg keyprotect.SigningAlgorithm, msg []byte) []byte {
	t.Helper()
	resp, err := v.Crypto.Sign(ctx, keymanagement.SignRequest{SignDataDetails: keymanagement.SignDataDetails{
		KeyId: k.Id, Message: b64(msg), SigningAlgorithm: keymanagement.SignDataDetailsSigningAlgorithmEnum(alg)}})
	if err != nil {
		t.Fatalf("Sign %s: %v", alg, err)
	}
	if *resp.KeyVersionId != *k.CurrentKeyVersion {
		t.Fatalf("signed with %s", *resp.KeyVersionId)
	}
	return unb64(t, resp.Signature)
}

func verify(t *testing.T, v keystest.Vault, k keymanagement.Key, alg keyprotect.SigningAlgorithm, mt keymanagement.VerifyDataDetailsMessageTypeEnum, msg, sig []byte) bool {
	t.Helper()
	resp, err := v.Crypto.Verify(ctx, keymanagement.VerifyRequest{VerifyDataDetails: keymanagement.VerifyDataDetails{
		KeyId: k.Id, KeyVersionId: k.CurrentKeyVersion, Message: b64(msg), Signature: b64(sig),
		SigningAlgorithm: keymanagement.VerifyDataDetailsSigningAlgorithmEnum(alg), MessageType: mt}})
	if err != nil {
		t.Fatalf("Verify %s: %v", alg, err)
	}
	return *resp.IsSignatureValid
}

func TestCanaryNeverLeaks(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	canary := []byte("CANARY-7f3a9c21-do-not-leak-" + strings.Repeat("z", 16))
	for _, mode := range []keymanagement.CreateKeyDetailsProtectionModeEnum{software, hsm} {
		k := v.CreateKey(t, "canary", keystest.Shape(aes_, 32, ""), mode)
		enc := encrypt(t, v, k.Id, canary, map[string]string{"ctx": "canary"})
		if _, err := decrypt(v, k.Id, enc.Ciphertext, map[string]string{"ctx": "canary"}); err != nil {
			t.Fatal(err)
		}
		_, _ = decrypt(v, k.Id, enc.Ciphertext, map[string]string{"ctx": "wrong"}) // a refused request is logged too
	}
	env.Stop()
	forms := [][]byte{canary, []byte(base64.StdEncoding.EncodeToString(canary)), []byte("CANARY-7f3a9c21")}
	logs := env.Logs.Bytes()
	if len(logs) == 0 {
		t.Fatal("no server logs captured")
	}
	files, _ := filepath.Glob(filepath.Join(env.DataDir, "coffer.db*"))
	if len(files) == 0 {
		t.Fatal("no database file found")
	}
	for _, f := range forms {
		if bytes.Contains(logs, f) {
			t.Errorf("server logs contain the canary (%q)", f)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, f) {
				t.Errorf("%s contains the canary (%q)", name, f)
			}
		}
	}
}

// TestHSMOnSoftHSM runs the crypto API with HSM keys in a SoftHSM2 token
// through the server's PKCS#11 configuration.
func TestHSMOnSoftHSM(t *testing.T) {
	cfg := softhsmtest.Token(t)
	env := coffertest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.PKCS11 = cfg }})
	if strings.Contains(env.Out.String(), "EMULATED") {
		t.Fatal("server with a PKCS#11 module says HSM keys are emulated")
	}
	if logs := env.Logs.String(); strings.Contains(logs, `"pin":"`+cfg.PIN) || !strings.Contains(logs, `"pin":"REDACTED"`) {
		t.Fatal("the startup log does not redact the PIN")
	}
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)

	ak := v.CreateKey(t, "hsm-aes", keystest.Shape(aes_, 32, ""), hsm)
	if _, ok := ak.DefinedTags[kmsmgmt.SystemTagNamespace]; ok {
		t.Fatalf("a real HSM key is tagged as emulated: %v", ak.DefinedTags)
	}
	aad := map[string]string{"a": "b"}
	enc := encrypt(t, v, ak.Id, []byte("in the token"), aad)
	if dec, err := decrypt(v, ak.Id, enc.Ciphertext, aad); err != nil || string(unb64(t, dec.Plaintext)) != "in the token" {
		t.Fatalf("HSM decrypt: %v", err)
	}
	_, err := decrypt(v, ak.Id, enc.Ciphertext, nil)
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter")
	if _, err := v.Mgmt.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: ak.Id}); err != nil {
		t.Fatalf("HSM rotation: %v", err)
	}
	if _, err := decrypt(v, ak.Id, enc.Ciphertext, aad); err != nil {
		t.Fatalf("HSM decrypt after rotation: %v", err)
	}

	rk := v.CreateKey(t, "hsm-rsa", keystest.Shape(rsa_, 256, ""), hsm)
	renc := encrypt(t, v, rk.Id, []byte("oaep in the token"), nil)
	if dec, err := decrypt(v, rk.Id, renc.Ciphertext, nil); err != nil || string(unb64(t, dec.Plaintext)) != "oaep in the token" {
		t.Fatalf("HSM RSA decrypt: %v", err)
	}
	kv, _ := v.Mgmt.GetKeyVersion(ctx, keymanagement.GetKeyVersionRequest{KeyId: rk.Id, KeyVersionId: rk.CurrentKeyVersion})
	block, _ := pem.Decode([]byte(*kv.PublicKey))
	pk, _ := x509.ParsePKIXPublicKey(block.Bytes)
	msg := []byte("signed in the token")
	for _, alg := range []keyprotect.SigningAlgorithm{keyprotect.SHA256RSAPKCS1V15, keyprotect.SHA384RSAPKCSPSS} {
		sig := sign(t, v, rk, alg, msg)
		h := alg.Hash().New()
		h.Write(msg)
		if alg == keyprotect.SHA384RSAPKCSPSS {
			err = rsa.VerifyPSS(pk.(*rsa.PublicKey), alg.Hash(), h.Sum(nil), sig, nil)
		} else {
			err = rsa.VerifyPKCS1v15(pk.(*rsa.PublicKey), alg.Hash(), h.Sum(nil), sig)
		}
		if err != nil {
			t.Errorf("%s: stdlib rejects the token's signature: %v", alg, err)
		}
		if !verify(t, v, rk, alg, keymanagement.VerifyDataDetailsMessageTypeRaw, msg, sig) {
			t.Errorf("%s: Verify rejects the token's signature", alg)
		}
	}
	ek := v.CreateKey(t, "hsm-ec", keystest.Shape(ecdsa_, 48, ""), hsm)
	sig := sign(t, v, ek, keyprotect.ECDSASHA384, msg)
	if !verify(t, v, ek, keyprotect.ECDSASHA384, keymanagement.VerifyDataDetailsMessageTypeRaw, msg, sig) {
		t.Error("Verify rejects the token's ECDSA signature")
	}

	wrapper, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&wrapper.PublicKey)
	_, err = v.Crypto.ExportKey(ctx, keymanagement.ExportKeyRequest{ExportKeyDetails: keymanagement.ExportKeyDetails{
		KeyId: ak.Id, Algorithm: keymanagement.ExportKeyDetailsAlgorithmAesSha256,
		PublicKey: common.String(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))),
	}})
	keystest.WantError(t, err, http.StatusBadRequest, "InvalidParameter")

	// SOFTWARE keys still work next to the token.
	sk := v.CreateKey(t, "sw", keystest.Shape(aes_, 16, ""), software)
	if _, err := decrypt(v, sk.Id, encrypt(t, v, sk.Id, []byte("sw"), nil).Ciphertext, nil); err != nil {
		t.Fatal(err)
	}
}
