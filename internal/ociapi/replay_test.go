package ociapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/store/memledger"
)

// fakeVerifier accepts any request whose signature does not start with
// "bad", as principal "p", and counts its calls.
type fakeVerifier struct{ calls atomic.Int32 }

func (v *fakeVerifier) Verify(_ context.Context, r *http.Request, _ []byte) (*authz.Principal, error) {
	v.calls.Add(1)
	p, err := authn.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil || strings.HasPrefix(p.Signature, "bad") {
		return nil, authn.ErrNotAuthenticated
	}
	return &authz.Principal{ID: "p"}, nil
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type replayEnv struct {
	t        *testing.T
	api      *API
	mux      *http.ServeMux
	clock    *fakeClock
	verifier *fakeVerifier
	ledger   *memledger.Ledger
	runs     atomic.Int32
	// result decides the next run of the "change" handler.
	result func() error
}

func newReplayEnv(t *testing.T, ledgerSize int) *replayEnv {
	e := &replayEnv{t: t, mux: http.NewServeMux(), clock: &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		verifier: &fakeVerifier{}, ledger: memledger.New(ledgerSize)}
	e.api = &API{
		Verifier: e.verifier, Log: slog.New(slog.DiscardHandler),
		Replay:   &ReplayGuard{Ledger: e.ledger, Window: 5 * time.Minute, Now: e.clock.Now},
		AuthFail: NewAuthFailLimiter(1, 3),
	}
	handler := func(c *Call) error {
		e.runs.Add(1)
		if e.result != nil {
			if err := e.result(); err != nil {
				return err
			}
		}
		return c.Reply("", map[string]string{"ok": "yes"})
	}
	e.api.Register(e.mux,
		Route{Pattern: "PUT /things/{id}", Operation: "UpdateThing", Handler: handler},
		Route{Pattern: "POST /things/{id}/actions/use", Operation: "UseThing", ReadOnly: true, Handler: handler},
		Route{Pattern: "GET /things/{id}", Operation: "GetThing", Handler: handler},
		Route{Pattern: "DELETE /things/{id}", Operation: "DeleteThing", Handler: handler},
	)
	return e
}

// signedAgo is how long before it arrives a request of these tests was
// signed: long enough for a copy to be a replay (401), not a repeat within
// the second of its date (429, TestReplayRepeatWithinSecond).
const signedAgo = 3 * time.Second

// signed is a request as a client signed it: the fake verifier looks at
// nothing but the signature, the guard at the signature and the date.
func (e *replayEnv) signed(method, path, sig string) *http.Request {
	return e.signedAt(method, path, sig, e.clock.Now().Add(-signedAgo))
}

func (e *replayEnv) signedAt(method, path, sig string, date time.Time) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(`{"x":1}`))
	if method == http.MethodGet {
		r = httptest.NewRequest(method, path, nil)
	}
	r.Header.Set("Date", date.Format(http.TimeFormat))
	r.Header.Set("Authorization", `Signature version="1",headers="date (request-target) host",keyId="t/u/f",algorithm="rsa-sha256",signature="`+sig+`"`)
	return r
}

func (e *replayEnv) do(r *http.Request) (int, ErrorBody, http.Header) {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	var body ErrorBody
	if w.Code >= 400 {
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			e.t.Fatalf("error body %q: %v", w.Body.String(), err)
		}
	}
	return w.Code, body, w.Header()
}

func (e *replayEnv) expect(r *http.Request, status int, code string) ErrorBody {
	e.t.Helper()
	got, body, _ := e.do(r)
	if got != status || body.Code != code {
		e.t.Fatalf("%s %s: got %d %q (%s), want %d %q", r.Method, r.URL.Path, got, body.Code, body.Message, status, code)
	}
	return body
}

// sig is a base64 signature of 256 bytes, as an RSA-2048 one.
func sig(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 256)) }

func TestReplayRefused(t *testing.T) {
	e := newReplayEnv(t, 0)
	s := sig(1)
	e.expect(e.signed("PUT", "/things/a", s), 200, "")
	body := e.expect(e.signed("PUT", "/things/a", s), 401, "NotAuthenticated")
	if !strings.Contains(body.Message, "replayed") || !strings.Contains(body.Message, "already accepted") {
		t.Fatalf("replay refusal says %q; it should say the request was replayed", body.Message)
	}
	e.expect(e.signed("DELETE", "/things/a", sig(2)), 200, "")
	e.expect(e.signed("DELETE", "/things/a", sig(2)), 401, "NotAuthenticated")
	// Another signature is another request.
	e.expect(e.signed("PUT", "/things/a", sig(3)), 200, "")
	// GET and routes marked ReadOnly are not guarded.
	for range 3 {
		e.expect(e.signed("GET", "/things/a", sig(4)), 200, "")
		e.expect(e.signed("POST", "/things/a/actions/use", sig(5)), 200, "")
	}
	if n := e.runs.Load(); n != 3+6 {
		t.Fatalf("handler ran %d times, want 9: a refused copy must not run", n)
	}
	// Still refused near the end of the window...
	e.clock.Add(5*time.Minute - time.Second)
	e.expect(e.signed("PUT", "/things/a", s), 401, "NotAuthenticated")
}

