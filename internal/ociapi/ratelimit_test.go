package ociapi

import (
	"testing"
	"time"
)

func TestRateLimiterPerPrincipal(t *testing.T) {
	l := NewRateLimiter(1, 2)
	now := time.Unix(1000, 0)
	for i := 0; i < 2; i++ {
		if ok, _ := l.Allow("a", now); !ok {
			t.Fatalf("request %d within burst refused", i)
		}
	}
	ok, wait := l.Allow("a", now)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("third request: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.Allow("b", now); !ok {
		t.Fatal("another principal is throttled by a's burst")
	}
	if ok, _ := l.Allow("a", now.Add(time.Second)); !ok {
		t.Fatal("bucket did not refill")
	}
	if NewRateLimiter(0, 1) != nil {
		t.Fatal("a zero rate should disable limiting")
	}
	var none *RateLimiter
	if ok, _ := none.Allow("x", now); !ok {
		t.Fatal("nil limiter refused")
	}
}
