//go:build unix

package securefile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func stat(t *testing.T, path string) (os.FileInfo, *syscall.Stat_t) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi, fi.Sys().(*syscall.Stat_t)
}

// onlyFiles fails the test if dir holds anything but the named files, which
// catches temporary files left behind.
func onlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("directory holds %v, want %v", got, names)
	}
}

func TestWriteModes(t *testing.T) {
	// A restrictive umask must not change the result, and a permissive one
	// must not widen it: the mode is set exactly on the descriptor.
	for _, umask := range []int{0o077, 0o022, 0o000, 0o777} {
		for _, mode := range []os.FileMode{0, 0o600, 0o400, 0o640, 0o644} {
			t.Run(fmt.Sprintf("umask%03o/mode%03o", umask, mode), func(t *testing.T) {
				old := syscall.Umask(umask)
				defer syscall.Umask(old)
				dir := t.TempDir()
				p := filepath.Join(dir, "secret")
				changed, err := Write(p, []byte("s3cr3t"), Options{Mode: mode})
				if err != nil || !changed {
					t.Fatalf("Write = %v, %v", changed, err)
				}
				want := mode
				if want == 0 {
					want = DefaultMode
				}
				fi, st := stat(t, p)
				if fi.Mode() != want {
					t.Fatalf("mode = %v, want %v", fi.Mode(), want)
				}
				if int(st.Uid) != os.Geteuid() {
					t.Fatalf("uid = %d, want %d", st.Uid, os.Geteuid())
				}
				got, _ := os.ReadFile(p)
				if string(got) != "s3cr3t" {
					t.Fatalf("content = %q", got)
				}
				onlyFiles(t, dir, "secret")
			})
		}
	}
}

func TestWriteRejectsNonPermissionBits(t *testing.T) {
	dir := t.TempDir()
	for _, m := range []os.FileMode{os.ModeSetuid | 0o600, os.ModeSticky | 0o600, os.ModeDir | 0o700} {
		if _, err := Write(filepath.Join(dir, "x"), []byte("a"), Options{Mode: m}); err == nil {
			t.Errorf("mode %v accepted", m)
		}
	}
	onlyFiles(t, dir)
}

func TestWriteOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root; this test runs as root in CI (euid is", os.Geteuid(), ")")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	owner := &Owner{UID: 65534, GID: 65534}
	changed, err := Write(p, []byte("v1"), Options{Mode: 0o440, Owner: owner})
	if err != nil || !changed {
		t.Fatalf("Write = %v, %v", changed, err)
	}
	fi, st := stat(t, p)
	if st.Uid != 65534 || st.Gid != 65534 || fi.Mode() != 0o440 {
		t.Fatalf("owner %d:%d mode %v, want 65534:65534 0440", st.Uid, st.Gid, fi.Mode())
	}
	// Same content and mode, other owner: rewritten.
	changed, err = Write(p, []byte("v1"), Options{Mode: 0o440, Owner: &Owner{UID: 0, GID: 0}})
	if err != nil || !changed {
		t.Fatalf("owner change: Write = %v, %v", changed, err)
	}
	_, st = stat(t, p)
	if st.Uid != 0 || st.Gid != 0 {
		t.Fatalf("owner %d:%d, want 0:0", st.Uid, st.Gid)
	}
	// Same owner again: unchanged.
	changed, err = Write(p, []byte("v1"), Options{Mode: 0o440, Owner: &Owner{UID: 0, GID: 0}})
	if err != nil || changed {
		t.Fatalf("same owner: Write = %v, %v", changed, err)
	}
	onlyFiles(t, dir, "secret")
}

func TestWriteOwnerFailureLeavesNothing(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may chown to any uid; the failure path needs an unprivileged user")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	_, err := Write(p, []byte("x"), Options{Owner: &Owner{UID: 0, GID: 0}})
	if !errors.Is(err, os.ErrPermission) {
		t.Fatalf("err = %v, want permission error", err)
	}
	onlyFiles(t, dir)
}

func TestWriteRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, dangling} {
		changed, err := Write(p, []byte("secret"), Options{})
		if !errors.Is(err, ErrSymlink) || changed {
			t.Fatalf("Write(%s) = %v, %v; want ErrSymlink", p, changed, err)
		}
	}
	got, _ := os.ReadFile(victim)
	if string(got) != "original" {
		t.Fatalf("victim rewritten: %q", got)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("link replaced")
	}
	onlyFiles(t, dir, "dangling", "link", "victim")
}

func TestWriteRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(sub, []byte("x"), Options{}); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("err = %v, want ErrNotRegular", err)
	}
	onlyFiles(t, dir, "sub")
}

