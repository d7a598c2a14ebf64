// Package secretcache keeps secret bundles read from an OCI-compatible
// Secrets service (OCI itself or Coffer) in memory, so that applications
// can read a secret on every request without calling the service each time,
// and keep working through short outages and rotations.
//
// It depends only on the official SDK's secrets types: the real
// secrets.SecretsClient is a [Backend], and so is any fake with the same
// two methods.
//
// # Behaviour
//
//   - A cached version is served for a TTL (default 5 minutes). The TTL is
//     shortened, and the shortening reported, when it would outlive the
//     version's timeOfExpiry or half of the secret's rotation interval
//     (from [Options.RotationInterval], else from the secret's metadata
//     under [DefaultRotationMetadataKey], e.g. "P30D").
//   - A read after RefreshAhead (default 80%) of the TTL returns the cached
//     value at once and refreshes it in the background (bounded number of
//     refresh goroutines), so steady readers never wait on the service.
//   - One backend call per key at a time: concurrent readers of a missing
//     key wait for the same call (no stampede).
//   - When the service fails, an expired value is served for a bounded
//     grace period (StaleGrace), never past the version's timeOfExpiry;
//     after a failure the service is not called again for ErrorBackoff.
//   - Backend calls use Coffer's retry policy: 429, 5xx (not 501) and
//     network failures are retried with jittered exponential backoff,
//     honouring Retry-After; other 4xx are final. The SDK's own retries are
//     switched off for these calls so the two do not multiply.
//   - When an application finds that the value it got is refused (a
//     database answers 401 after a rotation), [Cache.Rejected] refetches
//     once, rate-limited per key, instead of retrying forever.
//   - At most MaxEntries versions are kept, least recently used evicted.
//   - With [Options.FollowChanges] (opt in), the cache follows Coffer's
//     change feed (pkg/changefeed): a change to a cached secret drops its
//     entries at once (and, with refresh-ahead on, reads them again in the
//     background), so a rotation reaches readers within a round trip, not
//     a TTL. A feed reset drops everything. Against a service without a
//     feed (real OCI answers 404, an older Coffer 501) the follower stops
//     and the cache keeps its TTL behaviour.
//
// Content is never logged; [Secret] prints and logs as REDACTED.
//
// # For an agent
//
// An agent that renders secrets to files reads them with [Cache.Get] on its
// own schedule and writes when [Secret.VersionNumber] changes; reads past
// 80% of the TTL keep the cache fresh without blocking the agent.
package secretcache

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-vault/coffer/internal/retry"
	"github.com/coffer-vault/coffer/pkg/changefeed"
	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/secrets"
)

// Backend is what the cache needs from the Secrets service. The SDK's
// secrets.SecretsClient implements it (as a value and as a pointer).
type Backend interface {
	GetSecretBundle(context.Context, secrets.GetSecretBundleRequest) (secrets.GetSecretBundleResponse, error)
	GetSecretBundleByName(context.Context, secrets.GetSecretBundleByNameRequest) (secrets.GetSecretBundleByNameResponse, error)
}

// Clock tells the cache the time; tests pass a fake one so that expiry can
// be tested without sleeping.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// ShortenReason says why an entry's TTL is shorter than Options.TTL.
type ShortenReason int

// Reasons for a shortened TTL.
const (
	// ShortenedForRotation: the TTL would have been more than half the
	// secret's rotation interval.
	ShortenedForRotation ShortenReason = iota + 1
	// ShortenedForExpiry: the version expires before the TTL would end.
	ShortenedForExpiry
)

// String names the reason for logs and metrics labels.
func (r ShortenReason) String() string {
	switch r {
	case ShortenedForRotation:
		return "rotation"
	case ShortenedForExpiry:
		return "expiry"
	}
	return "unknown"
}

