// Package fsperm checks that the files and directories holding Coffer's
// secrets are private to their owner, as ssh checks ~/.ssh: a data
// directory, unseal key file or TLS key that group or others may use is
// refused outside dev mode (the caller decides), with the chmod that fixes it.
package fsperm

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
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
//
// One exception, for files: a file owned by root may be readable (not
// writable) by its group when that group is one of this process's. That is
// how an administrator hands a key to a service on purpose (Debian's
// ssl-cert group: root:ssl-cert 0640), and how Kubernetes projects a
// Secret into a container that does not run as root (root:fsGroup 0440):
// refusing it would leave such a service no way to read its key at all.
func CheckPrivate(path, what string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	perm := info.Mode().Perm()
	if perm&0o077 == 0 || info.Mode().IsRegular() && perm&0o037 == 0 && grantedToOurGroup(info) {
		return nil
	}
	return &NotPrivateError{What: what, Path: path, Mode: info.Mode(), Dir: info.IsDir()}
}

// grantedToOurGroup reports whether info is owned by root and belongs to a
// group this process is in.
func grantedToOurGroup(info os.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != 0 {
		return false
	}
	if int(st.Gid) == os.Getegid() {
		return true
	}
	groups, err := os.Getgroups()
	if err != nil {
		return false
	}
	for _, g := range groups {
		if g == int(st.Gid) {
			return true
		}
	}
	return false
}
