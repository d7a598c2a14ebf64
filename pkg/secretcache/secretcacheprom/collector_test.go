package secretcacheprom_test

import (
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/pkg/secretcache"
	"github.com/coffer-vault/coffer/pkg/secretcache/secretcacheprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fixed secretcache.Stats

func (f fixed) Stats() secretcache.Stats { return secretcache.Stats(f) }

var _ secretcacheprom.StatsSource = (*secretcache.Cache)(nil)

func TestCollector(t *testing.T) {
	c := secretcacheprom.NewCollector(fixed{Hits: 7, Misses: 2, Saved: 8, Coalesced: 1, BackendCalls: 3, Entries: 2},
		"app", prometheus.Labels{"cache": "db"})
	want := `
# HELP app_secretcache_hits_total Reads answered from a fresh cache entry.
# TYPE app_secretcache_hits_total counter
app_secretcache_hits_total{cache="db"} 7
# HELP app_secretcache_calls_saved_total Backend calls avoided (hits plus coalesced misses).
# TYPE app_secretcache_calls_saved_total counter
app_secretcache_calls_saved_total{cache="db"} 8
# HELP app_secretcache_backend_calls_total Requests sent to the Secrets service, retries included.
# TYPE app_secretcache_backend_calls_total counter
app_secretcache_backend_calls_total{cache="db"} 3
# HELP app_secretcache_entries Secret versions cached now.
# TYPE app_secretcache_entries gauge
app_secretcache_entries{cache="db"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"app_secretcache_hits_total", "app_secretcache_calls_saved_total",
		"app_secretcache_backend_calls_total", "app_secretcache_entries"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c); n != 12 {
		t.Fatalf("%d metrics, want 12", n)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}