func TestWriteUnchangedNotRewritten(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if _, err := Write(p, []byte("same"), Options{}); err != nil {
		t.Fatal(err)
	}
	// Age the file so a rewrite would certainly show a new mtime.
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	fi1, st1 := stat(t, p)
	changed, err := Write(p, []byte("same"), Options{})
	if err != nil || changed {
		t.Fatalf("Write = %v, %v; want unchanged", changed, err)
	}
	fi2, st2 := stat(t, p)
	if st1.Ino != st2.Ino || !fi1.ModTime().Equal(fi2.ModTime()) {
		t.Fatalf("file rewritten: inode %d -> %d, mtime %v -> %v", st1.Ino, st2.Ino, fi1.ModTime(), fi2.ModTime())
	}

	// Each difference triggers a rewrite, with a new inode.
	tests := []struct {
		name string
		data string
		mode os.FileMode
	}{
		{"content", "diff", 0o600},
		{"longer", "different", 0o600},
		{"shorter", "d", 0o600},
		{"empty", "", 0o600},
		{"mode", "", 0o640},
	}
	prev := st2.Ino
	for _, tt := range tests {
		changed, err := Write(p, []byte(tt.data), Options{Mode: tt.mode})
		if err != nil || !changed {
			t.Fatalf("%s: Write = %v, %v; want changed", tt.name, changed, err)
		}
		fi, st := stat(t, p)
		if st.Ino == prev {
			t.Fatalf("%s: same inode after rewrite", tt.name)
		}
		prev = st.Ino
		got, _ := os.ReadFile(p)
		if string(got) != tt.data || fi.Mode() != tt.mode {
			t.Fatalf("%s: content %q mode %v", tt.name, got, fi.Mode())
		}
	}
	onlyFiles(t, dir, "secret")
}

func TestWriteFixesModeChangedOutside(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if _, err := Write(p, []byte("x"), Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := Write(p, []byte("x"), Options{})
	if err != nil || !changed {
		t.Fatalf("Write = %v, %v", changed, err)
	}
	if fi, _ := stat(t, p); fi.Mode() != 0o600 {
		t.Fatalf("mode = %v", fi.Mode())
	}
}

func TestWriteConcurrentWritersLeaveCompleteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	const writers = 16
	contents := make([][]byte, writers)
	for i := range contents {
		// Large enough that a torn write would be visible.
		contents[i] = bytes.Repeat([]byte{byte('a' + i)}, 256<<10)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*5)
	for i := range writers {
		wg.Go(func() {
			for range 5 {
				if _, err := Write(p, contents[i], Options{}); err != nil {
					errs <- err
				}
			}
		})
	}
	// Read while writing: every read sees one writer's whole content.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			got, err := os.ReadFile(p)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				errs <- err
				return
			}
			if !isOneOf(got, contents) {
				errs <- fmt.Errorf("torn read of %d bytes", len(got))
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || !isOneOf(got, contents) {
		t.Fatalf("final file incomplete (%d bytes, %v)", len(got), err)
	}
	onlyFiles(t, dir, "secret")
}

func isOneOf(b []byte, set [][]byte) bool {
	for _, s := range set {
		if bytes.Equal(b, s) {
			return true
		}
	}
	return false
}

func TestWriteErrorLeavesNoTempFile(t *testing.T) {
	t.Run("rename onto non-empty directory", func(t *testing.T) {
		// The failure comes after the temporary file was created, chowned
		// and written: the rename cannot replace a non-empty directory
		// (reached through replace, since Write refuses it earlier).
		dir := t.TempDir()
		p := filepath.Join(dir, "target")
		if err := os.MkdirAll(filepath.Join(p, "child"), 0o700); err != nil {
			t.Fatal(err)
		}
		renamed, err := replace(p, []byte("secret"), 0o600, nil)
		if err == nil || renamed {
			t.Fatalf("replace over a directory = %v, %v; want error", renamed, err)
		}
		onlyFiles(t, dir, "target")
	})
	t.Run("missing directory", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Write(filepath.Join(dir, "nope", "secret"), []byte("x"), Options{})
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v", err)
		}
		onlyFiles(t, dir)
	})
}

func TestWriteRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if _, err := Write("rel", []byte("x"), Options{}); err != nil {
		t.Fatal(err)
	}
	onlyFiles(t, dir, "rel")
}

// TestWriteErrorSaysEachThingOnce: an error names the package and the
// target once, then the step, whatever the step.
func TestWriteErrorSaysEachThingOnce(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), link); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		opts Options
		want string
	}{
		{link, Options{}, "securefile: write " + link + ": target is a symbolic link"},
		{sub, Options{}, "securefile: write " + sub + ": target is not a regular file"},
		{filepath.Join(dir, "f"), Options{Mode: os.ModeSetuid | 0o600}, "securefile: write " + filepath.Join(dir, "f") + ": mode urw------- has bits other than permissions"},
		{filepath.Join(dir, "nope", "f"), Options{}, "securefile: write " + filepath.Join(dir, "nope", "f") + ": create temporary file: open " + filepath.Join(dir, "nope")},
	}
	for _, tt := range tests {
		_, err := Write(tt.path, []byte("x"), tt.opts)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Write(%s) = %v, want %q...", tt.path, err, tt.want)
			continue
		}
		if n := strings.Count(err.Error(), "securefile"); n != 1 {
			t.Errorf("%q names the package %d times", err, n)
		}
		if n := strings.Count(err.Error(), tt.path+":"); n != 1 {
			t.Errorf("%q names the target %d times", err, n)
		}
	}
}

// TestBareDropsOnlyTheTarget: a *fs.PathError about the target loses its
// path and keeps its step and cause; one about another file is untouched.
func TestBareDropsOnlyTheTarget(t *testing.T) {
	pe := &os.PathError{Op: "lstat", Path: "/t", Err: syscall.EACCES}
	if got := bare(pe, "/t"); got.Error() != "lstat: permission denied" || !errors.Is(got, os.ErrPermission) {
		t.Errorf("bare = %v", got)
	}
	if got := bare(pe, "/other"); got != error(pe) {
		t.Errorf("bare changed an error about another file: %v", got)
	}
}
