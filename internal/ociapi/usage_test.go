package ociapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"

	"github.com/coffer-vault/coffer/internal/audit"
	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/usage"
)

const usageSecret = "ocid1.vaultsecret.oc1.local.s1"

// usageMux serves /read, which authorizes on a loaded secret, and /bad,
// which refuses its input before authorization.
func usageMux(a *API) *http.ServeMux {
	mux := http.NewServeMux()
	a.Register(mux,
		Route{Pattern: "GET /read/{secretId}", Operation: "GetSecretBundle", Handler: func(c *Call) error {
			// The loaded record's id, whatever the path said.
			if err := c.Authorize(authz.Request{CompartmentID: "ocid1.tenancy.oc1..t", Secret: &authz.Resource{ID: usageSecret}}); err != nil {
				return err
			}
			return c.Reply("", map[string]string{"ok": "yes"})
		}},
		Route{Pattern: "GET /bad/{secretId}", Operation: "GetSecretBundle", Handler: func(c *Call) error {
			return errs.E(errs.Invalid, "secretId is not a secret OCID")
		}},
	)
	return mux
}

func serveAs(mux http.Handler, path, principal string) int {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if principal != "" {
		req.Header.Set("X-Test-Principal", principal)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec.Code
}

// TestUsageCountsEveryOutcome: each finished request is counted once with
// the authenticated principal and the secret it was authorized on; a
// secret id that only the request's text names is not counted.
func TestUsageCountsEveryOutcome(t *testing.T) {
	counter := usage.NewCounter(0)
	log := slog.New(slog.DiscardHandler)
	mux := usageMux(&API{Verifier: headerVerifier{}, Authorizer: aliceOnly{}, Log: log, Audit: audit.LogSink{Log: log}, Usage: counter})
	for _, r := range []struct {
		path, principal string
		status          int
	}{
		{"/read/x", "alice", 200},
		{"/read/x", "alice", 200},
		{"/read/x", "mallory", 404},
		{"/read/x", "", 401},
		{"/bad/ocid1.vaultsecret.oc1.local.fromthepath", "alice", 400},
	} {
		if got := serveAs(mux, r.path, r.principal); got != r.status {
			t.Fatalf("%s as %q: %d, want %d", r.path, r.principal, got, r.status)
		}
	}
	var got []string
	for _, c := range counter.Drain() {
		got = append(got, c.Principal+"|"+c.Secret+"|"+c.Outcome.String()+"|"+itoa(c.N))
	}
	sort.Strings(got)
	want := []string{"|" + "|error|1", "alice||error|1", "alice|" + usageSecret + "|ok|2", "mallory|" + usageSecret + "|denied|1"}
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("counted %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("counted %v, want %v", got, want)
		}
	}
}

func itoa(n uint64) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

// BenchmarkServeRead measures one authorized read through the pipeline
// (fake signature and policy, so that the pipeline's own cost shows),
// without and with usage counting: the difference is what counting costs
// a request.
func BenchmarkServeRead(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "usage=off"
		a := &API{Verifier: headerVerifier{}, Authorizer: aliceOnly{}, Log: slog.New(slog.DiscardHandler)}
		if on {
			name = "usage=on"
			a.Usage = usage.NewCounter(0)
		}
		mux := usageMux(a)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, "/read/x", nil)
				req.Header.Set("X-Test-Principal", "alice")
				for pb.Next() {
					rec := httptest.NewRecorder()
					mux.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Error(rec.Code)
						return
					}
				}
			})
		})
	}
}