// TestReplayRepeatWithinSecond: two identical requests signed within one
// second are one signed request. A copy that arrives within the second of
// its date is refused with 429 and Retry-After: 1, so that an SDK signs it
// again in a later second; the handler does not run for it, and a later
// copy is the 401 of a replay.
func TestReplayRepeatWithinSecond(t *testing.T) {
	e := newReplayEnv(t, 0)
	now := e.clock.Now()
	e.expect(e.signedAt("PUT", "/things/a", sig(1), now), 200, "")
	before := e.api.AuthFail.tracked()
	code, body, h := e.do(e.signedAt("PUT", "/things/a", sig(1), now))
	if code != 429 || body.Code != "TooManyRequests" || h.Get("Retry-After") != "1" || !strings.Contains(body.Message, "sign the repeat again") {
		t.Fatalf("a repeat within the second: %d %q %q, Retry-After %q", code, body.Code, body.Message, h.Get("Retry-After"))
	}
	if n := e.runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
	if e.api.AuthFail.tracked() != before {
		t.Fatal("a repeat within the second counted as a failed authentication")
	}
	e.clock.Add(sameSecond)
	e.expect(e.signedAt("PUT", "/things/a", sig(1), now), 401, "NotAuthenticated")
}

// TestReplayRespelledSignature: base64 ignores the unused low bits of the
// last character, so a signature can be respelled; the copy is still one.
func TestReplayRespelledSignature(t *testing.T) {
	e := newReplayEnv(t, 0)
	s := sig(7) // 256 bytes: "==" padding, 4 unused bits before it
	i := len(s) - 3
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	v := strings.IndexByte(alphabet, s[i])
	respelled := s[:i] + string(alphabet[v^1]) + s[i+1:]
	a, _ := base64.StdEncoding.DecodeString(s)
	b, err := base64.StdEncoding.DecodeString(respelled)
	if err != nil || !bytes.Equal(a, b) || respelled == s {
		t.Fatalf("respelling failed: %v", err)
	}
	e.expect(e.signed("PUT", "/things/a", s), 200, "")
	e.expect(e.signed("PUT", "/things/a", respelled), 401, "NotAuthenticated")
}

// TestReplayFailedRequestRetry: a request that failed changed nothing, and
// its sender's retry may carry the same signature: it runs, within the
// grace and once; later copies are refused.
func TestReplayFailedRequestRetry(t *testing.T) {
	for _, fail := range []struct {
		name   string
		err    error
		status int
	}{
		{"conflict", errs.E(errs.IncorrectState, "busy"), 409},
		{"invalid", errs.E(errs.Invalid, "no"), 400},
		{"denied", errs.E(errs.NotFound, "Authorization failed or requested resource not found."), 404},
		{"internal", errors.New("disk on fire"), 500},
		{"unavailable", errs.E(errs.Unavailable, "later"), 503},
	} {
		t.Run(fail.name, func(t *testing.T) {
			e := newReplayEnv(t, 0)
			failures := 1
			e.result = func() error {
				if failures > 0 {
					failures--
					return fail.err
				}
				return nil
			}
			s := sig(1)
			e.expect(e.signed("PUT", "/things/a", s), fail.status, codeOf(fail.status))
			e.clock.Add(time.Second)
			e.expect(e.signed("PUT", "/things/a", s), 200, "")
			e.expect(e.signed("PUT", "/things/a", s), 401, "NotAuthenticated")

			// A failed request copied after the grace is refused.
			failures = 1
			s2 := sig(2)
			r := e.signed("PUT", "/things/a", s2)
			e.expect(r, fail.status, codeOf(fail.status))
			e.clock.Add(DefaultRetryGrace)
			r = e.signed("PUT", "/things/a", s2)
			r.Header.Set("Date", e.clock.Now().Add(-DefaultRetryGrace).Format(http.TimeFormat))
			e.expect(r, 401, "NotAuthenticated")
		})
	}
}

