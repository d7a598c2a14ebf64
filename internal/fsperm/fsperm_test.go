package fsperm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckPrivate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
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
