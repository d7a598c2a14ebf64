// Package pkcs11hsm is HSM key protection over PKCS#11 (github.com/ThalesGroup/crypto11
// on github.com/miekg/pkcs11), tested against SoftHSM2.
//
// Every key version is a token object (CKA_TOKEN true, CKA_SENSITIVE true,
// CKA_EXTRACTABLE false) with a random 16-byte CKA_ID and CKA_LABEL set to
// the key version OCID. The persisted blob is only a reference:
//
//	0x01 || CKA_ID (16 bytes)
//
// Open finds the object by CKA_ID and CKA_LABEL together, so a blob moved to
// another key version does not open.
//
// What runs where:
//   - In the token: key generation (AES, RSA, EC), AES-GCM encryption and
//     decryption (CKM_AES_GCM, 12-byte nonce chosen by Coffer from
//     crypto/rand, 128-bit tag), RSA-OAEP decryption (CKM_RSA_PKCS_OAEP), RSA
//     PKCS#1 v1.5 and PSS signing (CKM_RSA_PKCS with the DigestInfo prefix,
//     CKM_RSA_PKCS_PSS), ECDSA signing (CKM_ECDSA; the raw r||s the token
//     returns is re-encoded as ASN.1 DER), and deletion.
//   - With the public key in Go (no secret involved, same result as the
//     token would give): RSA-OAEP encryption, signature verification, and
//     hashing of RAW messages before signing.
//   - Import: PKCS#11 has no "import plaintext" operation in crypto11, so
//     Import creates the objects with C_CreateObject through a second
//     miekg/pkcs11 handle on the same module (same process, so it shares
//     crypto11's logged-in state). The plaintext material is in host memory
//     for the duration of the call, as it is for keyprotect.UnwrapImport,
//     whose RSA-OAEP step runs in the token with the vault's wrapping key.
//
// See the notes in hsm.go for the exact limits found in SoftHSM2 2.6.
package pkcs11hsm
