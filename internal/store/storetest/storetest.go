// Package storetest is the conformance suite every store.Store backend must
// pass, in the spirit of OpenBao's physical.ExerciseBackend. A backend's test
// calls Run with a function that opens a fresh, empty store.
//
// Besides the contract written in package store, the suite pins down the
// choices that package leaves open, so that all backends behave alike:
//
//   - Keys must be non-empty, at most store.MaxKeyLen bytes, valid UTF-8 and
//     free of NUL; Put, Get and Delete refuse other keys with an error, and so
//     does List for an invalid prefix or after. Get's and List's error is
//     store.ErrInvalidKey (errors.Is), which record readers take for "not
//     found".
//   - Get returns a copy: changing the returned slice, or the slice given to
//     Put, never changes what is stored. An empty value (nil or []byte{}) is
//     stored and read back as an empty value, not as ErrNotFound.
//   - When fn returns an error, Update rolls back and returns an error for
//     which errors.Is(err, fnErr) holds.
//   - When fn panics, Update rolls back and re-panics with the same value; the
//     store stays usable (no lock is left held).
//   - A context cancelled before commit makes Update roll back and return an
//     error for which errors.Is(err, ctx.Err()) holds, even if fn returned nil.
//   - A Tx or Reader must not be used after its fn returns; doing so returns
//     an error (it never reads or writes).
//   - Calling Update from inside Update's fn is not supported (the SQLite
//     backend would deadlock on its single writer).
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// Run runs the conformance suite. open must return a new, empty store each
// time it is called; Run closes every store it opens (after the subtest,
// before open's own t.Cleanup functions run), so open should register
// cleanup only for what it created around the store (files, schemas).
// Close must therefore tolerate being called twice.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GetPutDelete", testGetPutDelete},
		{"Values", testValues},
		{"Keys", testKeys},
		{"ListOrder", testListOrder},
		{"ListBounds", testListBounds},
		{"ListPagination", testListPagination},
		{"ReadYourWrites", testReadYourWrites},
		{"RollbackOnError", testRollbackOnError},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"Isolation", testIsolation},
		{"ConcurrentIncrements", testConcurrentIncrements},
		{"ContextCancel", testContextCancel},
		{"UseAfterReturn", testUseAfterReturn},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tt.fn(t, s)
		})
	}
}

var errTest = errors.New("storetest: fn failed on purpose")

