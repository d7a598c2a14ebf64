package ociapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/store"
)

// ErrReplayed is the error of a refused replay: 401 NotAuthenticated, with
// a message that says why, since the sender's signature was good.
var ErrReplayed = errors.New("ociapi: replayed signed request")

const replayedMessage = "This signed request was already accepted; a replayed request is refused. Sign each request anew."

// errRecentCopy is a copy that arrived within sameSecond of its date. It is
// refused all the same, but with 429 and Retry-After: 1 rather than 401:
// the date header has a resolution of one second, so a client that sends
// the same change twice within one second (adding a user to a group twice,
// cancelling a deletion twice) signs two identical requests, and an SDK
// answered 429 signs the repeat again, in a later second, and succeeds. A
// replayer cannot sign, so for it the request stays refused; a copy sent
// later than that is the 401 of ErrReplayed.
var errRecentCopy = fmt.Errorf("%w within the second of its date", ErrReplayed)

// sameSecond is how soon after its date a copy counts as a repeat within
// the same second rather than a replay: the date's resolution plus the
// time a request takes to arrive.
const sameSecond = 2 * time.Second

const recentCopyMessage = "An identical signed request was accepted less than a second ago; requests are told apart by their date, so sign the repeat again in a later second."

// DefaultRetryGrace is how long after a failed request arrived an exact
// copy of it is still let through, when ReplayGuard.RetryGrace is 0.
const DefaultRetryGrace = 5 * time.Second

// clockMargin is added to every ledger entry's lifetime: nodes sharing a
// ledger read different clocks, and an entry must outlive the window in
// which any node's verifier would still accept its request.
const clockMargin = time.Minute

// ReplayGuard refuses an exact copy of a signed request that changes
// something. OCI's HTTP signatures carry no nonce: a request may be sent
// again byte for byte for as long as its date is within the clock-skew
// window, and an UpdateSecret sent again makes another version, or rolls
// the content back when it follows a later update. The guard records every
// accepted request in a ledger, under a hash of its principal and decoded
// signature, until its date leaves the window (authn.RequestSignature
// explains why the signature identifies the request).
//
// The record is claimed before the handler runs, so of two concurrent
// copies only one runs. When the handler fails (an error, or a status of
// 400 or more: a conflict, a rate limit, validation, a denial) the request
// changed nothing, and the claim is released for RetryGrace: the OCI SDKs
// re-sign every attempt, but the date header has a resolution of one
// second, so a retry sent within the second of the first attempt carries
// the very same signature, and must not be refused. An identical retry
// can only have been sent less than a second after the first attempt, so a
// short grace from the first attempt's arrival lets it through while a
// replay of a failed request later in the window is still refused.
//
// Routes marked ReadOnly, and GET and HEAD, are not guarded; see
// Route.ReadOnly.
type ReplayGuard struct {
	Ledger store.ReplayLedger
	// Window is how far a request's date may be from the server's clock:
	// the verifier's skew (authn.Verifier.Skew).
	Window time.Duration
	// RetryGrace: DefaultRetryGrace when 0.
	RetryGrace time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (g *ReplayGuard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

// replayID is what the ledger keeps instead of the signature.
func replayID(principal string, sig []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("coffer replay v1\x00"))
	fmt.Fprintf(h, "%d:%s", len(principal), principal)
	h.Write(sig)
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// claim records c's request in the ledger, or refuses it as a replay.
func (g *ReplayGuard) claim(c *Call) (id [32]byte, at time.Time, err error) {
	sig, date, err := authn.RequestSignature(c.R)
	if err != nil {
		// Verify accepted the request, so this cannot happen; refuse anyway.
		return id, at, fmt.Errorf("%w: replay guard: %v", authn.ErrNotAuthenticated, err)
	}
	id = replayID(c.principal, sig)
	at = g.now()
	ok, err := g.Ledger.Claim(c.Context(), id, date.Add(g.Window+clockMargin), at)
	switch {
	case errors.Is(err, store.ErrLedgerFull):
		c.W.Header().Set("Retry-After", "1")
		return id, at, errs.Wrap(errs.Unavailable, err, "the server is accepting too many changes to keep track of; retry shortly")
	case err != nil:
		return id, at, fmt.Errorf("replay ledger: %w", err)
	case !ok && at.Sub(date) < sameSecond:
		return id, at, errRecentCopy
	case !ok:
		return id, at, ErrReplayed
	}
	return id, at, nil
}

// release lets the request claimed at `at` be claimed again within the
// grace, after it failed without effect.
func (g *ReplayGuard) release(ctx context.Context, id [32]byte, at time.Time) error {
	grace := g.RetryGrace
	if grace == 0 {
		grace = DefaultRetryGrace
	}
	until := at.Add(grace)
	if !g.now().Before(until) {
		return nil // too late for a retry with the same signature
	}
	if err := g.Ledger.Release(context.WithoutCancel(ctx), id, until); err != nil {
		return fmt.Errorf("replay ledger release: %w", err)
	}
	return nil
}
