package secrets

import (
	"context"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/store"
)

// KeyUser wraps and unwraps data keys with a vault's master encryption keys.
// The KMS domain implements it; secrets owns the interface because it is the
// consumer. Errors it returns are errs errors (Invalid, IncorrectState,
// RelatedNotFound, ...) and are passed through to the caller unchanged.
//
// Resources and Opener read the master key's records from the reader of the
// secret read in progress (a record cache Reader), so a read sees the
// secret and its key in one snapshot.
type KeyUser interface {
	// WrapDataKey seals dek under the current version of keyID, which must be an
	// enabled AES key of vaultID; it returns the key version used.
	WrapDataKey(ctx context.Context, vaultID, keyID string, dek, aad []byte) (wrapped []byte, keyVersionID string, err error)
	// UnwrapDataKey opens a data key sealed by WrapDataKey with keyVersionID.
	UnwrapDataKey(ctx context.Context, keyID, keyVersionID string, wrapped, aad []byte) ([]byte, error)
	// Resources returns the vault and key a secret names as the authorizer
	// sees them. One that does not exist comes back with only its ids, so
	// the authorizer, not a lookup, decides what the caller is told.
	Resources(r store.Reader, vaultID, keyID string) (vault, key *authz.Resource, err error)
	// Opener checks that keyID may be used now and returns what opens data
	// keys wrapped by its version keyVersionID, outside the read.
	Opener(r store.Reader, keyID, keyVersionID string) (UnwrapFunc, error)
}

// UnwrapFunc opens a data key wrapped with aad. (An alias, so that the KMS
// implements KeyUser without importing this package.)
type UnwrapFunc = func(ctx context.Context, wrapped, aad []byte) ([]byte, error)
