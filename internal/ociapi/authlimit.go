package ociapi

import (
	"net/netip"
	"time"
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
// lookup. A request admitted from an address with a bucket holds a token
// while its signature is checked, so that many requests in flight at once
// cannot all spend the last one; a success gives it back. (A hand-written
// bucket: x/time/rate gives a token back only before its time to act.)
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
// requests may be throttled with the flood's, but memory stays bounded.
type AuthFailLimiter struct {
	l *FailLimiter[netip.Prefix]
}

// NewAuthFailLimiter allows perSecond failures per address with the given
// burst; perSecond <= 0 disables limiting (nil limiter).
func NewAuthFailLimiter(perSecond float64, burst int) *AuthFailLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &AuthFailLimiter{l: NewFailLimiter[netip.Prefix](perSecond, burst, maxAuthFailAddrs)}
}

// ClientKey is the address block a request's RemoteAddr is throttled as
// (the address, or its /64 for IPv6), for limiters outside this package.
func ClientKey(remoteAddr string) netip.Prefix { return clientKey(remoteAddr) }

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

// AuthPass is what Admit hands a request from an address that failed
// lately: a token of its bucket, held while the signature is checked.
type AuthPass = FailPass

// Admit reports whether a request from remoteAddr may be checked now, and
// if not, how long until one may. When the address has a bucket, an
// admitted request holds one of its tokens until Failed keeps it or
// Succeeded gives it back; a request refused before its signature is
// checked (a body too large) keeps it too.
func (l *AuthFailLimiter) Admit(remoteAddr string, now time.Time) (AuthPass, bool, time.Duration) {
	if l == nil {
		return AuthPass{}, true, 0
	}
	return l.l.Admit(clientKey(remoteAddr), now)
}

// Succeeded gives back the token an admitted request held: its signature
// was good.
func (l *AuthFailLimiter) Succeeded(p AuthPass) {
	if l != nil {
		l.l.Succeeded(p)
	}
}

// Failed records a failed authentication from remoteAddr; the token p
// holds, if any, is the one it spends.
func (l *AuthFailLimiter) Failed(remoteAddr string, p AuthPass, now time.Time) {
	if l != nil {
		l.l.Failed(clientKey(remoteAddr), p, now)
	}
}

// tracked returns the number of buckets held (tests).
func (l *AuthFailLimiter) tracked() int { return l.l.tracked() }
