// Package loadgen is a closed-loop HTTP/1.1 load generator cheap enough to
// measure a server running on the same machine.
//
// It replays requests that the caller built and serialized beforehand (for
// Coffer: signed exactly as the OCI SDK signs them), so the generator never
// signs, formats or allocates per request: each connection writes the next
// request's bytes, parses the response's status line and headers in place in
// its read buffer, skips the body (Content-Length, chunked, or
// until-close), and adds the latency to a per-connection [Histogram].
// net/http's client would cost more CPU than many of the handlers it is
// meant to measure.
//
// # Use
//
//	res, err := loadgen.Run(ctx, loadgen.Config{
//		Addr:     "127.0.0.1:8420",
//		Requests: raw,             // [][]byte, each a whole HTTP/1.1 request
//		Duration: 10 * time.Second,
//		Warmup:   time.Second,
//	})
//	fmt.Println(res.RPS(), res.Latency.Quantile(0.99), res.Non2xx, res.Errors)
//
// Every connection sends the pool round-robin, starting at its own offset,
// and waits for each response before sending the next request (closed
// loop: the offered load is Concurrency requests in flight). Responses
// completed during Warmup or after the window are counted in Total, Status,
// Non2xx and Errors but not in Requests or Latency.
package loadgen

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultConcurrency is the number of connections when Config.Concurrency
// is 0.
const DefaultConcurrency = 32

// DefaultTimeout is how long a request may still take after the window
// closes when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// readBufferSize bounds a status or header line; bodies are skipped in
// pieces of this size.
const readBufferSize = 64 << 10

// Config describes one run.
type Config struct {
	// Addr is the server's host:port.
	Addr string
	// TLS, when set, makes every connection a TLS client with this
	// configuration (ServerName defaults to Addr's host).
	TLS *tls.Config
	// Requests are whole serialized HTTP/1.1 requests (request line,
	// headers, body), sent as they are. They must not ask the server to
	// close the connection nor expect 100-continue.
	Requests [][]byte
	// Concurrency is the number of connections, each with one request in
	// flight (DefaultConcurrency when 0).
	Concurrency int
	// Warmup runs before the measured window and is left out of Requests
	// and Latency: connection set-up, TLS handshakes, cold caches.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// Timeout is how long after the window a request may still take
	// before it counts as an error (DefaultTimeout when 0). Every
	// connection's deadline is the window's end plus Timeout.
	Timeout time.Duration
	// OnWindow, when set, is called with true when the measured window
	// opens and with false when it closes, from a goroutine of its own
	// (for sampling CPU counters at the same instants).
	OnWindow func(open bool)
}

// Result is what one run (or several merged) measured.
type Result struct {
	// Requests is the number of responses completed inside the window,
	// whatever their status; Latency holds their latencies (from the
	// first byte written to the last byte of the body read).
	Requests int64
	Latency  *Histogram
	// Elapsed is the length of the window.
	Elapsed time.Duration
	// Total is the number of responses read over the whole run, warm-up
	// and the requests in flight when the window closed included.
	Total int64
	// Status counts Total's responses by status code; Non2xx is how many
	// of them were not 2xx.
	Status map[int]int64
	Non2xx int64
	// Errors counts requests that got no complete, well-formed response
	// over the whole run (the connection was refused, reset or closed, the
	// response was malformed, or the deadline passed), and connections
	// that could not be opened. The connection is then closed and opened
	// again. FirstError is the first of them.
	Errors     int64
	FirstError error
}

// RPS is the throughput inside the window: Requests per second.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Merge adds o to r: the windows' lengths and all counts add up, and the
// latency histograms merge (for one measurement taken in slices).
func (r *Result) Merge(o Result) {
	if r.Latency == nil {
		r.Latency = new(Histogram)
	}
	if o.Latency != nil {
		r.Latency.Merge(o.Latency)
	}
	if r.Status == nil {
		r.Status = map[int]int64{}
	}
	for code, n := range o.Status {
		r.Status[code] += n
	}
	r.Requests += o.Requests
	r.Elapsed += o.Elapsed
	r.Total += o.Total
	r.Non2xx += o.Non2xx
	r.Errors += o.Errors
	if r.FirstError == nil {
		r.FirstError = o.FirstError
	}
}