// RetryOptions bounds the retries of one backend read; zero fields take
// the defaults of Coffer's retry policy (5 attempts, 200ms base, 10s cap,
// 30s in total). It is the public face of that policy (internal/retry),
// which alone decides what is retried and how long to wait.
type RetryOptions struct {
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
	MaxElapsed  time.Duration
}

// policy is o as Coffer's retry policy.
func (o RetryOptions) policy() retry.Policy {
	return retry.Policy{MaxAttempts: o.MaxAttempts, BaseDelay: o.BaseDelay, MaxDelay: o.MaxDelay, MaxElapsed: o.MaxElapsed}
}

// Options configures a Cache. The zero value gives the documented defaults.
type Options struct {
	// TTL is how long a version is served before it is read again.
	// Default 5 minutes.
	TTL time.Duration
	// MaxEntries bounds the number of cached versions (LRU eviction).
	// Default 1000.
	MaxEntries int
	// RefreshAhead is the fraction of the TTL after which a read starts a
	// background refresh. Default 0.8; a negative value or one of 1 or
	// more disables refresh-ahead.
	RefreshAhead float64
	// MaxConcurrentRefreshes bounds background refresh goroutines; a read
	// that finds them all busy skips its refresh. Default 4.
	MaxConcurrentRefreshes int
	// StaleGrace is how long after its TTL a version may still be served
	// while the service fails. Default 5 minutes; negative disables.
	StaleGrace time.Duration
	// ErrorBackoff is how long after a failed read the cache serves a stale
	// value without calling the service again. Default 5 seconds.
	ErrorBackoff time.Duration
	// RejectInterval is the minimum time between two refetches of one key
	// through Rejected. Default 30 seconds.
	RejectInterval time.Duration
	// RotationInterval, if set, gives a secret's rotation interval (zero:
	// unknown). It takes precedence over the metadata.
	RotationInterval func(Key) time.Duration
	// RotationMetadataKey is the metadata key read for the rotation
	// interval. Default DefaultRotationMetadataKey; "-" disables.
	RotationMetadataKey string
	// OnTTLShortened, if set, is called (outside the cache's lock) whenever
	// an entry is stored with a TTL shorter than configured.
	OnTTLShortened func(key Key, configured, effective time.Duration, reason ShortenReason)
	// Retry bounds the retries of each backend read.
	Retry RetryOptions
	// Clock defaults to the system clock.
	Clock Clock
	// Logger receives operational messages (never content). Default:
	// discard.
	Logger *slog.Logger
	// FollowChanges, if set, is Coffer's change feed, followed from New
	// until Close: usually changefeed.NewClient(secretsClient.BaseClient),
	// so that it signs like the Secrets client. Nil (the default) changes
	// nothing.
	FollowChanges changefeed.Lister
	// Follow tunes the follower (zero: changefeed's defaults; its Logger
	// defaults to Logger).
	Follow changefeed.FollowOptions
}

