package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"

	"github.com/coffer-vault/coffer/internal/errs"
)

const (
	dataKeyLen = 32
	nonceLen   = 12
	macKeyLen  = 32
)

// versionAAD binds a version's ciphertext and wrapped data key to the secret
// OCID and version number. OCIDs contain no NUL, so the encoding is
// injective.
func versionAAD(secretID string, n int64) []byte {
	const prefix = "coffer/secret-version/v1\x00"
	b := make([]byte, 0, len(prefix)+len(secretID)+9)
	b = append(b, prefix...)
	b = append(b, secretID...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, uint64(n))
}

// macKeyAAD binds a secret's wrapped MAC key to the secret.
func macKeyAAD(secretID string) []byte {
	return append([]byte("coffer/secret-mac-key/v1\x00"), secretID...)
}

// wrappedKey is a key wrapped by a master key version.
type wrappedKey struct {
	KeyVersionID string `json:"keyVersionId"`
	Wrapped      []byte `json:"wrapped"`
}

// sealed is a version's encrypted content.
type sealed struct {
	DEK    wrappedKey `json:"dek"`
	Sealed []byte     `json:"sealed"` // nonce || AES-256-GCM ciphertext
}

func randomKey(n int) ([]byte, error) {
	k := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, k); err != nil {
		return nil, errs.Wrap(errs.Internal, err, "random key generation failed")
	}
	return k, nil
}

// seal encrypts plaintext under a fresh data key and wraps the data key.
// Call outside store transactions: it calls the KeyUser.
func seal(ctx context.Context, ku KeyUser, vaultID, keyID string, aad, plaintext []byte) (sealed, error) {
	dek, err := randomKey(dataKeyLen)
	if err != nil {
		return sealed{}, err
	}
	defer clear(dek)
	gcm, err := newGCM(dek)
	if err != nil {
		return sealed{}, err
	}
	out := make([]byte, nonceLen, nonceLen+len(plaintext)+gcm.Overhead())
	if _, err := io.ReadFull(rand.Reader, out); err != nil {
		return sealed{}, errs.Wrap(errs.Internal, err, "random nonce generation failed")
	}
	out = gcm.Seal(out, out[:nonceLen], plaintext, aad)
	wrapped, kv, err := ku.WrapDataKey(ctx, vaultID, keyID, dek, aad)
	if err != nil {
		return sealed{}, passKeyErr(err, "wrapping the data key")
	}
	return sealed{DEK: wrappedKey{KeyVersionID: kv, Wrapped: wrapped}, Sealed: out}, nil
}

// open decrypts a version's content with the data key unwrap opens. Call
// outside store transactions.
func open(ctx context.Context, unwrap UnwrapFunc, aad []byte, s sealed) ([]byte, error) {
	dek, err := unwrap(ctx, s.DEK.Wrapped, aad)
	if err != nil {
		return nil, passKeyErr(err, "unwrapping the data key")
	}
	defer clear(dek)
	if len(dek) != dataKeyLen || len(s.Sealed) < nonceLen {
		return nil, errs.E(errs.Internal, "secret version content is corrupt")
	}
	gcm, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	pt, err := gcm.Open(nil, s.Sealed[:nonceLen], s.Sealed[nonceLen:], aad)
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "secret version content failed authentication")
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "cipher setup failed")
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "cipher setup failed")
	}
	return g, nil
}

// contentMAC is HMAC-SHA256 of content under the secret's MAC key; it lets
// the reuse rule compare content without storing a plain hash.
func contentMAC(macKey, content []byte) []byte {
	m := hmac.New(sha256.New, macKey)
	m.Write(content)
	return m.Sum(nil)
}

// passKeyErr keeps a KeyUser's classified error as it is (its message is
// meant for the caller) and classifies anything else as internal.
func passKeyErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if asErr(err, &e) {
		return err
	}
	return errs.Wrap(errs.Internal, err, "master key operation failed while %s", what)
}
