package secretcache

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// warmCache returns a cache (real clock) holding one secret, and its key;
// the cache is closed when the benchmark ends.
func warmCache(b *testing.B) (*Cache, Key) {
	be := newFakeBackend()
	be.put(idA, "benchmark-secret", 1)
	c := New(be, Options{TTL: time.Hour})
	b.Cleanup(func() { c.Close() })
	key := ByID(idA)
	if _, err := c.Get(context.Background(), key); err != nil {
		b.Fatal(err)
	}
	return c, key
}

// BenchmarkHit measures a read answered from the cache (real clock). It
// must stay under a microsecond and allocate nothing.
func BenchmarkHit(b *testing.B) {
	c, key := warmCache(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, err := c.Get(ctx, key)
		if err != nil || s.Len() == 0 {
			b.Fatal(err)
		}
	}
}

// BenchmarkHitParallel is BenchmarkHit from GOMAXPROCS goroutines.
func BenchmarkHitParallel(b *testing.B) {
	c, key := warmCache(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Get(ctx, key); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkStampede: each iteration, 1,000 goroutines read 100 secrets from
// an empty cache; the backend must see exactly one call per secret.
func BenchmarkStampede(b *testing.B) {
	const nSecrets, nReaders = 100, 1000
	ids := make([]Key, nSecrets)
	for i := range ids {
		ids[i] = ByID(fmt.Sprintf("ocid1.vaultsecret.oc1..s%03d", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		be := newFakeBackend()
		for _, k := range ids {
			be.put(k.SecretID, "x", 1)
		}
		c := New(be, Options{TTL: time.Hour, Clock: newFakeClock()})
		b.StartTimer()
		var wg sync.WaitGroup
		for g := range nReaders {
			wg.Go(func() {
				for j := range nSecrets {
					if _, err := c.Get(context.Background(), ids[(g+j)%nSecrets]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		if n := be.totalCalls(); n != nSecrets {
			b.Fatalf("backend calls = %d, want %d", n, nSecrets)
		}
		c.Close()
		b.StartTimer()
	}
}

// TestHitAllocatesNothing pins the zero-allocation hit path independently of
// benchmark timing noise.
func TestHitAllocatesNothing(t *testing.T) {
	be := newFakeBackend()
	be.put(idA, "secret", 1)
	c := New(be, Options{TTL: time.Hour})
	defer c.Close()
	ctx := context.Background()
	key := ByName(vault, "x")
	be.name(vault, "x", idA)
	if _, err := c.Get(ctx, key); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = c.Get(ctx, key) }); n != 0 {
		t.Fatalf("hit allocates %v times", n)
	}
}
