package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/coffertest"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuTime returns the user plus system CPU time a process has used, from
// /proc/PID/stat ("self" for this process): all its threads, at 10 ms
// resolution.
func cpuTime(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// fields from 3 on follow the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%s/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%s/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// machineTicks returns the idle (idle + iowait) and total ticks of all
// CPUs from /proc/stat: whether the machine was saturated.
func machineTicks() (idle, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		if i < 8 { // user nice system idle iowait irq softirq steal; guest is in user
			total += n
		}
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return idle, total, nil
}

// proc is a server started as a separate process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // its stdout and stderr
	done chan struct{}
	err  error // of Wait, once done is closed
}

// startProc starts cmd with stdout and stderr in logPath (the server's
// per-request log lines go to a file, as a production server's go to its
// journal, so the test process does not pay for reading them).
func startProc(t testing.TB, name string, cmd *exec.Cmd, logPath string) *proc {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	f.Close()
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *proc) pid() string { return strconv.Itoa(p.cmd.Process.Pid) }

// cpu is the CPU time the process has used so far.
func (p *proc) cpu() (time.Duration, error) { return cpuTime(p.pid()) }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to end (SIGTERM), and kills it after 15 s. It is
// safe to call twice.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail returns the last lines of the process's log, for failure messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy polls url until it answers 200 or the process ends.
func waitHealthy(t testing.TB, p *proc, client *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if p.exited() {
			t.Fatalf("%s exited (%v) before %s answered:\n%s", p.name, p.err, url, p.tail())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s did not answer 200 in 2 minutes (last error %v):\n%s", p.name, url, err, p.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// certFiles is a certificate for 127.0.0.1 and the client configuration
// that trusts it.
type certFiles struct {
	cert, key string
	client    *tls.Config
}

func testCert(t testing.TB, dir string) *certFiles {
	t.Helper()
	c := &certFiles{}
	var roots *x509.CertPool
	c.cert, c.key, roots = coffertest.TLSFiles(t, dir, "localhost")
	c.client = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return c
}

// cofferServer is `coffer server --dev` running on a prepared data
// directory.
type cofferServer struct {
	*proc
	addr, metrics string // host:port of the API and of metrics and pprof
	url           string // http(s)://addr
	tls           *tls.Config
	client        *http.Client // for set-up checks, not for load
}

// startCoffer runs bin as `coffer server --dev` on dir, with HTTPS when
// cert is set and profiles on its metrics listener with pprof (a flag
// older builds lack), and waits until /healthz answers 200.
func startCoffer(t testing.TB, bin, dir, logPath string, cert *certFiles, pprof bool) *cofferServer {
	t.Helper()
	s := &cofferServer{addr: freeAddr(t), metrics: freeAddr(t), client: &http.Client{Timeout: 30 * time.Second}}
	args := []string{"server", "--dev", "--data-dir", dir, "--listen", s.addr, "--metrics-listen", s.metrics}
	if pprof {
		args = append(args, "--pprof")
	}
	s.url = "http://" + s.addr
	if cert != nil {
		args = append(args, "--tls-cert", cert.cert, "--tls-key", cert.key)
		s.url = "https://" + s.addr
		s.tls = cert.client
		s.client.Transport = &http.Transport{TLSClientConfig: cert.client}
	}
	s.proc = startProc(t, "coffer", exec.Command(bin, args...), logPath)
	waitHealthy(t, s.proc, s.client, s.url+"/healthz")
	return s
}

// baselineEnv names the variable that turns the test binary into the
// baseline server (TestMain); it holds the path of a baselineSpec.
const baselineEnv = "COFFER_BENCH_BASELINE"

// baselineSpec is what the baseline answers to every request.
type baselineSpec struct {
	Body      []byte
	Header    http.Header
	Cert, Key string // HTTPS when set
}

// startBaseline re-runs this test binary as a minimal net/http server that
// answers every request with body and header, and returns its address.
func startBaseline(t testing.TB, dir, name string, body []byte, header http.Header, cert *certFiles) (*proc, string) {
	t.Helper()
	spec := baselineSpec{Body: body, Header: header}
	if cert != nil {
		spec.Cert, spec.Key = cert.cert, cert.key
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(dir, name+".json")
	if err := os.WriteFile(specPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addrFile := filepath.Join(dir, name+".addr")
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), baselineEnv+"="+specPath, baselineEnv+"_ADDR="+addrFile)
	p := startProc(t, "baseline", cmd, filepath.Join(dir, name+".log"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		if a, err := os.ReadFile(addrFile); err == nil && strings.HasSuffix(string(a), "\n") {
			return p, strings.TrimSpace(string(a))
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("baseline did not start (%v):\n%s", p.err, p.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveBaseline is the baseline process: the smallest net/http server
// that returns the same bytes Coffer would.
func serveBaseline(specPath, addrFile string) error {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec baselineSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := os.WriteFile(addrFile, []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
		return err
	}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			h := w.Header()
			for k, v := range spec.Header {
				h[k] = v
			}
			_, _ = w.Write(spec.Body)
		}),
	}
	ctx, stop := signalContext()
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if spec.Cert != "" {
		err = srv.ServeTLS(ln, spec.Cert, spec.Key)
	} else {
		err = srv.Serve(ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// rawRoundTrip sends one serialized request on a new connection and reads
// the response with net/http: for checks before a run, not for load.
func rawRoundTrip(addr string, tlsCfg *tls.Config, raw []byte) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	if tlsCfg != nil {
		host, _, _ := net.SplitHostPort(addr)
		cfg := tlsCfg.Clone()
		cfg.ServerName = host
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(context.Background()); err != nil {
			return nil, nil, err
		}
		conn = tc
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(raw); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}
