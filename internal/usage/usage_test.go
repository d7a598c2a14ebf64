package usage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/faulty"
	"github.com/coffer-vault/coffer/internal/store/memstore"
	"github.com/coffer-vault/coffer/internal/usage"
)

var (
	ctx = context.Background()
	t0  = time.Date(2025, 3, 1, 10, 20, 0, 0, time.UTC)
)

const (
	alice  = "ocid1.user.oc1..alice"
	bob    = "ocid1.user.oc1..bob"
	secret = "ocid1.vaultsecret.oc1.local.s1"
)

func sum(counts []usage.Count) map[string]uint64 {
	out := map[string]uint64{}
	for _, c := range counts {
		out[fmt.Sprintf("%s %s|%s|%s|%s", c.Hour.Format("15"), c.Principal, c.Operation, c.Secret, c.Outcome)] += c.N
	}
	return out
}

func TestCounterCountsConcurrently(t *testing.T) {
	c := usage.NewCounter(0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				at := t0.Add(time.Duration(g*1000+i) * time.Nanosecond)
				c.Count(at, usage.Call{Principal: alice, Operation: "GetSecretBundle", Secret: secret})
			}
		}()
	}
	wg.Wait()
	c.Count(t0.Add(time.Hour), usage.Call{Principal: bob, Operation: "ListVaults", Outcome: usage.Denied})
	got := sum(c.Drain())
	want := map[string]uint64{
		"10 " + alice + "|GetSecretBundle|" + secret + "|ok": 8000,
		"11 " + bob + "|ListVaults||denied":                  1,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("drained %v, want %v", got, want)
	}
	if rest := c.Drain(); len(rest) != 0 {
		t.Fatalf("a second drain returned %v", rest)
	}
}

func TestCounterFoldsBeyondItsBound(t *testing.T) {
	c := usage.NewCounter(16) // one key per shard
	for i := range 100 {
		// One shard (same nanosecond), 100 principals.
		c.Count(t0, usage.Call{Principal: fmt.Sprintf("ocid1.user.oc1..u%d", i), Operation: "GetSecretBundle", Secret: secret})
	}
	got := sum(c.Drain())
	if len(got) != 2 {
		t.Fatalf("got %d keys, want the first principal and other: %v", len(got), got)
	}
	if n := got["10 other|GetSecretBundle|other|ok"]; n != 99 {
		t.Fatalf("other counted %d, want 99: %v", n, got)
	}
}

func newService(st store.Store, c *usage.Counter, node string, max int) *usage.Service {
	return usage.New(st, c, usage.Options{Node: node, MaxEntries: max, Now: func() time.Time { return t0 }})
}

func report(t *testing.T, s *usage.Service, by string) usage.Report {
	t.Helper()
	r, err := s.Report(ctx, usage.Query{Since: t0.Add(-24 * time.Hour), Until: t0.Add(time.Minute), By: by})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func row(r usage.Report, key string) usage.Row {
	for _, it := range r.Items {
		if it.Key == key {
			return it
		}
	}
	return usage.Row{}
}

func TestFlushAndReportSumNodes(t *testing.T) {
	st := memstore.New()
	ca, cb := usage.NewCounter(0), usage.NewCounter(0)
	a, b := newService(st, ca, "node-a", 0), newService(st, cb, "node-b", 0)
	for range 5 {
		ca.Count(t0, usage.Call{Principal: alice, Operation: "GetSecretBundle", Secret: secret})
	}
	ca.Count(t0, usage.Call{Principal: alice, Operation: "GetSecretBundleByName", Secret: secret})
	ca.Count(t0, usage.Call{Principal: alice, Operation: "GetSecretBundle", Secret: secret, Outcome: usage.Failed})
	for range 3 {
		cb.Count(t0.Add(-2*time.Hour), usage.Call{Principal: bob, Operation: "GetSecretBundle", Secret: secret, Outcome: usage.Denied})
		cb.Count(t0, usage.Call{Principal: bob, Operation: "GetSecret", Secret: secret})
	}
	// Two flushes of one node in one hour add up.
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ca.Count(t0, usage.Call{Principal: alice, Operation: "GetSecretBundle", Secret: secret})
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// a's report flushes a's own counter first; b's counts come from the store.
	r := report(t, a, usage.ByPrincipal)
	if got, want := row(r, alice), (usage.Row{Key: alice, Calls: 8, Errors: 1, Retrievals: 7}); got != want {
		t.Errorf("alice: %+v, want %+v", got, want)
	}
	if got, want := row(r, bob), (usage.Row{Key: bob, Calls: 6, Denied: 3}); got != want {
		t.Errorf("bob: %+v, want %+v", got, want)
	}
	if r.Total.Calls != 14 || r.Total.Retrievals != 7 || r.Items[0].Key != alice {
		t.Errorf("report %+v", r)
	}
	if r.Since != t0.Add(-24*time.Hour).Truncate(time.Hour) || r.Until != t0.Truncate(time.Hour).Add(time.Hour) {
		t.Errorf("range %s..%s not widened to whole hours", r.Since, r.Until)
	}
	byOp := report(t, b, usage.ByOperation)
	if got := row(byOp, "GetSecretBundle"); got.Calls != 10 || got.Retrievals != 6 || got.Denied != 3 {
		t.Errorf("GetSecretBundle: %+v", got)
	}
	bySecret := report(t, b, usage.BySecret)
	if len(bySecret.Items) != 1 || bySecret.Items[0].Calls != 14 {
		t.Errorf("by secret: %+v", bySecret.Items)
	}
	// A range that excludes the hour of most calls.
	early, err := b.Report(ctx, usage.Query{Since: t0.Add(-3 * time.Hour), Until: t0.Add(-time.Hour - time.Minute), By: usage.ByPrincipal})
	if err != nil {
		t.Fatal(err)
	}
	if early.Total != (usage.Row{Calls: 3, Denied: 3}) {
		t.Errorf("two hours ago: %+v", early.Total)
	}
}

func TestBucketRecordsFoldBeyondTheirBound(t *testing.T) {
	st := memstore.New()
	c := usage.NewCounter(0)
	s := newService(st, c, "n", 3)
	for i := range 10 {
		c.Count(t0, usage.Call{Principal: fmt.Sprintf("ocid1.user.oc1..u%02d", i), Operation: "GetSecretBundle", Secret: secret})
	}
	r := report(t, s, usage.ByPrincipal)
	if len(r.Items) != 4 {
		t.Fatalf("%d rows, want 4 (three principals and other): %+v", len(r.Items), r.Items)
	}
	if r.Total.Retrievals != 10 {
		t.Fatalf("total retrievals %d, want all 10 despite folding", r.Total.Retrievals)
	}
	if o := row(r, usage.Other); o.Retrievals != 7 {
		t.Fatalf("other: %+v", o)
	}
}

func TestFailedFlushKeepsCounts(t *testing.T) {
	fs := faulty.New(memstore.New())
	c := usage.NewCounter(0)
	s := newService(fs, c, "n", 0)
	c.Count(t0, usage.Call{Principal: alice, Operation: "GetSecretBundle", Secret: secret})
	fs.FailOn(faulty.Commit, 1, nil)
	if err := s.Flush(ctx); !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("flush: %v, want the injected fault", err)
	}
	if r := report(t, s, usage.ByPrincipal); r.Total.Retrievals != 1 {
		t.Fatalf("after a failed flush and a good one: %+v", r.Total)
	}
}