func put(t *testing.T, s store.Store, kv ...string) {
	t.Helper()
	if len(kv)%2 != 0 {
		t.Fatal("put: odd number of arguments")
	}
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for i := 0; i < len(kv); i += 2 {
			if err := tx.Put(kv[i], []byte(kv[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Update(put): %v", err)
	}
}

// get reads key in its own View; ok is false for ErrNotFound.
func get(t *testing.T, s store.Store, key string) (value []byte, ok bool) {
	t.Helper()
	err := s.View(context.Background(), func(r store.Reader) error {
		v, err := r.Get(key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		value, ok = v, true
		return nil
	})
	if err != nil {
		t.Fatalf("View(get %q): %v", key, err)
	}
	return value, ok
}

func list(t *testing.T, s store.Store, prefix, after string, limit int) []store.Entry {
	t.Helper()
	var es []store.Entry
	err := s.View(context.Background(), func(r store.Reader) error {
		var err error
		es, err = r.List(prefix, after, limit)
		return err
	})
	if err != nil {
		t.Fatalf("View(List(%q, %q, %d)): %v", prefix, after, limit, err)
	}
	return es
}

func keys(es []store.Entry) []string {
	ks := make([]string, len(es))
	for i, e := range es {
		ks[i] = e.Key
	}
	return ks
}

func wantValue(t *testing.T, s store.Store, key, want string) {
	t.Helper()
	v, ok := get(t, s, key)
	if !ok {
		t.Fatalf("Get(%q): not found, want %q", key, want)
	}
	if string(v) != want {
		t.Fatalf("Get(%q) = %q, want %q", key, v, want)
	}
}

func wantMissing(t *testing.T, s store.Store, key string) {
	t.Helper()
	if v, ok := get(t, s, key); ok {
		t.Fatalf("Get(%q) = %q, want ErrNotFound", key, v)
	}
}

func testGetPutDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	err := s.View(ctx, func(r store.Reader) error {
		_, err := r.Get("missing")
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get(missing) = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "k", "v1")
	wantValue(t, s, "k", "v1")
	put(t, s, "k", "v2")
	wantValue(t, s, "k", "v2")

	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Delete("k"); err != nil {
			return err
		}
		return tx.Delete("never-existed")
	})
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantMissing(t, s, "k")
	if es := list(t, s, "", "", 0); len(es) != 0 {
		t.Fatalf("List after delete = %v, want empty", keys(es))
	}
}

func testValues(t *testing.T, s store.Store) {
	ctx := context.Background()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	large := make([]byte, 1<<20)
	if _, err := rand.Read(large); err != nil {
		t.Fatal(err)
	}
	values := map[string][]byte{
		"nil":       nil,
		"empty":     {},
		"zero-byte": {0},
		"all-bytes": all,
		"invalid-utf8": {
			0xff, 0xfe, 0xc3, 0x28,
		},
		"large": large,
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		for k, v := range values {
			if err := tx.Put(k, v); err != nil {
				return fmt.Errorf("Put(%q): %w", k, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range values {
		got, ok := get(t, s, k)
		if !ok {
			t.Fatalf("Get(%q): not found", k)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Get(%q): got %d bytes, want %d bytes (or content differs)", k, len(got), len(want))
		}
	}
	es := list(t, s, "", "", 0)
	if len(es) != len(values) {
		t.Fatalf("List returned %d entries, want %d", len(es), len(values))
	}
	for _, e := range es {
		if !bytes.Equal(e.Value, values[e.Key]) {
			t.Fatalf("List value of %q differs from what was put", e.Key)
		}
	}

	// The store keeps its own copies.
	buf := []byte("original")
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put("copy", buf); err != nil {
			return err
		}
		buf[0] = 'X'
		got, err := tx.Get("copy")
		if err != nil {
			return err
		}
		if string(got) != "original" {
			return fmt.Errorf("inside tx, Get after caller changed its slice = %q", got)
		}
		got[0] = 'Y'
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, "copy", "original")
	err = s.View(ctx, func(r store.Reader) error {
		v, err := r.Get("copy")
		if err != nil {
			return err
		}
		v[0] = 'Z'
		es, err := r.List("copy", "", 0)
		if err != nil {
			return err
		}
		es[0].Value[0] = 'Z'
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, "copy", "original")
}

func testKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	valid := []string{
		strings.Repeat("k", store.MaxKeyLen),
		"a/b/c",
		"ключ/秘密/😀",
		" spaces and\ttabs ",
		"\U0010FFFF",
	}
	for _, k := range valid {
		put(t, s, k, "v:"+k)
	}
	for _, k := range valid {
		wantValue(t, s, k, "v:"+k)
	}
	invalid := map[string]string{
		"too long":     strings.Repeat("k", store.MaxKeyLen+1),
		"empty":        "",
		"invalid utf8": "a\xffb",
		"nul":          "a\x00b",
	}
	for name, k := range invalid {
		err := s.Update(ctx, func(tx store.Tx) error {
			return tx.Put(k, []byte("v"))
		})
		if err == nil {
			t.Errorf("%s key: Put succeeded, want error", name)
		}
		err = s.Update(ctx, func(tx store.Tx) error {
			return tx.Delete(k)
		})
		if err == nil {
			t.Errorf("%s key: Delete succeeded, want error", name)
		}
		err = s.View(ctx, func(r store.Reader) error {
			_, err := r.Get(k)
			return err
		})
		if !errors.Is(err, store.ErrInvalidKey) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s key: Get = %v, want store.ErrInvalidKey", name, err)
		}
	}
	for _, bad := range []string{"a\xff", "a\x00"} {
		err := s.View(ctx, func(r store.Reader) error {
			_, err := r.List(bad, "", 0)
			return err
		})
		if !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("List(prefix %q) = %v, want store.ErrInvalidKey", bad, err)
		}
		err = s.View(ctx, func(r store.Reader) error {
			_, err := r.List("", bad, 0)
			return err
		})
		if !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("List(after %q) = %v, want store.ErrInvalidKey", bad, err)
		}
	}
	if got := keys(list(t, s, "", "", 0)); len(got) != len(valid) {
		t.Fatalf("after refused writes, List = %q, want the %d valid keys", got, len(valid))
	}
}

// listKeys are chosen around the edges of byte-wise ordering: '/' (0x2F)
// sorts before '0' (0x30), upper case before lower case, multi-byte UTF-8
// after ASCII, and prefixes ending in U+10FFFF.
var listKeys = []string{
	"a", "a/", "a/b", "a/b/c", "a/bb", "a/c", "a0", "a.", "a-", "ab", "aé", "a😀",
	"A", "B", "b", "z", "~", "é", "é/x", "ê", "😀", "a/\u007f", "a/\u0080",
	"\U0010FFFF", "\U0010FFFF/x", "x\U0010FFFF", "x\U0010FFFFa", "y",
	"secret/ocid1.secret.oc1..aaa/v/1", "secret/ocid1.secret.oc1..aaa/v/10",
	"secret/ocid1.secret.oc1..aaa/v/2", "secret/ocid1.secret.oc1..aab/v/1",
}

func sortedListKeys() []string {
	ks := slices.Clone(listKeys)
	slices.Sort(ks) // Go compares strings byte-wise.
	return ks
}

func putListKeys(t *testing.T, s store.Store) {
	t.Helper()
	var kv []string
	for _, k := range listKeys {
		kv = append(kv, k, "value of "+k)
	}
	put(t, s, kv...)
}

func testListOrder(t *testing.T, s store.Store) {
	putListKeys(t, s)
	es := list(t, s, "", "", 0)
	if got, want := keys(es), sortedListKeys(); !slices.Equal(got, want) {
		t.Fatalf("List all = %q\nwant %q", got, want)
	}
	for _, e := range es {
		if string(e.Value) != "value of "+e.Key {
			t.Fatalf("List entry %q has value %q", e.Key, e.Value)
		}
	}
	if got := keys(list(t, s, "a/", "", 0)); !slices.Equal(got, []string{"a/", "a/b", "a/b/c", "a/bb", "a/c", "a/\u007f", "a/\u0080"}) {
		t.Fatalf(`List("a/") = %q (must not include "a0" or "a")`, got)
	}
}

// testListBounds compares every combination of prefix, after and limit with
// a direct reading of the contract.
func testListBounds(t *testing.T, s store.Store) {
	putListKeys(t, s)
	all := sortedListKeys()
	prefixes := []string{"", "a", "a/", "a/b", "a/b/c", "a/b/c/d", "b", "é", "x\U0010FFFF", "\U0010FFFF", "secret/ocid1.secret.oc1..aaa/v/", "zzz", "0"}
	afters := []string{"", "a", "a/", "a/b", "a/bz", "a0", "9", "é", "x\U0010FFFF", "secret/ocid1.secret.oc1..aaa/v/10", "~~~~"}
	limits := []int{0, -1, 1, 2, 100}
	for _, prefix := range prefixes {
		for _, after := range afters {
			for _, limit := range limits {
				var want []string
				for _, k := range all {
					if strings.HasPrefix(k, prefix) && (after == "" || k > after) {
						want = append(want, k)
					}
				}
				if limit > 0 && len(want) > limit {
					want = want[:limit]
				}
				got := keys(list(t, s, prefix, after, limit))
				if !slices.Equal(got, want) {
					t.Errorf("List(%q, %q, %d) = %q, want %q", prefix, after, limit, got, want)
				}
			}
		}
	}
}

func testListPagination(t *testing.T, s store.Store) {
	var kv []string
	for i := range 50 {
		kv = append(kv, fmt.Sprintf("p/%03d", i), fmt.Sprint(i))
	}
	put(t, s, append(kv, "o/1", "x", "q/1", "x")...)
	for _, size := range []int{1, 3, 7, 50, 51} {
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("pagination does not terminate")
			}
			es := list(t, s, "p/", after, size)
			if len(es) > size {
				t.Fatalf("page of %d entries, limit %d", len(es), size)
			}
			got = append(got, keys(es)...)
			if len(es) < size {
				break
			}
			after = es[len(es)-1].Key
		}
		if len(got) != 50 || got[0] != "p/000" || got[49] != "p/049" || !slices.IsSorted(got) {
			t.Fatalf("page size %d: walked %d keys %q", size, len(got), got)
		}
	}
}

