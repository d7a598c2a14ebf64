package keyprotect

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha256" // SHA-224 and SHA-256 for crypto.Hash
	_ "crypto/sha512" // SHA-384 and SHA-512 for crypto.Hash
	"crypto/x509"
	"fmt"
)

// MaxMessageSize is OCI's limit on Sign and Verify messages, RAW or DIGEST.
const MaxMessageSize = 4096

// SigningAlgorithm is OCI's signingAlgorithm.
type SigningAlgorithm string

// The signing algorithms OCI offers.
const (
	SHA224RSAPKCSPSS  SigningAlgorithm = "SHA_224_RSA_PKCS_PSS"
	SHA256RSAPKCSPSS  SigningAlgorithm = "SHA_256_RSA_PKCS_PSS"
	SHA384RSAPKCSPSS  SigningAlgorithm = "SHA_384_RSA_PKCS_PSS"
	SHA512RSAPKCSPSS  SigningAlgorithm = "SHA_512_RSA_PKCS_PSS"
	SHA224RSAPKCS1V15 SigningAlgorithm = "SHA_224_RSA_PKCS1_V1_5"
	SHA256RSAPKCS1V15 SigningAlgorithm = "SHA_256_RSA_PKCS1_V1_5"
	SHA384RSAPKCS1V15 SigningAlgorithm = "SHA_384_RSA_PKCS1_V1_5"
	SHA512RSAPKCS1V15 SigningAlgorithm = "SHA_512_RSA_PKCS1_V1_5"
	ECDSASHA256       SigningAlgorithm = "ECDSA_SHA_256"
	ECDSASHA384       SigningAlgorithm = "ECDSA_SHA_384"
	ECDSASHA512       SigningAlgorithm = "ECDSA_SHA_512"
)

// MessageType is OCI's messageType: RAW (the default: the message is hashed
// here) or DIGEST (the message is the hash).
type MessageType string

// The message types.
const (
	MessageRaw    MessageType = "RAW"
	MessageDigest MessageType = "DIGEST"
)

type sigSpec struct {
	alg  Algorithm
	hash crypto.Hash
	pss  bool
}

var sigSpecs = map[SigningAlgorithm]sigSpec{
	SHA224RSAPKCSPSS:  {RSA, crypto.SHA224, true},
	SHA256RSAPKCSPSS:  {RSA, crypto.SHA256, true},
	SHA384RSAPKCSPSS:  {RSA, crypto.SHA384, true},
	SHA512RSAPKCSPSS:  {RSA, crypto.SHA512, true},
	SHA224RSAPKCS1V15: {RSA, crypto.SHA224, false},
	SHA256RSAPKCS1V15: {RSA, crypto.SHA256, false},
	SHA384RSAPKCS1V15: {RSA, crypto.SHA384, false},
	SHA512RSAPKCS1V15: {RSA, crypto.SHA512, false},
	ECDSASHA256:       {ECDSA, crypto.SHA256, false},
	ECDSASHA384:       {ECDSA, crypto.SHA384, false},
	ECDSASHA512:       {ECDSA, crypto.SHA512, false},
}

// SigningAlgorithms lists every signing algorithm, for tests and docs.
func SigningAlgorithms() []SigningAlgorithm {
	return []SigningAlgorithm{SHA224RSAPKCSPSS, SHA256RSAPKCSPSS, SHA384RSAPKCSPSS, SHA512RSAPKCSPSS,
		SHA224RSAPKCS1V15, SHA256RSAPKCS1V15, SHA384RSAPKCS1V15, SHA512RSAPKCS1V15,
		ECDSASHA256, ECDSASHA384, ECDSASHA512}
}

// Hash returns the hash function of a signing algorithm (0 if unknown), so
// the wire layer or a client can make a DIGEST.
func (a SigningAlgorithm) Hash() crypto.Hash { return sigSpecs[a].hash }

