// Package scripts holds no Go code: its tests run the shell scripts beside
// them.
package scripts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var allTargets = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"}

// TestRelease runs scripts/release for the host's target (all four with
// COFFER_RELEASE_TEST_ALL=1: a cold build of each takes a minute or more
// on a small machine), then checks SHA256SUMS, the stamped version and that
// the cgo-less binary refuses a PKCS#11 module with a clear message. For
// the other targets go list resolves every import under their GOOS/GOARCH
// (go vet there would compile the whole tree again per target: minutes).
func TestRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release binary")
	}
	host := runtime.GOOS + "/" + runtime.GOARCH
	targets := []string{host}
	if os.Getenv("COFFER_RELEASE_TEST_ALL") == "1" {
		targets = allTargets
	}
	dist := t.TempDir()
	const version = "v9.8.7-test.1"
	start := time.Now()
	out, err := run(t, nil, "./release", version, "COFFER_RELEASE_DIR="+dist, "COFFER_RELEASE_TARGETS="+strings.Join(targets, " "))
	if err != nil {
		t.Fatalf("scripts/release: %v\n%s", err, out)
	}
	t.Logf("scripts/release %v: %v", targets, time.Since(start).Round(time.Millisecond))

	// SHA256SUMS lists exactly the binaries, with their hashes.
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(sums)), "\n")
	if len(lines) != len(targets) {
		t.Fatalf("SHA256SUMS has %d lines for %d targets:\n%s", len(lines), len(targets), sums)
	}
	for i, line := range lines {
		sum, name, ok := strings.Cut(line, "  ")
		want := "coffer-" + version + "-" + strings.ReplaceAll(targets[i], "/", "-")
		if !ok || name != want {
			t.Fatalf("SHA256SUMS line %q, want a sum for %s", line, want)
		}
		data, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: SHA256SUMS says %s, the file hashes to %x", name, sum, h)
		}
	}
	if sha, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(sha, "-c", "SHA256SUMS")
		cmd.Dir = dist
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c: %v\n%s", err, out)
		}
	}

	bin := filepath.Join(dist, "coffer-"+version+"-"+strings.ReplaceAll(host, "/", "-"))
	out, err = run(t, nil, bin, "--version")
	if err != nil || !strings.HasPrefix(out, "coffer "+version+" ") {
		t.Errorf("--version = %q, %v; want coffer %s ...", out, err, version)
	}
	out, err = run(t, nil, bin, "version", "--json")
	var info map[string]any
	if err != nil || json.Unmarshal([]byte(out), &info) != nil {
		t.Fatalf("version --json = %q, %v", out, err)
	}
	if info["version"] != version || !strings.HasPrefix(info["go-version"].(string), "go") {
		t.Errorf("version --json = %v", info)
	}
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
		if rev := strings.TrimSpace(string(head)); info["revision"] != rev {
			t.Errorf("revision %v, want HEAD %s", info["revision"], rev)
		}
	}

	// A binary without cgo has no PKCS#11: it must say so, not start.
	out, err = run(t, nil, bin, "server", "--dev", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--pkcs11-module", "/nonexistent/libpkcs11.so")
	if err == nil || !strings.Contains(out, "built without cgo") || !strings.Contains(out, "PKCS#11") {
		t.Errorf("server --pkcs11-module on a cgo-less binary: %v\n%s", err, out)
	}

	// A version that would break -ldflags is refused before building.
	if out, err := run(t, nil, "./release", "v1 -X main.x=y", "COFFER_RELEASE_DIR="+t.TempDir()); err == nil || !strings.Contains(out, "bad version") {
		t.Errorf("release with a bad version: %v\n%s", err, out)
	}

	// The targets not built here: every package resolves, and no build
	// constraint leaves one empty.
	for _, target := range allTargets {
		if contains(targets, target) {
			continue
		}
		goos, goarch, _ := strings.Cut(target, "/")
		// Only stdout is the answer: on a fresh module cache go list also
		// reports on stderr the modules it downloads for this target.
		cmd := exec.Command("go", "list", "-e", "-deps",
			"-f", "{{if .Error}}{{.ImportPath}}: {{.Error}}\n{{end}}{{range .DepsErrors}}{{.}}\n{{end}}", "../cmd/coffer")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("go list for %s: %v\n%s%s", target, err, out, stderr.String())
		}
	}
}

// run runs a command in this directory; args of the form KEY=VALUE after
// the first are environment variables, and env adds more.
func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	var cmdArgs []string
	for _, a := range args {
		if k, _, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "COFFER_") {
			env = append(env, a)
			continue
		}
		cmdArgs = append(cmdArgs, a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, cmdArgs...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
