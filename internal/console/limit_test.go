package console

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func testThrottle() *loginThrottle {
	return newLoginThrottle(Options{NameFailures: 5, NameCeiling: 100, AddrFailures: 20,
		FailureRefill: time.Minute, KnownAddress: 24 * time.Hour})
}

func prefix(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
}

// try admits a login and records its outcome; it reports whether it was
// admitted.
func try(t *loginThrottle, name string, addr netip.Prefix, now time.Time, right bool) bool {
	p, ok, _, _ := t.admit(name, addr, now)
	if !ok {
		return false
	}
	if right {
		t.succeeded(p, now)
	} else {
		t.failed(p, now)
	}
	return true
}

// An attacker failing on a user's name from one address empties only his
// own buckets: the user, from another address, logs in at once.
func TestThrottleOneAddressCannotLockOut(t *testing.T) {
	th := testThrottle()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	attacker, user := prefix(1), prefix(2)
	admitted := 0
	for range 1000 {
		if try(th, "alice", attacker, now, false) {
			admitted++
		}
	}
	if admitted != 5 {
		t.Fatalf("the attacker's address had %d guesses at alice, want 5", admitted)
	}
	if _, ok, wait, what := th.admit("alice", attacker, now); ok || wait <= 0 || what != "this user name" {
		t.Fatalf("attacker after his 5: ok=%v wait=%v what=%q", ok, wait, what)
	}
	if !try(th, "alice", user, now, true) {
		t.Fatal("alice, from her own address, is locked out by guesses from another")
	}
	// A minute gives the attacker one guess back, no more.
	now = now.Add(time.Minute)
	if !try(th, "alice", attacker, now, false) || try(th, "alice", attacker, now, false) {
		t.Fatal("the attacker's refill is not one guess a minute")
	}
}

// Guessing spread over many addresses is bounded by the per-name ceiling;
// once it is spent, an address alice logged in from lately is exempt, a
// new one waits. Unknown names are throttled alike.
func TestThrottleDistributedGuessingBounded(t *testing.T) {
	th := testThrottle()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	home := prefix(99_999)
	if !try(th, "alice", home, now, true) {
		t.Fatal("first login refused")
	}
	for _, name := range []string{"alice", "nobody-by-this-name"} {
		admitted := 0
		for i := range 1000 { // 1000 addresses, 5 guesses each
			for range 5 {
				if try(th, name, prefix(i), now, false) {
					admitted++
				}
			}
		}
		if admitted != 100 {
			t.Fatalf("%s: %d guesses from 1000 addresses, want the ceiling of 100", name, admitted)
		}
		if _, ok, _, what := th.admit(name, prefix(5000), now); ok || what != "this user name" {
			t.Fatalf("%s from a new address after the ceiling: ok=%v %q", name, ok, what)
		}
	}
	if !try(th, "alice", home, now, true) {
		t.Fatal("alice from her known address is locked out by distributed guessing")
	}
	// Her known address still has only its own per-name budget for
	// guesses, and they do not touch the ceiling.
	admitted := 0
	for range 10 {
		if try(th, "alice", home, now, false) {
			admitted++
		}
	}
	if admitted != 5 {
		t.Fatalf("guesses from alice's known address: %d, want 5", admitted)
	}
	// The ceiling refills one a minute; the known address is forgotten
	// after KnownAddress.
	now = now.Add(time.Minute)
	if !try(th, "alice", prefix(6000), now, false) || try(th, "alice", prefix(6001), now, false) {
		t.Fatal("the ceiling's refill is not one a minute")
	}
	now = now.Add(24 * time.Hour)
	if th.known.has("alice", home, now) {
		t.Fatal("a known address outlived KnownAddress")
	}
}

// The address's own budget holds across names.
func TestThrottlePerAddress(t *testing.T) {
	th := testThrottle()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	admitted := 0
	for i := range 100 {
		if try(th, fmt.Sprintf("user%d", i), prefix(1), now, false) {
			admitted++
		}
	}
	if _, ok, _, what := th.admit("alice", prefix(1), now); admitted != 20 || ok || what != "this address" {
		t.Fatalf("%d guesses at other names from one address; then ok=%v %q", admitted, ok, what)
	}
	// A refused attempt held no token: the other buckets are intact.
	if !try(th, "alice", prefix(2), now, true) {
		t.Fatal("alice from another address refused")
	}
}

// A server failure is no guess: it spends nothing.
func TestThrottleReleaseSpendsNothing(t *testing.T) {
	th := testThrottle()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for range 5 {
		try(th, "alice", prefix(1), now, false)
	}
	for range 100 {
		p, ok, _, _ := th.admit("bob", prefix(1), now)
		if !ok {
			t.Fatal("released attempts were counted")
		}
		th.release(p)
	}
}

// The known addresses are bounded.
func TestKnownAddrsBounded(t *testing.T) {
	k := &knownAddrs{ttl: time.Hour, byName: map[string][]knownAddr{}}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i := range maxKnownNames + 50 {
		k.add(fmt.Sprint("user", i), prefix(i), now.Add(time.Duration(i)*time.Millisecond))
	}
	if k.size() != maxKnownNames {
		t.Fatalf("%d names remembered, want %d", k.size(), maxKnownNames)
	}
	if k.has("user0", prefix(0), now) || !k.has(fmt.Sprint("user", maxKnownNames+49), prefix(maxKnownNames+49), now.Add(time.Minute)) {
		t.Fatal("eviction dropped the newest instead of the oldest")
	}
	for i := range 10 {
		k.add("alice", prefix(i), now)
	}
	if n := len(k.byName["alice"]); n != maxKnownPerName {
		t.Fatalf("alice has %d known addresses, want %d", n, maxKnownPerName)
	}
}

// Someone who shares alice's address (a NAT, an office) and spends the
// address's budget on other names, or a flood that fills the address map
// so that new addresses share one emptied bucket, does not keep alice out
// at the address she logged in from; a new address of hers waits.
func TestThrottleKnownAddressSurvivesAddressExhaustion(t *testing.T) {
	th := testThrottle()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	office := prefix(1)
	if !try(th, "alice", office, now, true) {
		t.Fatal("first login refused")
	}
	for i := range 100 {
		try(th, fmt.Sprintf("user%d", i), office, now, false)
	}
	if _, ok, _, what := th.admit("bob", office, now); ok || what != "this address" {
		t.Fatalf("bob at the exhausted address: ok=%v %q", ok, what)
	}
	if !try(th, "alice", office, now, true) {
		t.Fatal("alice at her known address is locked out by guesses at other names")
	}
	// A flood of failures from more addresses than the map holds.
	for i := range maxLimitKeys + 100 {
		try(th, fmt.Sprintf("flood%d", i), prefix(10+i), now, false)
	}
	if _, ok, _, _ := th.admit("carol", prefix(50_000), now); ok {
		t.Fatal("the flood did not reach the shared bucket: the test shows nothing")
	}
	if !try(th, "alice", office, now, true) {
		t.Fatal("alice at her known address is locked out by a wide flood")
	}
}
