package secretcache

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/clocktest"
	"github.com/oracle/oci-go-sdk/v65/secrets"
)

// The real SDK client must satisfy the consumer-owned interface, as a value
// and as a pointer.
var (
	_ Backend = secrets.SecretsClient{}
	_ Backend = (*secrets.SecretsClient)(nil)
)

const (
	idA   = "ocid1.vaultsecret.oc1..aaaa"
	idB   = "ocid1.vaultsecret.oc1..bbbb"
	idC   = "ocid1.vaultsecret.oc1..cccc"
	vault = "ocid1.vault.oc1..vvvv"
)

type testEnv struct {
	c     *Cache
	b     *fakeBackend
	clock *clocktest.Clock
	// sleeps records retry waits; none is real.
	mu     sync.Mutex
	sleeps []time.Duration
}

func newEnv(t *testing.T, opts Options) *testEnv {
	t.Helper()
	env := &testEnv{b: newFakeBackend(), clock: newFakeClock()}
	opts.Clock = env.clock
	if opts.Retry.MaxAttempts == 0 {
		opts.Retry.MaxAttempts = 1
	}
	env.c = New(env.b, opts)
	env.c.retry.Sleep = func(ctx context.Context, d time.Duration) error {
		env.mu.Lock()
		env.sleeps = append(env.sleeps, d)
		env.mu.Unlock()
		return ctx.Err()
	}
	env.c.retry.Now = env.clock.Now
	t.Cleanup(func() { env.c.Close() })
	return env
}

// stored installs a hook reporting each completed fetch, so tests can wait
// for background work without sleeping.
func (env *testEnv) stored() <-chan Key {
	ch := make(chan Key, 100)
	env.c.mu.Lock()
	env.c.testHookStored = func(k Key, _ bool) { ch <- k }
	env.c.mu.Unlock()
	return ch
}

func mustGet(t *testing.T, c *Cache, k Key) Secret {
	t.Helper()
	s, err := c.Get(context.Background(), k)
	if err != nil {
		t.Fatalf("Get(%v): %v", k, err)
	}
	return s
}

func waitKey(t *testing.T, ch <-chan Key) Key {
	t.Helper()
	select {
	case k := <-ch:
		return k
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a background fetch")
		return Key{}
	}
}

func TestGetByIDAndName(t *testing.T) {
	env := newEnv(t, Options{})
	env.b.put(idA, "alpha", 3)
	env.b.name(vault, "db-password", idA)

	s := mustGet(t, env.c, ByID(idA))
	if string(s.Bytes()) != "alpha" || s.VersionNumber != 3 || s.SecretID != idA || s.Len() != 5 {
		t.Fatalf("got %v %q", s, s.Bytes())
	}
	if len(s.Stages) != 2 || s.Stages[0] != StageCurrent {
		t.Fatalf("stages = %v", s.Stages)
	}
	req := env.b.lastID
	if req.Stage != secrets.GetSecretBundleStageCurrent || req.VersionNumber != nil || req.SecretVersionName != nil {
		t.Fatalf("request = %+v", req)
	}
	// The SDK must not retry on its own: the cache's policy is the only one.
	if rp := req.RequestMetadata.RetryPolicy; rp == nil || rp.MaximumNumberAttempts != 1 {
		t.Fatalf("SDK retry policy = %v, want one attempt", rp)
	}

	s = mustGet(t, env.c, ByName(vault, "db-password"))
	if string(s.Bytes()) != "alpha" || s.SecretID != idA {
		t.Fatalf("by name: %v", s)
	}
	if r := env.b.lastName; *r.VaultId != vault || *r.SecretName != "db-password" || r.Stage != "CURRENT" {
		t.Fatalf("by-name request = %+v", r)
	}

	// The default stage and explicit CURRENT share one entry.
	mustGet(t, env.c, ByID(idA).AtStage(StageCurrent))
	if n := env.b.count(idA); n != 2 { // one by ID, one by name
		t.Fatalf("backend calls = %d, want 2", n)
	}
}

func TestVersionSelectors(t *testing.T) {
	env := newEnv(t, Options{})
	env.b.put(idA, "alpha", 3)
	mustGet(t, env.c, ByID(idA).AtVersion(2))
	if r := env.b.lastID; r.VersionNumber == nil || *r.VersionNumber != 2 || r.Stage != "" || r.SecretVersionName != nil {
		t.Fatalf("request = %+v", r)
	}
	mustGet(t, env.c, ByID(idA).AtVersionName("v-blue"))
	if r := env.b.lastID; r.SecretVersionName == nil || *r.SecretVersionName != "v-blue" || r.Stage != "" {
		t.Fatalf("request = %+v", r)
	}
	mustGet(t, env.c, ByID(idA).AtStage(StagePending))
	if r := env.b.lastID; r.Stage != secrets.GetSecretBundleStagePending {
		t.Fatalf("request = %+v", r)
	}
	if n := env.b.count(idA); n != 3 {
		t.Fatalf("distinct selectors shared entries: %d calls", n)
	}
}