func (o Options) withDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = 5 * time.Minute
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 1000
	}
	if o.RefreshAhead == 0 {
		o.RefreshAhead = 0.8
	}
	if o.RefreshAhead >= 1 {
		o.RefreshAhead = -1
	}
	if o.MaxConcurrentRefreshes <= 0 {
		o.MaxConcurrentRefreshes = 4
	}
	if o.StaleGrace == 0 {
		o.StaleGrace = 5 * time.Minute
	}
	if o.StaleGrace < 0 {
		o.StaleGrace = 0
	}
	if o.ErrorBackoff <= 0 {
		o.ErrorBackoff = 5 * time.Second
	}
	if o.RejectInterval <= 0 {
		o.RejectInterval = 30 * time.Second
	}
	if o.RotationMetadataKey == "" {
		o.RotationMetadataKey = DefaultRotationMetadataKey
	}
	if o.RotationMetadataKey == "-" {
		o.RotationMetadataKey = ""
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Errors returned by the cache.
var (
	// ErrClosed is returned by calls on a closed Cache.
	ErrClosed = errors.New("secretcache: cache is closed")
	// ErrRejectLimited is returned by Rejected when the key was already
	// refetched for a rejection within RejectInterval: the caller should
	// report its failure rather than loop.
	ErrRejectLimited = errors.New("secretcache: rejection already handled recently")
	// ErrMalformedBundle is returned for a bundle without content or
	// version, or whose content is not valid base64. It comes wrapped in
	// "secretcache: read KEY: ", which names the package.
	ErrMalformedBundle = errors.New("malformed secret bundle")
)

// Cache is a concurrency-safe cache of secret versions in front of a
// Backend. Create it with New and stop it with Close.
type Cache struct {
	backend Backend
	opts    Options
	clock   Clock
	log     *slog.Logger
	retry   retry.Policy
	noRetry common.RetryPolicy

	ctx        context.Context // cancelled by Close; parent of every backend call
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	refreshSem chan struct{}

	mu      sync.Mutex
	closed  bool
	entries map[Key]*entry
	lru     entry // sentinel of the recency list: lru.next is the newest
	flights map[Key]*flight
	rejects map[Key]time.Time

	stats counters

	// testHookStored, if set, is called after a fetch completes.
	testHookStored func(Key, bool)
	// feedDone is closed when the change-feed follower has stopped.
	feedDone chan struct{}
	// testHookFeed, if set, is called after each feed answer is applied.
	testHookFeed func()
}

type entry struct {
	key        Key
	secret     Secret
	expiresAt  time.Time
	refreshAt  time.Time
	staleUntil time.Time
	retryAt    time.Time // after a failed read: no backend call before this
	refreshing bool
	prev, next *entry
}

type flight struct {
	done       chan struct{}
	secret     Secret
	err        error
	waiters    int
	background bool
	cancel     context.CancelFunc
}

// New returns a cache reading from b.
func New(b Backend, opts Options) *Cache {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{
		backend:    b,
		opts:       opts,
		clock:      opts.Clock,
		log:        opts.Logger,
		retry:      opts.Retry.policy(),
		noRetry:    common.NoRetryPolicy(),
		ctx:        ctx,
		cancel:     cancel,
		refreshSem: make(chan struct{}, opts.MaxConcurrentRefreshes),
		entries:    make(map[Key]*entry),
		flights:    make(map[Key]*flight),
		rejects:    make(map[Key]time.Time),
	}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	if opts.FollowChanges != nil {
		c.startFollowing(opts.FollowChanges, opts.Follow)
	}
	return c
}

// Get returns the secret version named by key, from the cache when it is
// fresh, otherwise from the backend. The returned content is shared: see
// [Secret.Bytes]. Cancelling ctx returns at once with ctx's error.
func (c *Cache) Get(ctx context.Context, key Key) (Secret, error) {
	key, err := key.normalize()
	if err != nil {
		return Secret{}, err
	}
	now := c.clock.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Secret{}, ErrClosed
	}
	e := c.entries[key]
	if e != nil && now.Before(e.expiresAt) {
		c.touchLocked(e)
		if c.opts.RefreshAhead > 0 && !now.Before(e.refreshAt) && !e.refreshing && !now.Before(e.retryAt) {
			c.startRefreshLocked(e)
		}
		s := e.secret
		c.mu.Unlock()
		c.stats.hits.Add(1)
		return s, nil
	}
	c.stats.misses.Add(1)
	if e != nil && now.Before(e.staleUntil) && now.Before(e.retryAt) {
		// The service failed moments ago: serve the stale value without
		// calling it again.
		s := e.secret
		c.mu.Unlock()
		c.stats.stale.Add(1)
		return s, nil
	}
	f := c.joinLocked(ctx, key)
	c.mu.Unlock()

	s, err := c.wait(ctx, key, f)
	if err == nil || ctx.Err() != nil {
		return s, err
	}
	now = c.clock.Now()
	c.mu.Lock()
	if e := c.entries[key]; e != nil && now.Before(e.staleUntil) {
		s := e.secret
		c.mu.Unlock()
		c.stats.stale.Add(1)
		c.log.LogAttrs(ctx, slog.LevelWarn, "secretcache: serving a stale version while the service fails",
			slog.String("key", key.String()), slog.Int64("version", s.VersionNumber), slog.Any("error", err))
		return s, nil
	}
	c.mu.Unlock()
	return Secret{}, err
}

