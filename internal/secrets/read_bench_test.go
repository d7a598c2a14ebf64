package secrets

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/coffer-vault/coffer/internal/recordcache"
)

// BenchmarkReadBundle is ReadBundle in the domain, without the wire: from
// the record cache when warm, from the store (a snapshot and JSON decodes)
// when the cache is off. The warm case also reports the heap held per
// cached secret (its secret and version records) after 10,000 secrets
// have been read once: the figure to size --cache-entries by.
func BenchmarkReadBundle(b *testing.B) {
	const secrets = 10_000
	for _, tc := range []struct {
		name    string
		entries int
	}{{"warm", 0}, {"uncached", -1}} {
		b.Run(tc.name, func(b *testing.B) {
			var cache *recordcache.Cache
			e := newEnvWith(b, func(c *Config) {
				cache = recordcache.New(c.Store, recordcache.Options{MaxEntries: tc.entries})
				c.Store = cache
			})
			ids := make([]string, secrets)
			for i := range ids {
				ids[i] = e.create(b, fmt.Sprintf("s%05d", i), "a database password of some length").ID
			}
			heap := func() uint64 {
				var m runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m)
				return m.HeapAlloc
			}
			before := heap()
			for _, id := range ids {
				if _, err := e.s.ReadBundle(e.ctx, SecretRef{ID: id}, BundleSelector{}, nil); err != nil {
					b.Fatal(err)
				}
			}
			held := int64(heap()) - int64(before)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := e.s.ReadBundle(e.ctx, SecretRef{ID: ids[i%secrets]}, BundleSelector{}, nil); err != nil {
					b.Fatal(err)
				}
			}
			if tc.entries == 0 {
				b.ReportMetric(float64(held)/secrets, "heapB/secret")
				if st := cache.Stats(); st.Misses > secrets {
					b.Fatalf("warm reads missed the cache: %+v", st)
				}
			}
		})
	}
}
