package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/bench/loadgen"
	"github.com/coffer-vault/coffer/internal/coffertest"
)

// Load shape of every row.
const (
	concurrency = 32
	slices      = 5                      // per side, alternating, ABBA
	sliceWarmup = 250 * time.Millisecond // new connections, TLS handshakes
	// Before a row's slices each side runs unmeasured, to warm the
	// server's caches and the CPU's.
	cofferWarmup   = 2 * time.Second
	baselineWarmup = time.Second
	// The requests of a row are signed once, before it; the server
	// accepts a date up to 5 minutes old.
	maxSeconds = 120
)

// TestLoadTable measures the rows described in the package comment. It
// runs only with COFFER_BENCH=1.
func TestLoadTable(t *testing.T) {
	if os.Getenv("COFFER_BENCH") != "1" {
		t.Skip("the load table runs only with COFFER_BENCH=1 (about 10 minutes; COFFER_BENCH_SHORT=1 for the 10-secret rows)")
	}
	if _, err := cpuTime("self"); err != nil {
		t.Skipf("the load table reads CPU times from /proc: %v", err)
	}
	began := time.Now()
	b := &bench{t: t, dir: t.TempDir(), seconds: 10 * time.Second, profiles: os.Getenv("COFFER_BENCH_PROFILE")}
	if s := os.Getenv("COFFER_BENCH_SECONDS"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 || f > maxSeconds {
			t.Fatalf("COFFER_BENCH_SECONDS=%q: want seconds in (0, %d]; requests are signed once per row and expire after 5 minutes", s, maxSeconds)
		}
		b.seconds = time.Duration(f * float64(time.Second))
	}
	if b.profiles != "" {
		if err := os.MkdirAll(b.profiles, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	short := testing.Short() || os.Getenv("COFFER_BENCH_SHORT") == "1"
	b.bin = os.Getenv("COFFER_BENCH_BIN")
	if b.bin == "" {
		b.bin = buildCoffer(t, b.dir)
	}
	b.cert = testCert(t, b.dir)

	small := prepare(t, filepath.Join(b.dir, "small"), 10)
	b.bundleRow(0, small, nil, "getsecretbundle")
	b.bundleRow(4, small, b.cert, "")
	b.encryptRow(5, small, "encrypt")
	if !short {
		small.addStatements(t, 10_000)
		b.bundleRow(2, small, nil, "")
		big := prepare(t, filepath.Join(b.dir, "big"), 100_000)
		b.bundleRow(1, big, nil, "")
		big.addStatements(t, 10_000)
		b.bundleRow(3, big, nil, "")
	}

	table := b.table(time.Since(began))
	t.Log("\n" + table)
	if out := os.Getenv("COFFER_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// bench is one run of the table.
type bench struct {
	t        *testing.T
	dir      string
	bin      string // the coffer binary
	cert     *certFiles
	seconds  time.Duration // measured per side and row
	profiles string        // directory for CPU profiles, or ""
	rows     []*row
}

// side is what one server (Coffer or its baseline) did in a row's
// measured windows.
type side struct {
	res    loadgen.Result
	server time.Duration // CPU of the server process
	gen    time.Duration // CPU of this process: the generator
	// idle and ticks are the machine's idle and total CPU ticks.
	idle, ticks int64
}

// row is one line pair of the table.
type row struct {
	order      int
	op         string
	secrets    int
	statements int
	proto      string
	distinct   int // distinct requests in the pool
	respBytes  int // of Coffer's response body
	coffer     side
	baseline   side
	failed     []string
	logErrors  int // ERROR lines in the Coffer log during the row
	firstError string
}

// buildCoffer builds cmd/coffer into dir.
func buildCoffer(t *testing.T, dir string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "coffer")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/coffer")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/coffer: %v\n%s", err, out)
	}
	return bin
}

// pickSecrets returns n indices into d.secrets: distinct when the data
// set has that many secrets, else drawn with repetition (the requests
// then differ by opc-request-id).
func pickSecrets(d *dataset, n int, rng *rand.Rand) []int {
	if len(d.secrets) >= n {
		return rng.Perm(len(d.secrets))[:n]
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = rng.IntN(len(d.secrets))
	}
	return idx
}

// bundleRow measures GetSecretBundle on data set d, over HTTPS when cert
// is set, and writes a CPU profile named profile when profiles are on.
//
// The pool holds 2,000 requests, or 10,000 distinct secrets of the
// 100,000-secret set, so that its reads spread over 10% of the secrets
// rather than a hot few.
func (b *bench) bundleRow(order int, d *dataset, cert *certFiles, profile string) {
	t := b.t
	r := &row{order: order, op: "GetSecretBundle", secrets: len(d.secrets), statements: d.statements, proto: "http", distinct: 2000}
	if cert != nil {
		r.proto = "https"
	}
	if len(d.secrets) >= 100_000 {
		r.distinct = 10_000
	}
	name := fmt.Sprintf("bundle-%d-%d-%s", r.secrets, r.statements, r.proto)
	srv := startCoffer(t, b.bin, d.dir, filepath.Join(b.dir, name+".log"), cert, b.profiles != "")
	defer srv.stop()

	idx := pickSecrets(d, r.distinct, rand.New(rand.NewPCG(uint64(order), 7)))
	ids := make([]string, len(idx))
	for i, j := range idx {
		ids[i] = d.secrets[j]
	}
	start := time.Now()
	reqs := bundleRequests(t, adminProvider(t, d.config), srv.url, ids, len(ids), name)
	t.Logf("%s: signed %d requests in %v", name, len(reqs), time.Since(start).Round(time.Millisecond))

	// One of them, checked with net/http: 200 and the secret's content.
	resp, body, err := rawRoundTrip(srv.addr, srv.tls, reqs[0])
	if err != nil {
		t.Fatalf("%s: check request: %v", name, err)
	}
	var bundle struct {
		SecretID string `json:"secretId"`
		Content  struct {
			ContentType string `json:"contentType"`
			Content     string `json:"content"`
		} `json:"secretBundleContent"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: check request: %s: %s", name, resp.Status, body)
	}
	if err := json.Unmarshal(body, &bundle); err != nil {
		t.Fatalf("%s: check request: %v: %s", name, err, body)
	}
	if got, _ := base64.StdEncoding.DecodeString(bundle.Content.Content); bundle.SecretID != ids[0] ||
		bundle.Content.ContentType != "BASE64" || string(got) != secretContent(idx[0]) {
		t.Fatalf("%s: check request: bundle of %s is %s", name, ids[0], body)
	}
	r.respBytes = len(body)
	b.measure(r, name, srv, srv.addr, srv.tls, reqs, body, resp.Header, profile)
}

// encryptRow measures KmsCrypto Encrypt of 1 KiB on the vault's crypto
// endpoint, over HTTP.
func (b *bench) encryptRow(order int, d *dataset, profile string) {
	t := b.t
	r := &row{order: order, op: "Encrypt 1 KiB", secrets: len(d.secrets), statements: d.statements, proto: "http", distinct: 2000}
	name := fmt.Sprintf("encrypt-%d-%d-%s", r.secrets, r.statements, r.proto)
	srv := startCoffer(t, b.bin, d.dir, filepath.Join(b.dir, name+".log"), nil, b.profiles != "")
	defer srv.stop()
	p := adminProvider(t, d.config)

	// The crypto endpoint as the vault record gives it to the SDK.
	vc, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(p)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&vc.BaseClient, srv.url)
	v, err := vc.GetVault(context.Background(), keymanagement.GetVaultRequest{VaultId: common.String(d.vaultID)})
	if err != nil {
		t.Fatalf("%s: GetVault: %v", name, err)
	}
	endpoint, err := url.Parse(*v.CryptoEndpoint)
	if err != nil {
		t.Fatalf("%s: crypto endpoint %q: %v", name, *v.CryptoEndpoint, err)
	}
	start := time.Now()
	reqs := encryptRequests(t, p, *v.CryptoEndpoint, d.keyID, r.distinct, name)
	t.Logf("%s: signed %d requests for %s in %v", name, len(reqs), *v.CryptoEndpoint, time.Since(start).Round(time.Millisecond))

	resp, body, err := rawRoundTrip(endpoint.Host, nil, reqs[0])
	if err != nil {
		t.Fatalf("%s: check request: %v", name, err)
	}
	var enc struct {
		Ciphertext string `json:"ciphertext"`
		KeyID      string `json:"keyId"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: check request: %s: %s", name, resp.Status, body)
	}
	if err := json.Unmarshal(body, &enc); err != nil || enc.Ciphertext == "" || enc.KeyID != d.keyID {
		t.Fatalf("%s: check request: %v: %s", name, err, body)
	}
	r.respBytes = len(body)
	b.measure(r, name, srv, endpoint.Host, nil, reqs, body, resp.Header, profile)
}

// measure runs a row: it starts the baseline answering body with
// Coffer's headers, warms both up, then alternates measured slices
// (baseline, Coffer, Coffer, baseline, ...) so both see the same
// background load, and records the row.
func (b *bench) measure(r *row, name string, srv *cofferServer, addr string, tlsCfg *tls.Config, reqs [][]byte, body []byte, header http.Header, profile string) {
	t := b.t
	b.rows = append(b.rows, r)
	hdr := header.Clone()
	for _, h := range []string{"Date", "Content-Length", "Connection", "Transfer-Encoding"} {
		hdr.Del(h)
	}
	var cert *certFiles
	if tlsCfg != nil {
		cert = b.cert
	}
	base, baseAddr := startBaseline(t, b.dir, name+"-baseline", body, hdr, cert)
	defer base.stop()
	if resp, got, err := rawRoundTrip(baseAddr, tlsCfg, reqs[0]); err != nil || resp.StatusCode != http.StatusOK || len(got) != len(body) ||
		resp.Header.Get("Content-Type") != header.Get("Content-Type") {
		t.Fatalf("%s: baseline check: %v (%d bytes)", name, err, len(got))
	}
	logStart := logSize(srv.log)

	run := func(target *proc, addr string, warmup, d time.Duration, s *side) {
		var srv0, gen0 time.Duration
		var idle0, ticks0 int64
		cfg := loadgen.Config{Addr: addr, TLS: tlsCfg, Requests: reqs, Concurrency: concurrency, Warmup: warmup, Duration: d}
		if s != nil {
			cfg.OnWindow = func(open bool) {
				sc, err1 := target.cpu()
				gc, err2 := cpuTime("self")
				idle, ticks, err3 := machineTicks()
				if err := errors.Join(err1, err2, err3); err != nil {
					t.Errorf("%s: CPU times: %v", name, err)
				}
				if open {
					srv0, gen0, idle0, ticks0 = sc, gc, idle, ticks
				} else {
					s.server += sc - srv0
					s.gen += gc - gen0
					s.idle += idle - idle0
					s.ticks += ticks - ticks0
				}
			}
		}
		res, err := loadgen.Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bad := res.Total - res.Status[200] + res.Errors; bad > 0 {
			msg := fmt.Sprintf("%s: %d of %d requests to the %s did not get 200: statuses %v, errors %d (first: %v)",
				name, bad, res.Total+res.Errors, target.name, res.Status, res.Errors, res.FirstError)
			t.Error(msg)
			r.failed = append(r.failed, msg)
		}
		if s != nil {
			s.res.Merge(res)
		}
	}
	run(srv.proc, addr, 0, cofferWarmup, nil)
	run(base, baseAddr, 0, baselineWarmup, nil)
	per := b.seconds / slices
	for i := range slices {
		if i%2 == 0 {
			run(base, baseAddr, sliceWarmup, per, &r.baseline)
			run(srv.proc, addr, sliceWarmup, per, &r.coffer)
		} else {
			run(srv.proc, addr, sliceWarmup, per, &r.coffer)
			run(base, baseAddr, sliceWarmup, per, &r.baseline)
		}
	}
	if b.profiles != "" && profile != "" {
		b.profile(r, name, srv, addr, tlsCfg, reqs, profile)
	}
	r.logErrors, r.firstError = logErrors(srv.log, logStart)
	if r.logErrors > 0 {
		t.Logf("%s: the server logged %d errors; first: %s", name, r.logErrors, r.firstError)
	}
	t.Logf("%s: coffer %.0f req/s, baseline %.0f req/s", name, r.coffer.res.RPS(), r.baseline.res.RPS())
}

// profile loads Coffer for 10 s more while fetching a CPU profile from its
// metrics listener, outside the measured slices.
func (b *bench) profile(r *row, name string, srv *cofferServer, addr string, tlsCfg *tls.Config, reqs [][]byte, file string) {
	t := b.t
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + srv.metrics + "/debug/pprof/profile?seconds=10")
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", resp.Status, data)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(b.profiles, file+".pprof"), data, 0o644)
		}
		done <- err
	}()
	res, err := loadgen.Run(context.Background(), loadgen.Config{Addr: addr, TLS: tlsCfg, Requests: reqs,
		Concurrency: concurrency, Duration: 11 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if bad := res.Total - res.Status[200] + res.Errors; bad > 0 {
		msg := fmt.Sprintf("%s: while profiling, %d requests did not get 200: %v (first error: %v)", name, bad, res.Status, res.FirstError)
		t.Error(msg)
		r.failed = append(r.failed, msg)
	}
	if err := <-done; err != nil {
		t.Errorf("%s: CPU profile: %v", name, err)
		return
	}
	t.Logf("%s: CPU profile in %s", name, filepath.Join(b.profiles, file+".pprof"))
}

func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logErrors counts the ERROR lines the server logged after offset.
func logErrors(path string, offset int64) (int, string) {
	f, err := os.Open(path)
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, ""
	}
	n, first := 0, ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"level":"ERROR"`) {
			if n == 0 {
				first = sc.Text()
			}
			n++
		}
	}
	return n, first
}

// table formats the rows in the order of the brief: the data-set sizes,
// then HTTPS, then Encrypt.
func (b *bench) table(took time.Duration) string {
	rows := append([]*row(nil), b.rows...)
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && rows[j].order < rows[j-1].order; j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
	measured := commit()
	if os.Getenv("COFFER_BENCH_BIN") != "" {
		measured = "binary " + b.bin + ", data sets by " + measured
	}
	var s strings.Builder
	fmt.Fprintf(&s, "Coffer load table: %s, %d CPUs (GOMAXPROCS %d), %s; concurrency %d, %v measured per side and row in %d alternating slices; whole run %v\n",
		measured, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), concurrency, b.seconds, slices, took.Round(time.Second))
	fmt.Fprintf(&s, "%-15s %7s %6s %-5s %6s %-8s %9s %9s %9s %7s %8s %8s %8s %8s %5s\n",
		"operation", "secrets", "stmts", "proto", "resp B", "server", "req/s", "p50", "p99", "ratio", "srv CPU", "gen CPU", "srv/req", "gen/req", "idle")
	line := func(r *row, who string, sd side, ratio string) {
		perReq := func(d time.Duration) string {
			if sd.res.Requests == 0 {
				return "-"
			}
			return (d / time.Duration(sd.res.Requests)).Round(time.Microsecond).String()
		}
		idle := "-"
		if sd.ticks > 0 {
			idle = fmt.Sprintf("%.0f%%", 100*float64(sd.idle)/float64(sd.ticks))
		}
		fmt.Fprintf(&s, "%-15s %7d %6d %-5s %6d %-8s %9.0f %9v %9v %7s %7.1fs %7.1fs %8s %8s %5s\n",
			r.op, r.secrets, r.statements, r.proto, r.respBytes, who, sd.res.RPS(),
			sd.res.Latency.Quantile(0.5).Round(10*time.Microsecond), sd.res.Latency.Quantile(0.99).Round(10*time.Microsecond),
			ratio, sd.server.Seconds(), sd.gen.Seconds(), perReq(sd.server), perReq(sd.gen), idle)
	}
	for _, r := range rows {
		line(r, "baseline", r.baseline, "")
		ratio := "-"
		if r.baseline.res.RPS() > 0 {
			ratio = fmt.Sprintf("%.1f%%", 100*r.coffer.res.RPS()/r.baseline.res.RPS())
		}
		line(r, "coffer", r.coffer, ratio)
		if len(r.failed) > 0 {
			fmt.Fprintf(&s, "  FAILED: %s\n", strings.Join(r.failed, "; "))
		}
		if r.logErrors > 0 {
			fmt.Fprintf(&s, "  the server logged %d errors, first: %s\n", r.logErrors, r.firstError)
		}
	}
	s.WriteString("ratio: Coffer's req/s over the baseline's (a net/http server returning a body of the same size and headers, no work);\n" +
		"srv CPU, gen CPU: CPU seconds of the server process and of the generator over the measured windows; /req: per measured request;\n" +
		"idle: share of the machine's CPU time left idle in those windows (the rest includes the kernel's network work, charged to no process).\n")
	return s.String()
}

// commit names the source measured.
func commit() string {
	out, err := exec.Command("git", "-C", "..", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown commit"
	}
	c := "commit " + strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", "..", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " with uncommitted changes"
	}
	return c
}
