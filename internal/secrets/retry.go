package secrets

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Retry tokens (opc-retry-token) make creates and actions idempotent for 24
// hours, as in OCI: the same token with the same request returns the first
// result without doing the work again; the same token with a different
// request is refused with errs.InvalidatedRetry (409 InvalidatedRetryToken).
// A token is scoped by operation and target (the vault for CreateSecret, the
// secret otherwise), so one token reused across different secrets does not
// collide.
//
// The stored record holds only a blind index entry of the token (in its key:
// an HMAC under the index key, which guesses cannot be tested against
// without the keyring) and an HMAC of the request keyed by the token itself
// (in its value): the request may carry secret content, and without the
// token the HMAC cannot be tested against guesses. Records written before
// the blind index (an unkeyed SHA-256 in the key) match no request and are
// purged when they expire.

// RetryTokenTTL is how long a retry token is remembered.
const RetryTokenTTL = 24 * time.Hour

// MaxRetryTokenLen is OCI's limit on opc-retry-token.
const MaxRetryTokenLen = 64

type retryRecord struct {
	Fingerprint []byte    `json:"fp"`
	ResultID    string    `json:"result"`
	Expires     time.Time `json:"expires"`
}

type retryScope struct {
	key string
	fp  []byte
}

// newRetryScope returns nil when no token was given.
func (s *Service) newRetryScope(op, target, token string, req any) (*retryScope, error) {
	if token == "" {
		return nil, nil
	}
	if len(token) > MaxRetryTokenLen {
		return nil, errs.E(errs.Invalid, "opc-retry-token is longer than %d characters", MaxRetryTokenLen)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "encoding the request fingerprint")
	}
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(op + "\x00" + target + "\x00"))
	m.Write(body)
	clear(body)
	return &retryScope{key: prefixRetry + op + "/" + target + "/" + s.names.Of("secrets/retry", op, target, token), fp: m.Sum(nil)}, nil
}

// check returns the earlier result id when this is a replay.
func (rs *retryScope) check(r store.Reader, now time.Time) (string, bool, error) {
	if rs == nil {
		return "", false, nil
	}
	rec, err := record.Get[retryRecord](r, rs.key)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	if err != nil || !now.Before(rec.Expires) {
		return "", false, err
	}
	if !hmac.Equal(rec.Fingerprint, rs.fp) {
		return "", false, errs.E(errs.InvalidatedRetry, "the retry token was already used for a different request")
	}
	return rec.ResultID, true, nil
}

func (rs *retryScope) put(tx store.Tx, resultID string, now time.Time) error {
	if rs == nil {
		return nil
	}
	return record.Put(tx, rs.key, retryRecord{Fingerprint: rs.fp, ResultID: resultID, Expires: now.Add(RetryTokenTTL)})
}
