//go:build unix

// Package securefile writes secret material to disk so that no reader ever
// sees a partial file, a file with the wrong mode or owner, or a file that
// an attacker redirected with a symbolic link.
//
// [Write] creates a temporary file beside the target with the final mode
// (and owner) set on the open descriptor before any byte is written, writes
// and fsyncs it, renames it over the target and fsyncs the directory, so
// the target is always either the old complete content or the new one, even
// across a crash. Content that is already in place with the right mode and
// owner is left alone, so a process that re-renders secrets on a timer does
// not wake file watchers for nothing.
//
// The package is for Unix systems (it relies on fchown, fchmod and
// O_NOFOLLOW).
package securefile

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// DefaultMode is the mode of a file written without Options.Mode: readable
// and writable by its owner only.
const DefaultMode os.FileMode = 0o600

// ErrSymlink is returned (wrapped, see [Write]) when the target path is a
// symbolic link. Writing through it could let whoever controls the link
// choose where a secret lands, so Write refuses instead of following or
// replacing it.
var ErrSymlink = errors.New("target is a symbolic link")

// ErrNotRegular is returned (wrapped) when the target exists but is not a
// regular file (a directory, a device, a socket...).
var ErrNotRegular = errors.New("target is not a regular file")

// Owner names the numeric user and group that should own the file.
type Owner struct {
	UID, GID int
}

// Options controls how Write creates the file. The zero value writes a 0600
// file owned by the calling process.
type Options struct {
	// Mode holds permission bits only (no setuid, sticky or type bits);
	// zero means DefaultMode. It is applied exactly, whatever the umask.
	Mode os.FileMode
	// Owner, when set, is applied with fchown on the temporary file before
	// any content is written. Changing the owner needs privilege (root or
	// CAP_CHOWN) unless it is the caller's own uid and one of its groups.
	Owner *Owner
}

func (o Options) mode() (os.FileMode, error) {
	m := o.Mode
	if m == 0 {
		m = DefaultMode
	}
	if m&^os.ModePerm != 0 {
		return 0, fmt.Errorf("mode %v has bits other than permissions", m)
	}
	return m, nil
}

// Write atomically replaces the file at path with data, with the mode and
// owner from opts. It returns changed=false, and touches nothing, when the
// file already holds exactly data with that mode and owner. The target's
// directory must exist. path must not be a symbolic link (ErrSymlink).
//
// Every error says, once, "securefile: write PATH: " and then the step
// that failed.
func Write(path string, data []byte, opts Options) (changed bool, err error) {
	changed, err = write(path, data, opts)
	if err != nil {
		err = fmt.Errorf("securefile: write %s: %w", path, err)
	}
	return changed, err
}

func write(path string, data []byte, opts Options) (changed bool, err error) {
	mode, err := opts.mode()
	if err != nil {
		return false, err
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A new file.
	case err != nil:
		return false, bare(err, path)
	case fi.Mode()&fs.ModeSymlink != 0:
		return false, ErrSymlink
	case !fi.Mode().IsRegular():
		return false, ErrNotRegular
	default:
		same, err := unchanged(path, data, mode, opts.Owner)
		if err != nil {
			return false, err
		}
		if same {
			return false, nil
		}
	}
	// After the rename the content has changed even if the directory sync
	// then fails, so the caller learns both.
	return replace(path, data, mode, opts.Owner)
}

// unchanged reports whether path already holds data with mode and owner.
// The content comparison runs in constant time for equal lengths, so the
// time taken does not tell an observer how much of a secret matched.
func unchanged(path string, data []byte, mode os.FileMode, owner *Owner) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return false, ErrSymlink
		}
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return false, nil // gone or unreadable: rewrite it
		}
		return false, bare(err, path)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != mode || fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		return false, nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false, nil
	}
	if owner != nil {
		if int(st.Uid) != owner.UID || int(st.Gid) != owner.GID {
			return false, nil
		}
	} else if int(st.Uid) != os.Geteuid() {
		return false, nil
	}
	if fi.Size() != int64(len(data)) {
		return false, nil
	}
	buf := make([]byte, len(data)+1)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, bare(err, path)
	}
	equal := n == len(data) && subtle.ConstantTimeCompare(buf[:n], data) == 1
	clear(buf)
	return equal, nil
}

// replace writes data to a fresh temporary file in path's directory and
// renames it over path.
func replace(path string, data []byte, mode os.FileMode, owner *Owner) (renamed bool, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return false, fmt.Errorf("temporary name: %w", err)
	}
	tmp := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(rnd[:]))

	// The mode is given to open itself, so the file never exists with wider
	// permissions; O_EXCL|O_NOFOLLOW refuse anything already at the name.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, mode)
	if err != nil {
		return false, fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if owner != nil {
		if err := f.Chown(owner.UID, owner.GID); err != nil {
			return false, fmt.Errorf("chown temporary file to %d:%d: %w", owner.UID, owner.GID, err)
		}
	}
	// The umask may have removed bits from the mode given to open; fchmod
	// on the descriptor (never the path) sets it exactly, and comes after
	// fchown, which may clear setuid-like bits.
	if err := f.Chmod(mode); err != nil {
		return false, fmt.Errorf("chmod temporary file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return false, fmt.Errorf("write temporary file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return false, fmt.Errorf("fsync temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("close temporary file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("rename temporary file: %w", err)
	}
	// The rename is durable only once the directory entry is on disk.
	if err := syncDir(dir); err != nil {
		return true, fmt.Errorf("fsync directory: %w", err)
	}
	return true, nil
}

// bare drops path from a *fs.PathError about it, keeping the step and the
// cause (errors.Is still finds fs.ErrPermission and the like): Write names
// the path once, in front.
func bare(err error, path string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
