package ociapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// publicRig is an API with one public and one signed route, both echoing
// how many body bytes they saw.
func publicRig(t *testing.T, rate float64, burst int) (*http.ServeMux, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	a := &API{Verifier: headerVerifier{}, Authorizer: aliceOnly{}, Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		PublicLimiter: NewRateLimiter(rate, burst)}
	echo := func(c *Call) error {
		return c.Reply("", map[string]any{"bytes": len(c.Body), "signed": c.Principal != nil})
	}
	mux := http.NewServeMux()
	a.Register(mux,
		Route{Pattern: "POST /public", Operation: "Public", Public: true, Handler: echo},
		Route{Pattern: "POST /signed", Operation: "Signed", Handler: echo},
	)
	return mux, &logs
}

func post(mux http.Handler, path, remote string, body []byte, principal string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.RemoteAddr = remote
	if principal != "" {
		req.Header.Set("X-Test-Principal", principal)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func wantOCIError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	var e ErrorBody
	if rec.Code != status || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Code != code || e.Message == "" {
		t.Fatalf("got %d %s; want %d %s", rec.Code, rec.Body, status, code)
	}
	if rec.Header().Get("opc-request-id") == "" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("error without request id or JSON type: %v", rec.Header())
	}
}

// TestPublicRouteNeedsNoSignature: a public route runs its handler for an
// unsigned caller (with no principal); a signed route on the same API
// still refuses one.
func TestPublicRouteNeedsNoSignature(t *testing.T) {
	mux, logs := publicRig(t, 100, 100)
	rec := post(mux, "/public", "192.0.2.1:1234", []byte(`{"share":"c2VjcmV0LXNoYXJl"}`), "")
	if rec.Code != 200 || rec.Body.String() != `{"bytes":28,"signed":false}` || rec.Header().Get("opc-request-id") == "" {
		t.Fatalf("public: %d %s", rec.Code, rec.Body)
	}
	wantOCIError(t, post(mux, "/signed", "192.0.2.1:1234", []byte(`{}`), ""), 401, "NotAuthenticated")
	if rec := post(mux, "/signed", "192.0.2.1:1234", []byte(`{}`), "alice"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"signed":true`) {
		t.Fatalf("signed: %d %s", rec.Code, rec.Body)
	}
	// Each request has its line; the body is not on it.
	if n := strings.Count(logs.String(), `"operation":"Public"`); n != 1 {
		t.Fatalf("%d log lines for the public request:\n%s", n, logs)
	}
	if strings.Contains(logs.String(), "c2VjcmV0LXNoYXJl") {
		t.Fatal("a public request's body reached the log")
	}
}

// TestPublicRouteBodyLimit: a public route takes PublicMaxBody bytes and
// refuses one more with 413 in OCI's shape, while a signed route keeps
// the API's own limit.
func TestPublicRouteBodyLimit(t *testing.T) {
	mux, _ := publicRig(t, 100, 100)
	if rec := post(mux, "/public", "192.0.2.1:1", bytes.Repeat([]byte("a"), PublicMaxBody), ""); rec.Code != 200 {
		t.Fatalf("body of exactly the limit: %d %s", rec.Code, rec.Body)
	}
	rec := post(mux, "/public", "192.0.2.1:1", bytes.Repeat([]byte("a"), PublicMaxBody+1), "")
	wantOCIError(t, rec, 413, "RequestEntityTooLarge")
	if rec := post(mux, "/signed", "192.0.2.1:1", bytes.Repeat([]byte("a"), 4*PublicMaxBody), "alice"); rec.Code != 200 {
		t.Fatalf("signed route with a larger body: %d %s", rec.Code, rec.Body)
	}
}

// TestPublicRouteRateLimit: past its burst an address gets 429 with
// Retry-After in OCI's shape; another address does not, and an IPv6
// client cannot escape by changing addresses inside its /64.
func TestPublicRouteRateLimit(t *testing.T) {
	mux, _ := publicRig(t, 0.001, 3)
	for i := range 3 {
		if rec := post(mux, "/public", "192.0.2.1:1000", nil, ""); rec.Code != 200 {
			t.Fatalf("request %d within the burst: %d", i+1, rec.Code)
		}
	}
	rec := post(mux, "/public", "192.0.2.1:2000", nil, "")
	wantOCIError(t, rec, 429, "TooManyRequests")
	if rec.Header().Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	if rec := post(mux, "/public", "192.0.2.2:1000", nil, ""); rec.Code != 200 {
		t.Fatalf("another address: %d", rec.Code)
	}
	for i := range 3 {
		post(mux, "/public", "[2001:db8::"+string(rune('1'+i))+"]:1", nil, "")
	}
	wantOCIError(t, post(mux, "/public", "[2001:db8::ffff]:1", nil, ""), 429, "TooManyRequests")
	// The signed route is not counted against the address.
	if rec := post(mux, "/signed", "192.0.2.1:1000", nil, "alice"); rec.Code != 200 {
		t.Fatalf("signed route from a throttled address: %d", rec.Code)
	}
}

func TestPublicRouteNeedsALimiter(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a public route without a limiter was registered")
		}
	}()
	(&API{}).Register(http.NewServeMux(), Route{Pattern: "GET /p", Operation: "P", Public: true, Handler: func(*Call) error { return nil }})
}
