package changefeed_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/blindindex"
	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/recordcache"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/faulty"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

func macOf(t testing.TB, seed byte) changefeed.MACFunc {
	t.Helper()
	k := make([]byte, blindindex.KeySize)
	k[0] = seed
	ix, err := blindindex.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return ix.Of
}

func appendN(t *testing.T, st store.Store, n int, at time.Time) {
	t.Helper()
	for i := range n {
		err := st.Update(context.Background(), func(tx store.Tx) error {
			_, err := changefeed.Append(tx, changefeed.Entry{Kind: changefeed.KindSecret, ID: "s" + string(rune('a'+i%26)),
				Change: changefeed.Updated, Time: at})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func head(t *testing.T, st store.Store) changefeed.Head {
	t.Helper()
	var h changefeed.Head
	if err := st.View(context.Background(), func(r store.Reader) (err error) { h, err = changefeed.ReadHead(r); return err }); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAppendReadPurge(t *testing.T) {
	st := memstore.New()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	appendN(t, st, 5, now.Add(-48*time.Hour))
	appendN(t, st, 3, now)
	h := head(t, st)
	if h.Last != 8 || h.Floor != 0 || len(h.Epoch) != 16 {
		t.Fatalf("head %+v", h)
	}
	var es []changefeed.Entry
	_ = st.View(context.Background(), func(r store.Reader) (err error) { es, err = changefeed.Read(r, 2, 4); return err })
	if len(es) != 4 || es[0].Sequence != 3 || es[3].Sequence != 6 {
		t.Fatalf("Read(2, 4) = %+v", es)
	}
	purge := func(ret changefeed.Retention) int {
		n := 0
		if err := st.Update(context.Background(), func(tx store.Tx) (err error) {
			n, err = changefeed.PurgeStep(tx, ret, now)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := purge(changefeed.Retention{}); n != 5 {
		t.Fatalf("purged %d by age, want 5", n)
	}
	if n := purge(changefeed.Retention{MaxEntries: 2}); n != 1 {
		t.Fatalf("purged %d by count, want 1", n)
	}
	if h := head(t, st); h.Last != 8 || h.Floor != 6 {
		t.Fatalf("head after purge %+v", h)
	}
}

// A change whose transaction does not commit leaves no entry.
func TestRolledBackChangeLeavesNoEntry(t *testing.T) {
	fs := faulty.New(memstore.New())
	appendN(t, fs, 1, time.Now())
	fs.FailOn(faulty.Commit, 1, nil)
	err := fs.Update(context.Background(), func(tx store.Tx) error {
		_, err := changefeed.Append(tx, changefeed.Entry{Kind: changefeed.KindKey, ID: "k", Change: changefeed.Enabled})
		return err
	})
	if !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("Update: %v", err)
	}
	if h := head(t, fs); h.Last != 1 {
		t.Fatalf("head after a rolled-back append: %+v", h)
	}
	appendN(t, fs, 1, time.Now())
	if h := head(t, fs); h.Last != 2 {
		t.Fatalf("head %+v, want the next sequence to be 2", h)
	}
}

func TestCursor(t *testing.T) {
	mac := macOf(t, 1)
	c := changefeed.Cursor{Seq: 42, Epoch: "0123456789abcdef"}
	s := c.Encode(mac)
	if len(s) != changefeed.CursorLen {
		t.Fatalf("cursor %q has %d characters, want %d", s, len(s), changefeed.CursorLen)
	}
	got, ok, err := changefeed.ParseCursor(s, mac)
	if err != nil || !ok || got != c {
		t.Fatalf("ParseCursor = %+v %v %v", got, ok, err)
	}
	if _, ok, err := changefeed.ParseCursor(s, macOf(t, 2)); err != nil || ok {
		t.Fatalf("another deployment's cursor: ok %v err %v, want not ok", ok, err)
	}
	for _, bad := range []string{"", "x", s + "A", s[:len(s)-1] + "!", strings.Repeat("=", len(s))} {
		if _, _, err := changefeed.ParseCursor(bad, mac); !errors.Is(err, changefeed.ErrCursorSyntax) {
			t.Errorf("ParseCursor(%q) = %v, want ErrCursorSyntax", bad, err)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	mac := macOf(f, 1)
	f.Add(changefeed.Cursor{Seq: 7, Epoch: "0123456789abcdef"}.Encode(mac))
	f.Add("")
	f.Add(strings.Repeat("A", changefeed.CursorLen))
	f.Fuzz(func(t *testing.T, s string) {
		c, ok, err := changefeed.ParseCursor(s, mac)
		if err != nil {
			if ok {
				t.Fatal("ok with an error")
			}
			return
		}
		if ok && c.Encode(mac) != s {
			t.Fatalf("cursor %q parsed as %+v, which encodes differently", s, c)
		}
	})
}

func newFeed(t *testing.T, cfg changefeed.Config) (*changefeed.Feed, *recordcache.Cache) {
	t.Helper()
	cache := recordcache.New(memstore.New(), recordcache.Options{})
	cfg.Store, cfg.MAC = cache, macOf(t, 3)
	f, err := changefeed.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cache.OnChange(f.Changed)
	t.Cleanup(f.Close)
	return f, cache
}

func all(context.Context, changefeed.Entry) (bool, error) { return true, nil }

func TestFeedWaitsAndLimits(t *testing.T) {
	f, cache := newFeed(t, changefeed.Config{MaxWaiters: 2, MaxPerCaller: 1, Poll: time.Hour})
	ctx := context.Background()
	end, err := f.Changes(ctx, changefeed.Query{Visible: all})
	if err != nil {
		t.Fatal(err)
	}
	// An answer with nothing to wait for comes at once.
	pg, err := f.Changes(ctx, changefeed.Query{Cursor: end.Cursor, Visible: all})
	if err != nil || len(pg.Items) != 0 || pg.Reset {
		t.Fatalf("no wait: %+v %v", pg, err)
	}
	type res struct {
		pg  changefeed.Page
		err error
	}
	done := make(chan res, 1)
	go func() {
		pg, err := f.Changes(ctx, changefeed.Query{Cursor: end.Cursor, Wait: time.Minute, Caller: "a", Visible: all})
		done <- res{pg, err}
	}()
	for f.Waiters() != 1 {
		time.Sleep(time.Millisecond)
	}
	// The per-caller bound.
	if _, err := f.Changes(ctx, changefeed.Query{Cursor: end.Cursor, Wait: time.Minute, Caller: "a", Visible: all}); !errs.Is(err, errs.TooManyRequests) {
		t.Fatalf("second poll of one caller: %v, want TooManyRequests", err)
	}
	// A commit through the cache wakes the waiter (the poll is an hour).
	appendN(t, cache, 1, time.Now())
	r := <-done
	if r.err != nil || len(r.pg.Items) != 1 || r.pg.Items[0].Sequence != 1 {
		t.Fatalf("woken poll: %+v %v", r.pg, r.err)
	}
	// Invisible entries advance the cursor without items.
	appendN(t, cache, 3, time.Now())
	pg, err = f.Changes(ctx, changefeed.Query{Cursor: r.pg.Cursor, Limit: 2, Visible: func(context.Context, changefeed.Entry) (bool, error) { return false, nil }})
	if err != nil || len(pg.Items) != 0 || pg.Cursor == r.pg.Cursor {
		t.Fatalf("invisible entries: %+v %v", pg, err)
	}
	pg, err = f.Changes(ctx, changefeed.Query{Cursor: pg.Cursor, Visible: all})
	if err != nil || len(pg.Items) != 0 {
		t.Fatalf("after skipping every invisible entry: %+v %v", pg, err)
	}
	// Close ends a wait at once.
	go func() {
		pg, err := f.Changes(ctx, changefeed.Query{Cursor: pg.Cursor, Wait: time.Minute, Caller: "b", Visible: all})
		done <- res{pg, err}
	}()
	for f.Waiters() != 1 {
		time.Sleep(time.Millisecond)
	}
	f.Close()
	if r := <-done; r.err != nil || len(r.pg.Items) != 0 {
		t.Fatalf("closed wait: %+v %v", r.pg, r.err)
	}
}

// A waiter that hears nothing (a write on another node, no store feed)
// still sees the change at its next poll of the head.
func TestFeedPollsTheHead(t *testing.T) {
	f, cache := newFeed(t, changefeed.Config{Poll: 10 * time.Millisecond})
	cache.OnChange(nil) // deaf: as if the write were another node's
	ctx := context.Background()
	end, _ := f.Changes(ctx, changefeed.Query{Visible: all})
	done := make(chan changefeed.Page, 1)
	go func() {
		pg, _ := f.Changes(ctx, changefeed.Query{Cursor: end.Cursor, Wait: time.Minute, Visible: all})
		done <- pg
	}()
	for f.Waiters() != 1 {
		time.Sleep(time.Millisecond)
	}
	appendN(t, cache, 1, time.Now())
	select {
	case pg := <-done:
		if len(pg.Items) != 1 {
			t.Fatalf("polled answer %+v", pg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the head poll did not find the change")
	}
}
