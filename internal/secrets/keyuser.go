package secrets

import "context"

// KeyUser wraps and unwraps data keys with a vault's master encryption keys.
// The KMS domain implements it; secrets owns the interface because it is the
// consumer. Errors it returns are errs errors (Invalid, IncorrectState,
// RelatedNotFound, ...) and are passed through to the caller unchanged.
type KeyUser interface {
	// WrapDataKey seals dek under the current version of keyID, which must be an
	// enabled AES key of vaultID; it returns the key version used.
	WrapDataKey(ctx context.Context, vaultID, keyID string, dek, aad []byte) (wrapped []byte, keyVersionID string, err error)
	// UnwrapDataKey opens a data key sealed by WrapDataKey with keyVersionID.
	UnwrapDataKey(ctx context.Context, keyID, keyVersionID string, wrapped, aad []byte) ([]byte, error)
}
