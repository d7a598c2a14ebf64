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
)

// metrics counts requests by operation, status and authorization decision
// and times them. Labels carry only operation names and codes: never
// principals, resource ids or anything from a request body.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics() *metrics {
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
	m.registry.MustRegister(m.requests, m.latency,
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
