package changefeed_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/pkg/changefeed"
	"github.com/coffer-vault/coffer/pkg/changefeed/changefeedtest"
)

const secretA = "ocid1.vaultsecret.oc1..aaaa"

func TestClientListChanges(t *testing.T) {
	srv := changefeedtest.New(t)
	c := srv.Client()
	ctx := context.Background()
	p, err := c.ListChanges(ctx, changefeed.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Cursor != "0" || len(p.Items) != 0 || p.Reset {
		t.Fatalf("start: %+v", p)
	}
	srv.Publish(changefeed.Change{Kind: changefeed.KindSecret, ID: secretA, Change: changefeed.VersionCreated, CurrentVersionNumber: 2, VersionNumbers: []int64{2}})
	p, err = c.ListChanges(ctx, changefeed.Request{Cursor: p.Cursor, Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 1 || p.Items[0].ID != secretA || p.Items[0].CurrentVersionNumber != 2 || p.Items[0].Sequence != 1 || p.Cursor != "1" {
		t.Fatalf("after publish: %+v", p)
	}
	// A bad cursor is the server's 400, not "unavailable".
	_, err = c.ListChanges(ctx, changefeed.Request{Cursor: "x"})
	if err == nil || changefeed.Unavailable(err) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestClientUnavailable(t *testing.T) {
	for _, status := range []int{404, 501} {
		srv := changefeedtest.New(t)
		srv.SetStatus(status)
		_, err := srv.Client().ListChanges(context.Background(), changefeed.Request{})
		if !errors.Is(err, changefeed.ErrUnavailable) {
			t.Errorf("%d: %v, want ErrUnavailable", status, err)
		}
	}
	srv := changefeedtest.New(t)
	srv.SetStatus(500)
	if _, err := srv.Client().ListChanges(context.Background(), changefeed.Request{}); err == nil || changefeed.Unavailable(err) {
		t.Errorf("500: %v", err)
	}
}

// recorder is a Handler that reports what it receives on channels.
type recorder struct {
	changes chan []changefeed.Change
	resets  chan struct{}
}

func newRecorder() *recorder {
	return &recorder{changes: make(chan []changefeed.Change, 10), resets: make(chan struct{}, 10)}
}

func (r *recorder) Changes(cs []changefeed.Change) { r.changes <- cs }
func (r *recorder) Reset()                         { r.resets <- struct{}{} }

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestFollow(t *testing.T) {
	srv := changefeedtest.New(t)
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	sleeps := make(chan time.Duration, 10)
	done := make(chan error, 1)
	go func() {
		done <- changefeed.Follow(ctx, srv.Client(), rec, changefeed.FollowOptions{
			Wait: 10 * time.Second,
			Sleep: func(ctx context.Context, d time.Duration) error {
				sleeps <- d
				return ctx.Err()
			},
		})
	}()
	recv(t, rec.resets, "the reset on first contact")
	recv(t, srv.Polling(), "the first long poll")
	srv.Publish(changefeed.Change{Kind: changefeed.KindSecret, ID: secretA, Change: changefeed.VersionCreated, CurrentVersionNumber: 2})
	got := recv(t, rec.changes, "changes")
	if len(got) != 1 || got[0].ID != secretA {
		t.Fatalf("changes: %+v", got)
	}
	recv(t, srv.Polling(), "the next long poll")
	srv.ResetNext()
	recv(t, rec.resets, "the server's reset")

	// A 500 is retried with backoff from the same cursor.
	recv(t, srv.Polling(), "the long poll after the reset")
	srv.SetStatus(500)
	if d := recv(t, sleeps, "a backoff"); d < 0 || d > time.Second {
		t.Fatalf("first backoff %v, want within [0, 1s]", d)
	}
	srv.SetStatus(0)
	srv.Publish(changefeed.Change{Kind: changefeed.KindKey, ID: "ocid1.key.oc1..kkkk", Change: changefeed.Updated})
	if got := recv(t, rec.changes, "changes after the failure"); len(got) != 1 || got[0].Kind != changefeed.KindKey {
		t.Fatalf("resumed: %+v (a lost cursor would have skipped it)", got)
	}
	cancel()
	if err := recv(t, done, "Follow to return"); err != nil {
		t.Fatalf("Follow after cancel: %v", err)
	}
}

func TestFollowStopsWhenUnavailable(t *testing.T) {
	for _, status := range []int{404, 501} {
		srv := changefeedtest.New(t)
		srv.SetStatus(status)
		rec := newRecorder()
		err := changefeed.Follow(context.Background(), srv.Client(), rec, changefeed.FollowOptions{})
		if !changefeed.Unavailable(err) {
			t.Fatalf("%d: Follow returned %v, want ErrUnavailable", status, err)
		}
		if srv.Calls() != 1 || len(rec.resets) != 0 {
			t.Fatalf("%d: %d calls, %d resets; want 1 call and no reset", status, srv.Calls(), len(rec.resets))
		}
	}
}

// A 501 after the feed was reached (a downgrade) also stops Follow.
func TestFollowStopsOnLaterUnavailable(t *testing.T) {
	srv := changefeedtest.New(t)
	rec := newRecorder()
	var wg sync.WaitGroup
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		err = changefeed.Follow(context.Background(), srv.Client(), rec, changefeed.FollowOptions{})
	}()
	recv(t, srv.Polling(), "the first long poll")
	srv.SetStatus(501)
	wg.Wait()
	if !changefeed.Unavailable(err) {
		t.Fatalf("Follow returned %v", err)
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"items":[],"cursor":"c1","reset":false}`, true},
		{`{"items":[{"sequence":1,"kind":"SECRET","id":"ocid1.vaultsecret.oc1..a","change":"DELETED","versionNumbers":[],"time":"2030-01-01T00:00:00Z"}],"cursor":"c2"}`, true},
		{`{"items":[]}`, false},
		{`{"items":"nope","cursor":"c"}`, false},
		{`not json with a secret in it`, false},
	} {
		_, err := changefeed.Decode([]byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("Decode(%s): %v", tc.body, err)
		}
		if err != nil && !errors.Is(err, changefeed.ErrMalformed) {
			t.Errorf("Decode(%s): %v is not ErrMalformed", tc.body, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"items":[{"sequence":1,"kind":"SECRET","id":"x","currentVersionNumber":3,"versionNumbers":[3],"time":"2030-01-01T00:00:00Z"}],"cursor":"c","reset":true}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := changefeed.Decode(b)
		if err == nil && p.Cursor == "" {
			t.Fatal("accepted an answer without a cursor")
		}
	})
}

// svcErr is an SDK-style service error.
type svcErr struct{ status int }

func (e svcErr) Error() string           { return "service error" }
func (e svcErr) GetHTTPStatusCode() int  { return e.status }
func (e svcErr) GetMessage() string      { return "" }
func (e svcErr) GetCode() string         { return "InvalidParameter" }
func (e svcErr) GetOpcRequestID() string { return "" }

// scripted answers calls in order and records the cursors asked for; after
// its script it cancels the context.
type scripted struct {
	answers []func() (changefeed.Page, error)
	cursors []string
	cancel  context.CancelFunc
}

func (s *scripted) ListChanges(ctx context.Context, req changefeed.Request) (changefeed.Page, error) {
	s.cursors = append(s.cursors, req.Cursor)
	if len(s.answers) == 0 {
		s.cancel()
		return changefeed.Page{}, ctx.Err()
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return a()
}

// A refused cursor (400) starts again from the end of the feed, with a
// reset, instead of repeating the refused cursor forever.
func TestFollowRefusedCursor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	page := func(c string) func() (changefeed.Page, error) {
		return func() (changefeed.Page, error) { return changefeed.Page{Cursor: c}, nil }
	}
	l := &scripted{cancel: cancel, answers: []func() (changefeed.Page, error){
		page("c1"),
		func() (changefeed.Page, error) { return changefeed.Page{}, svcErr{400} },
		page("c2"),
	}}
	rec := newRecorder()
	err := changefeed.Follow(ctx, l, rec, changefeed.FollowOptions{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(l.cursors); got != "[ c1  c2]" {
		t.Fatalf("cursors asked: %q", got)
	}
	if len(rec.resets) != 2 {
		t.Fatalf("%d resets, want 2 (first contact, after the refusal)", len(rec.resets))
	}
}
