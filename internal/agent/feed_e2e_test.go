package agent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdkvault "github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

// TestAgentFollowsServerFeed runs the agent with the server's change feed:
// a rotation reaches the file while the refresh timer never fires (the
// schedule is an hour), and the time from UpdateSecret to the file
// changing is logged (the figure in the note). Content never
// reaches the agent's logs.
func TestAgentFollowsServerFeed(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	env := f.Env
	ctx := context.Background()
	const canary = "CANARY-feed-9c1e77d2"
	s := f.CreateSecret(t, "feed", canary+"-1")
	dir := t.TempDir()
	cfg := `{
	  "auth": {"type": "api_key", "config_file": "` + env.Server.ConfigPath + `", "profile": "DEFAULT"},
	  "endpoint": "` + env.URL + `",
	  "refresh_interval": "1h",
	  "files": [{"path": "feed.txt", "secret": {"id": "` + *s.Id + `"}}]}`
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
		Logger:  slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		After:   st.After,
		Changes: NewChangeFeed(client),
	})
	defer a.Close()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	read := func() string {
		b, err := os.ReadFile(filepath.Join(dir, "feed.txt"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return string(b)
	}
	// waitFor polls the file: the agent writes it from its own goroutine
	// and the test has no hook into a real server's feed.
	waitFor := func(want string) time.Duration {
		t.Helper()
		start := time.Now()
		for read() != want {
			if time.Since(start) > 20*time.Second {
				t.Fatalf("feed.txt = %q, want %q", read(), want)
			}
			time.Sleep(2 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor(canary + "-1")
	// The follower's first contact: its cursor, then one full refresh
	// (anything read before the cursor may have missed a change).
	select {
	case <-st.asked:
	case <-time.After(30 * time.Second):
		t.Fatal("the agent never waited on its schedule")
	}

	var worst time.Duration
	for i := 2; i <= 4; i++ {
		content := canary + "-" + string(rune('0'+i))
		begin := time.Now()
		if _, err := f.Vaults.UpdateSecret(ctx, sdkvault.UpdateSecretRequest{SecretId: s.Id,
			UpdateSecretDetails: sdkvault.UpdateSecretDetails{SecretContent: vaultstest.Content(content)}}); err != nil {
			t.Fatalf("UpdateSecret: %v", err)
		}
		waitFor(content)
		took := time.Since(begin)
		t.Logf("rotation %d: UpdateSecret sent to file changed in %v", i, took)
		worst = max(worst, took)
	}
	if worst > 5*time.Second {
		t.Errorf("a rotation took %v to reach the file through the feed", worst)
	}
	if strings.Contains(logs.String(), canary) {
		t.Error("secret content in the agent's logs")
	}
}
