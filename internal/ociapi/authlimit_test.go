package ociapi

import (
	"fmt"
	"testing"
	"time"
)

func TestAuthFailLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewAuthFailLimiter(2, 3)
	fail := func(addr string, n int) {
		for range n {
			l.Failed(addr, AuthPass{}, now)
		}
	}
	// allowed admits a request that then succeeds: it spends nothing.
	allowed := func(addr string) bool {
		p, ok, _ := l.Admit(addr, now)
		l.Succeeded(p)
		return ok
	}

	fail("192.0.2.1:1", 2)
	if !allowed("192.0.2.1:1") {
		t.Fatal("refused within the burst")
	}
	fail("192.0.2.1:2", 1) // another port, same address
	_, ok, wait := l.Admit("192.0.2.1:3", now)
	if ok || wait <= 0 || wait > time.Second/2 {
		t.Fatalf("after the burst: ok=%v wait=%v, want refused for at most 1/rate", ok, wait)
	}
	if !allowed("192.0.2.2:1") || !allowed("[2001:db8::1]:1") {
		t.Fatal("another address is throttled")
	}
	// IPv4 in IPv6 form is the same address.
	if allowed("[::ffff:192.0.2.1]:1") {
		t.Fatal("::ffff:192.0.2.1 escaped the bucket of 192.0.2.1")
	}
	// IPv6: one bucket per /64.
	fail("[2001:db8:1:2::1]:1", 3)
	if allowed("[2001:db8:1:2:ffff::9]:1") {
		t.Fatal("another address in the same /64 escaped the bucket")
	}
	if !allowed("[2001:db8:1:3::1]:1") {
		t.Fatal("the next /64 is throttled")
	}
	now = now.Add(time.Second)
	if !allowed("192.0.2.1:1") {
		t.Fatal("bucket did not refill")
	}
	// Refilled buckets are dropped.
	now = now.Add(10 * time.Second)
	l.Failed("198.51.100.1:1", AuthPass{}, now)
	if n := l.tracked(); n != 1 {
		t.Fatalf("%d buckets tracked after the others refilled, want 1", n)
	}

	var none *AuthFailLimiter
	none.Failed("192.0.2.1:1", AuthPass{}, now)
	if _, ok, _ := none.Admit("192.0.2.1:1", now); !ok || NewAuthFailLimiter(0, 5) != nil {
		t.Fatal("a nil limiter limits")
	}
}

// TestAuthFailLimiterInFlight: requests checked at the same time hold a
// token each, so they cannot all spend the last one; a success gives its
// token back, a failure keeps it.
func TestAuthFailLimiterInFlight(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewAuthFailLimiter(1, 3)
	const addr = "192.0.2.1:1"
	l.Failed(addr, AuthPass{}, now) // 2 tokens left
	p1, ok1, _ := l.Admit(addr, now)
	p2, ok2, _ := l.Admit(addr, now)
	_, ok3, _ := l.Admit(addr, now)
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("admitted %v %v %v with 2 tokens left; want the third refused", ok1, ok2, ok3)
	}
	l.Succeeded(p1)
	l.Failed(addr, p2, now)
	p4, ok4, _ := l.Admit(addr, now)
	_, ok5, _ := l.Admit(addr, now)
	if !ok4 || ok5 {
		t.Fatalf("after one success and one failure: %v %v; want exactly one token back", ok4, ok5)
	}
	l.Failed(addr, p4, now)
}

// TestAuthFailLimiterBounded: a flood from more addresses than it tracks
// shares one bucket instead of growing the map.
func TestAuthFailLimiterBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewAuthFailLimiter(1, 1)
	for i := range maxAuthFailAddrs + 500 {
		l.Failed(fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255), AuthPass{}, now)
	}
	if n := l.tracked(); n > maxAuthFailAddrs+1 {
		t.Fatalf("%d buckets tracked, want at most %d", n, maxAuthFailAddrs+1)
	}
	if _, ok, _ := l.Admit("192.0.2.77:1", now); ok {
		t.Fatal("an untracked address is not limited by the shared bucket during the flood")
	}
}

func BenchmarkAuthFailAllow(b *testing.B) {
	l := NewAuthFailLimiter(10, 50)
	now := time.Now()
	for i := range 1000 {
		l.Failed(fmt.Sprintf("10.0.%d.%d:1", i>>8, i&255), AuthPass{}, now)
	}
	for b.Loop() {
		l.Admit("127.0.0.1:5555", now)
	}
}