// Run sends load as cfg says and returns what it measured. It returns an
// error only for a configuration it cannot run; failed requests are
// counted in the Result. Cancelling ctx ends the run early (the window's
// figures then cover less than Duration and are not meaningful).
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Addr == "" {
		return Result{}, errors.New("loadgen: no address")
	}
	if len(cfg.Requests) == 0 {
		return Result{}, errors.New("loadgen: no requests")
	}
	if cfg.Duration <= 0 {
		return Result{}, errors.New("loadgen: the measured window must be longer than zero")
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Concurrency < 0 {
		return Result{}, fmt.Errorf("loadgen: concurrency %d", cfg.Concurrency)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.TLS != nil && cfg.TLS.ServerName == "" {
		host, _, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return Result{}, fmt.Errorf("loadgen: address %q: %w", cfg.Addr, err)
		}
		cfg.TLS = cfg.TLS.Clone()
		cfg.TLS.ServerName = host
	}

	start := time.Now()
	p := &phase{open: start.Add(cfg.Warmup)}
	p.close = p.open.Add(cfg.Duration)
	p.deadline = p.close.Add(cfg.Timeout)

	// One goroutine marks the window for OnWindow and stops the workers
	// at its end or when ctx is cancelled; the workers only load a flag.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timerDone := make(chan struct{})
	go func() {
		defer close(timerDone)
		defer p.stop.Store(true)
		if !sleepUntil(ctx, p.open) {
			return
		}
		if cfg.OnWindow != nil {
			cfg.OnWindow(true)
		}
		if !sleepUntil(ctx, p.close) {
			return
		}
		if cfg.OnWindow != nil {
			cfg.OnWindow(false)
		}
	}()

	workers := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{
			cfg:   &cfg,
			phase: p,
			next:  i * len(cfg.Requests) / cfg.Concurrency,
			br:    bufio.NewReaderSize(nil, readBufferSize),
		}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	wg.Wait()
	cancel()
	<-timerDone

	res := Result{Latency: new(Histogram), Elapsed: cfg.Duration, Status: map[int]int64{}}
	for _, w := range workers {
		res.Latency.Merge(&w.hist)
		res.Requests += w.measured
		res.Errors += w.errors
		if res.FirstError == nil {
			res.FirstError = w.firstErr
		}
		for code, n := range w.status {
			if n == 0 {
				continue
			}
			res.Status[code] += n
			res.Total += n
			if code < 200 || code > 299 {
				res.Non2xx += n
			}
		}
	}
	return res, nil
}

// sleepUntil waits for t or ctx, and reports whether t came first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// phase is the run's timetable, shared read-only by the workers.
type phase struct {
	open, close, deadline time.Time
	stop                  atomic.Bool
}

// worker is one connection's loop. Everything it touches per request is
// preallocated here.
type worker struct {
	cfg   *Config
	phase *phase
	next  int

	conn net.Conn
	br   *bufio.Reader

	hist     Histogram
	status   [600]int64
	measured int64
	errors   int64
	firstErr error
}

func (w *worker) run(ctx context.Context) {
	defer w.closeConn()
	reqs := w.cfg.Requests
	for !w.phase.stop.Load() {
		if w.conn == nil {
			if err := w.dial(ctx); err != nil {
				w.fail(err)
				// Do not spin on a server that refuses connections.
				select {
				case <-ctx.Done():
				case <-time.After(10 * time.Millisecond):
				}
				continue
			}
		}
		req := reqs[w.next]
		w.next++
		if w.next == len(reqs) {
			w.next = 0
		}
		t0 := time.Now()
		if _, err := w.conn.Write(req); err != nil {
			w.fail(fmt.Errorf("loadgen: write request: %w", err))
			continue
		}
		code, closeAfter, err := w.readResponse()
		t1 := time.Now()
		if err != nil {
			w.fail(err)
			continue
		}
		w.status[code]++
		if !t1.Before(w.phase.open) && t1.Before(w.phase.close) {
			w.measured++
			w.hist.Record(t1.Sub(t0))
		}
		if closeAfter {
			w.closeConn()
		}
	}
}

func (w *worker) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", w.cfg.Addr)
	if err != nil {
		return fmt.Errorf("loadgen: connect: %w", err)
	}
	if err := conn.SetDeadline(w.phase.deadline); err != nil {
		conn.Close()
		return fmt.Errorf("loadgen: connect: %w", err)
	}
	if w.cfg.TLS != nil {
		tc := tls.Client(conn, w.cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("loadgen: TLS handshake: %w", err)
		}
		conn = tc
	}
	w.conn = conn
	w.br.Reset(conn)
	return nil
}

