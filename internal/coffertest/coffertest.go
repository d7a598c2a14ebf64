// Package coffertest starts real Coffer servers for tests and builds official
// OCI SDK clients against them, with the SDK's retries and circuit breaker
// turned off so that a negative test fails at once instead of retrying for
// minutes (docs/oci-behaviours.md#retries-and-the-circuit-breaker).
package coffertest

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/coffer-vault/coffer/internal/server"
)

// Env is a running dev server.
type Env struct {
	T        testing.TB
	Server   *server.Server
	URL      string
	DataDir  string
	Provider common.ConfigurationProvider
	// Logs holds everything the server logged, for canary searches.
	Logs *SyncBuffer
	// Out holds what the server printed for the user.
	Out *SyncBuffer
}

// Options tune Start.
type Options struct {
	DataDir string // reuse a data directory (restart tests)
	Listen  string // default 127.0.0.1:0
	Config  func(*server.Config)
}

// DataDir returns a new empty directory private to its owner (0700), as a
// server outside dev mode requires of its data directory; t.TempDir's mode
// follows the umask.
func DataDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Start runs a dev server in t.TempDir() (or opts.DataDir) and stops it when
// the test ends.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = DataDir(t)
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	logs, out := &SyncBuffer{}, &SyncBuffer{}
	cfg := server.Config{
		Dev: true, DataDir: opts.DataDir, Listen: opts.Listen,
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Out: out,
	}
	if opts.Config != nil {
		opts.Config(&cfg)
	}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start coffer: %v", err)
	}
	srv.PrintInstructions()
	env := &Env{T: t, Server: srv, URL: srv.URL(), DataDir: opts.DataDir, Logs: logs, Out: out}
	env.Provider = common.CustomProfileConfigProvider(srv.ConfigPath, "DEFAULT")
	t.Cleanup(func() { env.Stop() })
	return env
}

// Stop stops the server; it is safe to call twice.
func (e *Env) Stop() {
	if e.Server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Server.Close(ctx); err != nil {
		e.T.Errorf("stop coffer: %v", err)
	}
	e.Server = nil
}

// Configure makes an SDK client talk to host with no retries and no
// circuit breaker.
func Configure(client *common.BaseClient, host string) {
	client.Host = host
	client.SetCustomClientConfiguration(common.CustomClientConfiguration{
		RetryPolicy: ptr(common.NoRetryPolicy()),
	})
}

func ptr[T any](v T) *T { return &v }

// NextSecond waits for the next second of the wall clock. A test that
// sends the very same change twice on purpose calls it in between: two
// identical requests signed within one second carry one signature (the
// date header counts seconds), and the server refuses the second as a
// replay.
func NextSecond() { time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) }

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of the contents.
func (b *SyncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// String returns the contents.
func (b *SyncBuffer) String() string { return string(b.Bytes()) }
