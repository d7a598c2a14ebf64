package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// CookieName is the session cookie's name.
const CookieName = "coffer_session"

// prefixSession holds session records, keyed by the SHA-256 of the session
// id: the store (and a backup of it) never holds an id that would let its
// reader in.
const prefixSession = "console/session/"

// touchEvery is how stale a session's last-seen time may get before a
// request writes it again: idle expiry is exact to within it, and a busy
// page does not write the store on every request.
const touchEvery = time.Minute

// sessionID is a session's 256-bit random id, the cookie's value. It
// prints and logs redacted.
type sessionID [32]byte

// String implements fmt.Stringer, redacted.
func (sessionID) String() string { return "[REDACTED]" }

// LogValue implements slog.LogValuer, redacted.
func (sessionID) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

func newSessionID() sessionID {
	var id sessionID
	_, _ = rand.Read(id[:]) // crypto/rand.Read never fails
	return id
}

// encode is the cookie value: unpadded base64url, 43 characters.
func (id sessionID) encode() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// key is the session's storage key.
func (id sessionID) key() string {
	sum := sha256.Sum256(id[:])
	return prefixSession + hex.EncodeToString(sum[:])
}

// parseSessionID parses a cookie value: exactly 43 characters of unpadded
// base64url that decode to 32 bytes and encode back to the same text.
func parseSessionID(v string) (sessionID, bool) {
	var id sessionID
	if len(v) != 43 {
		return id, false
	}
	n, err := base64.RawURLEncoding.Strict().Decode(id[:], []byte(v))
	if err != nil || n != len(id) {
		return sessionID{}, false
	}
	return id, true
}

// session is a stored session: who, under which password stamp, its CSRF
// token, and the times that decide its expiry.
type session struct {
	UserID   string    `json:"userId"`
	UserName string    `json:"userName"`
	Stamp    string    `json:"stamp"`
	CSRF     string    `json:"csrf"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"lastSeen"`
}

// errNoSession is a missing, expired or ended session.
var errNoSession = errors.New("console: no such session")

// sessions keeps sessions in the store, so that every node sharing it
// accepts them.
type sessions struct {
	st             store.Store
	now            func() time.Time
	idle, absolute time.Duration
}

func (s *sessions) create(ctx context.Context, userID, userName, stamp string) (sessionID, session, error) {
	id := newSessionID()
	var csrf [32]byte
	_, _ = rand.Read(csrf[:])
	now := s.now().UTC()
	rec := session{UserID: userID, UserName: userName, Stamp: stamp, CSRF: base64.RawURLEncoding.EncodeToString(csrf[:]),
		Created: now, LastSeen: now}
	err := s.st.Update(ctx, func(tx store.Tx) error { return record.Put(tx, id.key(), rec) })
	if err != nil {
		return id, rec, fmt.Errorf("console: create session: %w", err)
	}
	return id, rec, nil
}

// get returns a live session and refreshes its last-seen time; an expired
// one is deleted and is errNoSession.
func (s *sessions) get(ctx context.Context, id sessionID) (session, error) {
	var rec session
	err := s.st.View(ctx, func(r store.Reader) (err error) {
		rec, err = record.Get[session](r, id.key())
		return err
	})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, record.ErrCorrupt) {
		return rec, errNoSession
	}
	if err != nil {
		return rec, fmt.Errorf("console: read session: %w", err)
	}
	now := s.now()
	if now.Sub(rec.Created) >= s.absolute || now.Sub(rec.LastSeen) >= s.idle {
		if err := s.delete(ctx, id); err != nil {
			return rec, err
		}
		return rec, errNoSession
	}
	if now.Sub(rec.LastSeen) >= touchEvery {
		rec.LastSeen = now.UTC()
		err := s.st.Update(ctx, func(tx store.Tx) error {
			// Only while it still exists: a logout on another node wins.
			if ok, err := record.Exists(tx, id.key()); err != nil || !ok {
				return err
			}
			return record.Put(tx, id.key(), rec)
		})
		if err != nil {
			return rec, fmt.Errorf("console: touch session: %w", err)
		}
	}
	return rec, nil
}

func (s *sessions) delete(ctx context.Context, id sessionID) error {
	if err := s.st.Update(ctx, func(tx store.Tx) error { return tx.Delete(id.key()) }); err != nil {
		return fmt.Errorf("console: delete session: %w", err)
	}
	return nil
}

// expirePage is how many sessions one pass of expire reads at a time.
const expirePage = 500

// expire deletes the sessions past their idle or absolute timeout (a
// background job: a session is also deleted when presented expired).
func (s *sessions) expire(ctx context.Context) (int, error) {
	now, after, n := s.now(), "", 0
	for {
		var due []string
		var page []store.Entry
		err := s.st.View(ctx, func(r store.Reader) (err error) {
			page, err = r.List(prefixSession, after, expirePage)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("console: expire sessions: %w", err)
		}
		for _, e := range page {
			rec, err := record.Decode[session](e)
			if err != nil || now.Sub(rec.Created) >= s.absolute || now.Sub(rec.LastSeen) >= s.idle {
				due = append(due, e.Key)
			}
		}
		if len(due) > 0 {
			err := s.st.Update(ctx, func(tx store.Tx) error {
				for _, k := range due {
					if err := tx.Delete(k); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return n, fmt.Errorf("console: expire sessions: %w", err)
			}
			n += len(due)
		}
		if len(page) < expirePage {
			return n, nil
		}
		after = page[len(page)-1].Key
	}
}