func testReadYourWrites(t *testing.T, s store.Store) {
	put(t, s, "d/1", "one", "d/2", "two", "d/3", "three")
	err := s.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Put("d/25", []byte("new")); err != nil {
			return err
		}
		if err := tx.Put("d/3", []byte("THREE")); err != nil {
			return err
		}
		if err := tx.Delete("d/1"); err != nil {
			return err
		}
		if v, err := tx.Get("d/25"); err != nil || string(v) != "new" {
			return fmt.Errorf("Get(own put) = %q, %v", v, err)
		}
		if v, err := tx.Get("d/3"); err != nil || string(v) != "THREE" {
			return fmt.Errorf("Get(own overwrite) = %q, %v", v, err)
		}
		if _, err := tx.Get("d/1"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get(own delete) = %v, want ErrNotFound", err)
		}
		es, err := tx.List("d/", "", 0)
		if err != nil {
			return err
		}
		if got := fmt.Sprint(keys(es)); got != "[d/2 d/25 d/3]" {
			return fmt.Errorf("in tx, List = %s", got)
		}
		if string(es[2].Value) != "THREE" {
			return fmt.Errorf("in tx, List shows old value %q", es[2].Value)
		}
		es, err = tx.List("d/", "d/2", 1)
		if err != nil {
			return err
		}
		if got := fmt.Sprint(keys(es)); got != "[d/25]" {
			return fmt.Errorf("List(after d/2, limit 1) in tx = %s", got)
		}
		// Delete then put again in the same transaction.
		if err := tx.Delete("d/2"); err != nil {
			return err
		}
		return tx.Put("d/2", []byte("again"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(keys(list(t, s, "d/", "", 0))); got != "[d/2 d/25 d/3]" {
		t.Fatalf("after commit, List = %s", got)
	}
	wantValue(t, s, "d/2", "again")
	wantValue(t, s, "d/3", "THREE")
	wantMissing(t, s, "d/1")
}

func testRollbackOnError(t *testing.T, s store.Store) {
	put(t, s, "keep", "v", "gone", "v")
	err := s.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Put("new", []byte("x")); err != nil {
			return err
		}
		if err := tx.Put("keep", []byte("changed")); err != nil {
			return err
		}
		if err := tx.Delete("gone"); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errTest)
	})
	if !errors.Is(err, errTest) {
		t.Fatalf("Update = %v, want an error wrapping fn's error", err)
	}
	wantMissing(t, s, "new")
	wantValue(t, s, "keep", "v")
	wantValue(t, s, "gone", "v")
}

