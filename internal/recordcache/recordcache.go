// Package recordcache keeps decoded store records in memory so that a warm
// read runs no store transaction and decodes nothing.
//
// A Cache wraps the server's store (above the barrier, so it holds what the
// domain packages decode) and is itself a store.Store: writes go through its
// Update, which invalidates every key the transaction wrote before Update
// returns. A write that returned is therefore seen by the next Read on the
// same node. Writes made by other nodes sharing the database arrive through
// the store's ChangeFeed (Follow); while the feed is not live the cache
// serves nothing and every Read goes to the store.
//
// Read runs the caller's function first against the cache alone. If every
// record it asks for is cached, none of their shards is being written by
// this node, and no invalidation happened meanwhile, the records form one
// consistent state and the result stands; otherwise the function runs again
// inside one store snapshot, and what it read there is cached unless an
// invalidation or a write of the same shard may have raced the snapshot.
// For this node's writes a Read therefore sees one snapshot, never a mix of
// states. A write of another node reaches the cache when the feed reports
// it (within the feed's bound, 1 s for PostgreSQL): until then a Read on
// this node may still combine records from before it with records filled
// after it, each of them a committed record.
//
// Cached values are shared between readers: callers must not modify what
// Load returns.
package recordcache

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// DefaultMaxEntries bounds the cache when Options.MaxEntries is 0: about
// 100,000 secrets with their current versions and their keys.
const DefaultMaxEntries = 250_000

const shardCount = 64

// Options configure a Cache.
type Options struct {
	// MaxEntries bounds the number of cached records; 0 means
	// DefaultMaxEntries, a negative value disables caching.
	MaxEntries int
}

// Cache is a store.Store that caches decoded records. It is safe for
// concurrent use.
type Cache struct {
	st     store.Store
	seed   maphash.Seed
	shards [shardCount]shard
	off    bool
	// epoch counts invalidations; a cache-only read that saw it move may
	// have mixed states and is retried against the store.
	epoch atomic.Uint64
	// live is false while changes of other nodes may go unseen.
	live atomic.Bool

	hits, misses atomic.Uint64

	// onChange, when set, hears every key Changed drops (OnChange).
	onChange atomic.Pointer[func(keys []string)]
}

// OnChange makes fn hear the keys of every later invalidation: this node's
// writes once Update returns, and other nodes' writes as the store's change
// feed reports them. fn runs on the invalidating goroutine and must not
// block; nil stops it.
func (c *Cache) OnChange(fn func(keys []string)) {
	if fn == nil {
		c.onChange.Store(nil)
		return
	}
	c.onChange.Store(&fn)
}

type shard struct {
	// gen counts invalidations of this shard's keys; a fill is dropped when
	// it moved since before the snapshot the value came from.
	gen atomic.Uint64
	// writing counts this node's transactions that wrote a key of the shard
	// and have not yet invalidated it: from the first Put to the end of
	// Update, the shard serves and accepts nothing, so no read can mix a
	// committed write with records from before it.
	writing atomic.Int64
	entries *lru.Cache[string, any]
	// mu orders a fill's generation check and insert against an
	// invalidation's bump and removal.
	mu sync.Mutex
}

// New wraps st. The cache starts live: call Follow before serving when st
// is shared with other nodes, which makes it wait for the feed.
func New(st store.Store, opts Options) *Cache {
	c := &Cache{st: st, seed: maphash.MakeSeed()}
	max := opts.MaxEntries
	if max == 0 {
		max = DefaultMaxEntries
	}
	c.off = max < 0
	per := max / shardCount
	if per < 1 {
		per = 1
	}
	for i := range c.shards {
		c.shards[i].entries, _ = lru.New[string, any](per)
	}
	c.live.Store(!c.off)
	return c
}

var _ store.Store = (*Cache)(nil)

// Of returns st when it is a Cache, and otherwise a Cache over st that
// caches nothing (every Read runs in a store snapshot), so code written
// for the cache also runs on a bare store.
func Of(st store.Store) *Cache {
	if c, ok := st.(*Cache); ok {
		return c
	}
	return New(st, Options{MaxEntries: -1})
}

// View runs fn in a store snapshot, bypassing the cache.
func (c *Cache) View(ctx context.Context, fn func(store.Reader) error) error {
	return c.st.View(ctx, fn)
}

// Update runs fn in a store transaction and, once it returned, drops every
// key fn wrote from the cache. Keys are dropped on failure too: a commit
// whose outcome is unknown may have happened.
func (c *Cache) Update(ctx context.Context, fn func(store.Tx) error) error {
	rt := &recordingTx{c: c}
	err := c.st.Update(ctx, func(tx store.Tx) error {
		rt.Tx = tx
		return fn(rt)
	})
	c.Changed(rt.written)
	for _, sh := range rt.marked {
		sh.writing.Add(-1)
	}
	return err
}

// Close closes the underlying store and empties the cache.
func (c *Cache) Close() error {
	c.Purge()
	return c.st.Close()
}

// recordingTx notes the keys a transaction writes and marks their shards
// as being written (kept across retries of fn; Update undoes the marks).
type recordingTx struct {
	store.Tx
	c       *Cache
	written []string
	marked  []*shard
}

func (t *recordingTx) note(key string) {
	sh := t.c.shardOf(key)
	sh.writing.Add(1)
	t.marked = append(t.marked, sh)
	t.written = append(t.written, key)
}

