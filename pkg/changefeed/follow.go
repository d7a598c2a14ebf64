package changefeed

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/coffer-vault/coffer/internal/retry"
)

// Handler receives what Follow reads. Its methods are called from Follow's
// goroutine, one at a time; they should return quickly (hand the work to
// another goroutine) so that the next long poll starts at once.
type Handler interface {
	// Changes is called with the items of one answer, oldest first.
	Changes([]Change)
	// Reset is called when anything cached may have missed changes: once
	// the feed is first reached (changes between the caller's initial load
	// and that moment are unknown) and whenever the server answers reset.
	Reset()
}

// DefaultWait is the long poll's default duration. It stays well below
// the SDK HTTP client's 60-second timeout.
const DefaultWait = 30 * time.Second

// maxWait keeps a long poll under the SDK HTTP client's timeout.
const maxWait = 45 * time.Second

// FollowOptions configures Follow; the zero value gives the defaults.
type FollowOptions struct {
	// Wait is each long poll's duration. Default DefaultWait; at most 45s.
	Wait time.Duration
	// CompartmentID, if set, restricts the feed to one compartment.
	CompartmentID string
	// Backoff bounds the waits after failed calls: the first is at most
	// BaseDelay (default 1s), doubling per consecutive failure up to
	// MaxDelay (default 1 minute), with full jitter.
	BaseDelay, MaxDelay time.Duration
	// Sleep waits between failed calls (default: the real clock); tests
	// inject a fake. It returns ctx.Err() when ctx ends first.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives failures (never content; the feed has none).
	// Default: discard.
	Logger *slog.Logger
}

// Follow reads the feed from its current end until ctx ends (it then
// returns nil) or the service turns out to have no feed (it returns an
// error wrapping ErrUnavailable, once, and the caller keeps polling on its
// own schedule). Other failures are logged and retried with backoff from
// the last cursor, except a refused cursor (400), after which Follow starts
// again from the end of the feed and calls Reset; a 404 or 501 after the feed was reached is also treated
// as the end of the feed, since a deployment that answers it has no feed
// now.
func Follow(ctx context.Context, l Lister, h Handler, opts FollowOptions) error {
	if opts.Wait <= 0 {
		opts.Wait = DefaultWait
	}
	opts.Wait = min(opts.Wait, maxWait)
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = time.Second
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = time.Minute
	}
	if opts.Sleep == nil {
		opts.Sleep = retry.Sleep
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := retry.Policy{BaseDelay: opts.BaseDelay, MaxDelay: opts.MaxDelay}
	cursor := ""
	failures := 0
	for {
		if ctx.Err() != nil {
			return nil
		}
		req := Request{Cursor: cursor, CompartmentID: opts.CompartmentID}
		if cursor != "" {
			req.Wait = opts.Wait
		}
		p, err := l.ListChanges(ctx, req)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, ErrUnavailable) {
				return err
			}
			var se common.ServiceError
			if errors.As(err, &se) && se.GetHTTPStatusCode() == http.StatusBadRequest && cursor != "" {
				// The server refuses the cursor (another deployment, a
				// changed format): start again from the end, which
				// resets the caller, rather than repeat the refusal.
				log.LogAttrs(ctx, slog.LevelWarn, "changefeed: cursor refused; starting again from the end", slog.Any("error", err))
				cursor = ""
			}
			failures++
			d := backoff.Backoff(failures)
			log.LogAttrs(ctx, slog.LevelWarn, "changefeed: call failed; resuming from the last cursor",
				slog.Int("consecutive_failures", failures), slog.Duration("retry_in", d), slog.Any("error", err))
			if serr := opts.Sleep(ctx, d); serr != nil {
				return nil
			}
			continue
		}
		if failures > 0 {
			log.LogAttrs(ctx, slog.LevelInfo, "changefeed: reachable again", slog.Int("after_failures", failures))
			failures = 0
		}
		first := cursor == ""
		cursor = p.Cursor
		switch {
		case first || p.Reset:
			if p.Reset {
				log.LogAttrs(ctx, slog.LevelInfo, "changefeed: feed reset; reloading everything")
			}
			h.Reset()
		case len(p.Items) > 0:
			h.Changes(p.Items)
		}
	}
}

// Unavailable reports whether err says the service has no change feed.
func Unavailable(err error) bool { return errors.Is(err, ErrUnavailable) }
