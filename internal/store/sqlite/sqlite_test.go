package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/sqlite"
	"github.com/coffer-vault/coffer/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "coffer.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	s := open(t, path)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("k", []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path) // migrations already applied: must be a no-op
	err := s.View(ctx, func(r store.Reader) error {
		v, err := r.Get("k")
		if err != nil {
			return err
		}
		if string(v) != "v" {
			return fmt.Errorf("Get = %q", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFileModes(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask; files must still be 0600
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "coffer.db")
	s := open(t, path)
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("k", []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	// Keep a view open so the -wal and -shm files exist while we look.
	err := s.View(ctx, func(r store.Reader) error {
		if _, err := r.Get("k"); err != nil {
			return err
		}
		for _, name := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(name)
			if err != nil {
				return err
			}
			if mode := fi.Mode().Perm(); mode != 0o600 {
				return fmt.Errorf("%s has mode %o, want 600", filepath.Base(name), mode)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	s := open(t, path)
	s.Close()

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name) VALUES (999, '0999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err = sqlite.Open(path)
	if !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer database = %v, want ErrSchemaTooNew", err)
	}
	t.Logf("error message: %v", err)
}

func TestPathWithQuestionMark(t *testing.T) {
	if _, err := sqlite.Open(filepath.Join(t.TempDir(), "a?b.db")); err == nil {
		t.Fatal("Open accepted a path with '?'")
	}
}

// TestCrashDurability re-executes the test binary as a child that commits
// numbered writes and prints each number once Update returns; the parent
// kills it with SIGKILL mid-stream and checks that every acknowledged write
// is there after reopening. (SIGKILL tests the acknowledgement protocol; the
// fsync that covers power loss is checked by TestPragmas.)
func TestCrashDurability(t *testing.T) {
	if path := os.Getenv("COFFER_SQLITE_CRASH_CHILD"); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "coffer.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurability$")
	cmd.Env = append(os.Environ(), "COFFER_SQLITE_CRASH_CHILD="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	sc := bufio.NewScanner(out)
	last := -1
	for sc.Scan() {
		var n int
		if _, err := fmt.Sscanf(sc.Text(), "committed %d", &n); err != nil {
			continue // test framework output
		}
		last = n
		if n == 300 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	cmd.Wait()
	// Lines printed after we stopped reading may have acknowledged more.
	for sc.Scan() {
		var n int
		if _, err := fmt.Sscanf(sc.Text(), "committed %d", &n); err == nil {
			last = n
		}
	}
	if last < 300 {
		t.Fatalf("child acknowledged only %d writes before exiting", last)
	}

	s := open(t, path)
	err = s.View(context.Background(), func(r store.Reader) error {
		for i := 0; i <= last; i++ {
			v, err := r.Get(fmt.Sprintf("crash/%06d", i))
			if err != nil {
				return fmt.Errorf("acknowledged write %d lost: %w", i, err)
			}
			if string(v) != fmt.Sprint(i) {
				return fmt.Errorf("write %d reads back as %q", i, v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("all %d acknowledged writes survived SIGKILL", last+1)
}

func crashChild(path string) {
	s, err := sqlite.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := 0; ; i++ {
		err := s.Update(context.Background(), func(tx store.Tx) error {
			// Several writes per transaction: a torn one would show.
			if err := tx.Put(fmt.Sprintf("crash/%06d", i), []byte(fmt.Sprint(i))); err != nil {
				return err
			}
			return tx.Put("crash/last", []byte(fmt.Sprint(i)))
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		// Unbuffered write to the pipe: the parent sees it only after commit.
		fmt.Fprintf(os.Stdout, "committed %d\n", i)
	}
}

func BenchmarkGet(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "coffer.db"))
	const n = 100_000
	fill(b, s, n)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("secret/%08d/bundle", (i*7919)%n)
		i++
		err := s.View(ctx, func(r store.Reader) error {
			_, err := r.Get(key)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetParallel(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "coffer.db"))
	const n = 100_000
	fill(b, s, n)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			key := fmt.Sprintf("secret/%08d/bundle", (i*7919)%n)
			i++
			// Three reads per view, like a secret-bundle request
			// (secret, version, key).
			err := s.View(ctx, func(r store.Reader) error {
				for range 3 {
					if _, err := r.Get(key); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkList(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "coffer.db"))
	const n = 100_000
	fill(b, s, n)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		prefix := fmt.Sprintf("secret/%06d", (i*7919)%(n/100)) // 100 keys each
		i++
		err := s.View(ctx, func(r store.Reader) error {
			es, err := r.List(prefix, "", 0)
			if err == nil && len(es) != 100 {
				err = fmt.Errorf("List(%q) = %d entries", prefix, len(es))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpdate(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "coffer.db"))
	ctx := context.Background()
	value := make([]byte, 512)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("secret/%08d/bundle", i)
		i++
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put(key, value) }); err != nil {
			b.Fatal(err)
		}
	}
}

func fill(b *testing.B, s store.Store, n int) {
	b.Helper()
	value := make([]byte, 512)
	for start := 0; start < n; start += 10_000 {
		err := s.Update(context.Background(), func(tx store.Tx) error {
			for i := start; i < start+10_000 && i < n; i++ {
				if err := tx.Put(fmt.Sprintf("secret/%08d/bundle", i), value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestOneOpenerAtATime: a second Open of a database that is open fails
// with ErrInUse (a second server would never see the first one's writes in
// its record cache); after Close the database opens again.
func TestOneOpenerAtATime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	s := open(t, path)
	if second, err := sqlite.Open(path); !errors.Is(err, sqlite.ErrInUse) {
		if second != nil {
			second.Close()
		}
		t.Fatalf("second Open = %v; want ErrInUse", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, path)
	if fi, err := os.Stat(path + ".lock"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v %v", fi, err)
	}
}