func (t *recordingTx) Put(key string, value []byte) error {
	t.note(key)
	return t.Tx.Put(key, value)
}

func (t *recordingTx) Delete(key string) error {
	t.note(key)
	return t.Tx.Delete(key)
}

func (c *Cache) shardOf(key string) *shard {
	return &c.shards[maphash.String(c.seed, key)%shardCount]
}

// Changed drops keys from the cache (store.ChangeWatcher).
func (c *Cache) Changed(keys []string) {
	if len(keys) == 0 {
		return
	}
	for _, k := range keys {
		sh := c.shardOf(k)
		sh.mu.Lock()
		sh.gen.Add(1)
		sh.entries.Remove(k)
		sh.mu.Unlock()
	}
	c.epoch.Add(1)
	if fn := c.onChange.Load(); fn != nil {
		(*fn)(keys)
	}
}

// Lost stops serving from the cache until Live (store.ChangeWatcher).
func (c *Cache) Lost() {
	c.live.Store(false)
	c.Purge()
}

// Live empties the cache, whose content may predate missed changes, and
// serves from it again (store.ChangeWatcher).
func (c *Cache) Live() {
	c.Purge()
	if !c.off {
		c.live.Store(true)
	}
}

// Purge drops everything, as after a seal.
func (c *Cache) Purge() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		sh.gen.Add(1)
		sh.entries.Purge()
		sh.mu.Unlock()
	}
	c.epoch.Add(1)
}

// Follow keeps the cache true to the writes of other nodes through feed
// until ctx ends. It marks the cache not live until the feed is listening.
func (c *Cache) Follow(ctx context.Context, feed store.ChangeFeed) error {
	c.Lost()
	return feed.Follow(ctx, c)
}

// Stats are the cache's counters since New.
type Stats struct {
	Hits, Misses uint64
	Entries      int  // records held
	Live         bool // serving from memory (false while the change feed is down)
}

// Stats returns the hit and miss counts of Read and the records held.
func (c *Cache) Stats() Stats {
	st := Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Live: c.live.Load()}
	for i := range c.shards {
		st.Entries += c.shards[i].entries.Len()
	}
	return st
}

// errMiss ends a cache-only pass that needs the store.
var errMiss = errors.New("recordcache: not cached")

// Missed reports whether err asks Read to go to the store. Code that turns
// errors into answers (a deferred "not found", say) must pass such an error
// through unchanged.
func Missed(err error) bool { return errors.Is(err, errMiss) }

// Reader reads records during one Read.
type Reader struct {
	c *Cache
	r store.Reader // nil during the cache-only pass
	// gens are the shard generations taken before the store snapshot.
	gens *[shardCount]uint64
}

// Read runs fn against one consistent state: the cache's, when it holds
// every record fn asks for, or one store snapshot. fn's reader is a
// *Reader, which Load serves from the cache. fn may run twice and must have
// no effects beyond its reads until Read returns.
func (c *Cache) Read(ctx context.Context, fn func(store.Reader) error) error {
	if c.live.Load() {
		e := c.epoch.Load()
		err := fn(&Reader{c: c})
		if !errors.Is(err, errMiss) && c.epoch.Load() == e {
			c.hits.Add(1)
			return err
		}
	}
	c.misses.Add(1)
	var gens [shardCount]uint64
	for i := range c.shards {
		gens[i] = c.shards[i].gen.Load()
	}
	return c.st.View(ctx, func(r store.Reader) error {
		return fn(&Reader{c: c, r: r, gens: &gens})
	})
}

var _ store.Reader = (*Reader)(nil)

// Get reads key's raw value: from the snapshot, or during the cache-only
// pass an error that makes Read go to the store. Records read through Load
// are served from the cache instead.
func (r *Reader) Get(key string) ([]byte, error) {
	if r.r == nil {
		return nil, errMiss
	}
	return r.r.Get(key)
}

// List lists from the snapshot (lists are not cached), or during the
// cache-only pass returns an error that makes Read go to the store.
func (r *Reader) List(prefix, after string, limit int) ([]store.Entry, error) {
	if r.r == nil {
		return nil, errMiss
	}
	return r.r.List(prefix, after, limit)
}

// Load returns the record stored under key, decoded by record.Get: a
// missing key, or one the store refuses, gives an error for which
// errors.Is(err, store.ErrNotFound) holds. Given a Reader of Read, it
// serves and fills the cache, and the value may be shared: do not modify
// it. Given any other store.Reader (a write transaction), it reads and
// decodes a private copy.
func Load[T any](r store.Reader, key string) (*T, error) {
	cr, cached := r.(*Reader)
	if !cached {
		return record.GetPtr[T](r, key)
	}
	c := cr.c
	idx := maphash.String(c.seed, key) % shardCount
	sh := &c.shards[idx]
	if cr.r == nil {
		if sh.writing.Load() != 0 {
			return nil, errMiss
		}
		if hit, found := sh.entries.Get(key); found {
			if v, isT := hit.(*T); isT {
				return v, nil
			}
		}
		return nil, errMiss
	}
	v, err := record.GetPtr[T](cr.r, key)
	if err != nil || !c.live.Load() {
		return v, err
	}
	sh.mu.Lock()
	if sh.gen.Load() == cr.gens[idx] && sh.writing.Load() == 0 {
		sh.entries.Add(key, v)
	}
	sh.mu.Unlock()
	return v, nil
}