// Refresh reads key from the backend now, replacing the cached version, and
// returns what it read. A read already in flight for key is joined.
func (c *Cache) Refresh(ctx context.Context, key Key) (Secret, error) {
	key, err := key.normalize()
	if err != nil {
		return Secret{}, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Secret{}, ErrClosed
	}
	f := c.joinLocked(ctx, key)
	c.mu.Unlock()
	return c.wait(ctx, key, f)
}

// Rejected tells the cache that the value it returned for key was refused
// by whatever the application presented it to (for example a database
// answering 401 after the secret was rotated). The cache refetches key once
// and returns the new version, with changed reporting whether its version
// number differs from the one that was cached. Within RejectInterval of
// the previous rejection of key it does not call the service and returns
// ErrRejectLimited (with the cached version, if any), so an application
// that keeps failing does not turn into a retry loop against the service.
func (c *Cache) Rejected(ctx context.Context, key Key) (s Secret, changed bool, err error) {
	key, err = key.normalize()
	if err != nil {
		return Secret{}, false, err
	}
	now := c.clock.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Secret{}, false, ErrClosed
	}
	e := c.entries[key]
	if last, ok := c.rejects[key]; ok && now.Sub(last) < c.opts.RejectInterval {
		if e != nil {
			s = e.secret
		}
		c.mu.Unlock()
		return s, false, ErrRejectLimited
	}
	c.stats.rejections.Add(1)
	if len(c.rejects) >= c.opts.MaxEntries {
		for k, t := range c.rejects {
			if now.Sub(t) >= c.opts.RejectInterval {
				delete(c.rejects, k)
			}
		}
	}
	c.rejects[key] = now
	old := int64(-1)
	if e != nil {
		old = e.secret.VersionNumber
		// The rejected version must not be served again, even stale.
		c.removeLocked(e)
	}
	f := c.joinLocked(ctx, key)
	c.mu.Unlock()
	c.log.LogAttrs(ctx, slog.LevelInfo, "secretcache: cached version rejected; refetching",
		slog.String("key", key.String()), slog.Int64("version", old))
	s, err = c.wait(ctx, key, f)
	if err != nil {
		return Secret{}, false, err
	}
	return s, s.VersionNumber != old, nil
}

// Invalidate drops key from the cache; the next Get reads the backend. A
// read in flight for key is left to finish but its result is not cached.
func (c *Cache) Invalidate(key Key) {
	key, err := key.normalize()
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil {
		c.removeLocked(e)
	}
	delete(c.flights, key)
}

// Close stops background refreshes, cancels reads in flight and waits for
// them. Later calls return ErrClosed.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return nil
}

// joinLocked returns the flight for key, starting one if none is running.
// The caller becomes one of its waiters.
func (c *Cache) joinLocked(ctx context.Context, key Key) *flight {
	f := c.flights[key]
	if f != nil {
		c.stats.coalesced.Add(1)
	} else {
		// The call outlives any one caller (others may join), so it keeps
		// ctx's values but not its cancellation; it is cancelled when its
		// last waiter leaves or the cache closes.
		f = c.startFlightLocked(context.WithoutCancel(ctx), key, false, nil)
	}
	f.waiters++
	return f
}

// startRefreshLocked starts a background refresh of e if a refresh slot is
// free; otherwise a later read tries again.
func (c *Cache) startRefreshLocked(e *entry) {
	if c.flights[e.key] != nil {
		return
	}
	select {
	case c.refreshSem <- struct{}{}:
	default:
		return
	}
	e.refreshing = true
	c.startFlightLocked(c.ctx, e.key, true, func() { <-c.refreshSem })
}