func (w *worker) closeConn() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// fail counts an error and drops the connection: after a failed write or
// read its state is unknown.
func (w *worker) fail(err error) {
	w.errors++
	if w.firstErr == nil {
		w.firstErr = err
	}
	w.closeConn()
}

// Errors of malformed responses.
var (
	errStatusLine = errors.New("loadgen: malformed status line")
	errHeader     = errors.New("loadgen: malformed header line")
	errLength     = errors.New("loadgen: malformed Content-Length")
	errChunk      = errors.New("loadgen: malformed chunked body")
	errEncoding   = errors.New("loadgen: unsupported Transfer-Encoding (only chunked)")
	errNoLength   = errors.New("loadgen: response has no Content-Length, is not chunked and keeps the connection open")
	errInterim    = errors.New("loadgen: unexpected 1xx response")
)

// readResponse reads one whole response and returns its status and
// whether the server closes the connection after it. It reads in place
// in the bufio buffer: ReadSlice returns views into it, valid until the
// next read, so nothing is copied or allocated.
func (w *worker) readResponse() (code int, closeAfter bool, err error) {
	line, err := w.readLine()
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, false, errStatusLine
	}
	http10 := line[7] == '0'
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, false, errStatusLine
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || code >= len(w.status) {
		return 0, false, errStatusLine
	}
	closeAfter = http10
	length := int64(-1)
	chunked := false
	for {
		line, err := w.readLine()
		if err != nil {
			return 0, false, err
		}
		if len(line) == 0 {
			break
		}
		colon := indexByte(line, ':')
		if colon <= 0 {
			return 0, false, errHeader
		}
		name, value := line[:colon], trimSpace(line[colon+1:])
		switch {
		case equalFold(name, "content-length"):
			if length, err = parseDecimal(value); err != nil {
				return 0, false, err
			}
		case equalFold(name, "transfer-encoding"):
			if !equalFold(value, "chunked") {
				return 0, false, errEncoding
			}
			chunked = true
		case equalFold(name, "connection"):
			switch {
			case equalFold(value, "close"):
				closeAfter = true
			case equalFold(value, "keep-alive"):
				closeAfter = false
			}
		}
	}
	switch {
	case code < 200:
		// We never send Expect: 100-continue nor upgrade.
		return 0, false, errInterim
	case code == 204 || code == 304:
		return code, closeAfter, nil
	case chunked:
		return code, closeAfter, w.skipChunked()
	case length >= 0:
		if _, err := w.br.Discard(int(length)); err != nil {
			return 0, false, fmt.Errorf("loadgen: read body: %w", err)
		}
		return code, closeAfter, nil
	case closeAfter:
		// The body runs until the server closes: rare, and allowed to
		// allocate.
		if _, err := io.Copy(io.Discard, w.br); err != nil {
			return 0, false, fmt.Errorf("loadgen: read body: %w", err)
		}
		return code, true, nil
	default:
		return 0, false, errNoLength
	}
}

// readLine returns the next line without its CR LF.
func (w *worker) readLine() ([]byte, error) {
	line, err := w.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errHeader
		}
		if errors.Is(err, io.EOF) && len(line) == 0 {
			return nil, errClosed
		}
		return nil, fmt.Errorf("loadgen: read response: %w", err)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

var errClosed = errors.New("loadgen: the server closed the connection before responding")

// skipChunked reads a chunked body and its trailer.
func (w *worker) skipChunked() error {
	for {
		line, err := w.readLine()
		if err != nil {
			return err
		}
		if i := indexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := parseHex(trimSpace(line))
		if err != nil {
			return err
		}
		if size == 0 {
			for {
				line, err := w.readLine()
				if err != nil {
					return err
				}
				if len(line) == 0 {
					return nil
				}
			}
		}
		if _, err := w.br.Discard(int(size)); err != nil {
			return fmt.Errorf("loadgen: read chunk: %w", err)
		}
		if line, err := w.readLine(); err != nil {
			return err
		} else if len(line) != 0 {
			return errChunk
		}
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b with the lower-case ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func parseDecimal(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 18 {
		return 0, errLength
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errLength
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

func parseHex(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 15 {
		return 0, errChunk
	}
	var n int64
	for _, c := range b {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, errChunk
		}
		n = n<<4 | int64(d)
	}
	return n, nil
}