// digest checks the algorithm against the key algorithm and the message
// against its type, and returns what the signature covers.
func digest(keyAlg Algorithm, alg SigningAlgorithm, mt MessageType, msg []byte) (sigSpec, []byte, error) {
	spec, ok := sigSpecs[alg]
	if !ok {
		return spec, nil, Errorf(ErrInvalidParameter, "signingAlgorithm %q is not valid", string(alg))
	}
	if keyAlg == AES {
		return spec, nil, Errorf(ErrUnsupportedOperation, "AES keys cannot sign or verify")
	}
	if spec.alg != keyAlg {
		return spec, nil, Errorf(ErrUnsupportedOperation, "signingAlgorithm %s cannot be used with %s keys", alg, keyAlg)
	}
	if len(msg) > MaxMessageSize {
		return spec, nil, Errorf(ErrMessageTooLarge, "message is %d bytes, more than the %d allowed: sign a digest instead (messageType DIGEST)", len(msg), MaxMessageSize)
	}
	switch mt {
	case "", MessageRaw:
		h := spec.hash.New()
		h.Write(msg)
		return spec, h.Sum(nil), nil
	case MessageDigest:
		if len(msg) != spec.hash.Size() {
			return spec, nil, Errorf(ErrInvalidDigest, "digest is %d bytes, but %s needs a %d-byte digest", len(msg), alg, spec.hash.Size())
		}
		return spec, msg, nil
	default:
		return spec, nil, Errorf(ErrInvalidParameter, "messageType %q is not valid: allowed values are RAW, DIGEST", string(mt))
	}
}

// Sign signs message (OCI Sign). RSA-PSS uses a salt as long as the hash;
// ECDSA signatures are ASN.1 DER, as OCI's (ecdsa.VerifyASN1 accepts them).
// mt "" means RAW.
func (h *Handle) Sign(alg SigningAlgorithm, mt MessageType, message []byte) ([]byte, error) {
	spec, d, err := digest(h.shape.Algorithm, alg, mt, message)
	if err != nil {
		return nil, err
	}
	var opts crypto.SignerOpts = spec.hash
	if spec.pss {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: spec.hash}
	}
	sig, err := h.key.Signer.Sign(rand.Reader, d, opts)
	if err != nil {
		return nil, fmt.Errorf("sign with key version %s: %w", h.id, err)
	}
	return sig, nil
}

// Verify checks a signature with the key version's public key (OCI
// Verify). It needs no Handle: the domain passes the DER public key it
// persisted. An invalid signature is (false, nil); errors are for invalid
// requests. RSA-PSS accepts any salt length.
func Verify(shape Shape, publicKeyDER []byte, alg SigningAlgorithm, mt MessageType, message, signature []byte) (bool, error) {
	spec, d, err := digest(shape.Algorithm, alg, mt, message)
	if err != nil {
		return false, err
	}
	pk, err := x509.ParsePKIXPublicKey(publicKeyDER)
	if err != nil {
		return false, fmt.Errorf("verify: parse public key: %w", err)
	}
	switch pub := pk.(type) {
	case *rsa.PublicKey:
		if shape.Algorithm != RSA {
			return false, fmt.Errorf("verify: public key is RSA, shape is %s", shape)
		}
		if spec.pss {
			return rsa.VerifyPSS(pub, spec.hash, d, signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil, nil
		}
		return rsa.VerifyPKCS1v15(pub, spec.hash, d, signature) == nil, nil
	case *ecdsa.PublicKey:
		if shape.Algorithm != ECDSA {
			return false, fmt.Errorf("verify: public key is ECDSA, shape is %s", shape)
		}
		return ecdsa.VerifyASN1(pub, d, signature), nil
	default:
		return false, fmt.Errorf("verify: unsupported public key type %T", pk)
	}
}

// Verify is the package-level Verify with this version's shape and public
// key.
func (h *Handle) Verify(alg SigningAlgorithm, mt MessageType, message, signature []byte) (bool, error) {
	return Verify(h.shape, h.pubDER, alg, mt, message, signature)
}
