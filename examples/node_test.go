package examples_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/coffertest"
)

// TestNodeExample runs node/secret.js against the dev server TestMain
// started. It installs the SDK with the package.json and lock of
// internal/server/testdata/regionapp-node, so both programs pin one SDK
// version.
func TestNodeExample(t *testing.T) {
	node, dir := coffertest.NodeProject(t, map[string]string{
		"../internal/server/testdata/regionapp-node/package.json":      "package.json",
		"../internal/server/testdata/regionapp-node/package-lock.json": "package-lock.json",
		"node/secret.js": "secret.js",
	})
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
