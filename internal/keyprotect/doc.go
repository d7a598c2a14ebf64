// Package keyprotect is the cryptographic core of Coffer's key management:
// everything a master-encryption-key version can do, behind a small
// Protection interface with two implementations, SOFTWARE (package
// software) and HSM over PKCS#11 (package pkcs11hsm), plus a dev-mode
// emulated HSM (software.NewEmulatedHSM). It knows nothing of HTTP, SQL,
// OCIDs' meaning, lifecycle states or permissions: the KMS domain owns those
// and calls this package with a key version's ID, shape and persisted blob.
//
// # Shapes
//
// Shape is OCI's KeyShape (length in bytes). Shape.Normalize checks it and
// fills in an ECDSA curve from the length when curveId is absent; its error
// is ErrInvalidShape with a message listing the allowed values, ready for a
// 400 InvalidParameter. Persist the normalized shape. ValidateDataKeyShape
// checks GenerateDataEncryptionKey's keyShape.
//
// # Lifecycle of a key version's material
//
//	m, err := p.Generate(ctx, versionID, shape)          // CreateKey, CreateKeyVersion
//	m, err := p.Import(ctx, versionID, shape, material)  // ImportKey, ImportKeyVersion
//	// persist m.Blob (opaque) and m.PublicKey (DER SPKI, nil for AES) with the version
//	h, err := keyprotect.Open(ctx, p, keyprotect.Version{ID: versionID, Shape: shape, Blob: blob})
//	// h.Encrypt, h.Decrypt, h.GenerateDataKey, h.Sign, h.Verify
//	err = p.Destroy(ctx, version)                        // when the version's deletion completes
//
// The blob is opaque and carries no secret in clear: for SOFTWARE it is
// 0x01 || Sealer.Seal(aad, material), for HSM 0x01 || CKA_ID (a token object
// reference). Handles are safe for concurrent use and may be cached per
// version; Open is cheap for AES and costs an unseal and key parse otherwise.
//
// # The Sealer (SOFTWARE and emulated HSM)
//
// software.New and software.NewEmulatedHSM take a Sealer, which the server's
// barrier provides (AES-256-GCM under the root key). Its Seal receives as
// associated data MaterialAAD(flavour, versionID, shape): a fixed label, the
// flavour ("SOFTWARE" or "HSM-EMULATED"), the version ID and the shape, each
// length-prefixed. Open must fail when the associated data differs, so a blob
// copied to another version, reshaped, or moved between an emulated-HSM key
// and a SOFTWARE key does not open (ErrCorruptBlob, a 500: it means the
// database was tampered with or the barrier key is wrong).
//
// # Ciphertexts
//
// Encrypt returns bytes in the format documented at ParseCiphertext (the wire
// layer base64-encodes them): a version byte, the algorithm, the key version
// ID (length-prefixed), then for AES_256_GCM a 12-byte nonce and the sealed
// data, for RSA-OAEP the OAEP ciphertext. For Decrypt the domain calls
// ParseCiphertext to find the key version (which may not be the current one
// after rotation), checks it belongs to the requested key, opens that version
// and calls Handle.Decrypt. A ciphertext that does not parse, with an RSA key,
// may be a raw OAEP ciphertext made with the public key: use the request's
// keyVersionId (or the current version) and Decrypt accepts it by its exact
// length.
//
// AssociatedData (OCI's associatedData map) is encoded canonically and
// injectively (AssociatedData.Encode) and authenticated by AES-GCM together
// with the ciphertext header. RSA-OAEP cannot carry it: a non-empty map with
// an RSA key is ErrInvalidParameter. The wire layer enforces OCI's limit on
// the map's string form (under 4096 characters).
//
// # Signatures
//
// Sign takes OCI's signingAlgorithm and messageType (RAW is hashed here,
// DIGEST must be exactly the hash's length: ErrInvalidDigest); messages are
// at most MaxMessageSize (4096) bytes (ErrMessageTooLarge). RSA-PSS salts
// are the hash length; ECDSA signatures are ASN.1 DER. Verify needs only the
// persisted public key (package-level Verify), so it works for any version
// without opening it.
//
// # Import and export
//
// A vault's wrapping key is an ordinary key version of WrappingKeyShape
// (RSA-4096) made with Protection.Generate, so it lives in the token in HSM
// mode. GetWrappingKey returns PublicKeyPEM(m.PublicKey). ImportKey:
// UnwrapImport(wrappingHandle, wrappingAlgorithm, keyMaterial, shape) checks
// and returns the plaintext material, then Protection.Import stores it.
// OCI refuses to import ECDSA keys; this package can, and the domain decides.
// ExportKey: Export(ctx, p, version, algorithm, ParseRSAPublicKeyPEM(publicKey))
// wraps the material for the caller; protections that are not Exporters (HSM,
// real or emulated) return ErrNotExportable. Both algorithms are OCI's:
// RSA_OAEP_SHA256 (RSA-OAEP-SHA256 of the material itself, fits AES keys) and
// RSA_OAEP_AES_SHA256 (CKM_RSA_AES_KEY_WRAP: RSA-OAEP-SHA256 of a fresh
// AES-256 key, then the material under it with RFC 5649 AES Key Wrap with
// Padding). Private keys travel as PKCS#8 DER.
//
// # Emulation
//
// When HSM protection is requested and no PKCS#11 module is configured
// (HSMConfig.ModulePath empty), dev mode uses software.NewEmulatedHSM:
// Mode() is HSM, IsEmulated(p) is true (log it at start, record it in key
// metadata), and export is refused as for a real HSM key.
//
// # Errors
//
// Every caller mistake wraps one sentinel (ErrInvalidShape,
// ErrInvalidParameter, ErrUnsupportedOperation, ErrMalformedCiphertext,
// ErrDecryptionFailed, ErrWrongKeyVersion, ErrMessageTooLarge,
// ErrInvalidDigest, ErrInvalidMaterial, ErrNotExportable) and has a message
// fit for the API caller; KindOf maps all of them to KindInvalidParameter
// (400 InvalidParameter, as OCI answers, including for data that "could not
// be decrypted"). ErrMaterialNotFound, ErrCorruptBlob, ErrHSMUnavailable and
// anything unclassified are KindInternal (500). Messages never contain key
// material, plaintext or signatures; SecretMaterial and HSMConfig redact
// themselves in fmt and slog.
package keyprotect
