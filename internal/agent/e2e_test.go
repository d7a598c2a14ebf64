package agent

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sdkvault "github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
	"github.com/coffer-vault/coffer/pkg/secretcache"
)

// TestAgentAgainstServer runs the agent against a real dev server through
// the official SDK: first render (mode, owner), a rotation within one
// refresh, a refresh on Trigger (SIGHUP), the server stopped mid-run (the
// files stay as they were), a restart on the same address and data (the
// agent recovers and catches up), one action per change, and a canary
// secret that never reaches the agent's logs.
func TestAgentAgainstServer(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	env := f.Env
	ctx := context.Background()
	const canary = "CANARY-e2e-4b1d0f7a"
	db := f.CreateSecret(t, "db", `{"user": "app", "password": "`+canary+`-1"}`)
	f.CreateSecret(t, "tls-key", canary+"-key-1")
	rotate := func(id *string, content string) {
		t.Helper()
		if _, err := f.Vaults.UpdateSecret(ctx, sdkvault.UpdateSecretRequest{SecretId: id,
			UpdateSecretDetails: sdkvault.UpdateSecretDetails{SecretContent: vaultstest.Content(content)}}); err != nil {
			t.Fatalf("UpdateSecret: %v", err)
		}
	}

	dir := t.TempDir()
	owner := ""
	if os.Geteuid() == 0 {
		owner = `, "owner": "65534:65534"`
	}
	cfg := `{
	  "auth": {"type": "api_key", "config_file": "` + env.Server.ConfigPath + `", "profile": "DEFAULT"},
	  "endpoint": "` + env.URL + `",
	  "refresh_interval": "1m",
	  "files": [
	    {"path": "db.env", "mode": "0640"` + owner + `,
	     "secrets": {"db": {"id": "` + *db.Id + `"}},
	     "template": "DB_USER={{ secret \"db\" | jsonField \"user\" }}\nDB_PASSWORD={{ secret \"db\" | jsonField \"password\" }}\n",
	     "on_change": {"command": ["/bin/sh", "-c", "echo run >> ` + dir + `/runs"]}},
	    {"path": "tls.key", "secret": {"vault_id": "` + *f.Vault.Id + `", "name": "tls-key"}}
	  ]}`
	cfgPath := filepath.Join(dir, "agent.json")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	plan, err := Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	client, err := NewSecretsClient(plan.Source())
	if err != nil {
		t.Fatal(err)
	}
	logs := &coffertest.SyncBuffer{}
	st := newStepTimer()
	a := New(plan, client, Options{
		Logger:       slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Retry:        secretcache.RetryOptions{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
		After:        st.After,
		ActionOutput: logs,
	})
	defer a.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	refreshed := func() {
		t.Helper()
		select {
		case <-st.asked:
		case <-time.After(30 * time.Second):
			t.Fatal("no refresh")
		}
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	wantRuns := func(n int) {
		t.Helper()
		if got := runs(t, dir); got != n {
			t.Errorf("action ran %d times, want %d", got, n)
		}
	}

	// First render.
	refreshed()
	if got := read("db.env"); got != "DB_USER=app\nDB_PASSWORD="+canary+"-1\n" {
		t.Fatalf("db.env = %q", got)
	}
	if got := read("tls.key"); got != canary+"-key-1" {
		t.Fatalf("tls.key = %q", got)
	}
	fi, err := os.Stat(filepath.Join(dir, "db.env"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("db.env mode %#o, want 0640", fi.Mode().Perm())
	}
	if ki, _ := os.Stat(filepath.Join(dir, "tls.key")); ki.Mode().Perm() != 0o600 {
		t.Errorf("tls.key mode %#o, want 0600", ki.Mode().Perm())
	}
	if os.Geteuid() == 0 {
		s := fi.Sys().(*syscall.Stat_t)
		if s.Uid != 65534 || s.Gid != 65534 {
			t.Errorf("db.env owner %d:%d, want 65534:65534", s.Uid, s.Gid)
		}
	} else {
		t.Log("not root: owner not checked")
	}
	wantRuns(1)

	// A rotation reaches the file within one refresh (the timer).
	rotate(db.Id, `{"user": "app", "password": "`+canary+`-2"}`)
	st.fire <- time.Now()
	refreshed()
	if got := read("db.env"); !strings.Contains(got, canary+"-2") {
		t.Fatalf("after rotation db.env = %q", got)
	}
	wantRuns(2)

	// SIGHUP (Trigger): an unchanged secret rewrites nothing, runs nothing.
	a.Trigger()
	refreshed()
	wantRuns(2)
	// A rotation picked up on Trigger.
	rotate(db.Id, `{"user": "app", "password": "`+canary+`-3"}`)
	a.Trigger()
	refreshed()
	if got := read("db.env"); !strings.Contains(got, canary+"-3") {
		t.Fatalf("after Trigger db.env = %q", got)
	}
	wantRuns(3)

	// The server stops: the files stay as they were.
	u, err := url.Parse(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	before := read("db.env")
	env.Stop()
	a.Trigger()
	refreshed()
	if got := read("db.env"); got != before {
		t.Errorf("db.env changed while the server was down: %q", got)
	}
	for _, s := range a.Status() {
		if s.LastError == nil {
			t.Errorf("%v: no error while the server is down", s.Key)
		}
	}
	wantRuns(3)

	// Restart on the same address and data; rotate while the agent backs
	// off; the next refresh catches up.
	env2 := coffertest.Start(t, coffertest.Options{DataDir: env.DataDir, Listen: u.Host})
	if env2.URL != env.URL {
		t.Fatalf("restarted at %s, not %s", env2.URL, env.URL)
	}
	rotate(db.Id, `{"user": "app", "password": "`+canary+`-4"}`)
	st.fire <- time.Now()
	refreshed()
	if got := read("db.env"); !strings.Contains(got, canary+"-4") {
		t.Fatalf("after restart db.env = %q", got)
	}
	for _, s := range a.Status() {
		if s.LastError != nil {
			t.Errorf("%v: %v after recovery", s.Key, s.LastError)
		}
		if s.Key.SecretID == *db.Id && s.Version != 4 {
			t.Errorf("db version %d, want 4", s.Version)
		}
	}
	wantRuns(4)

	stop()
	waitStopped(t, done)
	if bytes.Contains(logs.Bytes(), []byte("CANARY")) {
		t.Errorf("the canary appears in the agent's logs:\n%s", logs)
	}
	for _, want := range []string{`"msg":"agent: secret version changed"`, `"version":4,"previous_version":3`, `"msg":"agent: secret read failed; keeping the last good files"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}
