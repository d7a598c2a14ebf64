package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	sdkvault "github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

// agentFixture is a server with one secret and an agent configuration
// that renders it to dir/db.env.
func agentFixture(t *testing.T) (f *vaultstest.Fixture, secretID, dir, cfgPath string) {
	t.Helper()
	f = vaultstest.Start(t, coffertest.Options{})
	s := f.CreateSecret(t, "db", runCanary+"-1")
	dir = t.TempDir()
	cfgPath = filepath.Join(dir, "agent.json")
	cfg := `{
	  "auth": {"config_file": "` + f.Env.Server.ConfigPath + `"},
	  "endpoint": "` + f.Env.URL + `",
	  "refresh_interval": "1h",
	  "files": [{"path": "db.env", "secrets": {"db": {"id": "` + *s.Id + `"}}, "template": "P={{ secret \"db\" }}\n"}]
	}`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return f, *s.Id, dir, cfgPath
}

func TestAgentOnceAndConfigErrors(t *testing.T) {
	_, _, dir, cfgPath := agentFixture(t)
	code, stdout, stderr := runMain("agent", "--config", cfgPath, "--once", "--log-level", "debug")
	if code != 0 {
		t.Fatalf("agent --once: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "db.env"))
	if err != nil || string(b) != "P="+runCanary+"-1\n" {
		t.Fatalf("db.env = %q, %v", b, err)
	}
	if strings.Contains(stdout+stderr, "CANARY") {
		t.Errorf("secret printed:\n%s%s", stdout, stderr)
	}

	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"files": [{"path": "x", "mode": "9", "secret": {"id": "ocid1.vaultsecret.oc1..x"}}]}`), 0o600)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"agent", "--config", bad}, 1, "Error: agent config: files[0].mode"},
		{[]string{"agent"}, 2, "Error: agent: --config is required"},
		{[]string{"agent", "--config", filepath.Join(dir, "none.json")}, 1, "no such file"},
		{[]string{"agent", "--config", cfgPath, "--log-level", "loud"}, 2, "Error: agent: --log-level"},
	} {
		code, _, stderr := runMain(tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}

// TestAgentProcessSignals runs coffer agent as a process: SIGHUP picks up
// a rotation at once (the interval is an hour), SIGTERM stops it cleanly,
// and its logs never hold the secret.
func TestAgentProcessSignals(t *testing.T) {
	f, id, dir, cfgPath := agentFixture(t)
	cmd := cofferProcess(t, "agent", "--config", cfgPath, "--log-level", "debug", "--log-format", "json")
	var logs coffertest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	path := filepath.Join(dir, "db.env")
	has := func(want string) func() bool {
		return func() bool { b, _ := os.ReadFile(path); return string(b) == want }
	}
	waitFor(t, has("P="+runCanary+"-1\n"))

	if _, err := f.Vaults.UpdateSecret(context.Background(), sdkvault.UpdateSecretRequest{SecretId: &id,
		UpdateSecretDetails: sdkvault.UpdateSecretDetails{SecretContent: vaultstest.Content(runCanary + "-2")}}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, has("P="+runCanary+"-2\n"))

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("agent after SIGTERM: %v\n%s", err, logs.String())
	}
	out := logs.Bytes()
	if bytes.Contains(out, []byte("CANARY")) {
		t.Errorf("secret in the agent's logs:\n%s", out)
	}
	for _, want := range []string{`"msg":"agent: refresh requested"`, `"version":2,"previous_version":1`, `"msg":"agent: stopping"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
}
