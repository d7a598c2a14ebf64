// Package fsperm checks that the files and directories holding Coffer's
// secrets are private to their owner, as ssh checks ~/.ssh: a data
// directory, unseal key file or TLS key that group or others may use is
// refused outside dev mode (the caller decides), with the chmod that fixes it.
package fsperm

import (
	"fmt"
	"io/fs"
	"os"
)

// NotPrivateError says that a path is open to group or others.
type NotPrivateError struct {
	What string // "data directory", "unseal key file", ...
	Path string
	Mode fs.FileMode
	Dir  bool
}

func (e *NotPrivateError) Error() string {
	fix := "600"
	if e.Dir {
		fix = "700"
	}
	return fmt.Sprintf("%s %s has mode %04o: group or others may access it; run: chmod %s %s",
		e.What, e.Path, uint32(e.Mode.Perm()), fix, e.Path)
}

// CheckPrivate returns a *NotPrivateError when path (after symbolic links)
// grants any permission to group or others, and the stat error when path
// cannot be examined.
func CheckPrivate(path, what string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return &NotPrivateError{What: what, Path: path, Mode: info.Mode(), Dir: info.IsDir()}
	}
	return nil
}
