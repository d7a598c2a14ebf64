package cli

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestExpandAliases(t *testing.T) {
	dir := t.TempDir()
	rcPath := filepath.Join(dir, "rc")
	rc := `[OCI_CLI_COMMAND_ALIASES]
ls = list
rm = kms.management.key.schedule-deletion
[OCI_CLI_PARAM_ALIASES]
--cid = --compartment-id
--x = not-an-option
`
	if err := os.WriteFile(rcPath, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == envRCFile {
			return rcPath
		}
		return ""
	}
	root := NewRoot(nil, io.Discard, io.Discard)
	for _, c := range []struct{ in, want []string }{
		{[]string{"kms", "management", "vault", "ls", "--cid", "C"}, []string{"kms", "management", "vault", "list", "--compartment-id", "C"}},
		{[]string{"kms", "management", "vault", "ls", "--cid=C"}, []string{"kms", "management", "vault", "list", "--compartment-id=C"}},
		// A dotted alias applies under its parent command only.
		{[]string{"kms", "management", "key", "rm", "--key-id", "K"}, []string{"kms", "management", "key", "schedule-deletion", "--key-id", "K"}},
		{[]string{"kms", "management", "vault", "rm"}, []string{"kms", "management", "vault", "rm"}},
		// Values and anything after "--" are left alone; so is an alias to a non-option.
		{[]string{"vault", "secret", "ls", "--name", "ls", "--", "--cid"}, []string{"vault", "secret", "list", "--name", "ls", "--", "--cid"}},
		{[]string{"kms", "--x", "1"}, []string{"kms", "--x", "1"}},
	} {
		if got := expandAliases(root, c.in, env); !slices.Equal(got, c.want) {
			t.Errorf("expandAliases(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// --cli-rc-file names the file before it is parsed as an option.
	noEnv := func(string) string { return "" }
	t.Setenv("HOME", dir) // no ~/.oci/oci_cli_rc there
	if got := expandAliases(root, []string{"--cli-rc-file", rcPath, "kms", "management", "vault", "ls"}, noEnv); got[5] != "list" {
		t.Errorf("with --cli-rc-file: %q", got)
	}
	if got := expandAliases(root, []string{"kms", "ls"}, noEnv); got[1] != "ls" {
		t.Errorf("without a file: %q", got)
	}
	// An unreadable or malformed file changes nothing (the command reports it).
	if err := os.WriteFile(rcPath, []byte("ls = list\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := expandAliases(root, []string{"kms", "ls"}, env); got[1] != "ls" {
		t.Errorf("malformed file: %q", got)
	}
}
