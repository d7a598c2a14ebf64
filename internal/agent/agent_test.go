package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/pkg/secretcache"
	"github.com/coffer-vault/coffer/pkg/securefile"
)

// fixture is an agent over a fake backend, writing into a temporary
// directory, with its logs captured.
type fixture struct {
	t     *testing.T
	dir   string
	be    *fakeBackend
	agent *Agent
	logs  *coffertest.SyncBuffer
	plan  *Plan
	// runsDir holds the counter file of the on-change command.
	runsDir string
}

func newFixture(t *testing.T, cfg string, setup func(dir string, be *fakeBackend)) *fixture {
	t.Helper()
	dir := t.TempDir()
	be := newFake()
	if setup != nil {
		setup(dir, be)
	}
	cfg = strings.ReplaceAll(cfg, "$DIR", dir)
	c, err := Parse([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(c, dir)
	if err != nil {
		t.Fatal(err)
	}
	logs := &coffertest.SyncBuffer{}
	a := New(plan, be, Options{
		Logger:       slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Retry:        secretcache.RetryOptions{MaxAttempts: 2, BaseDelay: time.Microsecond, MaxDelay: time.Microsecond},
		ActionOutput: io.Discard,
	})
	t.Cleanup(func() {
		a.Close()
		if bytes.Contains(logs.Bytes(), []byte("CANARY")) {
			t.Errorf("a secret appears in the agent's logs:\n%s", logs)
		}
	})
	return &fixture{t: t, dir: dir, be: be, agent: a, logs: logs, plan: plan}
}

func (f *fixture) read(name string) string {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func (f *fixture) mode(name string) os.FileMode {
	f.t.Helper()
	fi, err := os.Stat(filepath.Join(f.dir, name))
	if err != nil {
		f.t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// counterScript is an on-change command that appends a line to a file, so
// tests count its runs.
func counterScript(dir string) string {
	return `["/bin/sh", "-c", "echo run >> ` + dir + `/runs"]`
}

func runs(t *testing.T, dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "runs"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "run\n")
}

const twoFiles = `{
  "refresh_interval": "1m",
  "files": [
    {"path": "raw.txt", "secret": {"id": "` + sid1 + `"}},
    {"path": "app.env", "mode": "0640",
     "secrets": {"db": {"vault_id": "` + vault + `", "name": "db"}, "api": {"id": "` + sid2 + `"}},
     "template": "DB={{ secret \"db\" | jsonField \"password\" }}\nAPI={{ secret \"api\" }}\nV={{ secretVersion \"api\" }}\n",
     "on_change": {"command": $ACTION}}
  ]}`

func newTwoFiles(t *testing.T) *fixture {
	dir := t.TempDir()
	cfg := strings.ReplaceAll(twoFiles, "$ACTION", counterScript(dir))
	return newFixture(t, cfg, func(_ string, be *fakeBackend) {
		be.put(sid1, "CANARY-raw-1")
		be.put("ocid1.vaultsecret.oc1..db", `{"password": "CANARY-db-1"}`)
		be.name(vault, "db", "ocid1.vaultsecret.oc1..db")
		be.put(sid2, "CANARY-api-1")
	}).withRunsDir(dir)
}

func (f *fixture) withRunsDir(dir string) *fixture { f.runsDir = dir; return f }

func TestRefreshWritesAndRotates(t *testing.T) {
	f := newTwoFiles(t)
	ctx := context.Background()
	if err := f.agent.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.read("raw.txt"); got != "CANARY-raw-1" {
		t.Errorf("raw = %q", got)
	}
	if got := f.read("app.env"); got != "DB=CANARY-db-1\nAPI=CANARY-api-1\nV=1\n" {
		t.Errorf("app.env = %q", got)
	}
	if m := f.mode("raw.txt"); m != 0o600 {
		t.Errorf("raw.txt mode %#o", m)
	}
	if m := f.mode("app.env"); m != 0o640 {
		t.Errorf("app.env mode %#o", m)
	}
	if n := runs(t, f.runsDir); n != 1 {
		t.Errorf("action ran %d times after the first render, want 1", n)
	}

	// Nothing changed: nothing rewritten, no action.
	before, _ := os.Stat(filepath.Join(f.dir, "app.env"))
	if err := f.agent.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(filepath.Join(f.dir, "app.env"))
	if !os.SameFile(before, after) {
		t.Error("unchanged file was replaced")
	}
	if n := runs(t, f.runsDir); n != 1 {
		t.Errorf("action ran %d times, want 1 (no change)", n)
	}

	// A rotation reaches the file in one refresh; the action runs once.
	f.be.put(sid2, "CANARY-api-2")
	if err := f.agent.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.read("app.env"); got != "DB=CANARY-db-1\nAPI=CANARY-api-2\nV=2\n" {
		t.Errorf("after rotation app.env = %q", got)
	}
	if n := runs(t, f.runsDir); n != 2 {
		t.Errorf("action ran %d times, want 2", n)
	}
	// The raw file did not change.
	if got := f.read("raw.txt"); got != "CANARY-raw-1" {
		t.Errorf("raw = %q", got)
	}
	// Versions are tracked per secret.
	got := map[string]int64{}
	for _, s := range f.agent.Status() {
		got[s.Key.String()] = s.Version
		if s.LastError != nil {
			t.Errorf("%v: %v", s.Key, s.LastError)
		}
	}
	want := map[string]int64{
		sid1 + "@CURRENT":     1,
		sid2 + "@CURRENT":     2,
		vault + "/db@CURRENT": 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("versions %v, want %v", got, want)
	}
	if !strings.Contains(f.logs.String(), `"msg":"agent: secret version changed","secret":"`+sid2+`@CURRENT","version":2,"previous_version":1`) {
		t.Errorf("version change not logged:\n%s", f.logs)
	}
}

func TestServiceDownKeepsFiles(t *testing.T) {
	f := newTwoFiles(t)
	ctx := context.Background()
	if err := f.agent.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	f.be.setDown(svcErr{503})
	err := f.agent.Refresh(ctx)
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("refresh with the service down: %v", err)
	}
	if got := f.read("app.env"); got != "DB=CANARY-db-1\nAPI=CANARY-api-1\nV=1\n" {
		t.Errorf("app.env = %q", got)
	}
	if n := runs(t, f.runsDir); n != 1 {
		t.Errorf("action ran %d times", n)
	}
	for _, s := range f.agent.Status() {
		if s.LastError == nil || s.Version != 1 {
			t.Errorf("status during outage: %+v", s)
		}
	}
	// A rotation during the outage arrives once the service is back.
	f.be.put(sid2, "CANARY-api-2")
	f.be.setDown(nil)
	if err := f.agent.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.read("app.env"); !strings.Contains(got, "API=CANARY-api-2") {
		t.Errorf("app.env = %q", got)
	}
	if n := runs(t, f.runsDir); n != 2 {
		t.Errorf("action ran %d times, want 2", n)
	}
}

func TestPartialFailureRendersFromLastGood(t *testing.T) {
	f := newTwoFiles(t)
	ctx := context.Background()
	if err := f.agent.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// The db secret disappears (404); api rotates. The file takes the new
	// api and keeps the last good db.
	f.be.name(vault, "db", "ocid1.vaultsecret.oc1..gone")
	f.be.put(sid2, "CANARY-api-2")
	if err := f.agent.Refresh(ctx); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("want ErrIncomplete, got %v", err)
	}
	if got := f.read("app.env"); got != "DB=CANARY-db-1\nAPI=CANARY-api-2\nV=2\n" {
		t.Errorf("app.env = %q", got)
	}
}

func TestNothingWrittenBeforeFirstRead(t *testing.T) {
	f := newTwoFiles(t)
	f.be.setDown(svcErr{500})
	if err := f.agent.Refresh(context.Background()); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("want ErrIncomplete, got %v", err)
	}
	for _, name := range []string{"raw.txt", "app.env"} {
		if _, err := os.Stat(filepath.Join(f.dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written without its secrets: %v", name, err)
		}
	}
	if n := runs(t, f.runsDir); n != 0 {
		t.Errorf("action ran %d times", n)
	}
}

func TestTemplateErrorKeepsFile(t *testing.T) {
	f := newFixture(t, `{"files": [{"path": "j", "secrets": {"a": {"id": "`+sid1+`"}}, "template": "{{ secret \"a\" | jsonField \"k\" }}"}]}`,
		func(_ string, be *fakeBackend) { be.put(sid1, `{"k": "CANARY-1"}`) })
	if err := f.agent.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.be.put(sid1, `not json CANARY-2`)
	err := f.agent.Refresh(context.Background())
	if !errors.Is(err, ErrIncomplete) || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("refresh: %v", err)
	}
	if got := f.read("j"); got != "CANARY-1" {
		t.Errorf("file = %q, want the last good render", got)
	}
}

func TestSignalAction(t *testing.T) {
	ch := make(chan os.Signal, 4)
	signalNotify(ch, syscall.SIGUSR1)
	defer signalStop(ch)
	f := newFixture(t, `{"files": [{"path": "s", "secret": {"id": "`+sid1+`"}, "on_change": {"signal": {"pid_file": "pid", "signal": "USR1"}}}]}`,
		func(dir string, be *fakeBackend) {
			be.put(sid1, "CANARY-1")
			os.WriteFile(filepath.Join(dir, "pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
		})
	if err := f.agent.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-ch:
		if s != syscall.SIGUSR1 {
			t.Errorf("got %v", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no signal")
	}
	// No change, no signal.
	if err := f.agent.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-ch:
		t.Errorf("signal %v without a change", s)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestSignalActionBadPidFile(t *testing.T) {
	for _, content := range []string{"", "0", "-1", "abc"} {
		f := newFixture(t, `{"files": [{"path": "s", "secret": {"id": "`+sid1+`"}, "on_change": {"signal": {"pid_file": "pid", "signal": "HUP"}}}]}`,
			func(dir string, be *fakeBackend) {
				be.put(sid1, "CANARY-1")
				os.WriteFile(filepath.Join(dir, "pid"), []byte(content), 0o600)
			})
		err := f.agent.Refresh(context.Background())
		if !errors.Is(err, ErrBadPidFile) {
			t.Errorf("pid file %q: %v", content, err)
		}
	}
}

// TestSharedActionRunsOnce: two files with the same action that change in
// one refresh run it once.
func TestSharedActionRunsOnce(t *testing.T) {
	runsDir := t.TempDir()
	act := counterScript(runsDir)
	f := newFixture(t, `{"files": [
	  {"path": "a", "secret": {"id": "`+sid1+`"}, "on_change": {"command": `+act+`}},
	  {"path": "b", "secret": {"id": "`+sid2+`"}, "on_change": {"command": `+act+`}}]}`,
		func(_ string, be *fakeBackend) { be.put(sid1, "CANARY-a"); be.put(sid2, "CANARY-b") })
	if err := f.agent.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := runs(t, runsDir); n != 1 {
		t.Errorf("shared action ran %d times, want 1", n)
	}
}

func TestActionFailureAndTimeout(t *testing.T) {
	f := newFixture(t, `{"action_timeout": "100ms", "files": [
	  {"path": "a", "secret": {"id": "`+sid1+`"}, "on_change": {"command": ["/bin/sh", "-c", "exit 3"]}},
	  {"path": "b", "secret": {"id": "`+sid2+`"}, "on_change": {"command": ["/bin/sleep", "10"]}}]}`,
		func(_ string, be *fakeBackend) { be.put(sid1, "CANARY-a"); be.put(sid2, "CANARY-b") })
	start := time.Now()
	err := f.agent.Refresh(context.Background())
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("refresh: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout not enforced: %v", d)
	}
}

func TestOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	f := newFixture(t, `{"files": [{"path": "o", "mode": "0440", "owner": "65534:65534", "secret": {"id": "`+sid1+`"}}]}`,
		func(_ string, be *fakeBackend) { be.put(sid1, "CANARY-o") })
	if err := f.agent.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(f.dir, "o"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 65534 || st.Gid != 65534 || fi.Mode().Perm() != 0o440 {
		t.Errorf("owner %d:%d mode %#o", st.Uid, st.Gid, fi.Mode().Perm())
	}
}

// stepTimer replaces time.After: each wait is recorded and fires only when
// the test says so.
type stepTimer struct {
	mu    sync.Mutex
	waits []time.Duration
	fire  chan time.Time
	asked chan time.Duration
}

func newStepTimer() *stepTimer {
	return &stepTimer{fire: make(chan time.Time), asked: make(chan time.Duration, 100)}
}

func (s *stepTimer) After(d time.Duration) <-chan time.Time {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	s.asked <- d
	return s.fire
}

// TestRunScheduleTriggerAndStop drives Run with a stepped timer: a refresh
// at start, one per timer, one per Trigger (SIGHUP), backoff after a
// failure, and a clean stop.
func TestRunScheduleTriggerAndStop(t *testing.T) {
	f := newTwoFiles(t)
	st := newStepTimer()
	f.agent.opts.After = st.After
	f.agent.opts.Rand = func() float64 { return 1 } // the top of the jitter range
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.agent.Run(ctx) }()

	wait := func() time.Duration {
		t.Helper()
		select {
		case d := <-st.asked:
			return d
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not wait")
		}
		return 0
	}
	// First refresh at once; then the jittered interval (1m · 1.1).
	if d := wait(); d != 66*time.Second {
		t.Errorf("wait = %v, want 66s", d)
	}
	if got := f.read("app.env"); !strings.Contains(got, "API=CANARY-api-1") {
		t.Fatalf("app.env = %q", got)
	}
	// SIGHUP: a rotation arrives at once.
	f.be.put(sid2, "CANARY-api-2")
	f.agent.Trigger()
	wait()
	if got := f.read("app.env"); !strings.Contains(got, "API=CANARY-api-2") {
		t.Errorf("after Trigger app.env = %q", got)
	}
	// The timer fires: another refresh.
	f.be.put(sid2, "CANARY-api-3")
	st.fire <- time.Now()
	wait()
	if got := f.read("app.env"); !strings.Contains(got, "API=CANARY-api-3") {
		t.Errorf("after the timer app.env = %q", got)
	}
	if n := runs(t, f.runsDir); n != 3 {
		t.Errorf("action ran %d times, want 3", n)
	}
	// Failures back off: 1s, 2s, 4s (Rand = 1: the ceiling).
	f.be.setDown(svcErr{503})
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		st.fire <- time.Now()
		if d := wait(); d != want {
			t.Errorf("backoff = %v, want %v", d, want)
		}
	}
	f.be.setDown(nil)
	st.fire <- time.Now()
	if d := wait(); d != 66*time.Second {
		t.Errorf("after recovery wait = %v, want 66s", d)
	}
	cancel()
	waitStopped(t, done)
}

// TestNoActionAfterStop: a stop that arrives while the files are being
// written lets the write finish and runs no action.
func TestNoActionAfterStop(t *testing.T) {
	f := newTwoFiles(t)
	ctx, cancel := context.WithCancel(context.Background())
	f.agent.testHookWritten = func(path string) {
		if filepath.Base(path) == "app.env" {
			cancel()
		}
	}
	if err := f.agent.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("refresh: %v", err)
	}
	if got := f.read("app.env"); !strings.Contains(got, "API=CANARY-api-1") {
		t.Errorf("the write in progress did not finish: %q", got)
	}
	if n := runs(t, f.runsDir); n != 0 {
		t.Errorf("action ran %d times after stop", n)
	}
	// A stop before anything: nothing read, nothing written.
	g := newTwoFiles(t)
	if err := g.agent.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("refresh: %v", err)
	}
	if _, err := os.Stat(filepath.Join(g.dir, "raw.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("written after stop: %v", err)
	}
}

var (
	signalNotify = signal.Notify
	signalStop   = signal.Stop
)

// TestCreatesMissingDirectories: a missing output directory is created
// with its parents, mode 0700, once; a directory that cannot be created is
// logged once for all the files in it; the log's attributes are flat.
func TestCreatesMissingDirectories(t *testing.T) {
	f := newFixture(t, `{"files": [
	  {"path": "new/deeper/a", "secret": {"id": "`+sid1+`"}},
	  {"path": "new/deeper/b", "secrets": {"x": {"id": "`+sid1+`"}, "y": {"id": "`+sid2+`"}}, "template": "{{ secret \"x\" }}{{ secret \"y\" }}"},
	  {"path": "blocked/sub/c", "secret": {"id": "`+sid1+`"}},
	  {"path": "blocked/sub/d", "secret": {"id": "`+sid2+`"}}]}`,
		func(dir string, be *fakeBackend) {
			be.put(sid1, "CANARY-a")
			be.put(sid2, "CANARY-b")
			if err := os.WriteFile(filepath.Join(dir, "blocked"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		})
	err := f.agent.Refresh(context.Background())
	if !errors.Is(err, ErrIncomplete) || !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("refresh: %v, want ErrIncomplete for the blocked directory", err)
	}
	if got := f.read("new/deeper/b"); got != "CANARY-aCANARY-b" {
		t.Errorf("b = %q", got)
	}
	for _, d := range []string{"new", "new/deeper"} {
		fi, err := os.Stat(filepath.Join(f.dir, d))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != DirMode {
			t.Errorf("%s: %v %v, want a %v directory", d, fi, err, DirMode)
		}
	}
	logs := f.logs.String()
	if n := strings.Count(logs, `"msg":"agent: directory created"`); n != 1 {
		t.Errorf("directory created logged %d times, want 1:\n%s", n, logs)
	}
	if n := strings.Count(logs, "not a directory"); n != 1 {
		t.Errorf("the blocked directory's error logged %d times, want 1:\n%s", n, logs)
	}
	for _, want := range []string{
		`"path":"` + filepath.Join(f.dir, "new/deeper/a") + `","mode":"0600","secret":"` + sid1 + `@CURRENT","version":1}`,
		`"path":"` + filepath.Join(f.dir, "new/deeper/b") + `","mode":"0600","secret.x":"` + sid1 + `@CURRENT","version.x":1,"secret.y":"` + sid2 + `@CURRENT","version.y":1}`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	before := len(logs)
	_ = f.agent.Refresh(context.Background()) // the blocked directory still fails
	if strings.Contains(f.logs.String()[before:], "directory created") {
		t.Errorf("an existing directory logged as created:\n%s", f.logs)
	}
}

// TestRefreshErrorSaysEachThingOnce: the error of a refresh whose file
// cannot be written names the operation, the outcome, the package, the
// file and the cause once each; it used to read
// "agent: refresh incomplete: file P: securefile: write P: securefile:
// target is a symbolic link".
func TestRefreshErrorSaysEachThingOnce(t *testing.T) {
	f := newFixture(t, `{"files": [{"path": "out.txt", "secret": {"id": "`+sid1+`"}}]}`,
		func(dir string, be *fakeBackend) {
			be.put(sid1, "CANARY-x")
			if err := os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(dir, "out.txt")); err != nil {
				t.Fatal(err)
			}
		})
	err := f.agent.Refresh(context.Background())
	path := filepath.Join(f.dir, "out.txt")
	want := "agent.Refresh: incomplete: securefile: write " + path + ": target is a symbolic link"
	if err == nil || err.Error() != want {
		t.Fatalf("refresh error:\n got %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrIncomplete) || !errors.Is(err, securefile.ErrSymlink) {
		t.Errorf("refresh error %v lost ErrIncomplete or securefile.ErrSymlink", err)
	}
}

// waitStopped waits for Run's result on done: nil, within 10 seconds.
func waitStopped(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}
