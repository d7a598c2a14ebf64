package ociapi

import (
	"sync"
	"time"
)

// FailLimiter throttles failures per key: each key that failed lately has a
// token bucket, drained by its failures and never by its successes; while
// it is empty every attempt under the key is refused. An attempt admitted
// under a key with a bucket holds one of its tokens while it is checked, so
// many attempts at once cannot all spend the last one; a success gives it
// back. (Hand-written: x/time/rate gives a token back only before its time
// to act.) A full bucket says nothing a missing one does not, so refilled
// buckets are dropped and memory follows the keys that failed lately;
// beyond maxKeys of them the others share the zero key's bucket, so memory
// stays bounded under a wide flood. AuthFailLimiter (by address) and the
// console's login throttles (by address and by user name) are FailLimiters.
type FailLimiter[K comparable] struct {
	rate    float64 // tokens per second
	burst   float64
	maxKeys int

	mu      sync.Mutex
	buckets map[K]*failBucket
	swept   time.Time
}

type failBucket struct {
	tokens float64
	last   time.Time
}

// refill adds what accrued since the last look, up to burst.
func (b *failBucket) refill(now time.Time, rate, burst float64) {
	if now.After(b.last) {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
		b.last = now
	}
}

// NewFailLimiter allows perSecond failures per key with the given burst,
// tracking at most maxKeys keys apart.
func NewFailLimiter[K comparable](perSecond float64, burst, maxKeys int) *FailLimiter[K] {
	return &FailLimiter[K]{rate: perSecond, burst: float64(max(burst, 1)), maxKeys: maxKeys, buckets: map[K]*failBucket{}}
}

// FailPass is the token an admitted attempt holds (none when its key has no
// bucket).
type FailPass struct{ b *failBucket }

// Admit reports whether an attempt under key may be checked now, and if
// not, how long until one may.
func (l *FailLimiter[K]) Admit(key K, now time.Time) (FailPass, bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		var zero K
		if len(l.buckets) < l.maxKeys {
			return FailPass{}, true, 0
		}
		if b, ok = l.buckets[zero]; !ok {
			return FailPass{}, true, 0
		}
	}
	b.refill(now, l.rate, l.burst)
	if b.tokens < 1 {
		return FailPass{}, false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return FailPass{b}, true, 0
}

// Succeeded gives back the token p holds.
func (l *FailLimiter[K]) Succeeded(p FailPass) {
	if p.b == nil {
		return
	}
	l.mu.Lock()
	p.b.tokens = min(l.burst, p.b.tokens+1)
	l.mu.Unlock()
}

// Failed records a failure under key; the token p holds, if any, is the
// one it spends.
func (l *FailLimiter[K]) Failed(key K, p FailPass, now time.Time) {
	if p.b != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Second || len(l.buckets) >= l.maxKeys {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			var zero K
			key = zero
		}
		if b, ok = l.buckets[key]; !ok {
			b = &failBucket{tokens: l.burst, last: now}
			l.buckets[key] = b
		}
	}
	b.refill(now, l.rate, l.burst)
	b.tokens = max(0, b.tokens-1)
}

// sweep drops refilled buckets. Under a wide flood it would run on every
// failure, so it runs at most once a second.
func (l *FailLimiter[K]) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Second && !now.Before(l.swept) {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		b.refill(now, l.rate, l.burst)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// tracked returns the number of buckets held (tests).
func (l *FailLimiter[K]) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