func (c *Cache) startFlightLocked(parent context.Context, key Key, background bool, release func()) *flight {
	fctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(c.ctx, cancel)
	f := &flight{done: make(chan struct{}), background: background, cancel: cancel}
	c.flights[key] = f
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer stop()
		defer cancel()
		if release != nil {
			defer release()
		}
		s, err := c.fetch(fctx, key)
		c.complete(key, f, s, err, fctx.Err() != nil)
	}()
	return f
}

// wait waits for f's result or for ctx to end. The last waiter to leave a
// foreground flight cancels it.
func (c *Cache) wait(ctx context.Context, key Key, f *flight) (Secret, error) {
	select {
	case <-f.done:
		return f.secret, f.err
	case <-ctx.Done():
		c.mu.Lock()
		f.waiters--
		if f.waiters == 0 && !f.background {
			f.cancel()
			if c.flights[key] == f {
				delete(c.flights, key)
			}
		}
		c.mu.Unlock()
		return Secret{}, ctx.Err()
	}
}

// complete records a flight's result. A flight that was superseded (by
// Invalidate or by its waiters leaving) hands its result to its waiters
// but does not touch the cache.
func (c *Cache) complete(key Key, f *flight, s Secret, err error, cancelled bool) {
	now := c.clock.Now()
	var ttl time.Duration
	if err == nil {
		ttl = c.effectiveTTL(key, s, now)
	}
	c.mu.Lock()
	current := c.flights[key] == f
	if current {
		delete(c.flights, key)
	}
	e := c.entries[key]
	switch {
	case !current:
	case err == nil:
		c.storeLocked(key, s, now, ttl)
		if f.background {
			c.stats.refreshes.Add(1)
		}
	case e != nil:
		e.refreshing = false
		if !cancelled {
			e.retryAt = now.Add(c.opts.ErrorBackoff)
		}
		if !now.Before(e.staleUntil) {
			c.removeLocked(e)
		}
	}
	f.secret, f.err = s, err
	close(f.done)
	hook := c.testHookStored
	c.mu.Unlock()
	if hook != nil {
		hook(key, err == nil && current)
	}
}

// effectiveTTL is Options.TTL shortened to fit the rotation interval and
// the version's expiry; every shortening is reported.
func (c *Cache) effectiveTTL(key Key, s Secret, now time.Time) time.Duration {
	ttl := c.opts.TTL
	var rot time.Duration
	if c.opts.RotationInterval != nil {
		rot = c.opts.RotationInterval(key)
	}
	if rot <= 0 {
		rot = rotationFromMetadata(s.Metadata, c.opts.RotationMetadataKey)
	}
	if rot > 0 && ttl > rot/2 {
		c.shortened(key, ttl, rot/2, ShortenedForRotation)
		ttl = rot / 2
	}
	if !s.TimeOfExpiry.IsZero() {
		if left := s.TimeOfExpiry.Sub(now); left < ttl {
			left = max(left, 0)
			c.shortened(key, ttl, left, ShortenedForExpiry)
			ttl = left
		}
	}
	return ttl
}

func (c *Cache) shortened(key Key, from, to time.Duration, why ShortenReason) {
	c.stats.shortened.Add(1)
	c.log.LogAttrs(c.ctx, slog.LevelDebug, "secretcache: TTL shortened",
		slog.String("key", key.String()), slog.Duration("configured", from),
		slog.Duration("effective", to), slog.String("reason", why.String()))
	if c.opts.OnTTLShortened != nil {
		c.opts.OnTTLShortened(key, from, to, why)
	}
}

