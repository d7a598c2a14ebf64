package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/coffertest"
)

// TestMigrateSealUsage: the refusals that need no store or token.
func TestMigrateSealUsage(t *testing.T) {
	dir := coffertest.DataDir(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "key-file"}, "one of --data-dir or --database-url"},
		{[]string{"--data-dir", dir, "--to", "vault"}, "--to must be"},
		{[]string{"--data-dir", dir, "--to", "key-file"}, "--new-key-file"},
		{[]string{"--data-dir", dir, "--to", "shamir", "--shares", "3"}, "--shares and --threshold"},
		{[]string{"--data-dir", dir, "--to", "pkcs11"}, "--pkcs11-module"},
	} {
		code, _, errOut := runOperatorCLI(t, "", append([]string{"operator", "migrate-seal"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: %d %s", tc.args, code, errOut)
		}
	}
	code, _, errOut := runOperatorCLI(t, "", "operator", "migrate-seal", "--data-dir", dir, "--to", "key-file", "--new-key-file", filepath.Join(t.TempDir(), "k"))
	if code == 0 || !strings.Contains(errOut, "no store") {
		t.Fatalf("empty data dir: %d %s", code, errOut)
	}
}
