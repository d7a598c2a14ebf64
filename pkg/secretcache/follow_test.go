package secretcache

import (
	"testing"
	"time"

	"github.com/coffer-vault/coffer/pkg/changefeed"
	"github.com/coffer-vault/coffer/pkg/changefeed/changefeedtest"
)

func recvWithin[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// followEnv is a cache following a fake feed, caught up (in its first
// long poll), with a channel reporting each applied feed answer.
func followEnv(t *testing.T, opts Options) (*testEnv, *changefeedtest.Server, <-chan struct{}) {
	t.Helper()
	srv := changefeedtest.New(t)
	opts.FollowChanges = srv.Client()
	env := newEnv(t, opts)
	recvWithin(t, srv.Polling(), "the follower's first long poll")
	applied := make(chan struct{}, 10)
	env.c.mu.Lock()
	env.c.testHookFeed = func() { applied <- struct{}{} }
	env.c.mu.Unlock()
	return env, srv, applied
}

func secretChange(id string, version int64) changefeed.Change {
	return changefeed.Change{Kind: changefeed.KindSecret, ID: id, VaultID: vault, Change: changefeed.VersionCreated,
		CurrentVersionNumber: version, VersionNumbers: []int64{version}}
}

// A change to a cached secret reaches the next read at once, long before
// the TTL; other entries stay cached.
func TestFollowChangesInvalidates(t *testing.T) {
	for _, eager := range []bool{true, false} {
		opts := Options{TTL: time.Hour}
		if !eager {
			opts.RefreshAhead = -1
		}
		env, srv, applied := followEnv(t, opts)
		env.b.put(idA, "a1", 1)
		env.b.put(idB, "b1", 1)
		env.b.name(vault, "b", idB)
		mustGet(t, env.c, Key{SecretID: idA})
		mustGet(t, env.c, Key{VaultID: vault, Name: "b"})

		env.b.put(idA, "a2", 2)
		stored := env.stored()
		srv.Publish(secretChange(idA, 2))
		recvWithin(t, applied, "the change to be applied")
		if eager {
			if k := recvWithin(t, stored, "the background re-read"); k.SecretID != idA {
				t.Fatalf("re-read %v", k)
			}
		}
		if s := mustGet(t, env.c, Key{SecretID: idA}); s.VersionNumber != 2 || string(s.Bytes()) != "a2" {
			t.Fatalf("eager=%v: after the change Get returned version %d", eager, s.VersionNumber)
		}
		if n := env.b.count(idA); n != 2 {
			t.Fatalf("eager=%v: %d reads of A, want 2", eager, n)
		}
		// A by-name entry is matched through the OCID it resolved to.
		env.b.put(idB, "b2", 2)
		srv.Publish(secretChange(idB, 2))
		recvWithin(t, applied, "the change to B")
		if s := mustGet(t, env.c, Key{VaultID: vault, Name: "b"}); s.VersionNumber != 2 {
			t.Fatalf("eager=%v: by-name Get returned version %d after its change", eager, s.VersionNumber)
		}
		// A key change or another secret's change leaves A cached.
		srv.Publish(changefeed.Change{Kind: changefeed.KindKey, ID: idA, Change: changefeed.Updated},
			secretChange(idC, 1))
		recvWithin(t, applied, "unrelated changes")
		mustGet(t, env.c, Key{SecretID: idA})
		if n := env.b.count(idA); n != 2 {
			t.Fatalf("eager=%v: unrelated changes caused a read of A (%d reads)", eager, n)
		}
		if st := env.c.Stats(); st.FeedInvalidations != 2 {
			t.Fatalf("eager=%v: FeedInvalidations = %d, want 2", eager, st.FeedInvalidations)
		}
	}
}

func TestFollowChangesReset(t *testing.T) {
	env, srv, applied := followEnv(t, Options{TTL: time.Hour, RefreshAhead: -1})
	env.b.put(idA, "a1", 1)
	env.b.put(idB, "b1", 1)
	mustGet(t, env.c, Key{SecretID: idA})
	mustGet(t, env.c, Key{SecretID: idB})
	srv.ResetNext()
	recvWithin(t, applied, "the reset")
	if n := env.c.Stats().Entries; n != 0 {
		t.Fatalf("%d entries after a reset", n)
	}
	mustGet(t, env.c, Key{SecretID: idA})
	if n := env.b.count(idA); n != 2 {
		t.Fatalf("%d reads of A, want 2", n)
	}
}

// Against a service without a feed (real OCI: 404; an older Coffer: 501)
// the follower stops and the TTL rules as before.
func TestFollowChangesUnavailable(t *testing.T) {
	for _, status := range []int{404, 501} {
		srv := changefeedtest.New(t)
		srv.SetStatus(status)
		env := newEnv(t, Options{TTL: time.Minute, FollowChanges: srv.Client()})
		recvWithin(t, env.c.feedDone, "the follower to stop")
		env.b.put(idA, "a1", 1)
		mustGet(t, env.c, Key{SecretID: idA})
		env.b.put(idA, "a2", 2)
		if s := mustGet(t, env.c, Key{SecretID: idA}); s.VersionNumber != 1 {
			t.Fatalf("%d: version %d within the TTL", status, s.VersionNumber)
		}
		env.clock.Advance(2 * time.Minute)
		if s := mustGet(t, env.c, Key{SecretID: idA}); s.VersionNumber != 2 {
			t.Fatalf("%d: version %d after the TTL", status, s.VersionNumber)
		}
		if srv.Calls() != 1 {
			t.Fatalf("%d: %d feed calls, want 1", status, srv.Calls())
		}
	}
}
