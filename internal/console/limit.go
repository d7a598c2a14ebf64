package console

import (
	"net/netip"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/ociapi"
)

// maxLimitKeys bounds the keys a per-address or per-name login limiter
// tracks at once; beyond it the others share one bucket (memory stays
// bounded under a wide flood).
const maxLimitKeys = 10_000

// maxPairKeys bounds the (user name, address) buckets: one attacker
// address can fill at most AddrFailures of them per refill, so this many
// takes thousands of addresses failing at once.
const maxPairKeys = 100_000

// Bounds of the addresses remembered as a user's known ones.
const (
	maxKnownNames   = 10_000
	maxKnownPerName = 4
)

// newFailLimiter throttles failed logins per key, burst failures and then
// one per every. It is the API's failed-authentication limiter: a correct
// password spends nothing and gives back only the token its own attempt
// held, so a success between guesses buys an attacker nothing; while a
// bucket is empty every attempt under its key is refused before the
// password is hashed.
func newFailLimiter[K comparable](burst int, every time.Duration, maxKeys int) *ociapi.FailLimiter[K] {
	return ociapi.NewFailLimiter[K](1/every.Seconds(), burst, maxKeys)
}

// nameAddr is a user name (case-folded) as tried from one client address
// block.
type nameAddr struct {
	name string
	addr netip.Prefix
}

// loginThrottle decides whether a login may be checked, before its
// password is hashed. A failure counts against three buckets:
//
//   - the client address block (IPv6 /64): one address guessing many
//     names;
//   - the user name from that address block: one address guessing one
//     user, and the only per-name budget a single attacker can spend, so
//     an attacker at A cannot lock out the user logging in from B;
//   - the user name from anywhere: a much larger ceiling that only bounds
//     guessing spread over many addresses.
//
// An address block the user logged in from lately is known: a login for
// that name from there answers only to its (name, address) bucket, which
// still bounds guessing from there. So a distributed attacker who empties
// the ceiling, one who shares the user's address (a NAT) and spends its
// budget on other names, or a flood that fills the address map, delays
// the user only on a new address.
//
// Unknown names get buckets as known ones do, and the answers are the
// same: the throttle never tells whether a user exists.
type loginThrottle struct {
	byAddr     *ociapi.FailLimiter[netip.Prefix]
	byNameAddr *ociapi.FailLimiter[nameAddr]
	byName     *ociapi.FailLimiter[string]
	known      *knownAddrs
}

func newLoginThrottle(o Options) *loginThrottle {
	return &loginThrottle{
		byAddr:     newFailLimiter[netip.Prefix](o.AddrFailures, o.FailureRefill, maxLimitKeys),
		byNameAddr: newFailLimiter[nameAddr](o.NameFailures, o.FailureRefill, maxPairKeys),
		byName:     newFailLimiter[string](o.NameCeiling, o.FailureRefill, maxLimitKeys),
		known:      &knownAddrs{ttl: o.KnownAddress, byName: map[string][]knownAddr{}},
	}
}

// loginPass is what an admitted login holds until its outcome is known.
type loginPass struct {
	name     string
	addr     netip.Prefix
	a, na, n ociapi.FailPass
	known    bool // a known address: only the pair bucket counts
}

// admit reports whether a login for name (case-folded) from addr may be
// checked now; if not, how long until one may and what is throttled.
func (t *loginThrottle) admit(name string, addr netip.Prefix, now time.Time) (loginPass, bool, time.Duration, string) {
	p := loginPass{name: name, addr: addr, known: t.known.has(name, addr, now)}
	var ok bool
	var wait time.Duration
	if !p.known {
		if p.a, ok, wait = t.byAddr.Admit(addr, now); !ok {
			return p, false, wait, "this address"
		}
	}
	if p.na, ok, wait = t.byNameAddr.Admit(nameAddr{name, addr}, now); !ok {
		t.byAddr.Succeeded(p.a)
		return p, false, wait, "this user name"
	}
	if p.known {
		return p, true, 0, ""
	}
	if p.n, ok, wait = t.byName.Admit(name, now); !ok {
		t.byAddr.Succeeded(p.a)
		t.byNameAddr.Succeeded(p.na)
		return p, false, wait, "this user name"
	}
	return p, true, 0, ""
}

// failed records a wrong user name or password.
func (t *loginThrottle) failed(p loginPass, now time.Time) {
	t.byNameAddr.Failed(nameAddr{p.name, p.addr}, p.na, now)
	if !p.known {
		t.byAddr.Failed(p.addr, p.a, now)
		t.byName.Failed(p.name, p.n, now)
	}
}

// release gives back the tokens of an attempt that was no guess (the
// server failed).
func (t *loginThrottle) release(p loginPass) {
	t.byAddr.Succeeded(p.a)
	t.byNameAddr.Succeeded(p.na)
	t.byName.Succeeded(p.n)
}

// succeeded gives back the tokens and remembers the address as the
// user's.
func (t *loginThrottle) succeeded(p loginPass, now time.Time) {
	t.release(p)
	t.known.add(p.name, p.addr, now)
}

// knownAddrs remembers, per user name, the last few address blocks a login
// succeeded from. Only a correct password adds one, so an attacker cannot
// grow it; it is bounded all the same (maxKnownNames names, the oldest
// dropped first; maxKnownPerName blocks each).
type knownAddrs struct {
	ttl    time.Duration
	mu     sync.Mutex
	byName map[string][]knownAddr
}

type knownAddr struct {
	addr netip.Prefix
	at   time.Time
}

func (k *knownAddrs) has(name string, addr netip.Prefix, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, a := range k.byName[name] {
		if a.addr == addr && now.Sub(a.at) < k.ttl {
			return true
		}
	}
	return false
}

func (k *knownAddrs) add(name string, addr netip.Prefix, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	list := k.byName[name]
	kept := make([]knownAddr, 0, maxKnownPerName)
	kept = append(kept, knownAddr{addr, now})
	for _, a := range list {
		if a.addr != addr && now.Sub(a.at) < k.ttl && len(kept) < maxKnownPerName {
			kept = append(kept, a)
		}
	}
	if _, ok := k.byName[name]; !ok && len(k.byName) >= maxKnownNames {
		k.evict(now)
	}
	k.byName[name] = kept
}

// evict drops the expired names, or if none, the one whose latest login is
// the oldest. It runs only when a success meets a full map.
func (k *knownAddrs) evict(now time.Time) {
	var oldest string
	var at time.Time
	for n, list := range k.byName {
		if len(list) == 0 || now.Sub(list[0].at) >= k.ttl {
			delete(k.byName, n)
			continue
		}
		if oldest == "" || list[0].at.Before(at) {
			oldest, at = n, list[0].at
		}
	}
	if len(k.byName) >= maxKnownNames {
		delete(k.byName, oldest)
	}
}

// size is the number of names remembered (tests).
func (k *knownAddrs) size() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.byName)
}
