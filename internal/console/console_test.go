package console_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/blindindex"
	"github.com/coffer-vault/coffer/internal/clocktest"
	"github.com/coffer-vault/coffer/internal/console"
	"github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

// allowAll is an authorizer that allows everything (the console's own
// routes; the API route's authorization is tested against a real server).
type allowAll struct{}

func (allowAll) Authorize(context.Context, authz.Request) (authz.Decision, error) {
	return authz.Decision{Allowed: true}, nil
}

type harness struct {
	t        *testing.T
	console  *console.Handler
	clock    *clocktest.Clock
	ids      *identity.Service
	st       *memstore.Store
	srv      *httptest.Server
	mux      *http.ServeMux
	logs     *bytes.Buffer
	userID   string
	password string
}

func newHarness(t *testing.T, tls bool, opt func(*console.Options)) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, clock: clocktest.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)), st: memstore.New(), logs: &bytes.Buffer{}}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	names, err := blindindex.New(key)
	if err != nil {
		t.Fatal(err)
	}
	h.ids = identity.New(h.st, names, "dev", h.clock.Now)
	// Cheap hashes: these tests are about sessions, not hashing cost.
	h.ids.PasswordParams = identity.PasswordParams{Time: 1, MemoryKiB: 64, Threads: 1}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.ids.Bootstrap(ctx, identity.BootstrapSpec{TenancyName: "t", AdminName: "admin", AdminKey: &rk.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	name, desc := "alice", "a console user"
	u, err := h.ids.CreateUser(ctx, identity.UserInput{CompartmentID: res.TenancyID, Name: &name, Description: &desc})
	if err != nil {
		t.Fatal(err)
	}
	h.userID = u.ID
	h.password = h.reset()

	o := console.Options{Users: h.ids, Compartments: h.ids, Store: h.st, Now: h.clock.Now,
		Log: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if opt != nil {
		opt(&o)
	}
	ch := console.New(o)
	h.console = ch
	api := &ociapi.API{Verifier: ch, Authorizer: allowAll{}, Log: o.Log, PublicLimiter: ociapi.NewRateLimiter(1000, 1000)}
	mux := http.NewServeMux()
	api.Register(console.Mux{Mux: mux}, ch.Routes()...)
	mux.Handle("/console/", console.NotFound)
	h.mux = mux
	if tls {
		h.srv = httptest.NewTLSServer(mux)
	} else {
		h.srv = httptest.NewServer(mux)
	}
	t.Cleanup(h.srv.Close)
	return h
}

// reset gives alice a new password and returns it.
func (h *harness) reset() string {
	h.t.Helper()
	p, err := h.ids.CreateOrResetUIPassword(context.Background(), h.userID)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(p.Password)
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// req sends a request. hdr entries with an empty value are removed (Origin
// is the server's own by default).
func (h *harness) req(method, path string, body string, ck *http.Cookie, hdr map[string]string) reply {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Origin", h.srv.URL)
	for k, v := range hdr {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	if ck != nil {
		r.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	resp, err := h.srv.Client().Do(r)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func loginBody(name, password string) string {
	b, _ := json.Marshal(map[string]string{"userName": name, "password": password})
	return string(b)
}

type sessionInfo struct {
	UserName  string `json:"userName"`
	UserID    string `json:"userId"`
	CSRFToken string `json:"csrfToken"`
}

// login logs alice in and returns her cookie and CSRF token.
func (h *harness) login() (*http.Cookie, string) {
	h.t.Helper()
	r := h.req("POST", "/console/login", loginBody("alice", h.password), nil, nil)
	if r.status != http.StatusOK {
		h.t.Fatalf("login: %d %s", r.status, r.body)
	}
	var info sessionInfo
	if err := json.Unmarshal(r.body, &info); err != nil || info.UserID != h.userID || info.UserName != "alice" || len(info.CSRFToken) < 40 {
		h.t.Fatalf("login answered %s (%v)", r.body, err)
	}
	resp := http.Response{Header: r.header}
	for _, ck := range resp.Cookies() {
		if ck.Name == console.CookieName {
			return ck, info.CSRFToken
		}
	}
	h.t.Fatalf("login set no %s cookie: %v", console.CookieName, r.header["Set-Cookie"])
	return nil, ""
}

func (h *harness) sessionCount() int {
	h.t.Helper()
	n := 0
	err := h.st.View(context.Background(), func(r store.Reader) error {
		es, err := r.List("console/session/", "", 0)
		n = len(es)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestLoginAndSession(t *testing.T) {
	h := newHarness(t, false, nil)
	ck, csrf := h.login()
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console/" || ck.Secure || len(ck.Value) != 43 {
		t.Fatalf("cookie = %+v", ck)
	}
	r := h.req("GET", "/console/session", "", ck, nil)
	var info sessionInfo
	if r.status != http.StatusOK || json.Unmarshal(r.body, &info) != nil || info.CSRFToken != csrf || info.UserID != h.userID {
		t.Fatalf("session: %d %s", r.status, r.body)
	}
	// The form works as well as JSON.
	r = h.req("POST", "/console/login", "userName=alice&password="+url.QueryEscape(h.password), nil,
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != http.StatusOK {
		t.Fatalf("form login: %d %s", r.status, r.body)
	}
	// The store holds the session under a hash, never the id itself.
	err := h.st.View(context.Background(), func(rd store.Reader) error {
		es, err := rd.List("", "", 0)
		for _, e := range es {
			if strings.Contains(e.Key, ck.Value) || bytes.Contains(e.Value, []byte(ck.Value)) || bytes.Contains(e.Value, []byte(h.password)) {
				t.Errorf("the store holds the session id or the password under %s", e.Key)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h.logs.String(), h.password) || strings.Contains(h.logs.String(), ck.Value) {
		t.Fatal("the log holds the password or the session id")
	}
}

// A wrong password and an unknown user are the same answer.
func TestLoginFailuresLookAlike(t *testing.T) {
	h := newHarness(t, false, nil)
	wrong := h.req("POST", "/console/login", loginBody("alice", "not-it"), nil, nil)
	unknown := h.req("POST", "/console/login", loginBody("mallory", "not-it"), nil, nil)
	if wrong.status != http.StatusUnauthorized || unknown.status != wrong.status || !bytes.Equal(wrong.body, unknown.body) {
		t.Fatalf("wrong password: %d %s; unknown user: %d %s", wrong.status, wrong.body, unknown.status, unknown.body)
	}
	if wrong.header.Get("Set-Cookie") != "" || unknown.header.Get("Set-Cookie") != "" {
		t.Fatal("a failed login set a cookie")
	}
	for _, tc := range []struct{ body, ct string }{
		{`{"userName":"alice"}`, "application/json"},
		{`{"userName":5,"password":"x"}`, "application/json"},
		{`userName=alice&password=x`, "text/plain"},
		{`{"userName":"` + strings.Repeat("a", 200) + `","password":"x"}`, "application/json"},
	} {
		r := h.req("POST", "/console/login", tc.body, nil, map[string]string{"Content-Type": tc.ct})
		if r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte(`"code"`)) {
			t.Errorf("login %s (%s): %d %s, want 400 with an OCI error", tc.body, tc.ct, r.status, r.body)
		}
	}
}

func TestLoginThrottled(t *testing.T) {
	h := newHarness(t, false, func(o *console.Options) {
		o.NameFailures, o.AddrFailures, o.FailureRefill = 3, 5, time.Minute
	})
	for i := range 3 {
		if r := h.req("POST", "/console/login", loginBody("alice", "guess"), nil, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s", i, r.status, r.body)
		}
	}
	// The name's bucket is empty: even the right password waits, and is
	// not checked.
	r := h.req("POST", "/console/login", loginBody("ALICE", h.password), nil, nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !bytes.Contains(r.body, []byte("TooManyRequests")) {
		t.Fatalf("after 3 failures: %d %s (Retry-After %q)", r.status, r.body, r.header.Get("Retry-After"))
	}
	h.clock.Advance(time.Minute)
	h.login()
	// The success gave back only its own token: the next guess empties
	// the bucket again.
	if r := h.req("POST", "/console/login", loginBody("alice", "guess"), nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("guess after success: %d", r.status)
	}
	if r := h.req("POST", "/console/login", loginBody("alice", "guess"), nil, nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("second guess after success: %d, want 429", r.status)
	}
	// Per address: other names, same address.
	h.clock.Advance(time.Hour)
	for i := range 5 {
		if r := h.req("POST", "/console/login", loginBody("user"+string(rune('a'+i)), "guess"), nil, nil); r.status != http.StatusUnauthorized {
			t.Fatalf("name %d: %d", i, r.status)
		}
	}
	if r := h.req("POST", "/console/login", loginBody("bob", "guess"), nil, nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("after 5 failures from this address: %d, want 429", r.status)
	}
	// alice logged in from this address: it answers to her own budget
	// only (TestThrottleKnownAddressSurvivesAddressExhaustion).
	if r := h.req("POST", "/console/login", loginBody("alice", h.password), nil, nil); r.status != http.StatusOK {
		t.Fatalf("alice at her known address: %d, want 200", r.status)
	}
}

// loginFrom logs in through the handler as from the client at remoteAddr.
func (h *harness) loginFrom(remoteAddr, name, password string) int {
	h.t.Helper()
	r := httptest.NewRequest("POST", "http://vault.test/console/login", strings.NewReader(loginBody(name, password)))
	r.RemoteAddr = remoteAddr
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Origin", "http://vault.test")
	w := httptest.NewRecorder()
	h.mux.ServeHTTP(w, r)
	return w.Code
}

// Guessing alice's password from one address (and its /64) does not keep
// her from logging in from another.
func TestLoginNotLockedOutByOthers(t *testing.T) {
	h := newHarness(t, false, nil)
	for _, attacker := range []string{"192.0.2.1:4000", "[2001:db8:1:2::1]:4000"} {
		for i := range 30 {
			code := h.loginFrom(attacker, "Alice", "guess")
			want := http.StatusUnauthorized
			if i >= console.DefaultNameFailures {
				want = http.StatusTooManyRequests
			}
			if code != want {
				t.Fatalf("guess %d from %s: %d, want %d", i, attacker, code, want)
			}
		}
	}
	// Another address of the same /64 is the same attacker.
	if code := h.loginFrom("[2001:db8:1:2::99]:1", "alice", h.password); code != http.StatusTooManyRequests {
		t.Fatalf("the attacker's /64: %d, want 429", code)
	}
	for _, user := range []string{"198.51.100.7:5000", "[2001:db8:1:3::1]:5000"} {
		if code := h.loginFrom(user, "alice", h.password); code != http.StatusOK {
			t.Fatalf("alice from %s: %d, want 200", user, code)
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t, false, func(o *console.Options) { o.IdleTimeout, o.AbsoluteTimeout = 30*time.Minute, 2*time.Hour })
	ck, _ := h.login()
	for range 5 { // 5 x 25 min: active, but past the absolute timeout
		h.clock.Advance(25 * time.Minute)
		r := h.req("GET", "/console/session", "", ck, nil)
		if h.clock.Now().Sub(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)) < 2*time.Hour {
			if r.status != http.StatusOK {
				t.Fatalf("active session at %v: %d %s", h.clock.Now(), r.status, r.body)
			}
		} else if r.status != http.StatusUnauthorized {
			t.Fatalf("session past its absolute timeout: %d", r.status)
		}
	}
	if n := h.sessionCount(); n != 0 {
		t.Fatalf("%d expired sessions left in the store", n)
	}

	ck, _ = h.login()
	h.clock.Advance(30 * time.Minute)
	if r := h.req("GET", "/console/session", "", ck, nil); r.status != http.StatusUnauthorized || !bytes.Contains(r.body, []byte("NotAuthenticated")) {
		t.Fatalf("idle session: %d %s", r.status, r.body)
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t, false, nil)
	ck, csrf := h.login()
	r := h.req("POST", "/console/logout", "", ck, map[string]string{console.CSRFHeader: csrf})
	if r.status != http.StatusNoContent || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %s %q", r.status, r.body, r.header.Get("Set-Cookie"))
	}
	if r := h.req("GET", "/console/session", "", ck, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("session after logout: %d", r.status)
	}
	if n := h.sessionCount(); n != 0 {
		t.Fatalf("%d sessions left after logout", n)
	}
}

func TestCSRF(t *testing.T) {
	h := newHarness(t, false, nil)
	ck, csrf := h.login()
	for name, hdr := range map[string]map[string]string{
		"no token":          {},
		"wrong token":       {console.CSRFHeader: strings.Repeat("A", len(csrf))},
		"cross origin":      {console.CSRFHeader: csrf, "Origin": "https://evil.example"},
		"null origin":       {console.CSRFHeader: csrf, "Origin": "null"},
		"no origin":         {console.CSRFHeader: csrf, "Origin": ""},
		"cross referer":     {console.CSRFHeader: csrf, "Origin": "", "Referer": "https://evil.example/console/"},
		"other port origin": {console.CSRFHeader: csrf, "Origin": "http://127.0.0.1:1"},
	} {
		r := h.req("POST", "/console/logout", "", ck, hdr)
		if r.status != http.StatusForbidden || !bytes.Contains(r.body, []byte(`"NotAllowed"`)) {
			t.Errorf("logout with %s: %d %s, want 403 NotAllowed", name, r.status, r.body)
		}
	}
	if n := h.sessionCount(); n != 1 {
		t.Fatalf("a refused logout ended the session (%d left)", n)
	}
	if r := h.req("POST", "/console/login", loginBody("alice", h.password), nil, map[string]string{"Origin": "https://evil.example"}); r.status != http.StatusForbidden {
		t.Fatalf("cross-origin login: %d", r.status)
	}
	r := h.req("POST", "/console/logout", "", ck, map[string]string{console.CSRFHeader: csrf, "Origin": "", "Referer": h.srv.URL + "/console/"})
	if r.status != http.StatusNoContent {
		t.Fatalf("logout with token and same-origin Referer: %d %s", r.status, r.body)
	}
}

// Every console response carries the headers, errors included.
func TestHeadersOnEveryResponse(t *testing.T) {
	h := newHarness(t, false, nil)
	ck, _ := h.login()
	for _, tc := range []struct {
		method, path, body string
		ck                 *http.Cookie
		status             int
	}{
		{"GET", "/console/", "", nil, 200},
		{"GET", "/console/app.js", "", nil, 200},
		{"GET", "/console/app.css", "", nil, 200},
		{"GET", "/console/session", "", ck, 200},
		{"GET", "/console/session", "", nil, 401},
		{"POST", "/console/login", loginBody("alice", "bad"), nil, 401},
		{"POST", "/console/login", loginBody("alice", h.password), nil, 200},
		{"POST", "/console/logout", "", ck, 403},
		{"GET", "/console/nothing-here", "", nil, 404},
		{"GET", "/console/api/compartments", "", nil, 401},
		{"GET", "/console/api/compartments", "", ck, 200},
	} {
		r := h.req(tc.method, tc.path, tc.body, tc.ck, nil)
		if r.status != tc.status {
			t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.path, r.status, tc.status, r.body)
		}
		for k, want := range map[string]string{"Content-Security-Policy": console.ContentSecurityPolicy, "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
			if got := r.header.Get(k); got != want {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, got, want)
			}
		}
	}
	if !strings.Contains(console.ContentSecurityPolicy, "frame-ancestors 'none'") || strings.Contains(console.ContentSecurityPolicy, "unsafe-inline") {
		t.Fatal("the CSP allows framing or inline code")
	}
	page := h.req("GET", "/console/", "", nil, nil)
	if !bytes.Contains(page.body, []byte(`<script src="app.js"`)) || bytes.Contains(page.body, []byte("<script>")) ||
		bytes.Contains(page.body, []byte("style=")) || bytes.Contains(page.body, []byte("<style")) || bytes.Contains(page.body, []byte(" on")) {
		t.Fatalf("the page has inline script or style:\n%s", page.body)
	}
}

func TestCookieSecureOverTLS(t *testing.T) {
	h := newHarness(t, true, nil)
	ck, _ := h.login()
	if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie over TLS = %+v", ck)
	}
	if r := h.req("GET", "/console/session", "", ck, nil); r.status != http.StatusOK {
		t.Fatalf("session over TLS: %d", r.status)
	}
}

// A password reset ends the user's sessions; the old password no longer
// logs in.
func TestPasswordResetEndsSessions(t *testing.T) {
	h := newHarness(t, false, nil)
	ck, _ := h.login()
	old := h.password
	h.password = h.reset()
	if r := h.req("GET", "/console/session", "", ck, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("session after a reset: %d", r.status)
	}
	if n := h.sessionCount(); n != 0 {
		t.Fatalf("%d sessions left after a reset", n)
	}
	if r := h.req("POST", "/console/login", loginBody("alice", old), nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("login with the old password: %d", r.status)
	}
	h.login()
}

// The background job deletes expired sessions and keeps live ones.
func TestExpireSessions(t *testing.T) {
	h := newHarness(t, false, func(o *console.Options) { o.IdleTimeout = 30 * time.Minute })
	for range 3 {
		h.login()
	}
	h.clock.Advance(20 * time.Minute)
	ck, _ := h.login()
	h.clock.Advance(15 * time.Minute)
	n, err := h.console.ExpireSessions(context.Background())
	if err != nil || n != 3 {
		t.Fatalf("ExpireSessions = %d, %v; want 3", n, err)
	}
	if left := h.sessionCount(); left != 1 {
		t.Fatalf("%d sessions left, want 1", left)
	}
	if r := h.req("GET", "/console/session", "", ck, nil); r.status != http.StatusOK {
		t.Fatalf("the live session: %d", r.status)
	}
}

// Behind a TLS-terminating proxy (Options.Origin): the request arrives over
// plain HTTP, the browser's Origin is the public https one. The check
// accepts exactly it, the cookie is Secure, and X-Forwarded-* is ignored.
func TestPublicOrigin(t *testing.T) {
	const public = "https://vault.example.com"
	h := newHarness(t, false, func(o *console.Options) { o.Origin = public })
	good := map[string]string{"Origin": public}
	r := h.req("POST", "/console/login", loginBody("alice", h.password), nil, good)
	if r.status != http.StatusOK {
		t.Fatalf("login with the public origin: %d %s", r.status, r.body)
	}
	var ck *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == console.CookieName {
			ck = c
		}
	}
	if ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie behind an https origin = %+v", ck)
	}
	var info sessionInfo
	if err := json.Unmarshal(r.body, &info); err != nil {
		t.Fatal(err)
	}
	for name, hdr := range map[string]map[string]string{
		"the listener's own origin": {"Origin": h.srv.URL},
		"http of the public host":   {"Origin": "http://vault.example.com"},
		"another port":              {"Origin": public + ":8443"},
		"forwarded headers":         {"Origin": h.srv.URL, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "vault.example.com", "Forwarded": "proto=https;host=vault.example.com"},
		"cross referer":             {"Origin": "", "Referer": h.srv.URL + "/console/"},
	} {
		hdr[console.CSRFHeader] = info.CSRFToken
		if r := h.req("POST", "/console/logout", "", ck, hdr); r.status != http.StatusForbidden {
			t.Errorf("logout with %s: %d %s, want 403", name, r.status, r.body)
		}
		if r := h.req("POST", "/console/login", loginBody("alice", h.password), nil, hdr); r.status != http.StatusForbidden {
			t.Errorf("login with %s: %d %s, want 403", name, r.status, r.body)
		}
	}
	r = h.req("POST", "/console/logout", "", ck, map[string]string{"Origin": "", "Referer": public + "/console/", console.CSRFHeader: info.CSRFToken})
	if r.status != http.StatusNoContent || !strings.Contains(r.header.Get("Set-Cookie"), "Secure") {
		t.Fatalf("logout with the public origin's Referer: %d %s %q", r.status, r.body, r.header.Get("Set-Cookie"))
	}
}

// The compartment tree is read through the API's paging to the end: with
// pages of 2, seven compartments (nested ones too) all come back, once
// each.
func TestCompartmentsPaged(t *testing.T) {
	h := newHarness(t, false, func(o *console.Options) { o.CompartmentPage = 2 })
	ctx := context.Background()
	tenancy, err := h.ids.TenancyID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	parent := tenancy
	for i := range 7 {
		name, desc := fmt.Sprintf("c%d", i), "x"
		c, err := h.ids.CreateCompartment(ctx, identity.CompartmentInput{ParentID: parent, Name: &name, Description: &desc})
		if err != nil {
			t.Fatal(err)
		}
		want[c.ID] = true
		if i == 3 {
			parent = c.ID // the rest nested under c3
		}
	}
	ck, _ := h.login()
	r := h.req("GET", "/console/api/compartments", "", ck, nil)
	var list []struct {
		ID string `json:"id"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &list) != nil || r.header.Get("opc-next-page") != "" {
		t.Fatalf("compartments: %d %s (opc-next-page %q)", r.status, r.body, r.header.Get("opc-next-page"))
	}
	for _, c := range list {
		if !want[c.ID] {
			t.Errorf("compartment %s listed twice or unknown", c.ID)
		}
		delete(want, c.ID)
	}
	if len(want) != 0 {
		t.Fatalf("compartments missing from the tree: %v", want)
	}
}