type panicValue struct{ n int }

func testRollbackOnPanic(t *testing.T, s store.Store) {
	put(t, s, "keep", "v")
	pv := &panicValue{42}
	func() {
		defer func() {
			r := recover()
			if r != pv {
				t.Fatalf("recovered %v, want the value fn panicked with", r)
			}
		}()
		_ = s.Update(context.Background(), func(tx store.Tx) error {
			if err := tx.Put("new", []byte("x")); err != nil {
				return err
			}
			if err := tx.Put("keep", []byte("changed")); err != nil {
				return err
			}
			panic(pv)
		})
		t.Fatal("Update returned after fn panicked")
	}()
	wantMissing(t, s, "new")
	wantValue(t, s, "keep", "v")

	// A panic in View propagates too.
	func() {
		defer func() {
			if r := recover(); r != pv {
				t.Fatalf("View: recovered %v, want the value fn panicked with", r)
			}
		}()
		_ = s.View(context.Background(), func(store.Reader) error { panic(pv) })
	}()

	// No lock or connection was leaked: the store still works, many times
	// over (more than any plausible connection pool).
	for i := range 20 {
		put(t, s, "after", fmt.Sprint(i))
		wantValue(t, s, "after", fmt.Sprint(i))
	}
}

func testIsolation(t *testing.T, s store.Store) {
	put(t, s, "iso/a", "old")
	ctx := context.Background()
	written := make(chan struct{})
	release := make(chan struct{})
	updateDone := make(chan error, 1)
	go func() {
		updateDone <- s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put("iso/a", []byte("new")); err != nil {
				return err
			}
			if err := tx.Put("iso/b", []byte("new")); err != nil {
				return err
			}
			close(written)
			<-release
			return nil
		})
	}()
	<-written

	// A View while the Update is in progress sees none of it, and keeps its
	// snapshot after the Update commits.
	err := s.View(ctx, func(r store.Reader) error {
		check := func(when string) error {
			v, err := r.Get("iso/a")
			if err != nil || string(v) != "old" {
				return fmt.Errorf("%s: Get(iso/a) = %q, %v; want old", when, v, err)
			}
			if _, err := r.Get("iso/b"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%s: Get(iso/b) = %v; want ErrNotFound", when, err)
			}
			es, err := r.List("iso/", "", 0)
			if err != nil {
				return err
			}
			if len(es) != 1 || string(es[0].Value) != "old" {
				return fmt.Errorf("%s: List = %q", when, keys(es))
			}
			return nil
		}
		if err := check("during update"); err != nil {
			return err
		}
		close(release)
		select {
		case err := <-updateDone:
			if err != nil {
				return fmt.Errorf("update: %w", err)
			}
		case <-time.After(30 * time.Second):
			return errors.New("the Update did not commit while a View was open")
		}
		return check("after commit, same view")
	})
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, s, "iso/a", "new")
	wantValue(t, s, "iso/b", "new")
}