func (c *Cache) storeLocked(key Key, s Secret, now time.Time, ttl time.Duration) {
	e := c.entries[key]
	if e == nil {
		e = &entry{key: key}
		c.entries[key] = e
		c.pushFrontLocked(e)
		for len(c.entries) > c.opts.MaxEntries {
			c.removeLocked(c.lru.prev)
			c.stats.evictions.Add(1)
		}
	} else {
		c.touchLocked(e)
	}
	e.secret = s
	e.expiresAt = now.Add(ttl)
	e.refreshAt = now.Add(time.Duration(float64(ttl) * c.opts.RefreshAhead))
	e.staleUntil = e.expiresAt.Add(c.opts.StaleGrace)
	if !s.TimeOfExpiry.IsZero() && s.TimeOfExpiry.Before(e.staleUntil) {
		e.staleUntil = s.TimeOfExpiry
	}
	e.retryAt = time.Time{}
	e.refreshing = false
}

func (c *Cache) pushFrontLocked(e *entry) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}

func (c *Cache) touchLocked(e *entry) {
	if c.lru.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	c.pushFrontLocked(e)
}

func (c *Cache) removeLocked(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(c.entries, e.key)
}

// fetch reads key from the backend under the retry policy.
func (c *Cache) fetch(ctx context.Context, key Key) (Secret, error) {
	var s Secret
	err := c.retry.Do(ctx, func(ctx context.Context) error {
		c.stats.backendCalls.Add(1)
		var err error
		s, err = c.call(ctx, key)
		return err
	})
	if err != nil {
		c.stats.errors.Add(1)
		c.log.LogAttrs(ctx, slog.LevelDebug, "secretcache: read failed",
			slog.String("key", key.String()), slog.Any("error", err))
		return Secret{}, fmt.Errorf("secretcache: read %v: %w", key, err)
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "secretcache: read",
		slog.String("key", key.String()), slog.Int64("version", s.VersionNumber))
	return s, nil
}

// call makes one backend request. The SDK's own retries are disabled: the
// cache's policy is the only one.
func (c *Cache) call(ctx context.Context, key Key) (Secret, error) {
	var vn *int64
	if key.VersionNumber != 0 {
		vn = &key.VersionNumber
	}
	var name *string
	if key.VersionName != "" {
		name = &key.VersionName
	}
	md := common.RequestMetadata{RetryPolicy: &c.noRetry}
	if key.SecretID != "" {
		resp, err := uncancelled(ctx, func(ctx context.Context) (secrets.GetSecretBundleResponse, error) {
			return c.backend.GetSecretBundle(ctx, secrets.GetSecretBundleRequest{
				SecretId:          &key.SecretID,
				VersionNumber:     vn,
				SecretVersionName: name,
				Stage:             secrets.GetSecretBundleStageEnum(key.Stage),
				RequestMetadata:   md,
			})
		})
		if err != nil {
			return Secret{}, c.withRetryAfter(err, resp.RawResponse)
		}
		return decode(resp.SecretBundle, key.SecretID)
	}
	resp, err := uncancelled(ctx, func(ctx context.Context) (secrets.GetSecretBundleByNameResponse, error) {
		return c.backend.GetSecretBundleByName(ctx, secrets.GetSecretBundleByNameRequest{
			VaultId:           &key.VaultID,
			SecretName:        &key.Name,
			VersionNumber:     vn,
			SecretVersionName: name,
			Stage:             secrets.GetSecretBundleByNameStageEnum(key.Stage),
			RequestMetadata:   md,
		})
	})
	if err != nil {
		return Secret{}, c.withRetryAfter(err, resp.RawResponse)
	}
	return decode(resp.SecretBundle, "")
}

