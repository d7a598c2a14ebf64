package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// RunReplayLedger is the conformance suite of store.ReplayLedger. open must
// return a new, empty ledger each time it is called.
func RunReplayLedger(t *testing.T, open func(t *testing.T) store.ReplayLedger) {
	tests := []struct {
		name string
		fn   func(t *testing.T, l store.ReplayLedger)
	}{
		{"ClaimOnce", testLedgerClaimOnce},
		{"Release", testLedgerRelease},
		{"Expiry", testLedgerExpiry},
		{"ConcurrentClaims", testLedgerConcurrentClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// t0 is a fixed clock reading; PostgreSQL keeps microseconds, so the
// suite's times are whole seconds.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func ledgerID(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func claim(t *testing.T, l store.ReplayLedger, id [32]byte, expires, now time.Time) bool {
	t.Helper()
	ok, err := l.Claim(context.Background(), id, expires, now)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return ok
}

func testLedgerClaimOnce(t *testing.T, l store.ReplayLedger) {
	a, b := ledgerID("a"), ledgerID("b")
	exp := t0.Add(5 * time.Minute)
	if !claim(t, l, a, exp, t0) {
		t.Fatal("first Claim of a = false, want true")
	}
	if claim(t, l, a, exp, t0.Add(time.Second)) {
		t.Fatal("second Claim of a = true, want false")
	}
	if !claim(t, l, b, exp, t0.Add(time.Second)) {
		t.Fatal("Claim of another id = false, want true")
	}
	if claim(t, l, a, exp, exp.Add(-time.Second)) {
		t.Fatal("Claim of a just before its expiry = true, want false")
	}
}

func testLedgerRelease(t *testing.T, l store.ReplayLedger) {
	ctx := context.Background()
	a := ledgerID("a")
	exp := t0.Add(5 * time.Minute)
	claim(t, l, a, exp, t0)
	if err := l.Release(ctx, a, t0.Add(2*time.Second)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if !claim(t, l, a, exp, t0.Add(time.Second)) {
		t.Fatal("Claim within the release window = false, want true")
	}
	if claim(t, l, a, exp, t0.Add(time.Second)) {
		t.Fatal("Claim after the re-claim = true, want false: a release opens one claim")
	}
	if err := l.Release(ctx, a, t0.Add(2*time.Second)); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if claim(t, l, a, exp, t0.Add(3*time.Second)) {
		t.Fatal("Claim after the release window = true, want false")
	}
	if err := l.Release(ctx, ledgerID("never claimed"), t0.Add(time.Minute)); err != nil {
		t.Fatalf("Release of an unknown id: %v", err)
	}
}

func testLedgerExpiry(t *testing.T, l store.ReplayLedger) {
	ctx := context.Background()
	early, late := ledgerID("early"), ledgerID("late")
	claim(t, l, early, t0.Add(time.Minute), t0)
	claim(t, l, late, t0.Add(10*time.Minute), t0)
	n, err := l.Purge(ctx, t0.Add(30*time.Second))
	if err != nil || n != 0 {
		t.Fatalf("Purge before any expiry = %d, %v; want 0", n, err)
	}
	if claim(t, l, early, t0.Add(time.Minute), t0.Add(30*time.Second)) {
		t.Fatal("Claim before expiry = true after a Purge that should have kept it")
	}
	n, err = l.Purge(ctx, t0.Add(2*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("Purge after the first expiry = %d, %v; want 1", n, err)
	}
	if claim(t, l, late, t0.Add(10*time.Minute), t0.Add(2*time.Minute)) {
		t.Fatal("the live entry did not survive Purge")
	}
	// Expired and not yet purged: as good as absent.
	if !claim(t, l, late, t0.Add(20*time.Minute), t0.Add(11*time.Minute)) {
		t.Fatal("Claim of an expired entry = false, want true")
	}
	if claim(t, l, late, t0.Add(20*time.Minute), t0.Add(12*time.Minute)) {
		t.Fatal("the re-claimed entry did not take its new expiry")
	}
}

func testLedgerConcurrentClaims(t *testing.T, l store.ReplayLedger) {
	ctx := context.Background()
	const ids, copies = 20, 8
	exp := t0.Add(5 * time.Minute)
	var won [ids]atomic.Int32
	var wg sync.WaitGroup
	errc := make(chan error, ids*copies)
	for i := range ids {
		id := ledgerID(fmt.Sprint("id", i))
		if i%2 == 1 {
			// Half the ids were released: still one winner.
			claim(t, l, id, exp, t0)
			if err := l.Release(ctx, id, t0.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		for range copies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := l.Claim(ctx, id, exp, t0.Add(time.Second))
				if err != nil {
					errc <- err
					return
				}
				if ok {
					won[i].Add(1)
				}
			}()
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("Claim: %v", err)
	}
	for i := range ids {
		if n := won[i].Load(); n != 1 {
			t.Errorf("id %d: %d of %d concurrent claims won, want exactly 1", i, n, copies)
		}
	}
}
