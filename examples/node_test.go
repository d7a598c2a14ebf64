package examples_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNodeExample runs node/secret.js against the dev server TestMain
// started. It installs the SDK with the package.json and lock of
// internal/server/testdata/regionapp-node, so both programs pin one SDK
// version.
func TestNodeExample(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("COFFER_REQUIRE_NODE") == "1" {
			t.Fatal("COFFER_REQUIRE_NODE=1 but node is not on PATH")
		}
		t.Skip("node not on PATH (set COFFER_REQUIRE_NODE=1 to make this a failure)")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("node without npm")
	}
	// npm ci writes node_modules next to package.json: work on a copy, so
	// the source tree stays clean.
	dir := t.TempDir()
	for src, dst := range map[string]string{
		"../internal/server/testdata/regionapp-node/package.json":      "package.json",
		"../internal/server/testdata/regionapp-node/package-lock.json": "package-lock.json",
		"node/secret.js": "secret.js",
	} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	install := exec.Command(npm, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--cache", filepath.Join(cache, "coffer-test-npm"))
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	cmd := exec.Command(node, "secret.js")
	cmd.Dir = dir
	// The environment TestMain set (OCI_CONFIG_FILE, COFFER_ENDPOINT,
	// VAULT_ID, KEY_ID) is inherited; HOME keeps the SDK off the real one.
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node secret.js: %v\n%s", err, out)
	}
	if got, want := string(out), "api-token: hello from node\n"; !strings.HasSuffix(got, want) {
		t.Fatalf("output %q, want it to end with %q", got, want)
	}
}
