// Package retry is Coffer's one retry policy for calls to an OCI-compatible
// service: exponential backoff with full jitter, Retry-After honoured,
// bounded attempts and bounded total time. The secret cache, the agent and
// the CLI all use it, so a client behaves the same way wherever it runs.
//
// # What is retried
//
// Only failures that a later attempt can fix: HTTP 429, HTTP 5xx except 501,
// the two 409 codes OCI marks retryable (IncorrectState, LockConflict), and
// network failures (a failed dial, read or write; a timeout; io.EOF,
// io.ErrUnexpectedEOF, connection reset or refused). Every other 4xx is final,
// as are certificate errors and context cancellation. See [Retryable].
//
// # Delay
//
// Attempt n (from 1) waits a uniformly random time in [0, min(MaxDelay,
// BaseDelay·2^(n-1))] ("full jitter"), unless the failure carries a
// Retry-After, which is then obeyed. A delay that would end past the total
// budget (MaxElapsed) or the context's deadline stops the loop at once with
// the last error instead of sleeping in vain.
//
// SDK clients use the same settings through [Policy.SDK], which builds a
// common.RetryPolicy and reads Retry-After from the HTTP response.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// Defaults, chosen for interactive reads of secrets: a caller waits at most
// about half a minute before it is told the service is unavailable.
const (
	DefaultMaxAttempts = 5
	DefaultBaseDelay   = 200 * time.Millisecond
	DefaultMaxDelay    = 10 * time.Second
	DefaultMaxElapsed  = 30 * time.Second
)

// Policy holds the retry settings. The zero value is usable and means the
// defaults above; a negative MaxElapsed means no total bound other than the
// context's.
type Policy struct {
	// MaxAttempts bounds the number of calls, the first included. 1 disables
	// retries; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// BaseDelay is the upper bound of the first jittered wait.
	BaseDelay time.Duration
	// MaxDelay caps each jittered wait (not a server's Retry-After).
	MaxDelay time.Duration
	// MaxElapsed bounds the time from the first call to the start of the
	// last one; no wait that would end past it is begun.
	MaxElapsed time.Duration

	// RetryAfter, if set, extracts a server-requested delay from an error
	// when the error does not carry one itself (see [WithRetryAfter]).
	RetryAfter func(error) (time.Duration, bool)
	// Retryable, if set, replaces the classification of [Retryable]. Most
	// callers leave it nil.
	Retryable func(error) bool

	// Now and Sleep are the clock; tests inject fakes so that no test waits
	// for real time. Sleep must return ctx.Err() when ctx ends first.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a uniformly random duration in [0, d]. Jitter is not a
	// secret, so the default uses math/rand/v2 rather than crypto/rand.
	Jitter func(d time.Duration) time.Duration
}

// Default returns the policy with every default filled in.
func Default() Policy { return Policy{}.withDefaults() }

func (p Policy) withDefaults() Policy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.MaxElapsed == 0 {
		p.MaxElapsed = DefaultMaxElapsed
	}
	if p.Retryable == nil {
		p.Retryable = Retryable
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Sleep == nil {
		p.Sleep = Sleep
	}
	if p.Jitter == nil {
		p.Jitter = jitter
	}
	return p
}

// Sleep waits d, or until ctx ends (then it returns ctx.Err()): the real
// clock's Policy.Sleep, for callers that wait between attempts themselves.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// Backoff returns the jittered wait after the given failed attempt (from 1),
// ignoring any Retry-After.
func (p Policy) Backoff(attempt int) time.Duration {
	p = p.withDefaults()
	return p.Jitter(p.ceiling(attempt))
}

// ceiling is min(MaxDelay, BaseDelay·2^(attempt-1)) without overflow.
func (p Policy) ceiling(attempt int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < attempt && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// delay is the wait after attempt: the server's Retry-After when it gave
// one, otherwise the jittered backoff.
func (p Policy) delay(err error, attempt int) time.Duration {
	if d, ok := RetryAfter(err); ok {
		return d
	}
	if p.RetryAfter != nil {
		if d, ok := p.RetryAfter(err); ok && d >= 0 {
			return d
		}
	}
	return p.Jitter(p.ceiling(attempt))
}

// ErrExhausted marks an error returned because the attempt or time budget
// ran out; the last attempt's error is wrapped alongside it.
var ErrExhausted = errors.New("retry: budget exhausted")

// Do calls fn until it succeeds, fails with an error that is not retryable,
// or the budget runs out. It returns nil or the last error from fn (wrapped
// with ErrExhausted when the budget ran out, so errors.Is works on both).
// A context that ends stops Do at once, even in the middle of a wait; the
// error then wraps ctx.Err() and the last error.
func (p Policy) Do(ctx context.Context, fn func(context.Context) error) error {
	p = p.withDefaults()
	start := p.Now()
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			// The failure may be the cancellation itself; never retry it.
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
		if !p.Retryable(err) {
			return err
		}
		if attempt >= p.MaxAttempts {
			return fmt.Errorf("%w after %d attempts: %w", ErrExhausted, attempt, err)
		}
		d := p.delay(err, attempt)
		wake := p.Now().Add(d)
		if p.MaxElapsed > 0 && wake.Sub(start) > p.MaxElapsed {
			return fmt.Errorf("%w after %d attempts (next wait %v exceeds %v): %w",
				ErrExhausted, attempt, d, p.MaxElapsed, err)
		}
		if dl, ok := ctx.Deadline(); ok && wake.After(dl) {
			return fmt.Errorf("%w after %d attempts (next wait %v passes the deadline): %w",
				ErrExhausted, attempt, d, err)
		}
		if serr := p.Sleep(ctx, d); serr != nil {
			return fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}

// RetryAfterError carries a delay that the server asked for (HTTP
// Retry-After) alongside the error it came with.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

// Error returns the wrapped error's message.
func (e *RetryAfterError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error so classification sees through it.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// WithRetryAfter wraps err with the delay named by the Retry-After header of
// h, if any. SDK calls return the raw *http.Response even on failure
// (response.RawResponse), so callers pass its Header here. A nil err, a nil
// header or a missing or malformed value returns err unchanged.
func WithRetryAfter(err error, h http.Header, now time.Time) error {
	if err == nil || h == nil {
		return err
	}
	d, ok := ParseRetryAfter(h.Get("Retry-After"), now)
	if !ok {
		return err
	}
	return &RetryAfterError{Err: err, After: d}
}

// RetryAfter reports the delay carried by err (see [RetryAfterError]).
func RetryAfter(err error) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After >= 0 {
		return ra.After, true
	}
	return 0, false
}

// maxRetryAfter caps a server's Retry-After so that a hostile or broken
// value cannot overflow a Duration; a budget check rejects it long before.
const maxRetryAfter = 24 * time.Hour

// ParseRetryAfter parses an HTTP Retry-After value: either a number of
// seconds or an HTTP date (RFC 9110 section 10.2.3). A date in the past
// gives zero. Values are capped at 24 hours.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" || len(v) > 64 {
		return 0, false
	}
	if isDigits(v) {
		var secs int64
		for _, c := range v {
			secs = secs*10 + int64(c-'0')
			if secs > int64(maxRetryAfter/time.Second) {
				return maxRetryAfter, true
			}
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	switch {
	case d < 0:
		return 0, true
	case d > maxRetryAfter:
		return maxRetryAfter, true
	}
	return d, true
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
