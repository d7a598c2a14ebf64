package memledger_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/memledger"
	"github.com/coffer-vault/coffer/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.RunReplayLedger(t, func(t *testing.T) store.ReplayLedger { return memledger.New(0) })
}

func id(i int) [32]byte { return sha256.Sum256([]byte(fmt.Sprint(i))) }

// TestFull: a full ledger refuses new ids rather than growing or forgetting
// a live one, and takes them again once entries expire.
func TestFull(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := memledger.New(3)
	for i := range 3 {
		if ok, err := l.Claim(ctx, id(i), now.Add(time.Duration(i+1)*time.Minute), now); !ok || err != nil {
			t.Fatalf("Claim %d = %v, %v", i, ok, err)
		}
	}
	if ok, err := l.Claim(ctx, id(9), now.Add(time.Minute), now); ok || !errors.Is(err, store.ErrLedgerFull) {
		t.Fatalf("Claim into a full ledger = %v, %v; want false, ErrLedgerFull", ok, err)
	}
	// A copy of a held id is still recognised as one.
	if ok, err := l.Claim(ctx, id(0), now.Add(time.Minute), now); ok || err != nil {
		t.Fatalf("Claim of a held id in a full ledger = %v, %v; want false, nil", ok, err)
	}
	later := now.Add(90 * time.Second) // id(0) expired
	if ok, err := l.Claim(ctx, id(9), later.Add(time.Minute), later); !ok || err != nil {
		t.Fatalf("Claim after an expiry = %v, %v; want true", ok, err)
	}
	if n := l.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
	for i := 1; i < 3; i++ {
		if ok, _ := l.Claim(ctx, id(i), now.Add(time.Hour), later); ok {
			t.Fatalf("live id %d was forgotten to make room", i)
		}
	}
}

// TestPurgeBounded: entries do not outlive their expiry by more than the
// amortised purge interval, whatever the traffic.
func TestPurgeBounded(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := memledger.New(0)
	for i := range 10_000 {
		at := now.Add(time.Duration(i) * time.Millisecond)
		if ok, err := l.Claim(ctx, id(i), at.Add(time.Second), at); !ok || err != nil {
			t.Fatalf("Claim %d = %v, %v", i, ok, err)
		}
	}
	// Claims over 10 s with 1 s lifetimes: about 2 s worth remain.
	if n := l.Len(); n > 2_100 {
		t.Fatalf("Len = %d after 10 s of 1 s entries, want at most about 2,000", n)
	}
	n, _ := l.Purge(ctx, now.Add(time.Hour))
	if n == 0 || l.Len() != 0 {
		t.Fatalf("Purge forgot %d, %d left; want all gone", n, l.Len())
	}
}

func BenchmarkClaim(b *testing.B) {
	ctx := context.Background()
	l := memledger.New(0)
	now := time.Now()
	i := 0
	for b.Loop() {
		i++
		at := now.Add(time.Duration(i) * time.Microsecond)
		if _, err := l.Claim(ctx, id(i), at.Add(5*time.Minute), at); err != nil {
			b.Fatal(err)
		}
	}
}