// uncancelled runs one SDK call with a context the caller's cancellation
// does not reach, and stops waiting for it when ctx ends. The OCI Go SDK's
// common.Retry (v65.130.0, common/retry.go) answers an ended context by
// returning a variable its worker goroutine writes without
// synchronization, a data race that the race detector reports when an
// agent is stopped during a read. The abandoned request is bounded by the
// client's own timeout; its answer is dropped.
func uncancelled[T any](ctx context.Context, call func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := call(context.WithoutCancel(ctx))
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (c *Cache) withRetryAfter(err error, r *http.Response) error {
	if r == nil {
		return err
	}
	return retry.WithRetryAfter(err, r.Header, c.clock.Now())
}

// decode turns a bundle into a Secret, decoding its base64 content.
func decode(b secrets.SecretBundle, secretID string) (Secret, error) {
	var content *string
	switch v := b.SecretBundleContent.(type) {
	case secrets.Base64SecretBundleContentDetails:
		content = v.Content
	case *secrets.Base64SecretBundleContentDetails:
		if v != nil {
			content = v.Content
		}
	case nil:
		return Secret{}, fmt.Errorf("%w: no content", ErrMalformedBundle)
	default:
		return Secret{}, fmt.Errorf("%w: unsupported content type %T", ErrMalformedBundle, v)
	}
	if content == nil {
		return Secret{}, fmt.Errorf("%w: no content", ErrMalformedBundle)
	}
	if b.VersionNumber == nil {
		return Secret{}, fmt.Errorf("%w: no version number", ErrMalformedBundle)
	}
	raw, err := base64.StdEncoding.DecodeString(*content)
	if err != nil {
		// The decoder's error names an offset, never content.
		return Secret{}, fmt.Errorf("%w: content is not base64: %w", ErrMalformedBundle, err)
	}
	s := Secret{
		SecretID:      secretID,
		VersionNumber: *b.VersionNumber,
		Metadata:      b.Metadata,
		content:       raw,
	}
	if b.SecretId != nil {
		s.SecretID = *b.SecretId
	}
	if b.VersionName != nil {
		s.VersionName = *b.VersionName
	}
	if b.TimeCreated != nil {
		s.TimeCreated = b.TimeCreated.Time
	}
	if b.TimeOfExpiry != nil {
		s.TimeOfExpiry = b.TimeOfExpiry.Time
	}
	if len(b.Stages) > 0 {
		s.Stages = make([]Stage, len(b.Stages))
		for i, st := range b.Stages {
			s.Stages[i] = Stage(st)
		}
	}
	return s, nil
}

// counters are the cache's metrics, updated without the lock.
type counters struct {
	hits, misses, coalesced, backendCalls, errors, stale,
	refreshes, evictions, shortened, rejections, feedInvalidations atomic.Uint64
}

// Stats is a snapshot of the cache's counters since New.
type Stats struct {
	Hits         uint64 // reads answered from a fresh entry
	Misses       uint64 // reads that found no fresh entry
	Coalesced    uint64 // misses that joined a read already in flight
	Saved        uint64 // backend calls avoided: Hits + Coalesced
	BackendCalls uint64 // requests sent to the backend, retries included
	Errors       uint64 // backend reads that failed after retries
	StaleServed  uint64 // reads answered with an expired version in grace
	Refreshes    uint64 // successful background refreshes
	Evictions    uint64 // entries dropped by the LRU bound
	TTLShortened uint64 // stores whose TTL was shortened
	Rejections   uint64 // Rejected calls that refetched
	// FeedInvalidations counts entries dropped because the change feed
	// said their secret changed, or reset.
	FeedInvalidations uint64
	Entries           int // versions cached now
}

// Stats returns the current counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	s := Stats{
		Hits:         c.stats.hits.Load(),
		Misses:       c.stats.misses.Load(),
		Coalesced:    c.stats.coalesced.Load(),
		BackendCalls: c.stats.backendCalls.Load(),
		Errors:       c.stats.errors.Load(),
		StaleServed:  c.stats.stale.Load(),
		Refreshes:    c.stats.refreshes.Load(),
		Evictions:    c.stats.evictions.Load(),
		TTLShortened: c.stats.shortened.Load(),
		Rejections:   c.stats.rejections.Load(),
		Entries:      n,

		FeedInvalidations: c.stats.feedInvalidations.Load(),
	}
	s.Saved = s.Hits + s.Coalesced
	return s
}
