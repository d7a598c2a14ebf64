package agent

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/pkg/changefeed"
	"github.com/coffer-vault/coffer/pkg/changefeed/changefeedtest"
)

const sidDB = "ocid1.vaultsecret.oc1..db"

// feedFiles: one file by OCID, one by name, one of another secret.
const feedFiles = `{
  "refresh_interval": "1h",
  "files": [
    {"path": "a.txt", "secret": {"id": "` + sid1 + `"}},
    {"path": "db.txt", "secret": {"vault_id": "` + vault + `", "name": "db"}},
    {"path": "b.txt", "secret": {"id": "` + sid2 + `"}}
  ]}`

type feedFixture struct {
	*fixture
	srv     *changefeedtest.Server
	st      *stepTimer
	written chan string
	stopped chan error
	cancel  context.CancelFunc
	done    chan error
}

// startFeedFixture runs an agent following a fake feed (answering status
// when it is not zero), with a stepped timer and each file write
// reported.
func startFeedFixture(t *testing.T, status int) *feedFixture {
	t.Helper()
	f := newFixture(t, feedFiles, func(_ string, be *fakeBackend) {
		be.put(sid1, "CANARY-a-1")
		be.put(sid2, "CANARY-b-1")
		be.put(sidDB, "CANARY-db-1")
		be.name(vault, "db", sidDB)
	})
	ff := &feedFixture{fixture: f, srv: changefeedtest.New(t), st: newStepTimer(), written: make(chan string, 100), stopped: make(chan error, 1), done: make(chan error, 1)}
	ff.srv.SetStatus(status)
	f.agent.opts.After = ff.st.After
	f.agent.opts.Changes = ff.srv.Client()
	f.agent.testHookWritten = func(path string) { ff.written <- filepath.Base(path) }
	f.agent.testHookFeedStopped = func(err error) { ff.stopped <- err }
	ctx, cancel := context.WithCancel(context.Background())
	ff.cancel = cancel
	go func() { ff.done <- f.agent.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		waitStopped(t, ff.done)
	})
	return ff
}

// writes returns the next n files written, sorted by Refresh's order.
func (ff *feedFixture) writes(n int) []string {
	ff.t.Helper()
	var got []string
	for range n {
		select {
		case p := <-ff.written:
			got = append(got, p)
		case <-time.After(10 * time.Second):
			ff.t.Fatalf("timed out after writes %v, want %d", got, n)
		}
	}
	return got
}

func change(id string) changefeed.Change {
	return changefeed.Change{Kind: changefeed.KindSecret, ID: id, VaultID: vault, Change: changefeed.VersionCreated}
}

func TestFollowChangesReRenders(t *testing.T) {
	ff := startFeedFixture(t, 0)
	// The first refresh, then the full refresh of the follower's first
	// contact (it covers changes made before the feed's cursor).
	ff.writes(6)
	select {
	case <-ff.srv.Polling():
	case <-time.After(10 * time.Second):
		t.Fatal("the follower did not reach its long poll")
	}

	// A rotation of a rendered secret: only its file is rendered again,
	// at once (the timer never fires in this test).
	ff.be.put(sid1, "CANARY-a-2")
	start := time.Now()
	ff.srv.Publish(change(sid1))
	if got := ff.writes(1); got[0] != "a.txt" {
		t.Fatalf("wrote %v, want a.txt", got)
	}
	t.Logf("change reported -> file rewritten: %v", time.Since(start))
	if got := ff.read("a.txt"); got != "CANARY-a-2" {
		t.Fatalf("a.txt = %q", got)
	}

	// An unrelated secret (and a key with a rendered secret's OCID)
	// renders nothing; the change to the secret read by name, published
	// after them, is the next and only write.
	ff.be.mu.Lock()
	calls := ff.be.calls
	ff.be.mu.Unlock()
	ff.srv.Publish(change("ocid1.vaultsecret.oc1..other"),
		changefeed.Change{Kind: changefeed.KindKey, ID: sid2, Change: changefeed.Updated})
	ff.be.put(sidDB, "CANARY-db-2")
	ff.srv.Publish(change(sidDB))
	if got := ff.writes(1); got[0] != "db.txt" {
		t.Fatalf("wrote %v, want db.txt", got)
	}
	if got := ff.read("db.txt"); got != "CANARY-db-2" {
		t.Fatalf("db.txt = %q", got)
	}
	ff.be.mu.Lock()
	if n := ff.be.calls - calls; n != 1 {
		t.Errorf("%d secret reads for one change, want 1", n)
	}
	ff.be.mu.Unlock()

	// A reset re-renders everything.
	ff.be.put(sid2, "CANARY-b-2")
	ff.srv.ResetNext()
	got := ff.writes(3)
	if strings.Join(got, ",") != "a.txt,db.txt,b.txt" {
		t.Fatalf("after reset wrote %v", got)
	}
	if got := ff.read("b.txt"); got != "CANARY-b-2" {
		t.Fatalf("b.txt = %q", got)
	}
	// No change ever moved the schedule: one wait per full refresh (the
	// first, the first contact's, the reset's).
	for i := range 3 {
		select {
		case <-ff.st.asked:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d schedule waits, want 3", i)
		}
	}
	if n := len(ff.st.asked); n != 0 {
		t.Errorf("%d more schedule waits, want 3 in all", n)
	}
}

// Without a feed (real OCI: 404; an older Coffer: 501) the follower stops,
// says so once at info, and the schedule refreshes as before.
func TestFollowChangesUnavailable(t *testing.T) {
	for _, status := range []int{404, 501} {
		ff := startFeedFixture(t, status)
		ff.writes(3)
		select {
		case <-ff.st.asked:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not wait")
		}
		ff.be.put(sid1, "CANARY-a-2")
		ff.st.fire <- time.Now()
		ff.writes(3)
		if got := ff.read("a.txt"); got != "CANARY-a-2" {
			t.Fatalf("%d: a.txt = %q after the scheduled refresh", status, got)
		}
		select {
		case <-ff.st.asked:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not wait again")
		}
		select {
		case err := <-ff.stopped:
			if !changefeed.Unavailable(err) {
				t.Fatalf("%d: follower stopped with %v", status, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the follower did not stop")
		}
		if n := strings.Count(ff.logs.String(), "agent: no change feed"); n != 1 {
			t.Errorf("%d: %q logged %d times, want once:\n%s", status, "no change feed", n, ff.logs)
		}
		if !strings.Contains(ff.logs.String(), `"level":"INFO","msg":"agent: no change feed`) {
			t.Errorf("%d: the unavailable feed is not logged at info", status)
		}
		if n := ff.srv.Calls(); n != 1 {
			t.Errorf("%d: %d feed calls, want 1", status, n)
		}
	}
}
