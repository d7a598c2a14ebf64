package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sdkvault "github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

const runCanary = "CANARY-run-9d2e5c71"

// helperEnv, when set, makes the test binary run Main with the arguments
// after "--" (TestHelperCoffer), so that tests can signal a real coffer
// process.
const helperEnv = "COFFER_CLI_TEST_HELPER"

func TestHelperCoffer(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for the agent and run tests; does nothing on its own")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(Main(args, os.Stdin, os.Stdout, os.Stderr))
}

// cofferProcess returns a command that runs coffer with args in a child
// process.
func cofferProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestHelperCoffer$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	return cmd
}

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunPassesSecrets(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	s := f.CreateSecret(t, "db-password", runCanary)
	f.CreateSecret(t, "api-token", runCanary+"-api")
	if _, err := f.Vaults.UpdateSecret(context.Background(), sdkvault.UpdateSecretRequest{SecretId: s.Id,
		UpdateSecretDetails: sdkvault.UpdateSecretDetails{SecretContent: vaultstest.Content(runCanary + "-v2")}}); err != nil {
		t.Fatal(err)
	}
	conn := []string{"--config-file", f.Env.Server.ConfigPath, "--endpoint", f.Env.URL}
	byName := *f.Vault.Id + "/api-token"

	tests := []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"by id and by name", append(append([]string{"run", "--secret", "DB_PASSWORD=" + *s.Id, "--secret", "API=" + byName}, conn...),
			"--", "sh", "-c", `test "$DB_PASSWORD" = "`+runCanary+`-v2" && test "$API" = "`+runCanary+`-api"`), 0, ""},
		{"version selector", append(append([]string{"run", "--secret", "OLD=" + *s.Id + "@1", "--secret", "PREV=" + *s.Id + "@previous"}, conn...),
			"--", "sh", "-c", `test "$OLD" = "`+runCanary+`" && test "$PREV" = "`+runCanary+`"`), 0, ""},
		{"exit code", append(append([]string{"run", "--secret", "X=" + *s.Id}, conn...), "--", "sh", "-c", "exit 7"), 7, ""},
		{"killed by a signal", append(append([]string{"run", "--secret", "X=" + *s.Id}, conn...), "--", "sh", "-c", "kill -TERM $$"), 128 + 15, ""},
		{"child flags are the child's", append(append([]string{"run", "--secret", "X=" + *s.Id}, conn...), "sh", "-c", `test "$1" = --secret`, "sh", "--secret"), 0, ""},
		{"missing secret", append(append([]string{"run", "--secret", "X=ocid1.vaultsecret.oc1.local.nothere"}, conn...), "--", "true"), 1, "ocid1.vaultsecret.oc1.local.nothere"},
		{"missing program", append(append([]string{"run", "--secret", "X=" + *s.Id}, conn...), "--", "/no/such/program"), 127, "/no/such/program"},
		{"no secret", append([]string{"run"}, append(conn, "--", "true")...), 2, "--secret"},
		{"bad name", append(append([]string{"run", "--secret", "1X=" + *s.Id}, conn...), "--", "true"), 2, "not a valid environment variable name"},
		{"bad ref", append(append([]string{"run", "--secret", "X=db"}, conn...), "--", "true"), 2, "want a secret OCID"},
		{"bad selector", append(append([]string{"run", "--secret", "X=" + *s.Id + "@NEWEST"}, conn...), "--", "true"), 2, "after @"},
		{"twice", append(append([]string{"run", "--secret", "X=" + *s.Id, "--secret", "X=" + *s.Id}, conn...), "--", "true"), 2, "given twice"},
		{"no command", append([]string{"run", "--secret", "X=" + *s.Id}, conn...), 2, "requires at least 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runMain(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.inStderr) {
				t.Errorf("stderr %q lacks %q", stderr, tt.inStderr)
			}
			if strings.Contains(stdout+stderr, "CANARY") {
				t.Errorf("a secret value was printed:\nstdout: %s\nstderr: %s", stdout, stderr)
			}
		})
	}
}

// TestRunForwardsSignals runs coffer run in its own process, signals it,
// and checks that the child got the signal and its exit code came back.
func TestRunForwardsSignals(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	s := f.CreateSecret(t, "db-password", runCanary)
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	cmd := cofferProcess(t, "run", "--secret", "P="+*s.Id, "--config-file", f.Env.Server.ConfigPath, "--endpoint", f.Env.URL, "--",
		"sh", "-c", `trap 'exit 42' USR1; touch `+ready+`; while :; do sleep 0.05; done`)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, func() bool { _, err := os.Stat(ready); return err == nil })
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 42 {
		t.Errorf("exit %d (%v), want 42; output: %s", code, err, out.String())
	}
	if strings.Contains(out.String(), "CANARY") {
		t.Errorf("secret printed: %s", out.String())
	}
}

// waitFor polls cond (another process's progress) for up to 30 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunWithSDKDebugLogging: the SDK's OCI_GO_SDK_DEBUG=verbose dumps
// response bodies, a secret bundle's content among them; coffer run caps
// the SDK's logging so that it never does.
func TestRunWithSDKDebugLogging(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	s := f.CreateSecret(t, "db-password", runCanary)
	cmd := cofferProcess(t, "run", "--secret", "P="+*s.Id, "--config-file", f.Env.Server.ConfigPath, "--endpoint", f.Env.URL, "--",
		"sh", "-c", `test "$P" = "`+runCanary+`"`)
	cmd.Env = append(cmd.Env, "OCI_GO_SDK_DEBUG=verbose")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("coffer run: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("Dump Response")) {
		t.Fatalf("SDK debug logging is off; the test proves nothing:\n%s", out)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(runCanary))
	if bytes.Contains(out, []byte(runCanary)) || bytes.Contains(out, []byte(b64)) {
		t.Errorf("the secret appears in the SDK's debug output:\n%s", out)
	}
}
