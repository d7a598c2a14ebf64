// Package kmscrypto serves the OCI KmsCryptoClient operations (Encrypt,
// Decrypt, GenerateDataEncryptionKey, Sign, Verify, ExportKey) on a vault's
// crypto endpoint. Every request names its key; a key of another vault than
// the endpoint's is not found. Plaintexts, ciphertexts, data keys,
// signatures and key material are never logged: errors carry messages
// written for the caller, which never include them.
package kmscrypto

import (
	"encoding/base64"
	"hash/crc32"
	"net/http"
	"strconv"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// maxAssociatedData bounds associatedData (OCI: its string form must be
// under 4096 characters).
const maxAssociatedData = 4096

// MaxPlaintext bounds Encrypt's plaintext and Sign's and Verify's message,
// counted after base64 decoding. OCI documents 4096 bytes for messages;
// for plaintexts it documents none, and 4096 is AWS KMS's figure and what
// envelope encryption needs (data keys are at most 32 bytes): bulk data
// belongs under a data key.
const MaxPlaintext = 4096

// Handlers serves the crypto operations.
type Handlers struct {
	KMS *kms.Service
}

// Routes returns the KmsCryptoClient routes.
func (h *Handlers) Routes() []ociapi.Route {
	return []ociapi.Route{
		{Pattern: "POST /20180608/encrypt", Operation: "Encrypt", ReadOnly: true, Handler: h.encrypt},
		{Pattern: "POST /20180608/decrypt", Operation: "Decrypt", ReadOnly: true, Handler: h.decrypt},
		{Pattern: "POST /20180608/generateDataEncryptionKey", Operation: "GenerateDataEncryptionKey", ReadOnly: true, Handler: h.generateDataKey},
		{Pattern: "POST /20180608/sign", Operation: "Sign", ReadOnly: true, Handler: h.sign},
		{Pattern: "POST /20180608/verify", Operation: "Verify", ReadOnly: true, Handler: h.verify},
		{Pattern: "POST /20180608/exportKey", Operation: "ExportKey", ReadOnly: true, Handler: h.export},
	}
}

// load reads the key (which must belong to the endpoint's vault) and the
// version the operation uses, then authorizes the operation on the key.
func (h *Handlers) load(c *ociapi.Call, keyID *string, versionID string) (kms.CryptoTarget, error) {
	if c.VaultID == "" {
		return kms.CryptoTarget{}, errs.E(errs.NoRoute, "crypto operations are served on a vault's crypto endpoint")
	}
	id, err := ociapi.CheckID("keyId", ociapi.Deref(keyID), ocid.Key)
	if err != nil {
		return kms.CryptoTarget{}, err
	}
	if _, err := ociapi.OptionalID("keyVersionId", versionID, ocid.KeyVersion); err != nil {
		return kms.CryptoTarget{}, err
	}
	t, err := h.KMS.LoadCryptoTarget(c.Context(), c.VaultID, id, versionID)
	if err != nil {
		return t, err
	}
	return t, c.Authorize(authz.Request{CompartmentID: t.Key.CompartmentID, Key: t.Key.Resource()})
}

func decode64(field string, p *string, required bool) ([]byte, error) {
	if p == nil {
		if required {
			return nil, errs.E(errs.Missing, "%s is required", field)
		}
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(*p)
	if err != nil {
		return nil, errs.E(errs.Invalid, "%s must be base64", field)
	}
	return b, nil
}

// decodeSized is decode64 for a required field whose decoded size must be
// 1 to max bytes.
func decodeSized(field string, p *string, max int) ([]byte, error) {
	if p != nil && len(*p) > base64.StdEncoding.EncodedLen(max) {
		return nil, errs.E(errs.Invalid, "%s must be 1 to %d bytes after base64 decoding", field, max)
	}
	b, err := decode64(field, p, true)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b) > max {
		clear(b)
		return nil, errs.E(errs.Invalid, "%s must be 1 to %d bytes after base64 decoding", field, max)
	}
	return b, nil
}

func associatedData(m map[string]string) (keyprotect.AssociatedData, error) {
	n := 0
	for k, v := range m {
		n += len(k) + len(v) + 6
	}
	if n >= maxAssociatedData {
		return nil, errs.E(errs.Invalid, "associatedData must be shorter than %d characters in its string form", maxAssociatedData)
	}
	return keyprotect.AssociatedData(m), nil
}

// cipherOptions parses what Encrypt and Decrypt share: the associated data
// and the encryption algorithm.
func cipherOptions(aad map[string]string, alg string) (keyprotect.AssociatedData, keyprotect.EncryptionAlgorithm, error) {
	ad, err := associatedData(aad)
	if err != nil {
		return nil, "", err
	}
	a, err := keyprotect.ParseEncryptionAlgorithm(alg)
	if err != nil {
		return nil, "", invalid(err)
	}
	return ad, a, nil
}

// invalid reports a keyprotect validation failure as a 400 with its message.
func invalid(err error) error {
	return errs.Wrap(errs.Invalid, err, "%s", err.Error())
}

func checksum(b []byte) *string {
	return common.String(strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
}

func (h *Handlers) encrypt(c *ociapi.Call) error {
	var d keymanagement.EncryptDataDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	pt, err := decodeSized("plaintext", d.Plaintext, MaxPlaintext)
	if err != nil {
		return err
	}
	defer clear(pt)
	aad, alg, err := cipherOptions(d.AssociatedData, string(d.EncryptionAlgorithm))
	if err != nil {
		return err
	}
	t, err := h.load(c, d.KeyId, ociapi.Deref(d.KeyVersionId))
	if err != nil {
		return err
	}
	ct, used, err := h.KMS.Encrypt(c.Context(), t, alg, pt, aad)
	if err != nil {
		return err
	}
	// keymanagement.EncryptedData, encoded by hand: the ciphertext is most
	// of the reply, and base64 needs no JSON escaping.
	buf := make([]byte, 0, 160+len(t.Key.ID)+len(t.Version.ID)+base64.StdEncoding.EncodedLen(len(ct)))
	buf = append(buf, `{"ciphertext":"`...)
	buf = base64.StdEncoding.AppendEncode(buf, ct)
	buf = append(buf, `","encryptionAlgorithm":`...)
	buf = ociapi.AppendJSONString(buf, string(used))
	buf = append(buf, `,"keyId":`...)
	buf = ociapi.AppendJSONString(buf, t.Key.ID)
	buf = append(buf, `,"keyVersionId":`...)
	buf = ociapi.AppendJSONString(buf, t.Version.ID)
	buf = append(buf, '}')
	c.ReplyJSON(http.StatusOK, "", buf)
	return nil
}

func (h *Handlers) decrypt(c *ociapi.Call) error {
	var d keymanagement.DecryptDataDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	ct, err := decode64("ciphertext", d.Ciphertext, true)
	if err != nil {
		return err
	}
	aad, alg, err := cipherOptions(d.AssociatedData, string(d.EncryptionAlgorithm))
	if err != nil {
		return err
	}
	// Authorize on the key (with its current version) first, so that what
	// the ciphertext names cannot reveal anything to an unauthorized caller.
	t, err := h.load(c, d.KeyId, "")
	if err != nil {
		return err
	}
	if want := kms.DecryptVersion(ociapi.Deref(d.KeyVersionId), ct); want != "" && want != t.Version.ID {
		t, err = h.KMS.LoadCryptoTarget(c.Context(), c.VaultID, t.Key.ID, want)
		if errs.Is(err, errs.NotFound) && ociapi.Deref(d.KeyVersionId) == "" {
			return errs.E(errs.Invalid, "the ciphertext was not produced by key %s", ociapi.Deref(d.KeyId))
		}
		if err != nil {
			return err
		}
	}
	pt, used, err := h.KMS.Decrypt(c.Context(), t, alg, ct, aad)
	if err != nil {
		return err
	}
	defer pt.Wipe()
	return c.Reply("", keymanagement.DecryptedData{
		Plaintext: common.String(base64.StdEncoding.EncodeToString(pt.Bytes())), PlaintextChecksum: checksum(pt.Bytes()),
		KeyId: common.String(t.Key.ID), KeyVersionId: common.String(t.Version.ID),
		EncryptionAlgorithm: keymanagement.DecryptedDataEncryptionAlgorithmEnum(used),
	})
}

func (h *Handlers) generateDataKey(c *ociapi.Call) error {
	var d keymanagement.GenerateKeyDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if d.IncludePlaintextKey == nil {
		return errs.E(errs.Missing, "includePlaintextKey is required")
	}
	if d.KeyShape == nil || d.KeyShape.Length == nil {
		return errs.E(errs.Missing, "keyShape is required: algorithm AES and length 16, 24 or 32")
	}
	shape := keyprotect.Shape{Algorithm: keyprotect.Algorithm(d.KeyShape.Algorithm), Length: *d.KeyShape.Length, CurveID: keyprotect.CurveID(d.KeyShape.CurveId)}
	if err := keyprotect.ValidateDataKeyShape(shape); err != nil {
		return invalid(err)
	}
	aad, err := associatedData(d.AssociatedData)
	if err != nil {
		return err
	}
	t, err := h.load(c, d.KeyId, "")
	if err != nil {
		return err
	}
	dek, ct, err := h.KMS.GenerateDataKey(c.Context(), t, shape, aad)
	if err != nil {
		return err
	}
	defer dek.Wipe()
	out := keymanagement.GeneratedKey{Ciphertext: common.String(base64.StdEncoding.EncodeToString(ct))}
	if *d.IncludePlaintextKey {
		out.Plaintext = common.String(base64.StdEncoding.EncodeToString(dek.Bytes()))
		out.PlaintextChecksum = checksum(dek.Bytes())
	}
	return c.Reply("", out)
}

func (h *Handlers) sign(c *ociapi.Call) error {
	var d keymanagement.SignDataDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	msg, err := decodeSized("message", d.Message, MaxPlaintext)
	if err != nil {
		return err
	}
	if d.SigningAlgorithm == "" {
		return errs.E(errs.Missing, "signingAlgorithm is required")
	}
	t, err := h.load(c, d.KeyId, ociapi.Deref(d.KeyVersionId))
	if err != nil {
		return err
	}
	sig, err := h.KMS.Sign(c.Context(), t, keyprotect.SigningAlgorithm(d.SigningAlgorithm), keyprotect.MessageType(d.MessageType), msg)
	if err != nil {
		return err
	}
	return c.Reply("", keymanagement.SignedData{
		KeyId: common.String(t.Key.ID), KeyVersionId: common.String(t.Version.ID),
		Signature:        common.String(base64.StdEncoding.EncodeToString(sig)),
		SigningAlgorithm: keymanagement.SignedDataSigningAlgorithmEnum(d.SigningAlgorithm),
	})
}

func (h *Handlers) verify(c *ociapi.Call) error {
	var d keymanagement.VerifyDataDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	msg, err := decodeSized("message", d.Message, MaxPlaintext)
	if err != nil {
		return err
	}
	sig, err := decode64("signature", d.Signature, true)
	if err != nil {
		return err
	}
	if ociapi.Deref(d.KeyVersionId) == "" {
		return errs.E(errs.Missing, "keyVersionId is required")
	}
	if d.SigningAlgorithm == "" {
		return errs.E(errs.Missing, "signingAlgorithm is required")
	}
	t, err := h.load(c, d.KeyId, *d.KeyVersionId)
	if err != nil {
		return err
	}
	ok, err := h.KMS.Verify(c.Context(), t, keyprotect.SigningAlgorithm(d.SigningAlgorithm), keyprotect.MessageType(d.MessageType), msg, sig)
	if err != nil {
		return err
	}
	return c.Reply("", keymanagement.VerifiedData{IsSignatureValid: common.Bool(ok)})
}

func (h *Handlers) export(c *ociapi.Call) error {
	var d keymanagement.ExportKeyDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if d.Algorithm == "" {
		return errs.E(errs.Missing, "algorithm is required: allowed values are RSA_OAEP_AES_SHA256, RSA_OAEP_SHA256")
	}
	alg, err := keyprotect.ParseWrappingAlgorithm(string(d.Algorithm))
	if err != nil {
		return invalid(err)
	}
	if ociapi.Deref(d.PublicKey) == "" {
		return errs.E(errs.Missing, "publicKey is required")
	}
	pub, err := keyprotect.ParseRSAPublicKeyPEM(*d.PublicKey)
	if err != nil {
		return invalid(err)
	}
	t, err := h.load(c, d.KeyId, ociapi.Deref(d.KeyVersionId))
	if err != nil {
		return err
	}
	wrapped, err := h.KMS.Export(c.Context(), t, alg, pub)
	if err != nil {
		return err
	}
	return c.Reply("", keymanagement.ExportedKeyData{
		KeyVersionId: common.String(t.Version.ID), KeyId: common.String(t.Key.ID),
		TimeCreated: &common.SDKTime{Time: t.Version.TimeCreated}, VaultId: common.String(t.Key.VaultID),
		EncryptedKey: common.String(base64.StdEncoding.EncodeToString(wrapped)),
		Algorithm:    keymanagement.ExportedKeyDataAlgorithmEnum(alg),
	})
}
