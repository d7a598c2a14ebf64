package recordcache_test

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coffer-vault/coffer/internal/recordcache"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/memstore"
	storerecord "github.com/coffer-vault/coffer/internal/store/record"
)

// counting counts the store snapshots a cache opens.
type counting struct {
	store.Store
	views atomic.Int64
}

func (c *counting) View(ctx context.Context, fn func(store.Reader) error) error {
	c.views.Add(1)
	return c.Store.View(ctx, fn)
}

type record struct {
	N int `json:"n"`
}

func newCache(t *testing.T, opts recordcache.Options) (*recordcache.Cache, *counting) {
	t.Helper()
	st := &counting{Store: memstore.New()}
	c := recordcache.New(st, opts)
	t.Cleanup(func() { c.Close() })
	return c, st
}

func put(t *testing.T, c *recordcache.Cache, kv map[string]int) {
	t.Helper()
	err := c.Update(context.Background(), func(tx store.Tx) error {
		for k, n := range kv {
			b, _ := json.Marshal(record{N: n})
			if err := tx.Put(k, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// read returns the record at key through Read, or -1 when there is none.
func read(t *testing.T, c *recordcache.Cache, key string) int {
	t.Helper()
	n := -1
	err := c.Read(context.Background(), func(r store.Reader) error {
		v, err := recordcache.Load[record](r, key)
		n = -1
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		n = v.N
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWarmReadOpensNoSnapshot(t *testing.T) {
	c, st := newCache(t, recordcache.Options{})
	put(t, c, map[string]int{"a": 1})
	if got := read(t, c, "a"); got != 1 {
		t.Fatalf("first read %d", got)
	}
	before := st.views.Load()
	for range 100 {
		if got := read(t, c, "a"); got != 1 {
			t.Fatalf("warm read %d", got)
		}
	}
	if n := st.views.Load() - before; n != 0 {
		t.Fatalf("100 warm reads opened %d store snapshots, want 0", n)
	}
	if s := c.Stats(); s.Hits < 100 || !s.Live {
		t.Fatalf("stats %+v", s)
	}
}

func TestWriteIsSeenByTheNextRead(t *testing.T) {
	c, _ := newCache(t, recordcache.Options{})
	put(t, c, map[string]int{"a": 1})
	read(t, c, "a")
	for i := 2; i < 50; i++ {
		put(t, c, map[string]int{"a": i})
		if got := read(t, c, "a"); got != i {
			t.Fatalf("read after writing %d got %d", i, got)
		}
	}
	if err := c.Update(context.Background(), func(tx store.Tx) error { return tx.Delete("a") }); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c, "a"); got != -1 {
		t.Fatalf("read after delete got %d", got)
	}
}

func TestFailedUpdateStillInvalidates(t *testing.T) {
	c, _ := newCache(t, recordcache.Options{})
	put(t, c, map[string]int{"a": 1})
	read(t, c, "a")
	boom := errors.New("boom")
	err := c.Update(context.Background(), func(tx store.Tx) error {
		b, _ := json.Marshal(record{N: 2})
		_ = tx.Put("a", b)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got := read(t, c, "a"); got != 1 {
		t.Fatalf("read %d after a rolled-back write, want 1", got)
	}
}

// A read whose snapshot predates a write must not cache what it read.
func TestStaleFillIsDropped(t *testing.T) {
	c, st := newCache(t, recordcache.Options{})
	put(t, c, map[string]int{"a": 1})
	wrote := false
	err := c.Read(context.Background(), func(r store.Reader) error {
		if _, err := r.List("", "", 1); err != nil { // force the store pass
			return err
		}
		if !wrote {
			wrote = true
			// memstore's View is a snapshot taken before this write.
			put(t, c, map[string]int{"a": 2})
		}
		v, err := recordcache.Load[record](r, "a")
		if err == nil && v.N != 1 {
			t.Errorf("snapshot read %d, want the old 1", v.N)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	before := st.views.Load()
	if got := read(t, c, "a"); got != 2 {
		t.Fatalf("read %d after the write, want 2 (a stale fill was kept)", got)
	}
	if st.views.Load() == before {
		t.Fatal("the read after the write was served from the cache")
	}
}

func TestChangeFeed(t *testing.T) {
	c, st := newCache(t, recordcache.Options{})
	put(t, c, map[string]int{"a": 1, "b": 1})
	read(t, c, "a")
	read(t, c, "b")

	// Another node wrote "a" behind this cache's back.
	if err := st.Store.Update(context.Background(), func(tx store.Tx) error {
		b, _ := json.Marshal(record{N: 5})
		return tx.Put("a", b)
	}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c, "a"); got != 1 {
		t.Fatalf("without a change notice the cache should still answer 1, got %d", got)
	}
	c.Changed([]string{"a"})
	if got := read(t, c, "a"); got != 5 {
		t.Fatalf("after Changed read %d, want 5", got)
	}

	c.Lost()
	if c.Stats().Live {
		t.Fatal("live after Lost")
	}
	before := st.views.Load()
	for range 3 {
		read(t, c, "b")
	}
	if n := st.views.Load() - before; n != 3 {
		t.Fatalf("while lost, 3 reads opened %d snapshots, want 3", n)
	}
	c.Live()
	read(t, c, "b")
	before = st.views.Load()
	read(t, c, "b")
	if st.views.Load() != before {
		t.Fatal("after Live, a warm read went to the store")
	}
}

func TestDisabledCacheAlwaysReadsTheStore(t *testing.T) {
	st := &counting{Store: memstore.New()}
	c := recordcache.Of(st)
	put(t, c, map[string]int{"a": 1})
	for range 5 {
		read(t, c, "a")
	}
	if n := st.views.Load(); n != 5 {
		t.Fatalf("5 reads opened %d snapshots, want 5", n)
	}
	if recordcache.Of(c) != c {
		t.Fatal("Of wrapped a cache again")
	}
}

func TestBounded(t *testing.T) {
	c, st := newCache(t, recordcache.Options{MaxEntries: 64})
	kv := map[string]int{}
	for i := range 1000 {
		kv["k"+strconv.Itoa(i)] = i
	}
	put(t, c, kv)
	for i := range 1000 {
		read(t, c, "k"+strconv.Itoa(i))
	}
	before := st.views.Load()
	for i := range 1000 {
		read(t, c, "k"+strconv.Itoa(i))
	}
	if misses := st.views.Load() - before; misses < 1000-64 {
		t.Fatalf("%d of 1000 reads missed with room for 64: the cache grew past its bound", misses)
	}
}

func TestNotFoundAndCorrupt(t *testing.T) {
	c, _ := newCache(t, recordcache.Options{})
	if got := read(t, c, "missing"); got != -1 {
		t.Fatalf("missing key read %d", got)
	}
	if err := c.Update(context.Background(), func(tx store.Tx) error { return tx.Put("bad", []byte("{")) }); err != nil {
		t.Fatal(err)
	}
	err := c.Read(context.Background(), func(r store.Reader) error {
		_, err := recordcache.Load[record](r, "bad")
		return err
	})
	if !errors.Is(err, storerecord.ErrCorrupt) || recordcache.Missed(err) {
		t.Fatalf("corrupt record: %v, want record.ErrCorrupt", err)
	}
	// A key the store refuses holds nothing: not found, as record.Get says.
	if got := read(t, c, "bad\x00key"); got != -1 {
		t.Fatalf("invalid key read %d", got)
	}
}

// Readers of two records always written together never see them differ,
// whether served from the cache or the store, while writers run.
func TestConsistentUnderConcurrentWrites(t *testing.T) {
	c, _ := newCache(t, recordcache.Options{})
	put(t, c, map[string]int{"x": 0, "y": 0})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; ctx.Err() == nil; i++ {
				n := i*2 + w
				err := c.Update(ctx, func(tx store.Tx) error {
					b, _ := json.Marshal(record{N: n})
					if err := tx.Put("x", b); err != nil {
						return err
					}
					return tx.Put("y", b)
				})
				if err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var mismatches atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20000 {
				var x, y int
				err := c.Read(context.Background(), func(rd store.Reader) error {
					a, err := recordcache.Load[record](rd, "x")
					if err != nil {
						return err
					}
					b, err := recordcache.Load[record](rd, "y")
					if err != nil {
						return err
					}
					x, y = a.N, b.N
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				if x != y {
					mismatches.Add(1)
				}
			}
		}()
	}
	// Let the readers finish, then stop the writers.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c.Stats().Hits+c.Stats().Misses < 80000 {
			if t.Failed() {
				return
			}
			runtime.Gosched()
		}
	}()
	<-done
	cancel()
	wg.Wait()
	if n := mismatches.Load(); n != 0 {
		t.Fatalf("%d reads saw x and y from different writes", n)
	}
	s := c.Stats()
	t.Logf("hits %d misses %d", s.Hits, s.Misses)
	if s.Hits == 0 {
		t.Fatalf("no read was served from the cache: %+v", s)
	}
}
