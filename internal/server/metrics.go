package server

import (
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/coffer-vault/coffer/internal/buildinfo"
	"github.com/coffer-vault/coffer/internal/recordcache"
	"github.com/coffer-vault/coffer/internal/replication"
)

// metrics counts requests by operation, status and authorization decision
// and times them. Labels carry only operation names and codes: never
// principals, resource ids or anything from a request body.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(cache func() recordcache.Stats) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "coffer", Name: "requests_total",
			Help: "API requests by OCI operation, HTTP status and authorization decision.",
		}, []string{"operation", "status", "decision"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "coffer", Name: "request_duration_seconds",
			Help:    "API request latency by OCI operation.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"operation"}),
	}
	m.registry.MustRegister(m.requests, m.latency, cacheCollector(cache), buildInfoGauge(buildinfo.Get()),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveRequest implements ociapi.Observer.
func (m *metrics) ObserveRequest(operation string, status int, decision string, latency time.Duration) {
	if decision == "" {
		decision = "none"
	}
	m.requests.WithLabelValues(operation, strconv.Itoa(status), decision).Inc()
	m.latency.WithLabelValues(operation).Observe(latency.Seconds())
}

// buildInfoGauge is the constant coffer_build_info 1, whose labels say
// which binary a node runs: dashboards join on it to spot a fleet running
// mixed versions during a rollout.
func buildInfoGauge(i buildinfo.Info) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "coffer", Name: "build_info",
		Help: "Always 1; the labels give the version, source revision and Go version of the running binary.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(i.Version, i.Revision, i.GoVersion).Set(1)
	return g
}

// cacheCollector exports the record cache's counters, read at scrape time.
// They restart from zero at each unseal, which Prometheus treats as a
// counter reset.
type cacheCollector func() recordcache.Stats

var (
	cacheHitsDesc = prometheus.NewDesc("coffer_record_cache_hits_total",
		"Secret and key reads served from the record cache without a store transaction, since the last unseal.", nil, nil)
	cacheMissesDesc = prometheus.NewDesc("coffer_record_cache_misses_total",
		"Secret and key reads that read the store, since the last unseal.", nil, nil)
	cacheEntriesDesc = prometheus.NewDesc("coffer_record_cache_entries",
		"Decoded records held by the record cache.", nil, nil)
	cacheLiveDesc = prometheus.NewDesc("coffer_record_cache_live",
		"1 when the record cache serves reads; 0 while sealed, disabled or out of touch with other nodes' writes.", nil, nil)
)

func (c cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cacheHitsDesc
	ch <- cacheMissesDesc
	ch <- cacheEntriesDesc
	ch <- cacheLiveDesc
}

func (c cacheCollector) Collect(ch chan<- prometheus.Metric) {
	st := c()
	live := 0.0
	if st.Live {
		live = 1
	}
	ch <- prometheus.MustNewConstMetric(cacheHitsDesc, prometheus.CounterValue, float64(st.Hits))
	ch <- prometheus.MustNewConstMetric(cacheMissesDesc, prometheus.CounterValue, float64(st.Misses))
	ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(st.Entries))
	ch <- prometheus.MustNewConstMetric(cacheLiveDesc, prometheus.GaugeValue, live)
}

// serveMetrics opens the metrics listener, separate from the API so that it
// can stay on a private interface.
func (s *Server) serveMetrics(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	if s.cfg.Profiling {
		// Profiles show code paths and timings, never request data; they
		// are still for a private interface only, like the metrics.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	srv := newHTTPServer(mux)
	s.metricsSrv = srv
	s.metricsAddr = ln.Addr().String()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics listener stopped", "error", err)
		}
	}()
	return nil
}

// MetricsURL is the metrics endpoint, or "" when metrics are off.
func (s *Server) MetricsURL() string {
	if s.metricsAddr == "" {
		return ""
	}
	return "http://" + s.metricsAddr + "/metrics"
}

// replicationCollector exports how this node's replicas of each peer region
// stand, read at scrape time.
type replicationCollector func() []replication.SourceStatus

var (
	replLagDesc = prometheus.NewDesc("coffer_replication_lag_seconds",
		"How far behind this region's replicas of a source region are: 0 when the last answer applied reached the source's newest change, else the age of the oldest change it carried; while the source cannot be reached, at least the time since it last answered.", []string{"source_region"}, nil)
	replDelayDesc = prometheus.NewDesc("coffer_replication_delay_seconds",
		"The age, when applied here, of the oldest change in the last answer from the source region that carried changes: how long a change takes to arrive.", []string{"source_region"}, nil)
	replConnectedDesc = prometheus.NewDesc("coffer_replication_connected",
		"1 while the last pull from the source region succeeded.", []string{"source_region"}, nil)
	replAppliedDesc = prometheus.NewDesc("coffer_replication_applied_total",
		"Replicas written (created, updated or deleted) from the source region since this node started.", []string{"source_region"}, nil)
	replVaultsDesc = prometheus.NewDesc("coffer_replication_vaults_applied_total",
		"Vault replicas written or deleted from the source region since this node started.", []string{"source_region"}, nil)
	replFailedDesc = prometheus.NewDesc("coffer_replication_failed_secrets",
		"Secrets of the source region whose replica could not be applied and is being retried.", []string{"source_region"}, nil)
)

func (c replicationCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- replLagDesc
	ch <- replDelayDesc
	ch <- replConnectedDesc
	ch <- replAppliedDesc
	ch <- replVaultsDesc
	ch <- replFailedDesc
}

func (c replicationCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c() {
		connected := 0.0
		if st.Connected {
			connected = 1
		}
		ch <- prometheus.MustNewConstMetric(replLagDesc, prometheus.GaugeValue, st.Lag.Seconds(), st.Source)
		ch <- prometheus.MustNewConstMetric(replDelayDesc, prometheus.GaugeValue, st.LastDelay.Seconds(), st.Source)
		ch <- prometheus.MustNewConstMetric(replConnectedDesc, prometheus.GaugeValue, connected, st.Source)
		ch <- prometheus.MustNewConstMetric(replAppliedDesc, prometheus.CounterValue, float64(st.Applied+st.Deleted), st.Source)
		ch <- prometheus.MustNewConstMetric(replVaultsDesc, prometheus.CounterValue, float64(st.VaultsApplied), st.Source)
		ch <- prometheus.MustNewConstMetric(replFailedDesc, prometheus.GaugeValue, float64(len(st.Failed)), st.Source)
	}
}