func TestInvalidKeys(t *testing.T) {
	env := newEnv(t, Options{})
	for _, k := range []Key{
		{},
		{VaultID: vault},
		{Name: "x"},
		{SecretID: idA, VaultID: vault, Name: "x"},
		{SecretID: idA, Stage: "BOGUS"},
		{SecretID: idA, Stage: StageCurrent, VersionNumber: 1},
		{SecretID: idA, VersionNumber: 1, VersionName: "x"},
		{SecretID: idA, VersionNumber: -1},
	} {
		if _, err := env.c.Get(context.Background(), k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Get(%#v) err = %v, want ErrInvalidKey", k, err)
		}
	}
	if env.b.totalCalls() != 0 {
		t.Fatal("invalid key reached the backend")
	}
}

func TestTTLExpiry(t *testing.T) {
	env := newEnv(t, Options{TTL: time.Minute, RefreshAhead: -1})
	env.b.put(idA, "v1", 1)
	mustGet(t, env.c, ByID(idA))
	env.b.put(idA, "v2", 2)

	env.clock.Advance(59 * time.Second)
	if s := mustGet(t, env.c, ByID(idA)); string(s.Bytes()) != "v1" {
		t.Fatalf("before TTL got %q", s.Bytes())
	}
	env.clock.Advance(time.Second)
	if s := mustGet(t, env.c, ByID(idA)); string(s.Bytes()) != "v2" || s.VersionNumber != 2 {
		t.Fatalf("after TTL got %q v%d", s.Bytes(), s.VersionNumber)
	}
	st := env.c.Stats()
	if st.Hits != 1 || st.Misses != 2 || st.BackendCalls != 2 || st.Saved != 1 || st.Entries != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestDefaultTTLIsFiveMinutes(t *testing.T) {
	env := newEnv(t, Options{RefreshAhead: -1})
	env.b.put(idA, "v1", 1)
	mustGet(t, env.c, ByID(idA))
	env.clock.Advance(5*time.Minute - time.Nanosecond)
	mustGet(t, env.c, ByID(idA))
	if n := env.b.count(idA); n != 1 {
		t.Fatalf("calls = %d before 5m", n)
	}
	env.clock.Advance(time.Nanosecond)
	mustGet(t, env.c, ByID(idA))
	if n := env.b.count(idA); n != 2 {
		t.Fatalf("calls = %d after 5m", n)
	}
}

func TestTTLShortening(t *testing.T) {
	type report struct {
		from, to time.Duration
		why      ShortenReason
	}
	tests := []struct {
		name     string
		expiry   time.Duration // from now; 0 = none
		metadata map[string]any
		optRot   time.Duration
		wantTTL  time.Duration
		want     []report
	}{
		{"none", 0, nil, 0, 10 * time.Minute, nil},
		{"expiry", 3 * time.Minute, nil, 0, 3 * time.Minute,
			[]report{{10 * time.Minute, 3 * time.Minute, ShortenedForExpiry}}},
		{"expiry beyond TTL", time.Hour, nil, 0, 10 * time.Minute, nil},
		{"rotation from metadata", 0, map[string]any{"rotationInterval": "PT8M"}, 0, 4 * time.Minute,
			[]report{{10 * time.Minute, 4 * time.Minute, ShortenedForRotation}}},
		{"rotation Go syntax", 0, map[string]any{"rotationInterval": "6m"}, 0, 3 * time.Minute,
			[]report{{10 * time.Minute, 3 * time.Minute, ShortenedForRotation}}},
		{"long rotation", 0, map[string]any{"rotationInterval": "P30D"}, 0, 10 * time.Minute, nil},
		{"malformed metadata ignored", 0, map[string]any{"rotationInterval": "soon"}, 0, 10 * time.Minute, nil},
		{"option beats metadata", 0, map[string]any{"rotationInterval": "P30D"}, 2 * time.Minute, time.Minute,
			[]report{{10 * time.Minute, time.Minute, ShortenedForRotation}}},
		{"both", 30 * time.Second, nil, 2 * time.Minute, 30 * time.Second,
			[]report{{10 * time.Minute, time.Minute, ShortenedForRotation}, {time.Minute, 30 * time.Second, ShortenedForExpiry}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []report
			opts := Options{TTL: 10 * time.Minute, RefreshAhead: -1,
				OnTTLShortened: func(k Key, from, to time.Duration, why ShortenReason) {
					if k.SecretID != idA {
						t.Errorf("reported key %v", k)
					}
					got = append(got, report{from, to, why})
				}}
			if tt.optRot > 0 {
				opts.RotationInterval = func(Key) time.Duration { return tt.optRot }
			}
			env := newEnv(t, opts)
			s := env.b.put(idA, "v1", 1)
			s.metadata = tt.metadata
			if tt.expiry > 0 {
				s.expiry = env.clock.Now().Add(tt.expiry)
			}
			mustGet(t, env.c, ByID(idA))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("reports = %v, want %v", got, tt.want)
			}
			if env.c.Stats().TTLShortened != uint64(len(tt.want)) {
				t.Fatalf("TTLShortened = %d", env.c.Stats().TTLShortened)
			}
			env.clock.Advance(tt.wantTTL - time.Nanosecond)
			mustGet(t, env.c, ByID(idA))
			if n := env.b.count(idA); n != 1 {
				t.Fatalf("expired before %v", tt.wantTTL)
			}
			env.clock.Advance(time.Nanosecond)
			mustGet(t, env.c, ByID(idA))
			if n := env.b.count(idA); n != 2 {
				t.Fatalf("still cached at %v", tt.wantTTL)
			}
		})
	}
}

func TestExpiredVersionNeverServedStale(t *testing.T) {
	env := newEnv(t, Options{TTL: 10 * time.Minute, StaleGrace: time.Hour, RefreshAhead: -1})
	s := env.b.put(idA, "v1", 1)
	s.expiry = env.clock.Now().Add(time.Minute)
	mustGet(t, env.c, ByID(idA))
	env.b.set(func() { env.b.failAll = svcErr{503} })
	env.clock.Advance(time.Minute)
	if _, err := env.c.Get(context.Background(), ByID(idA)); err == nil {
		t.Fatal("served a version past its timeOfExpiry")
	}
}

func TestLRUEviction(t *testing.T) {
	env := newEnv(t, Options{MaxEntries: 2, RefreshAhead: -1})
	env.b.put(idA, "a", 1)
	env.b.put(idB, "b", 1)
	env.b.put(idC, "c", 1)
	mustGet(t, env.c, ByID(idA))
	mustGet(t, env.c, ByID(idB))
	mustGet(t, env.c, ByID(idA)) // a is now the most recent
	mustGet(t, env.c, ByID(idC)) // evicts b
	st := env.c.Stats()
	if st.Entries != 2 || st.Evictions != 1 {
		t.Fatalf("stats = %+v", st)
	}
	mustGet(t, env.c, ByID(idA))
	if env.b.count(idA) != 1 {
		t.Fatal("a was evicted instead of b")
	}
	mustGet(t, env.c, ByID(idB))
	if env.b.count(idB) != 2 {
		t.Fatal("b was not evicted")
	}
}

func TestRefreshAhead(t *testing.T) {
	env := newEnv(t, Options{TTL: 100 * time.Second})
	stored := env.stored()
	env.b.put(idA, "v1", 1)
	mustGet(t, env.c, ByID(idA))
	waitKey(t, stored)
	env.b.put(idA, "v2", 2)

	env.clock.Advance(79 * time.Second)
	mustGet(t, env.c, ByID(idA))
	if env.b.count(idA) != 1 {
		t.Fatal("refreshed before 80% of the TTL")
	}

	env.clock.Advance(time.Second) // 80%
	s := mustGet(t, env.c, ByID(idA))
	if string(s.Bytes()) != "v1" {
		t.Fatalf("refresh-ahead blocked the reader: got %q", s.Bytes())
	}
	waitKey(t, stored)
	if env.b.count(idA) != 2 {
		t.Fatalf("calls = %d, want 2", env.b.count(idA))
	}
	if s := mustGet(t, env.c, ByID(idA)); string(s.Bytes()) != "v2" {
		t.Fatalf("after refresh got %q", s.Bytes())
	}
	st := env.c.Stats()
	if st.Refreshes != 1 || st.Misses != 1 {
		t.Fatalf("stats = %+v", st)
	}
	// The refreshed entry has a fresh TTL from the refresh time.
	env.clock.Advance(79 * time.Second)
	mustGet(t, env.c, ByID(idA))
	if env.b.count(idA) != 2 {
		t.Fatal("refreshed entry did not get a new TTL")
	}
}

func TestRefreshAheadBounded(t *testing.T) {
	env := newEnv(t, Options{TTL: 100 * time.Second, MaxConcurrentRefreshes: 2})
	ids := []string{idA, idB, idC}
	for _, id := range ids {
		env.b.put(id, "x", 1)
		mustGet(t, env.c, ByID(id))
	}
	gate := make(chan struct{})
	env.b.set(func() { env.b.gate = gate })
	env.clock.Advance(90 * time.Second)
	for _, id := range ids {
		mustGet(t, env.c, ByID(id)) // all hits; at most two refreshes start
	}
	env.c.mu.Lock()
	inflight := len(env.c.flights)
	env.c.mu.Unlock()
	if inflight != 2 {
		t.Fatalf("%d background refreshes running, want 2", inflight)
	}
	close(gate)
}

func TestStaleOnError(t *testing.T) {
	env := newEnv(t, Options{TTL: time.Minute, StaleGrace: 2 * time.Minute, ErrorBackoff: 10 * time.Second, RefreshAhead: -1})
	env.b.put(idA, "v1", 1)
	mustGet(t, env.c, ByID(idA))
	env.b.set(func() { env.b.failAll = svcErr{503} })

	env.clock.Advance(90 * time.Second) // expired, within grace
	s, err := env.c.Get(context.Background(), ByID(idA))
	if err != nil || string(s.Bytes()) != "v1" {
		t.Fatalf("within grace: %q, %v", s.Bytes(), err)
	}
	if env.b.count(idA) != 2 {
		t.Fatalf("calls = %d, want 2", env.b.count(idA))
	}
	// Within ErrorBackoff the stale value is served without a call.
	env.clock.Advance(5 * time.Second)
	mustGet(t, env.c, ByID(idA))
	if env.b.count(idA) != 2 {
		t.Fatal("called the failing backend again within ErrorBackoff")
	}
	env.clock.Advance(10 * time.Second)
	mustGet(t, env.c, ByID(idA))
	if env.b.count(idA) != 3 {
		t.Fatal("did not try the backend again after ErrorBackoff")
	}
	st := env.c.Stats()
	if st.StaleServed != 3 || st.Errors != 2 {
		t.Fatalf("stats = %+v", st)
	}

	env.clock.Advance(80 * time.Second) // past TTL + grace (185s > 180s)
	_, err = env.c.Get(context.Background(), ByID(idA))
	var se svcErr
	if !errors.As(err, &se) || se.status != 503 {
		t.Fatalf("after grace err = %v, want the 503", err)
	}
	if env.c.Stats().Entries != 0 {
		t.Fatal("entry past grace kept")
	}

	// Recovery.
	env.b.set(func() { env.b.failAll = nil })
	if s := mustGet(t, env.c, ByID(idA)); string(s.Bytes()) != "v1" {
		t.Fatal("no recovery")
	}
}

func TestStaleGraceDisabled(t *testing.T) {
	env := newEnv(t, Options{TTL: time.Minute, StaleGrace: -1, RefreshAhead: -1})
	env.b.put(idA, "v1", 1)
	mustGet(t, env.c, ByID(idA))
	env.b.set(func() { env.b.failAll = svcErr{500} })
	env.clock.Advance(time.Minute)
	if _, err := env.c.Get(context.Background(), ByID(idA)); err == nil {
		t.Fatal("served stale with grace disabled")
	}
}

func TestBackgroundRefreshFailureKeepsValue(t *testing.T) {
	env := newEnv(t, Options{TTL: 100 * time.Second})
	stored := env.stored()
	env.b.put(idA, "v1", 1)
	mustGet(t, env.c, ByID(idA))
	waitKey(t, stored)
	env.b.set(func() { env.b.failAll = svcErr{502} })
	env.clock.Advance(85 * time.Second)
	mustGet(t, env.c, ByID(idA))
	waitKey(t, stored)
	// Still fresh; the failed refresh is not retried on every read.
	for range 5 {
		if s := mustGet(t, env.c, ByID(idA)); string(s.Bytes()) != "v1" {
			t.Fatal("lost the value")
		}
	}
	if env.b.count(idA) != 2 {
		t.Fatalf("calls = %d, want 2", env.b.count(idA))
	}
}

func TestRetriesBackendCalls(t *testing.T) {
	env := newEnv(t, Options{Retry: RetryOptions{MaxAttempts: 4}})
	env.b.put(idA, "v1", 1)
	env.b.set(func() {
		env.b.failWith = []error{svcErr{503}, svcErr{429}}
		env.b.retryHdr = "2"
	})
	s := mustGet(t, env.c, ByID(idA))
	if string(s.Bytes()) != "v1" || env.b.count(idA) != 3 {
		t.Fatalf("got %q after %d calls", s.Bytes(), env.b.count(idA))
	}
	env.mu.Lock()
	sleeps := fmt.Sprint(env.sleeps)
	env.mu.Unlock()
	if sleeps != "[2s 2s]" {
		t.Fatalf("retry waits = %s, want Retry-After honoured", sleeps)
	}
	// A 404 is final.
	_, err := env.c.Get(context.Background(), ByID("ocid1.vaultsecret.oc1..missing"))
	if env.b.count("ocid1.vaultsecret.oc1..missing") != 1 {
		t.Fatalf("404 retried: %v", err)
	}
	st := env.c.Stats()
	if st.BackendCalls != 4 || st.Errors != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestSingleFlight(t *testing.T) {
	env := newEnv(t, Options{})
	env.b.put(idA, "v1", 1)
	gate := make(chan struct{})
	env.b.set(func() { env.b.gate = gate })
	const readers = 50
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for range readers {
		wg.Go(func() {
			s, err := env.c.Get(context.Background(), ByID(idA))
			if err == nil && string(s.Bytes()) != "v1" {
				err = fmt.Errorf("got %q", s.Bytes())
			}
			if err != nil {
				errs <- err
			}
		})
	}
	waitFor(t, func() bool { return env.c.Stats().Misses == readers })
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := env.b.count(idA); n != 1 {
		t.Fatalf("backend calls = %d, want 1", n)
	}
	if st := env.c.Stats(); st.Coalesced != readers-1 {
		t.Fatalf("stats = %+v", st)
	}
}

// waitFor polls cond; it waits for goroutines to reach a state, not for
// time to pass (the cache's clock is fake).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStampede: 1,000 goroutines reading 100 secrets make one backend call
// per secret per TTL.
func TestStampede(t *testing.T) {
	env := newEnv(t, Options{TTL: time.Minute, RefreshAhead: -1})
	const nSecrets, nReaders = 100, 1000
	ids := make([]string, nSecrets)
	for i := range ids {
		ids[i] = fmt.Sprintf("ocid1.vaultsecret.oc1..s%03d", i)
		env.b.put(ids[i], "content-"+ids[i], 1)
	}
	run := func(gated bool) {
		var gate chan struct{}
		before := env.c.Stats().Misses
		if gated {
			gate = make(chan struct{})
			env.b.set(func() { env.b.gate = gate })
		}
		var wg sync.WaitGroup
		var bad sync.Once
		var badErr error
		for g := range nReaders {
			wg.Go(func() {
				for j := range nSecrets {
					id := ids[(g+j)%nSecrets]
					s, err := env.c.Get(context.Background(), ByID(id))
					if err == nil && string(s.Bytes()) != "content-"+id {
						err = fmt.Errorf("%s: wrong content", id)
					}
					if err != nil {
						bad.Do(func() { badErr = err })
					}
				}
			})
		}
		if gated {
			// Every reader is blocked on its first secret before any call
			// returns: the worst case for a stampede.
			waitFor(t, func() bool { return env.c.Stats().Misses-before == nReaders })
			close(gate)
			env.b.set(func() { env.b.gate = nil })
		}
		wg.Wait()
		if badErr != nil {
			t.Fatal(badErr)
		}
	}
	run(true)
	for _, id := range ids {
		if n := env.b.count(id); n != 1 {
			t.Fatalf("%s: %d backend calls in one TTL, want 1", id, n)
		}
	}
	env.clock.Advance(time.Minute)
	run(false)
	for _, id := range ids {
		if n := env.b.count(id); n != 2 {
			t.Fatalf("%s: %d backend calls in two TTLs, want 2", id, n)
		}
	}
	st := env.c.Stats()
	if st.BackendCalls != 2*nSecrets || st.Hits+st.Misses != 2*nReaders*nSecrets {
		t.Fatalf("stats = %+v", st)
	}
	t.Logf("stats: %+v", st)
}

func TestInvalidateAndRefresh(t *testing.T) {
	env := newEnv(t, Options{RefreshAhead: -1})
	env.b.put(idA, "v1", 1)
	mustGet(t, env.c, ByID(idA))
	env.b.put(idA, "v2", 2)

	s, err := env.c.Refresh(context.Background(), ByID(idA))
	if err != nil || string(s.Bytes()) != "v2" {
		t.Fatalf("Refresh = %q, %v", s.Bytes(), err)
	}
	if s := mustGet(t, env.c, ByID(idA)); string(s.Bytes()) != "v2" || env.b.count(idA) != 2 {
		t.Fatal("Refresh did not replace the entry")
	}

	env.b.put(idA, "v3", 3)
	env.c.Invalidate(ByID(idA).AtStage(StageCurrent)) // same entry as ByID(idA)
	if env.c.Stats().Entries != 0 {
		t.Fatal("Invalidate kept the entry")
	}
	if s := mustGet(t, env.c, ByID(idA)); string(s.Bytes()) != "v3" || env.b.count(idA) != 3 {
		t.Fatal("Get after Invalidate did not read the backend")
	}
	env.c.Invalidate(Key{}) // invalid keys are ignored
}

func TestInvalidateDuringFetchDoesNotCacheOldResult(t *testing.T) {
	env := newEnv(t, Options{RefreshAhead: -1})
	env.b.put(idA, "v1", 1)
	gate := make(chan struct{})
	called := make(chan string, 1)
	env.b.set(func() { env.b.gate, env.b.called = gate, called })
	done := make(chan Secret)
	go func() {
		s, _ := env.c.Get(context.Background(), ByID(idA))
		done <- s
	}()
	<-called
	env.c.Invalidate(ByID(idA))
	close(gate)
	if s := <-done; string(s.Bytes()) != "v1" {
		t.Fatal("waiter lost its result")
	}
	env.b.set(func() { env.b.gate, env.b.called = nil, nil })
	mustGet(t, env.c, ByID(idA))
	if env.b.count(idA) != 2 {
		t.Fatal("a fetch started before Invalidate was cached")
	}
}

func TestRejected(t *testing.T) {
	env := newEnv(t, Options{RejectInterval: 30 * time.Second, RefreshAhead: -1})
	env.b.put(idA, "old", 1)
	mustGet(t, env.c, ByID(idA))
	env.b.put(idA, "new", 2) // rotated; the cache still holds "old"

	s, changed, err := env.c.Rejected(context.Background(), ByID(idA))
	if err != nil || !changed || string(s.Bytes()) != "new" || s.VersionNumber != 2 {
		t.Fatalf("Rejected = %q v%d, %v, %v", s.Bytes(), s.VersionNumber, changed, err)
	}
	if mustGet(t, env.c, ByID(idA)).VersionNumber != 2 {
		t.Fatal("cache not updated")
	}

	// A second rejection soon after does not call the service again.
	s, changed, err = env.c.Rejected(context.Background(), ByID(idA))
	if !errors.Is(err, ErrRejectLimited) || changed || s.VersionNumber != 2 {
		t.Fatalf("second Rejected = v%d, %v, %v", s.VersionNumber, changed, err)
	}
	if env.b.count(idA) != 2 {
		t.Fatalf("calls = %d, want 2", env.b.count(idA))
	}

	// After the interval, a rejection refetches again; the same version
	// comes back, and changed says so.
	env.clock.Advance(30 * time.Second)
	s, changed, err = env.c.Rejected(context.Background(), ByID(idA))
	if err != nil || changed || s.VersionNumber != 2 || env.b.count(idA) != 3 {
		t.Fatalf("third Rejected = v%d, %v, %v (calls %d)", s.VersionNumber, changed, err, env.b.count(idA))
	}
	if env.c.Stats().Rejections != 2 {
		t.Fatalf("Rejections = %d", env.c.Stats().Rejections)
	}

	// A rejected version is not served stale when the refetch fails.
	env.clock.Advance(30 * time.Second)
	env.b.set(func() { env.b.failAll = svcErr{503} })
	if _, _, err := env.c.Rejected(context.Background(), ByID(idA)); err == nil {
		t.Fatal("Rejected hid the backend failure")
	}
	if _, err := env.c.Get(context.Background(), ByID(idA)); err == nil {
		t.Fatal("rejected version served stale")
	}
}

func TestContextCancellation(t *testing.T) {
	env := newEnv(t, Options{})
	env.b.put(idA, "v1", 1)
	gate := make(chan struct{})
	defer close(gate)
	called := make(chan string, 1)
	env.b.set(func() { env.b.gate, env.b.called = gate, called })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := env.c.Get(ctx, ByID(idA))
		done <- err
	}()
	<-called
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Get did not return after cancel")
	}
	// The abandoned call was cancelled; a new Get starts a new one.
	env.b.set(func() { env.b.gate, env.b.called = nil, nil })
	if s := mustGet(t, env.c, ByID(idA)); string(s.Bytes()) != "v1" {
		t.Fatal("no value after an abandoned call")
	}
	if env.b.count(idA) != 2 {
		t.Fatalf("calls = %d", env.b.count(idA))
	}

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := env.c.Refresh(ctx, ByID(idA)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Refresh with cancelled ctx: %v", err)
	}
}

