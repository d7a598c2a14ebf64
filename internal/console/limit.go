package console

import (
	"sync"
	"time"
)

// maxLimitKeys bounds the keys a failLimiter tracks at once; beyond it the
// others share one bucket (memory stays bounded under a wide flood).
const maxLimitKeys = 10_000

// failLimiter throttles failed logins per key (a client address block or a
// user name). Each key that failed gets a token bucket, drained by its
// failures and never refilled by a success: a correct password spends
// nothing, and gives back only the token its own attempt held, so a
// success between guesses buys an attacker nothing. While a bucket is
// empty every attempt under its key is refused before the password is
// hashed. An admitted attempt holds a token while its password is checked,
// so many attempts at once cannot all spend the last one. Refilled buckets
// are dropped, so memory follows the keys that failed lately.
type failLimiter struct {
	every time.Duration // one token back per every
	burst float64

	mu      sync.Mutex
	buckets map[string]*failBucket
	swept   time.Time
}

type failBucket struct {
	tokens float64
	last   time.Time
}

func newFailLimiter(burst int, every time.Duration) *failLimiter {
	return &failLimiter{every: every, burst: float64(max(burst, 1)), buckets: map[string]*failBucket{}}
}

func (b *failBucket) refill(now time.Time, every time.Duration, burst float64) {
	if now.After(b.last) {
		b.tokens = min(burst, b.tokens+float64(now.Sub(b.last))/float64(every))
		b.last = now
	}
}

// limitPass is a token an admitted attempt holds (nil: its key has no
// bucket, so it holds none).
type limitPass struct{ b *failBucket }

// admit reports whether an attempt under key may be checked now and, if
// not, how long until one may.
func (l *failLimiter) admit(key string, now time.Time) (limitPass, bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if b, ok = l.buckets[""]; !ok || len(l.buckets) < maxLimitKeys {
			return limitPass{}, true, 0
		}
	}
	b.refill(now, l.every, l.burst)
	if b.tokens < 1 {
		return limitPass{}, false, time.Duration((1 - b.tokens) * float64(l.every))
	}
	b.tokens--
	return limitPass{b}, true, 0
}

// succeeded gives back the token p holds.
func (l *failLimiter) succeeded(p limitPass) {
	if p.b == nil {
		return
	}
	l.mu.Lock()
	p.b.tokens = min(l.burst, p.b.tokens+1)
	l.mu.Unlock()
}

// failed records a failure under key; the token p holds, if any, is the
// one it spends.
func (l *failLimiter) failed(key string, p limitPass, now time.Time) {
	if p.b != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Second || len(l.buckets) >= maxLimitKeys {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxLimitKeys {
			key = ""
		}
		if b, ok = l.buckets[key]; !ok {
			b = &failBucket{tokens: l.burst, last: now}
			l.buckets[key] = b
		}
	}
	b.refill(now, l.every, l.burst)
	b.tokens = max(0, b.tokens-1)
}

// sweep drops refilled buckets, at most once a second.
func (l *failLimiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Second && !now.Before(l.swept) {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		b.refill(now, l.every, l.burst)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}
