package ociapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/coffer-vault/coffer/internal/blindindex"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/store"
)

// RetryTokens makes operations idempotent under opc-retry-token: the first
// request with a token runs and its successful response is kept for TTL; a
// repeat of the same request gets the same response without running again; a
// different request with the same token is refused with 409
// InvalidatedRetryToken; a repeat while the first is still running gets 409
// IncorrectState, which the SDK retries.
//
// Tokens are scoped by principal and operation, and kept only as a blind
// index entry (a keyed hash: a client-chosen token, guessable or not, cannot
// be tested against the database without the keyring). The saved response
// lives in the store behind the barrier. Records written before the blind
// index (an unkeyed SHA-256 in the key) match no request and expire.
type RetryTokens struct {
	Store store.Store
	// Index keys the token's entry; required by Do.
	Index *blindindex.Index
	Now   func() time.Time
	TTL   time.Duration // 0 means 24 hours, as OCI documents
}

const prefixRetryToken = "retrytoken/"

type retryRecord struct {
	RequestHash string      `json:"requestHash"`
	Done        bool        `json:"done"`
	Status      int         `json:"status"`
	Header      http.Header `json:"header"`
	Body        []byte      `json:"body"`
	Created     time.Time   `json:"created"`
}

func (t *RetryTokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *RetryTokens) ttl() time.Duration {
	if t.TTL > 0 {
		return t.TTL
	}
	return 24 * time.Hour
}

func hashParts(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// keys returns the storage key of the token's entry (a blind index entry:
// tokens are the client's text) and the hash of the request it belongs to.
func (t *RetryTokens) keys(c *Call, token string) (key, reqHash string) {
	key = prefixRetryToken + t.Index.Of("ociapi/retrytoken", c.principal, c.Operation, c.VaultID, token)
	return key, hashParts(c.R.Method, c.R.URL.Path, c.R.URL.RawQuery, string(c.Body))
}

// Do runs h under the retry token.
func (t *RetryTokens) Do(c *Call, token string, h HandlerFunc) error {
	if len(token) > 64 {
		return errs.E(errs.Invalid, "opc-retry-token must be at most 64 characters")
	}
	if t.Index == nil {
		return errs.E(errs.Internal, "retry tokens: no blind index configured")
	}
	key, reqHash := t.keys(c, token)
	var replay *retryRecord
	err := t.Store.Update(c.Context(), func(tx store.Tx) error {
		replay = nil
		b, err := tx.Get(key)
		if err == nil {
			var rec retryRecord
			if err := json.Unmarshal(b, &rec); err != nil {
				return fmt.Errorf("decode retry token record: %w", err)
			}
			if t.now().Sub(rec.Created) < t.ttl() {
				if rec.RequestHash != reqHash {
					return errs.E(errs.InvalidatedRetry, "the opc-retry-token was used for a different request")
				}
				if !rec.Done {
					return errs.E(errs.IncorrectState, "a request with this opc-retry-token is still in progress")
				}
				replay = &rec
				return nil
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		pending, _ := json.Marshal(retryRecord{RequestHash: reqHash, Created: t.now()})
		return tx.Put(key, pending)
	})
	if err != nil {
		return err
	}
	if replay != nil {
		replay.write(c)
		return nil
	}

	rec := &recorder{header: http.Header{}}
	realW := c.W
	c.W = rec
	herr := h(c)
	c.W = realW
	c.replied = false
	if herr != nil || rec.status >= 300 || rec.status == 0 {
		// Failed requests leave no record, so the client may retry them.
		_ = t.Store.Update(c.Context(), func(tx store.Tx) error { return tx.Delete(key) })
		if herr != nil {
			return herr
		}
	} else {
		done := retryRecord{RequestHash: reqHash, Done: true, Status: rec.status, Header: rec.header.Clone(), Body: rec.body.Bytes(), Created: t.now()}
		done.Header.Del("opc-request-id")
		b, _ := json.Marshal(done)
		if err := t.Store.Update(c.Context(), func(tx store.Tx) error { return tx.Put(key, b) }); err != nil {
			return fmt.Errorf("save retry token result: %w", err)
		}
	}
	for k, v := range rec.header {
		realW.Header()[k] = v
	}
	realW.WriteHeader(rec.status)
	_, _ = realW.Write(rec.body.Bytes())
	c.replied, c.status = true, rec.status
	return nil
}

func (rec *retryRecord) write(c *Call) {
	for k, v := range rec.Header {
		c.W.Header()[k] = v
	}
	c.W.Header().Set("opc-request-id", c.RequestID)
	c.W.WriteHeader(rec.Status)
	_, _ = c.W.Write(rec.Body)
	c.replied, c.status = true, rec.Status
}

// Answered writes the saved response of the request under token when it
// completed and is the same request, and reports whether it did; it never
// runs anything. The replay guard asks it about an exact copy of a signed
// request: a retry sent within the second of its first attempt carries
// the same signature, and gets the same answer as a re-signed one would.
// A copy with the token removed or changed (the header is not signed) is
// not answered here, and is refused.
func (t *RetryTokens) Answered(c *Call, token string) (bool, error) {
	if len(token) > 64 || t.Index == nil {
		return false, nil
	}
	key, reqHash := t.keys(c, token)
	var rec retryRecord
	found := false
	err := t.Store.View(c.Context(), func(r store.Reader) error {
		b, err := r.Get(key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			return fmt.Errorf("decode retry token record: %w", err)
		}
		found = rec.Done && rec.RequestHash == reqHash && t.now().Sub(rec.Created) < t.ttl()
		return nil
	})
	if err != nil || !found {
		return false, err
	}
	rec.write(c)
	return true, nil
}

// Expire deletes token records older than the TTL. The server runs it from
// its background jobs.
func (t *RetryTokens) Expire(ctx context.Context) (int, error) {
	n := 0
	err := t.Store.Update(ctx, func(tx store.Tx) error {
		n = 0
		entries, err := tx.List(prefixRetryToken, "", 0)
		if err != nil {
			return err
		}
		for _, e := range entries {
			var rec retryRecord
			if json.Unmarshal(e.Value, &rec) == nil && t.now().Sub(rec.Created) < t.ttl() {
				continue
			}
			if err := tx.Delete(e.Key); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