func TestPurgeDropsOldHoursOnly(t *testing.T) {
	st := memstore.New()
	c := usage.NewCounter(0)
	s := newService(st, c, "n", 0)
	for h := range 40 {
		c.Count(t0.Add(-time.Duration(h)*time.Hour), usage.Call{Principal: alice, Operation: "ListVaults"})
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Keep the last 10 whole hours (and the current one).
	n, err := s.Purge(ctx, t0.Truncate(time.Hour).Add(-10*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != 29 {
		t.Fatalf("purged %d records, want 29", n)
	}
	r, err := s.Report(ctx, usage.Query{Since: t0.Add(-100 * time.Hour), Until: t0.Add(time.Minute), By: usage.ByOperation})
	if err != nil {
		t.Fatal(err)
	}
	if r.Total.Calls != 11 {
		t.Fatalf("%d calls left, want 11", r.Total.Calls)
	}
	if n, err := s.Purge(ctx, t0.Truncate(time.Hour).Add(-10*time.Hour)); err != nil || n != 0 {
		t.Fatalf("second purge: %d, %v", n, err)
	}
}

func TestQueryCheck(t *testing.T) {
	for _, q := range []usage.Query{
		{Since: t0, Until: t0.Add(time.Hour), By: "team"},
		{Since: t0, Until: t0, By: usage.ByPrincipal},
		{Until: t0, By: usage.ByPrincipal},
	} {
		err := q.Check()
		if !errs.Is(err, errs.Invalid) && !errs.Is(err, errs.Missing) {
			t.Errorf("%+v: %v, want a caller error", q, err)
		}
	}
}

func TestRecordsHoldNoNames(t *testing.T) {
	st := memstore.New()
	c := usage.NewCounter(0)
	s := newService(st, c, "n", 0)
	c.Count(t0, usage.Call{Principal: alice, Operation: "GetSecretBundle", Secret: secret})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	err := st.View(ctx, func(r store.Reader) error {
		es, err := r.List("usage/", "", 0)
		if len(es) != 1 || es[0].Key != "usage/2025030110/n" {
			t.Errorf("records %v", es)
		}
		for _, e := range es {
			for _, f := range []string{"content", "token", "name"} {
				if strings.Contains(string(e.Value), f) {
					t.Errorf("record %s holds %q: %s", e.Key, f, e.Value)
				}
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCost(t *testing.T) {
	if got := usage.Cost(1_000_000, usage.DefaultPricePer10k); got < 2.9999 || got > 3.0001 {
		t.Fatalf("a million retrievals at the default price cost %v, want 3", got)
	}
}

// BenchmarkCount measures counting one call from parallel goroutines (the
// time stamp is the request's start, which the pipeline has already).
func BenchmarkCount(b *testing.B) {
	c := usage.NewCounter(0)
	call := usage.Call{Principal: alice, Operation: "GetSecretBundle", Secret: secret}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		at := time.Now()
		for pb.Next() {
			at = at.Add(7)
			c.Count(at, call)
		}
	})
}

func BenchmarkCountSerial(b *testing.B) {
	c := usage.NewCounter(0)
	call := usage.Call{Principal: alice, Operation: "GetSecretBundle", Secret: secret}
	b.ReportAllocs()
	at := t0
	for b.Loop() {
		at = at.Add(7)
		c.Count(at, call)
	}
}
