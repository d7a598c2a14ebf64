package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawRequests serializes n GET requests for /r/0 ... /r/n-1 with
// net/http's own writer, as the bench builds its pools.
func rawRequests(t testing.TB, host string, n int) [][]byte {
	t.Helper()
	out := make([][]byte, n)
	for i := range out {
		req, err := http.NewRequest(http.MethodGet, "http://"+host+"/r/"+strconv.Itoa(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := req.Write(&b); err != nil {
			t.Fatal(err)
		}
		out[i] = []byte(b.String())
	}
	return out
}

// counter is an httptest server that counts what it answers, by status
// and by path, and the connections it accepted.
type counter struct {
	mu     sync.Mutex
	status map[int]int64
	paths  map[string]int64
	conns  atomic.Int64
}

func newCounter() *counter {
	return &counter{status: map[int]int64{}, paths: map[string]int64{}}
}

func (c *counter) count(path string, code int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status[code]++
	c.paths[path]++
}

func (c *counter) start(t *testing.T, h func(w http.ResponseWriter, r *http.Request) int, useTLS bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := h(w, r); code != 0 {
			c.count(r.URL.Path, code)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

func hostOf(srv *httptest.Server) string {
	return strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
}

func run(t *testing.T, cfg Config) Result {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkExact compares the generator's counts with the server's.
func checkExact(t *testing.T, res Result, c *counter) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var served int64
	for code, n := range c.status {
		served += n
		if res.Status[code] != n {
			t.Errorf("status %d: generator counted %d, server answered %d", code, res.Status[code], n)
		}
	}
	if res.Total != served {
		t.Errorf("Total = %d, server answered %d", res.Total, served)
	}
	if res.Requests > res.Total || res.Requests == 0 {
		t.Errorf("Requests = %d of Total %d", res.Requests, res.Total)
	}
	if got := int64(res.Latency.Count()); got != res.Requests {
		t.Errorf("histogram holds %d latencies, Requests = %d", got, res.Requests)
	}
}

func TestRunCountsExactly(t *testing.T) {
	c := newCounter()
	body := strings.Repeat("x", 700)
	srv := c.start(t, func(w http.ResponseWriter, r *http.Request) int {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
		return 200
	}, false)
	reqs := rawRequests(t, hostOf(srv), 100)
	res := run(t, Config{Addr: hostOf(srv), Requests: reqs, Concurrency: 4, Duration: 300 * time.Millisecond})
	checkExact(t, res, c)
	if res.Errors != 0 || res.Non2xx != 0 {
		t.Errorf("Errors = %d (%v), Non2xx = %d", res.Errors, res.FirstError, res.Non2xx)
	}
	if n := c.conns.Load(); n != 4 {
		t.Errorf("server saw %d connections, want 4 kept alive", n)
	}
	// Round robin from four offsets: every request of the pool was sent,
	// and none much more often than another.
	c.mu.Lock()
	defer c.mu.Unlock()
	if res.Total >= 400 {
		lo, hi := int64(1<<62), int64(0)
		for i := range reqs {
			n := c.paths["/r/"+strconv.Itoa(i)]
			lo, hi = min(lo, n), max(hi, n)
		}
		if lo == 0 || hi > 2*lo+8 {
			t.Errorf("pool use is uneven: %d to %d sends per request", lo, hi)
		}
	}
}

func TestRunDefaultConcurrency(t *testing.T) {
	c := newCounter()
	srv := c.start(t, func(w http.ResponseWriter, r *http.Request) int { return 200 }, false)
	res := run(t, Config{Addr: hostOf(srv), Requests: rawRequests(t, hostOf(srv), 10), Duration: 200 * time.Millisecond})
	checkExact(t, res, c)
	if n := c.conns.Load(); n != DefaultConcurrency {
		t.Errorf("server saw %d connections, want %d", n, DefaultConcurrency)
	}
}

func TestRunCountsNon2xx(t *testing.T) {
	c := newCounter()
	srv := c.start(t, func(w http.ResponseWriter, r *http.Request) int {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		switch n % 3 {
		case 1:
			http.Error(w, "no such thing", http.StatusNotFound)
			return 404
		case 2:
			w.WriteHeader(http.StatusNoContent)
			return 204
		}
		return 200
	}, false)
	res := run(t, Config{Addr: hostOf(srv), Requests: rawRequests(t, hostOf(srv), 30), Concurrency: 3, Duration: 200 * time.Millisecond})
	checkExact(t, res, c)
	if res.Non2xx != res.Status[404] || res.Non2xx == 0 {
		t.Errorf("Non2xx = %d, 404s = %d", res.Non2xx, res.Status[404])
	}
	if res.Status[204] == 0 || res.Errors != 0 {
		t.Errorf("204s = %d, Errors = %d (%v)", res.Status[204], res.Errors, res.FirstError)
	}
}

// A server that drops the connection instead of answering: each drop is
// one error, the generator reconnects and goes on.
func TestRunReconnectsAfterServerCloses(t *testing.T) {
	c := newCounter()
	var seen, dropped atomic.Int64
	srv := c.start(t, func(w http.ResponseWriter, r *http.Request) int {
		if seen.Add(1)%5 == 0 {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return 0
			}
			dropped.Add(1)
			conn.Close()
			return 0
		}
		return 200
	}, false)
	res := run(t, Config{Addr: hostOf(srv), Requests: rawRequests(t, hostOf(srv), 10), Concurrency: 4, Duration: 300 * time.Millisecond})
	checkExact(t, res, c)
	if res.Errors != dropped.Load() || res.Errors == 0 {
		t.Errorf("Errors = %d, server dropped %d connections (first error: %v)", res.Errors, dropped.Load(), res.FirstError)
	}
	// One new connection per drop, except after a drop that came when
	// the run was over.
	if n, d := c.conns.Load(), dropped.Load(); n > 4+d || n < d {
		t.Errorf("server saw %d connections, want 4 + one per drop (%d) at most", n, d)
	}
}

// "Connection: close" after a full response is not an error: the
// generator opens a new connection.
func TestRunConnectionClose(t *testing.T) {
	c := newCounter()
	var seen atomic.Int64
	srv := c.start(t, func(w http.ResponseWriter, r *http.Request) int {
		if seen.Add(1)%4 == 0 {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, "ok")
		return 200
	}, false)
	res := run(t, Config{Addr: hostOf(srv), Requests: rawRequests(t, hostOf(srv), 10), Concurrency: 2, Duration: 200 * time.Millisecond})
	checkExact(t, res, c)
	if res.Errors != 0 {
		t.Errorf("Errors = %d: %v", res.Errors, res.FirstError)
	}
	if c.conns.Load() < 3 {
		t.Errorf("server saw only %d connections", c.conns.Load())
	}
}

// Chunked bodies (a flushed response has no Content-Length) are read to
// the end, so the next response on the connection parses.
func TestRunChunked(t *testing.T) {
	c := newCounter()
	srv := c.start(t, func(w http.ResponseWriter, r *http.Request) int {
		for i := range 3 {
			fmt.Fprintf(w, "part %d %s\n", i, strings.Repeat("y", 100*i))
			http.NewResponseController(w).Flush()
		}
		return 200
	}, false)
	res := run(t, Config{Addr: hostOf(srv), Requests: rawRequests(t, hostOf(srv), 10), Concurrency: 2, Duration: 200 * time.Millisecond})
	checkExact(t, res, c)
	if res.Errors != 0 {
		t.Errorf("Errors = %d: %v", res.Errors, res.FirstError)
	}
}

func TestRunTLS(t *testing.T) {
	c := newCounter()
	srv := c.start(t, func(w http.ResponseWriter, r *http.Request) int {
		io.WriteString(w, "secure")
		return 200
	}, true)
	cfg := &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	res := run(t, Config{Addr: hostOf(srv), TLS: cfg, Requests: rawRequests(t, hostOf(srv), 10), Concurrency: 3, Duration: 200 * time.Millisecond})
	checkExact(t, res, c)
	if res.Errors != 0 || c.conns.Load() != 3 {
		t.Errorf("Errors = %d (%v), connections = %d", res.Errors, res.FirstError, c.conns.Load())
	}
}

func TestRunWarmupExcluded(t *testing.T) {
	c := newCounter()
	srv := c.start(t, func(w http.ResponseWriter, r *http.Request) int { return 200 }, false)
	var opened, closed atomic.Int64
	start := time.Now()
	res := run(t, Config{Addr: hostOf(srv), Requests: rawRequests(t, hostOf(srv), 10), Concurrency: 2,
		Warmup: 200 * time.Millisecond, Duration: 200 * time.Millisecond,
		OnWindow: func(open bool) {
			if open {
				opened.Store(int64(time.Since(start)))
			} else {
				closed.Store(int64(time.Since(start)))
			}
		}})
	checkExact(t, res, c)
	if res.Requests >= res.Total*3/4 {
		t.Errorf("Requests = %d of Total %d: the warm-up was counted", res.Requests, res.Total)
	}
	if res.Elapsed != 200*time.Millisecond {
		t.Errorf("Elapsed = %v", res.Elapsed)
	}
	if o, c := time.Duration(opened.Load()), time.Duration(closed.Load()); o < 200*time.Millisecond || c < 400*time.Millisecond {
		t.Errorf("OnWindow at %v and %v, want 200ms and 400ms", o, c)
	}
}

func TestRunRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	res := run(t, Config{Addr: addr, Requests: rawRequests(t, addr, 1), Concurrency: 2, Duration: 50 * time.Millisecond})
	if res.Errors == 0 || res.FirstError == nil || res.Total != 0 {
		t.Errorf("Errors = %d, FirstError = %v, Total = %d", res.Errors, res.FirstError, res.Total)
	}
}

// cannedServer answers every request it reads with the same bytes; it is
// written to allocate nothing per request, so that the test below sees
// the generator's allocations only.
func cannedServer(t testing.TB, response string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	resp := []byte(response)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					// Requests are GETs without a body: read to the
					// blank line.
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := conn.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

const cannedResponse = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"hello\":\"you\"}\n"

// The hot path allocates nothing: a run's allocations do not grow with
// its requests.
func TestRunDoesNotAllocatePerRequest(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two CPUs to be meaningful")
	}
	addr := cannedServer(t, cannedResponse)
	reqs := rawRequests(t, addr, 64)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := run(t, Config{Addr: addr, Requests: reqs, Concurrency: 4, Duration: 300 * time.Millisecond})
	runtime.ReadMemStats(&after)
	if res.Errors != 0 || res.Total < 1000 {
		t.Fatalf("Total = %d, Errors = %d (%v)", res.Total, res.Errors, res.FirstError)
	}
	mallocs := after.Mallocs - before.Mallocs
	// Set-up costs a few allocations per connection (buffers, goroutines,
	// the dial); the rest would be per request.
	if perReq := float64(mallocs) / float64(res.Total); mallocs > 500 && perReq > 0.01 {
		t.Errorf("%d allocations for %d requests (%.3f per request)", mallocs, res.Total, perReq)
	}
}

func TestHistogram(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 123456789, 1<<63 - 1} {
		i := bucketOf(v)
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("bucketOf(%d) = %d, which holds %d..%d", v, i, lo, hi)
		}
		if i >= numBuckets {
			t.Errorf("bucketOf(%d) = %d, beyond %d buckets", v, i, numBuckets)
		}
		if hi-lo > hi/32 {
			t.Errorf("bucket of %d is %d..%d, wider than 1/32", v, lo, hi)
		}
	}
	// Buckets tile the line: each starts where the previous ended.
	for i := 1; i < numBuckets; i++ {
		_, prevHi := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, bucket %d ends at %d", i, lo, i-1, prevHi)
		}
	}

	var h, a, b Histogram
	if h.Quantile(0.5) != 0 {
		t.Error("empty histogram has a median")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 100_000 {
		d := time.Duration(rng.ExpFloat64() * float64(time.Millisecond))
		h.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	for _, q := range []float64{0.5, 0.99} {
		want := time.Duration(-math.Log(1-q) * float64(time.Millisecond))
		got := h.Quantile(q)
		if diff := float64(got-want) / float64(want); diff > 0.05 || diff < -0.05 {
			t.Errorf("Quantile(%v) = %v, want about %v", q, got, want)
		}
		if a.Quantile(q) != got {
			t.Errorf("merged Quantile(%v) = %v, want %v", q, a.Quantile(q), got)
		}
	}
	if a.Count() != 100_000 {
		t.Errorf("merged Count = %d", a.Count())
	}
}

// BenchmarkRoundTrip is the generator's cost per request against a server
// that does nothing but write a canned response: it bounds what the
// generator can measure on this machine (ns/op is wall time per request
// at concurrency 8, both sides sharing the CPUs).
func BenchmarkRoundTrip(b *testing.B) {
	addr := cannedServer(b, cannedResponse)
	reqs := rawRequests(b, addr, 64)
	var total int64
	var mallocs uint64
	var before, after runtime.MemStats
	for b.Loop() {
		runtime.ReadMemStats(&before)
		res, err := Run(context.Background(), Config{Addr: addr, Requests: reqs, Concurrency: 8, Duration: 500 * time.Millisecond})
		runtime.ReadMemStats(&after)
		if err != nil || res.Errors != 0 {
			b.Fatal(err, res.FirstError)
		}
		total += res.Total
		mallocs += after.Mallocs - before.Mallocs
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(total), "ns/op")
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(mallocs)/float64(total), "allocs/req")
}
