package keyprotect

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package and its implementations return
// for a caller's mistake wraps exactly one of them, so the wire layer can
// branch with errors.Is, or with KindOf for the HTTP status. Their messages
// (err.Error()) are written for the API caller and never contain key
// material, plaintext or signatures.
var (
	// ErrInvalidShape: keyShape is not one OCI allows. → 400 InvalidParameter.
	ErrInvalidShape = errors.New("invalid key shape")
	// ErrInvalidParameter: some other request value is not acceptable (an
	// unknown algorithm name, a plaintext too large, associated data where
	// it cannot be used). → 400 InvalidParameter.
	ErrInvalidParameter = errors.New("invalid parameter")
	// ErrUnsupportedOperation: the operation or algorithm does not apply to
	// the key's algorithm (Encrypt with an ECDSA key, RSA-PSS with an AES
	// key, a data key from an RSA key). → 400 InvalidParameter.
	ErrUnsupportedOperation = errors.New("operation not supported by this key")
	// ErrMalformedCiphertext: the ciphertext cannot be parsed (truncated,
	// bad version, bad lengths). → 400 InvalidParameter.
	ErrMalformedCiphertext = errors.New("malformed ciphertext")
	// ErrDecryptionFailed: the ciphertext parsed but did not open: wrong key,
	// wrong associated data, tampering. OCI answers 400 InvalidParameter
	// with a message that the data could not be decrypted; so do we.
	ErrDecryptionFailed = errors.New("the ciphertext could not be decrypted")
	// ErrWrongKeyVersion: the ciphertext names a key version other than the
	// handle's. The domain should have looked the version up with
	// ParseCiphertext first. → 400 InvalidParameter.
	ErrWrongKeyVersion = errors.New("the ciphertext was not produced by this key version")
	// ErrMessageTooLarge: a Sign/Verify message over MaxMessageSize bytes.
	// → 400 InvalidParameter.
	ErrMessageTooLarge = errors.New("message too large")
	// ErrInvalidDigest: messageType DIGEST with a digest whose length does
	// not match the signing algorithm's hash. → 400 InvalidParameter.
	ErrInvalidDigest = errors.New("invalid digest length")
	// ErrInvalidMaterial: imported key material (after unwrapping) is not a
	// key of the declared shape, or the wrapped blob is malformed or does
	// not unwrap. → 400 InvalidParameter.
	ErrInvalidMaterial = errors.New("invalid key material")
	// ErrNotExportable: export asked of a key whose protection forbids it
	// (HSM, real or emulated). OCI refuses this as a bad request:
	// → 400 InvalidParameter.
	ErrNotExportable = errors.New("key is not exportable")
	// ErrMaterialNotFound: the blob refers to material that is gone (HSM
	// object deleted, token replaced). This is the server's fault, not the
	// caller's: → 500 InternalServerError.
	ErrMaterialNotFound = errors.New("key material not found")
	// ErrCorruptBlob: a persisted blob does not open (wrong Sealer key,
	// tampered database, blob of another version or protection mode).
	// → 500 InternalServerError.
	ErrCorruptBlob = errors.New("persisted key material is corrupt")
)

// Kind classifies an error for the wire layer's one table from kind to OCI
// status and code.
type Kind int

// The kinds. KindInternal is the zero value so an unclassified error is
// never mistaken for the caller's fault.
const (
	KindInternal         Kind = iota // 500 InternalServerError
	KindInvalidParameter             // 400 InvalidParameter
)

// KindOf classifies err: KindInvalidParameter for every sentinel above that
// is the caller's fault, KindInternal for everything else (including nil's
// absence of meaning: do not call it with nil).
func KindOf(err error) Kind {
	for _, s := range []error{ErrInvalidShape, ErrInvalidParameter, ErrUnsupportedOperation,
		ErrMalformedCiphertext, ErrDecryptionFailed, ErrWrongKeyVersion, ErrMessageTooLarge,
		ErrInvalidDigest, ErrInvalidMaterial, ErrNotExportable} {
		if errors.Is(err, s) {
			return KindInvalidParameter
		}
	}
	return KindInternal
}

// callerError is an error whose message is meant for the API caller as is
// and which wraps one sentinel for errors.Is.
type callerError struct {
	kind error
	msg  string
}

func (e *callerError) Error() string { return e.msg }
func (e *callerError) Unwrap() error { return e.kind }

// Errorf returns an error that wraps the sentinel kind (one of the Err
// values above) and whose message is exactly the formatted text, for
// implementations of Protection that must report a caller's mistake.
// Never format secret values into it.
func Errorf(kind error, format string, args ...any) error {
	return &callerError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

func shapeErrorf(format string, args ...any) error {
	return Errorf(ErrInvalidShape, format, args...)
}