func TestCancelledWaiterDoesNotCancelOthers(t *testing.T) {
	env := newEnv(t, Options{})
	env.b.put(idA, "v1", 1)
	gate := make(chan struct{})
	called := make(chan string, 1)
	env.b.set(func() { env.b.gate, env.b.called = gate, called })
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error)
	go func() { _, err := env.c.Get(ctx, ByID(idA)); first <- err }()
	<-called
	second := make(chan Secret)
	go func() { s, _ := env.c.Get(context.Background(), ByID(idA)); second <- s }()
	waitFor(t, func() bool { return env.c.Stats().Coalesced == 1 })
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	close(gate)
	if s := <-second; string(s.Bytes()) != "v1" {
		t.Fatal("second waiter lost the shared call")
	}
	if env.b.count(idA) != 1 {
		t.Fatalf("calls = %d", env.b.count(idA))
	}
}

func TestClose(t *testing.T) {
	env := newEnv(t, Options{TTL: 100 * time.Second})
	env.b.put(idA, "v1", 1)
	mustGet(t, env.c, ByID(idA))
	gate := make(chan struct{})
	called := make(chan string, 1)
	env.b.set(func() { env.b.gate, env.b.called = gate, called })
	env.clock.Advance(90 * time.Second)
	mustGet(t, env.c, ByID(idA)) // starts a background refresh that blocks
	<-called
	closed := make(chan struct{})
	go func() { env.c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the background refresh")
	}
	close(gate)
	if _, err := env.c.Get(context.Background(), ByID(idA)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	if _, err := env.c.Refresh(context.Background(), ByID(idA)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Refresh after Close: %v", err)
	}
	if _, _, err := env.c.Rejected(context.Background(), ByID(idA)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Rejected after Close: %v", err)
	}
	if err := env.c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMalformedBundles(t *testing.T) {
	v := int64(1)
	good := "aGVsbG8="
	bad := "not base64!"
	tests := []struct {
		name string
		b    secrets.SecretBundle
	}{
		{"no content", secrets.SecretBundle{VersionNumber: &v}},
		{"nil content", secrets.SecretBundle{VersionNumber: &v, SecretBundleContent: secrets.Base64SecretBundleContentDetails{}}},
		{"no version", secrets.SecretBundle{SecretBundleContent: secrets.Base64SecretBundleContentDetails{Content: &good}}},
		{"bad base64", secrets.SecretBundle{VersionNumber: &v, SecretBundleContent: secrets.Base64SecretBundleContentDetails{Content: &bad}}},
	}
	for _, tt := range tests {
		if _, err := decode(tt.b, idA); !errors.Is(err, ErrMalformedBundle) {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
	s, err := decode(secrets.SecretBundle{VersionNumber: &v, SecretBundleContent: &secrets.Base64SecretBundleContentDetails{Content: &good}}, idA)
	if err != nil || string(s.Bytes()) != "hello" || s.SecretID != idA {
		t.Fatalf("pointer content: %v %v", s, err)
	}
}

// TestCanaryNeverLogged runs every path that logs, then searches the log
// and every formatting of a Secret for the content.
func TestCanaryNeverLogged(t *testing.T) {
	const canary = "CANARY-7f3a9e-do-not-log"
	var buf bytes.Buffer
	var mu sync.Mutex
	h := slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})
	logger := slog.New(h)
	env := newEnv(t, Options{TTL: time.Minute, Logger: logger, RejectInterval: time.Second})
	stored := env.stored()
	s := env.b.put(idA, canary, 1)
	s.metadata = map[string]any{"rotationInterval": "PT1M"}
	s.expiry = env.clock.Now().Add(time.Hour)

	got := mustGet(t, env.c, ByID(idA))
	waitKey(t, stored)
	env.clock.Advance(25 * time.Second) // past refresh-ahead of the 30s TTL
	mustGet(t, env.c, ByID(idA))
	waitKey(t, stored)
	env.b.set(func() { env.b.failAll = svcErr{500} })
	env.clock.Advance(31 * time.Second)
	mustGet(t, env.c, ByID(idA)) // stale served, warning logged
	env.b.set(func() { env.b.failAll = nil })
	env.clock.Advance(10 * time.Second)
	env.c.Rejected(context.Background(), ByID(idA))

	logger.Info("application logs the secret", "secret", got)
	logger.Info("and as any", slog.Any("secret", got))
	formatted := fmt.Sprintf("%v %+v %#v %s %q %x %d", got, got, got, got, got, got, got)

	mu.Lock()
	out := buf.String() + formatted
	mu.Unlock()
	for _, needle := range []string{canary, base64.StdEncoding.EncodeToString([]byte(canary)), fmt.Sprintf("%x", canary)} {
		if strings.Contains(out, needle) {
			t.Fatalf("content leaked:\n%s", out)
		}
	}
	for _, want := range []string{"REDACTED", "stale", "TTL shortened", "rejected"} {
		if !strings.Contains(out, want) {
			t.Fatalf("expected %q in output (did the paths run?):\n%s", want, out)
		}
	}
	if !got.Equal(mustGet(t, env.c, ByID(idA))) {
		t.Fatal("Equal")
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestKeyString(t *testing.T) {
	tests := map[string]Key{
		idA + "@CURRENT":        ByID(idA).AtStage(StageCurrent),
		idA + "@v7":             ByID(idA).AtVersion(7),
		idA + "@name:blue":      ByID(idA).AtVersionName("blue"),
		vault + "/db@PENDING":   ByName(vault, "db").AtStage(StagePending),
		vault + "/db":           ByName(vault, "db"),
		idA + "@v7 via AtStage": ByID(idA).AtVersion(7).AtStage("").AtVersion(7),
	}
	for want, k := range tests {
		want = strings.TrimSuffix(want, " via AtStage")
		if got := k.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

func TestParseInterval(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"P30D", 30 * 24 * time.Hour, true},
		{"PT12H", 12 * time.Hour, true},
		{"P1DT2H30M15S", 26*time.Hour + 30*time.Minute + 15*time.Second, true},
		{"PT90S", 90 * time.Second, true},
		{"720h", 720 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"P", 0, false},
		{"PT", 0, false},
		{"P1Y", 0, false},
		{"P1M", 0, false}, // months are ambiguous (and M before T is months)
		{"P1W", 0, false},
		{"P1H", 0, false},
		{"PT1D", 0, false},
		{"P1DT", 0, false},
		{"PTT1H", 0, false},
		{"P0D", 0, false},
		{"-5m", 0, false},
		{"P99999D", 0, false},
		{"P999999999D", 0, false},
		{"", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseInterval(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseInterval(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseInterval(f *testing.F) {
	for _, s := range []string{"P30D", "PT12H", "P1DT2H30M15S", "720h", "P", "PT", "P999999999D", "1h30m", "P1DT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseInterval(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("error with d=%v", d)
			}
			return
		}
		if d <= 0 || d > maxRotation {
			t.Fatalf("ParseInterval(%q) = %v out of range", s, d)
		}
	})
}

// TestConcurrentMixedOperations runs every operation at once under the race
// detector; each Get must return the content of some version of its secret.
func TestConcurrentMixedOperations(t *testing.T) {
	env := newEnv(t, Options{TTL: 10 * time.Second, MaxEntries: 3, RejectInterval: time.Second})
	ids := []string{idA, idB, idC, "ocid1.vaultsecret.oc1..dddd"}
	for _, id := range ids {
		env.b.put(id, "content:"+id, 1)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				k := ByID(ids[(g+i)%len(ids)])
				switch (g + i) % 7 {
				case 0:
					env.c.Invalidate(k)
				case 1:
					if _, err := env.c.Refresh(context.Background(), k); err != nil {
						errs <- err
					}
				case 2:
					if _, _, err := env.c.Rejected(context.Background(), k); err != nil && !errors.Is(err, ErrRejectLimited) {
						errs <- err
					}
				case 3:
					env.clock.Advance(time.Second)
				case 4:
					if i%50 == 0 {
						env.b.put(k.SecretID, "content:"+k.SecretID, int64(i))
					}
				default:
					s, err := env.c.Get(context.Background(), k)
					if err == nil && string(s.Bytes()) != "content:"+k.SecretID {
						err = fmt.Errorf("%v: wrong content", k)
					}
					if err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := env.c.Stats(); st.Entries > 3 {
		t.Fatalf("entries %d exceed MaxEntries", st.Entries)
	}
}

// TestRetryOptionsArePolicy: every field of RetryOptions reaches the
// retry policy, and zero fields leave its defaults.
func TestRetryOptionsArePolicy(t *testing.T) {
	o := RetryOptions{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: time.Second, MaxElapsed: time.Minute}
	p := o.policy()
	if p.MaxAttempts != 3 || p.BaseDelay != time.Millisecond || p.MaxDelay != time.Second || p.MaxElapsed != time.Minute {
		t.Errorf("policy = %+v", p)
	}
	if p := (RetryOptions{}).policy(); p.MaxAttempts != 0 || p.BaseDelay != 0 || p.MaxDelay != 0 || p.MaxElapsed != 0 {
		t.Errorf("zero options set %+v", p)
	}
}
