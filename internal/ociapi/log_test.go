package ociapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/audit"
	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
)

// headerVerifier authenticates whoever the X-Test-Principal header names;
// no header is an authentication failure.
type headerVerifier struct{}

func (headerVerifier) Verify(_ context.Context, r *http.Request, _ []byte) (*authz.Principal, error) {
	id := r.Header.Get("X-Test-Principal")
	if id == "" {
		return nil, errs.E(errs.Unauthenticated, "signature does not verify")
	}
	return &authz.Principal{Type: authz.PrincipalUser, ID: id}, nil
}

// aliceOnly allows alice and denies everyone else.
type aliceOnly struct{}

func (aliceOnly) Authorize(_ context.Context, req authz.Request) (authz.Decision, error) {
	if req.Principal.ID == "alice" {
		return authz.Decision{Allowed: true, Reason: "alice may"}, nil
	}
	return authz.Decision{Reason: "no statement grants it", Missing: []string{"SECRET_READ"}}, nil
}

// TestOneLogLinePerRequest: at INFO every request writes exactly one line
// (the audit event when it reached authorization, the request line
// otherwise), a server-side failure writes one ERROR line that carries
// its error, and the request line gives latency in fractional
// milliseconds.
func TestOneLogLinePerRequest(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a := &API{Verifier: headerVerifier{}, Authorizer: aliceOnly{}, Log: log, Audit: audit.LogSink{Log: log}}
	mux := http.NewServeMux()
	a.Register(mux,
		Route{Pattern: "GET /read", Operation: "Read", Handler: func(c *Call) error {
			if err := c.Authorize(authz.Request{CompartmentID: "ocid1.tenancy.oc1..t"}); err != nil {
				return err
			}
			return c.Reply("", map[string]string{"ok": "yes"})
		}},
		Route{Pattern: "GET /broken", Operation: "Broken", Handler: func(c *Call) error {
			if err := c.Authorize(authz.Request{CompartmentID: "ocid1.tenancy.oc1..t"}); err != nil {
				return err
			}
			return errs.E(errs.Internal, "disk on fire")
		}},
		Route{Pattern: "GET /bad", Operation: "Bad", Handler: func(c *Call) error {
			return errs.E(errs.Invalid, "limit must be positive")
		}},
	)
	for _, tc := range []struct {
		name, path, principal string
		status                int
		msg, level            string
		wantError             string // on the line
	}{
		{"allowed", "/read", "alice", 200, "authorization", "INFO", ""},
		{"denied", "/read", "mallory", 404, "authorization", "INFO", ""},
		{"unauthenticated", "/read", "", 401, "request", "INFO", "signature does not verify"},
		{"invalid, no authorization", "/bad", "alice", 400, "request", "INFO", "limit must be positive"},
		// The audit line, then the failure: the only request with two.
		{"server failure", "/broken", "alice", 500, "request", "ERROR", "disk on fire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.principal != "" {
				req.Header.Set("X-Test-Principal", tc.principal)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			var lines []map[string]any
			for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("log line %q: %v", l, err)
				}
				lines = append(lines, m)
			}
			var info []map[string]any
			for _, m := range lines {
				if m["level"] == "INFO" {
					info = append(info, m)
				}
			}
			if len(info) != 1 && tc.level == "INFO" || len(info) > 1 {
				t.Fatalf("%d INFO lines, want one:\n%s", len(info), buf.String())
			}
			last := lines[len(lines)-1]
			if last["msg"] != tc.msg || last["level"] != tc.level {
				t.Fatalf("line %v, want msg %q at %s", last, tc.msg, tc.level)
			}
			if tc.msg != "request" {
				return
			}
			if _, ok := last["latency"]; ok {
				t.Errorf("latency in nanoseconds still logged: %v", last)
			}
			if ms, ok := last["latency_ms"].(float64); !ok || ms < 0 || ms > 10_000 {
				t.Errorf("latency_ms = %v (%T), want milliseconds as a number", last["latency_ms"], last["latency_ms"])
			}
			if last["error"] != tc.wantError || last["status"] != float64(tc.status) {
				t.Errorf("line %v: want error %q, status %d", last, tc.wantError, tc.status)
			}
		})
	}
}

func TestLatencyMillis(t *testing.T) {
	for d, want := range map[int64]float64{0: 0, 1_234_567: 1.234, 999: 0, 2_000_000_000: 2000} {
		if got := latencyMillis(time.Duration(d)); got != want {
			t.Errorf("latencyMillis(%d ns) = %v, want %v", d, got, want)
		}
	}
}
