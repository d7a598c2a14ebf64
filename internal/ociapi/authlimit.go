package ociapi

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the failed-authentication limiter.
const (
	DefaultAuthFailRate  = 10 // failures per second and address, sustained
	DefaultAuthFailBurst = 50
)

// maxAuthFailAddrs bounds the addresses tracked at once; see AuthFailLimiter.
const maxAuthFailAddrs = 100_000

// AuthFailLimiter throttles failed authentication per client address. Each
// address that fails gets a token bucket, drained by its failures (a bad
// signature, a replay) and never by its successes; while the bucket is
// empty every request from the address gets 429 TooManyRequests with
// Retry-After before its body is read or its signature checked, which is
// what costs the server. Valid clients on other addresses pay one map
// lookup.
//
// The address is the TCP peer's: X-Forwarded-For is not trusted, since any
// client can write it. Behind a proxy every client shares the proxy's
// address, so size the limit for that. IPv6 clients are grouped by /64,
// the smallest block a host is usually given (it can pick any address in
// it).
//
// A full bucket says nothing a missing one does not, so buckets are dropped
// once refilled and memory follows the addresses that failed in the last
// burst/rate seconds. Beyond maxAuthFailAddrs of them at once, the others
// share one bucket: under a flood from that many addresses a new client's
// failures may be throttled with the flood's, but memory stays bounded.
type AuthFailLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[netip.Prefix]*rate.Limiter
	swept   time.Time
}

// NewAuthFailLimiter allows perSecond failures per address with the given
// burst; perSecond <= 0 disables limiting (nil limiter).
func NewAuthFailLimiter(perSecond float64, burst int) *AuthFailLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &AuthFailLimiter{limit: rate.Limit(perSecond), burst: max(burst, 1), buckets: map[netip.Prefix]*rate.Limiter{}}
}

// clientKey is the bucket of a request's RemoteAddr; an address that does
// not parse (not TCP) falls in the shared zero bucket.
func clientKey(remoteAddr string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Prefix{}
	}
	a := ap.Addr().Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.WithZone("").Prefix(64)
	return p
}

// Allow reports whether requests from remoteAddr may be served now, and if
// not, how long until they may. It consumes nothing.
func (l *AuthFailLimiter) Allow(remoteAddr string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	key := clientKey(remoteAddr)
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) < maxAuthFailAddrs {
			return true, 0
		}
		if b, ok = l.buckets[netip.Prefix{}]; !ok {
			return true, 0
		}
	}
	tokens := b.TokensAt(now)
	if tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))
}

// Failed records a failed authentication from remoteAddr.
func (l *AuthFailLimiter) Failed(remoteAddr string, now time.Time) {
	if l == nil {
		return
	}
	key := clientKey(remoteAddr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Second || len(l.buckets) >= maxAuthFailAddrs {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxAuthFailAddrs {
			key = netip.Prefix{}
		}
		if b, ok = l.buckets[key]; !ok {
			b = rate.NewLimiter(l.limit, l.burst)
			l.buckets[key] = b
		}
	}
	b.AllowN(now, 1)
}

// sweep drops refilled buckets. Under a wide flood it would run on every
// failure, so it runs at most once a second.
func (l *AuthFailLimiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Second && !now.Before(l.swept) {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
}

// tracked returns the number of buckets held (tests).
func (l *AuthFailLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