func testConcurrentIncrements(t *testing.T, s store.Store) {
	const workers, each = 8, 25
	put(t, s, "counter", "0")
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		succeeded int
		failures  []error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := s.Update(context.Background(), func(tx store.Tx) error {
					v, err := tx.Get("counter")
					if err != nil {
						return err
					}
					var n int
					if _, err := fmt.Sscan(string(v), &n); err != nil {
						return err
					}
					// Let the other workers run between the read and
					// the write, where a lost update would happen.
					runtime.Gosched()
					return tx.Put("counter", []byte(fmt.Sprint(n+1)))
				})
				mu.Lock()
				if err == nil {
					succeeded++
				} else if !errors.Is(err, store.ErrConflict) {
					failures = append(failures, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d Updates failed with errors other than ErrConflict, first: %v", len(failures), failures[0])
	}
	// A backend may give up on a conflict after its retry budget, but the
	// counter must then equal exactly the number of Updates that reported
	// success: no lost update, no phantom commit.
	if succeeded < workers*each/2 {
		t.Fatalf("only %d of %d Updates succeeded: retry budget too small", succeeded, workers*each)
	}
	wantValue(t, s, "counter", fmt.Sprint(succeeded))
}

func testContextCancel(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Put("pre-cancelled", []byte("x"))
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update with cancelled context = %v, want context.Canceled", err)
	}
	wantMissing(t, s, "pre-cancelled")

	err = s.View(ctx, func(r store.Reader) error {
		_, err := r.Get("x")
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("View with cancelled context = %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put("cancelled-in-fn", []byte("x")); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Update cancelled before commit = %v, want context.Canceled", err)
	}
	wantMissing(t, s, "cancelled-in-fn")

	// The store still works afterwards.
	put(t, s, "after", "ok")
	wantValue(t, s, "after", "ok")
}

func testUseAfterReturn(t *testing.T, s store.Store) {
	ctx := context.Background()
	var leakedTx store.Tx
	if err := s.Update(ctx, func(tx store.Tx) error {
		leakedTx = tx
		return tx.Put("k", []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := leakedTx.Put("leaked", []byte("x")); err == nil {
		t.Error("Put on a finished Tx succeeded")
	}
	if err := leakedTx.Delete("k"); err == nil {
		t.Error("Delete on a finished Tx succeeded")
	}
	if _, err := leakedTx.Get("k"); err == nil {
		t.Error("Get on a finished Tx succeeded")
	}
	var leakedR store.Reader
	if err := s.View(ctx, func(r store.Reader) error {
		leakedR = r
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := leakedR.Get("k"); err == nil {
		t.Error("Get on a finished Reader succeeded")
	}
	if _, err := leakedR.List("", "", 0); err == nil {
		t.Error("List on a finished Reader succeeded")
	}
	wantMissing(t, s, "leaked")
	wantValue(t, s, "k", "v")
}

func testClose(t *testing.T, s store.Store) {
	put(t, s, "k", "v")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := context.Background()
	if err := s.View(ctx, func(r store.Reader) error { _, err := r.Get("k"); return err }); err == nil {
		t.Error("View after Close succeeded")
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("k", nil) }); err == nil {
		t.Error("Update after Close succeeded")
	}
}
