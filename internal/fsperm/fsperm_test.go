package fsperm

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCheckPrivate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// Not root's: the root-owned group grant (below) must not apply.
		if err := os.Chown(file, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path    string
		mode    os.FileMode
		wantFix string // "" means private
	}{
		{dir, 0o700, ""},
		{dir, 0o750, "chmod 700 " + dir},
		{dir, 0o701, "chmod 700 " + dir},
		{file, 0o600, ""},
		{file, 0o400, ""},
		{file, 0o640, "chmod 600 " + file},
		{file, 0o604, "chmod 600 " + file},
		{link, 0o644, "chmod 600 " + link}, // the link's target decides
	}
	for _, c := range cases {
		target := c.path
		if c.path == link {
			target = file
		}
		if err := os.Chmod(target, c.mode); err != nil {
			t.Fatal(err)
		}
		err := CheckPrivate(c.path, "thing")
		if c.wantFix == "" {
			if err != nil {
				t.Errorf("%s mode %o: %v, want private", c.path, c.mode, err)
			}
			continue
		}
		var np *NotPrivateError
		if !errors.As(err, &np) {
			t.Fatalf("%s mode %o: %v, want NotPrivateError", c.path, c.mode, err)
		}
		if !strings.Contains(err.Error(), c.wantFix) || !strings.HasPrefix(err.Error(), "thing "+c.path) {
			t.Errorf("%s mode %o: message %q lacks %q", c.path, c.mode, err, c.wantFix)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	err := CheckPrivate(filepath.Join(dir, "missing"), "unseal key file")
	var np *NotPrivateError
	if err == nil || errors.As(err, &np) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want a not-exist error", err)
	}
}

// A root-owned file readable by one of our groups is the administrator's
// deliberate grant (ssl-cert, a Kubernetes fsGroup): accepted; with group
// write, others' access, another owner or a group we are not in: refused.
func TestCheckPrivateRootGroupGrant(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to root and to other groups (CI runs as root)")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "tls.key")
	if err := os.WriteFile(file, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := 4242 // a group this process is not in
	groups, _ := os.Getgroups()
	for slices.Contains(groups, foreign) || foreign == os.Getegid() {
		foreign++
	}
	for _, c := range []struct {
		uid, gid int
		mode     os.FileMode
		ok       bool
	}{
		{0, os.Getegid(), 0o440, true},
		{0, os.Getegid(), 0o640, true},
		{0, os.Getegid(), 0o460, false}, // the group may write
		{0, os.Getegid(), 0o444, false}, // others may read
		{0, os.Getegid(), 0o450, false}, // the group may execute: not a key's mode
		{1000, os.Getegid(), 0o440, false},
		{0, foreign, 0o440, false},
	} {
		if err := os.Chown(file, c.uid, c.gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(file, c.mode); err != nil {
			t.Fatal(err)
		}
		err := CheckPrivate(file, "TLS key")
		if (err == nil) != c.ok {
			t.Errorf("owner %d group %d mode %o: %v, want ok=%v", c.uid, c.gid, c.mode, err, c.ok)
		}
	}
	// Directories get no such exception: the data directory is the server's alone.
	if err := os.Chown(dir, 0, os.Getegid()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if CheckPrivate(dir, "data directory") == nil {
		t.Error("a group-readable data directory was accepted")
	}
}
