// Package secretcacheprom exposes a secretcache.Cache's counters as
// Prometheus metrics. It is a separate package so that programs using the
// cache without Prometheus do not link the client library.
package secretcacheprom

import (
	"github.com/coffer-vault/coffer/pkg/secretcache"
	"github.com/prometheus/client_golang/prometheus"
)

// StatsSource is what the collector reads; *secretcache.Cache satisfies it.
type StatsSource interface {
	Stats() secretcache.Stats
}

type metric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(secretcache.Stats) float64
}

// Collector reports a cache's Stats at each scrape.
type Collector struct {
	src     StatsSource
	metrics []metric
}

// NewCollector returns a collector for src. Metric names start with
// namespace (for example "myapp") followed by "secretcache_"; constLabels
// tell several caches in one process apart.
func NewCollector(src StatsSource, namespace string, constLabels prometheus.Labels) *Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "secretcache", name), help, nil, constLabels)
	}
	counter := func(name, help string, f func(secretcache.Stats) uint64) metric {
		return metric{d(name, help), prometheus.CounterValue, func(s secretcache.Stats) float64 { return float64(f(s)) }}
	}
	return &Collector{src: src, metrics: []metric{
		counter("hits_total", "Reads answered from a fresh cache entry.", func(s secretcache.Stats) uint64 { return s.Hits }),
		counter("misses_total", "Reads that found no fresh cache entry.", func(s secretcache.Stats) uint64 { return s.Misses }),
		counter("coalesced_total", "Misses that joined a backend read already in flight.", func(s secretcache.Stats) uint64 { return s.Coalesced }),
		counter("calls_saved_total", "Backend calls avoided (hits plus coalesced misses).", func(s secretcache.Stats) uint64 { return s.Saved }),
		counter("backend_calls_total", "Requests sent to the Secrets service, retries included.", func(s secretcache.Stats) uint64 { return s.BackendCalls }),
		counter("errors_total", "Backend reads that failed after retries.", func(s secretcache.Stats) uint64 { return s.Errors }),
		counter("stale_served_total", "Reads answered with an expired version during the grace period.", func(s secretcache.Stats) uint64 { return s.StaleServed }),
		counter("refreshes_total", "Successful background refreshes.", func(s secretcache.Stats) uint64 { return s.Refreshes }),
		counter("evictions_total", "Entries evicted by the size bound.", func(s secretcache.Stats) uint64 { return s.Evictions }),
		counter("ttl_shortened_total", "Entries stored with a TTL shortened for rotation or expiry.", func(s secretcache.Stats) uint64 { return s.TTLShortened }),
		counter("rejections_total", "Rejected versions refetched.", func(s secretcache.Stats) uint64 { return s.Rejections }),
		{d("entries", "Secret versions cached now."), prometheus.GaugeValue, func(s secretcache.Stats) float64 { return float64(s.Entries) }},
	}}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics {
		ch <- m.desc
	}
}

// Collect implements prometheus.Collector: one Stats snapshot per scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Stats()
	for _, m := range c.metrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, m.value(s))
	}
}
