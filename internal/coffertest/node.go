package coffertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// NodeProject copies files (source path → name) into a new directory,
// installs its npm dependencies there with `npm ci` and returns the node
// binary and the directory. npm writes node_modules next to package.json,
// hence the copy: the source tree stays clean; a fixed cache makes reruns
// offline. Without node the test skips, or fails when COFFER_REQUIRE_NODE=1
// (scripts/test sets it).
func NodeProject(t testing.TB, files map[string]string) (node, dir string) {
	t.Helper()
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
	dir = t.TempDir()
	for src, name := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
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
	return node, dir
}