func codeOf(status int) string {
	return map[int]string{400: "InvalidParameter", 404: "NotAuthorizedOrNotFound", 409: "IncorrectState", 500: "InternalServerError", 503: "ServiceUnavailable"}[status]
}

func TestReplayPanicReleases(t *testing.T) {
	e := newReplayEnv(t, 0)
	panicked := false
	e.result = func() error {
		if !panicked {
			panicked = true
			panic("handler bug")
		}
		return nil
	}
	e.expect(e.signed("PUT", "/things/a", sig(1)), 500, "InternalServerError")
	e.expect(e.signed("PUT", "/things/a", sig(1)), 200, "")
}

// TestReplayConcurrentCopies: of copies sent together, one runs.
func TestReplayConcurrentCopies(t *testing.T) {
	e := newReplayEnv(t, 0)
	e.api.AuthFail = nil // refused copies count as failures; here only the refusal matters
	gate := make(chan struct{})
	e.result = func() error { <-gate; return nil }
	const copies = 16
	codes := make(chan int, copies)
	var wg sync.WaitGroup
	for range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := httptest.NewRecorder()
			e.mux.ServeHTTP(w, e.signed("PUT", "/things/a", sig(1)))
			codes <- w.Code
		}()
	}
	// All but the one that runs are refused without waiting for it.
	refused := 0
	for refused < copies-1 {
		if c := <-codes; c != 401 {
			t.Fatalf("a copy got %d while the first was running, want 401", c)
		}
		refused++
	}
	close(gate)
	wg.Wait()
	if c := <-codes; c != 200 {
		t.Fatalf("the copy that ran got %d", c)
	}
	if n := e.runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

// TestReplayLedgerFull: a full ledger refuses changes with 503 rather than
// forgetting what it holds.
func TestReplayLedgerFull(t *testing.T) {
	e := newReplayEnv(t, 2)
	e.expect(e.signed("PUT", "/things/a", sig(1)), 200, "")
	e.expect(e.signed("PUT", "/things/a", sig(2)), 200, "")
	_, body, h := e.do(e.signed("PUT", "/things/a", sig(3)))
	if body.Code != "ServiceUnavailable" || h.Get("Retry-After") == "" {
		t.Fatalf("full ledger: %q %q, Retry-After %q", body.Code, body.Message, h.Get("Retry-After"))
	}
	e.expect(e.signed("PUT", "/things/a", sig(1)), 401, "NotAuthenticated")
	e.expect(e.signed("POST", "/things/a/actions/use", sig(3)), 200, "")
}

// TestAuthFailThrottle: failures from one address empty its bucket; then
// its requests get 429 before the verifier runs, other addresses and
// successes are untouched, and replays count as failures.
func TestAuthFailThrottle(t *testing.T) {
	e := newReplayEnv(t, 0) // AuthFail: 1/s, burst 3
	from := func(r *http.Request, addr string) *http.Request { r.RemoteAddr = addr; return r }
	for range 10 {
		e.expect(from(e.signed("GET", "/things/a", sig(9)), "192.0.2.1:1000"), 200, "")
	}
	for range 3 {
		e.expect(from(e.signed("GET", "/things/a", "bad"+sig(1)), "192.0.2.1:1000"), 401, "NotAuthenticated")
	}
	before := e.verifier.calls.Load()
	code, body, h := e.do(from(e.signed("GET", "/things/a", sig(9)), "192.0.2.1:2000"))
	if code != 429 || body.Code != "TooManyRequests" || h.Get("Retry-After") == "" {
		t.Fatalf("after the burst of failures: %d %q, Retry-After %q", code, body.Code, h.Get("Retry-After"))
	}
	if e.verifier.calls.Load() != before {
		t.Fatal("a throttled request still had its signature checked")
	}
	e.expect(from(e.signed("GET", "/things/a", sig(9)), "192.0.2.2:1000"), 200, "")
	time.Sleep(1100 * time.Millisecond)
	e.expect(from(e.signed("GET", "/things/a", sig(9)), "192.0.2.1:1000"), 200, "")

	// Replays drain the bucket too.
	e.expect(from(e.signed("PUT", "/things/a", sig(8)), "192.0.2.3:1"), 200, "")
	for range 3 {
		e.expect(from(e.signed("PUT", "/things/a", sig(8)), "192.0.2.3:1"), 401, "NotAuthenticated")
	}
	e.expect(from(e.signed("GET", "/things/a", sig(9)), "192.0.2.3:1"), 429, "TooManyRequests")
}
