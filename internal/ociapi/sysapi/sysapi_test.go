package sysapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/seal"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

// nameVerifier authenticates whoever X-Test-Principal names.
type nameVerifier struct{}

func (nameVerifier) Verify(_ context.Context, r *http.Request, _ []byte) (*authz.Principal, error) {
	id := r.Header.Get("X-Test-Principal")
	if id == "" {
		return nil, errs.E(errs.Unauthenticated, "no signature")
	}
	return &authz.Principal{Type: authz.PrincipalUser, ID: id}, nil
}

// adminOnly allows "admin" in the tenancy and no one else.
type adminOnly struct{}

func (adminOnly) Authorize(_ context.Context, req authz.Request) (authz.Decision, error) {
	return authz.Decision{Allowed: req.Principal.ID == "admin" && req.CompartmentID == "ocid1.tenancy.oc1..t"}, nil
}

// newMux serves a Shamir machine on a fresh store through the pipeline,
// public and signed routes on one mux.
func newMux(t testing.TB) (*http.ServeMux, *seal.Machine) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	m := seal.New(seal.Config{Type: seal.TypeShamir, Log: log, Hooks: seal.Hooks{
		Open:  func(context.Context, *barrier.Barrier) (string, error) { return "", nil },
		Live:  func() {},
		Close: func(context.Context) {},
	}})
	if err := m.Start(context.Background(), memstore.New()); err != nil {
		t.Fatal(err)
	}
	h := &Handlers{Seal: m, TenancyID: func(context.Context) (string, error) { return "ocid1.tenancy.oc1..t", nil }}
	api := &ociapi.API{Verifier: nameVerifier{}, Authorizer: adminOnly{}, Log: log, PublicLimiter: ociapi.NewRateLimiter(1e9, 1e9)}
	mux := http.NewServeMux()
	api.Register(mux, h.PublicRoutes()...)
	api.Register(mux, h.Routes()...)
	return mux, m
}

func call(mux http.Handler, method, path, body, principal string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if principal != "" {
		req.Header.Set("X-Test-Principal", principal)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

// TestWireFormat: the operator API's JSON field names and statuses, which
// the CLI reads; answers are never cached; the signed routes need a
// signature and the tenancy's permission.
func TestWireFormat(t *testing.T) {
	mux, _ := newMux(t)
	rec := call(mux, http.MethodGet, SealStatusPath, "", "")
	if rec.Code != 200 || rec.Body.String() != `{"type":"shamir","initialized":false,"sealed":true,"progress":0}` || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("status: %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	rec = call(mux, http.MethodPost, InitPath, `{"shares":3,"threshold":2}`, "")
	var init map[string]any
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &init) != nil || len(init["shares"].([]any)) != 3 || init["threshold"] != float64(2) || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("init: %d %s", rec.Code, rec.Body)
	}
	shares := init["shares"].([]any)
	for _, tc := range []struct {
		path, body string
		status     int
		code       string
	}{
		{InitPath, `{"shares":3,"threshold":2}`, 409, "IncorrectState"},
		{InitPath, `{"shares":"3"}`, 400, "InvalidParameter"},
		{InitPath, `{"shares":3,`, 400, "CannotParseRequest"},
		{UnsealPath, `{"share":"not a share"}`, 400, "InvalidParameter"},
		{UnsealPath, `{"share":"` + strings.Repeat("A", ociapi.PublicMaxBody) + `"}`, 413, "RequestEntityTooLarge"},
		{RekeyPath, `{"shares":3,"threshold":2}`, 401, "NotAuthenticated"},
	} {
		rec := call(mux, http.MethodPost, tc.path, tc.body, "")
		var e ociapi.ErrorBody
		if rec.Code != tc.status || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Code != tc.code {
			t.Errorf("%s %.40s: %d %s; want %d %s", tc.path, tc.body, rec.Code, rec.Body, tc.status, tc.code)
		}
	}
	rec = call(mux, http.MethodPost, UnsealPath, `{"share":"`+shares[0].(string)+`"}`, "")
	if rec.Code != 200 || rec.Body.String() != `{"type":"shamir","initialized":true,"sealed":true,"shares":3,"threshold":2,"progress":1}` {
		t.Fatalf("first share: %d %s", rec.Code, rec.Body)
	}
	rec = call(mux, http.MethodPost, UnsealPath, `{"share":"`+shares[1].(string)+`"}`, "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"sealed":false`) {
		t.Fatalf("second share: %d %s", rec.Code, rec.Body)
	}

	if rec := call(mux, http.MethodPost, RotatePath, "", "nobody"); rec.Code != 404 {
		t.Fatalf("rotate by nobody: %d %s", rec.Code, rec.Body)
	}
	rec = call(mux, http.MethodPost, RotatePath, "", "admin")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"term":2,"terms":2,"timeCreated":`) {
		t.Fatalf("rotate: %d %s", rec.Code, rec.Body)
	}
	rec = call(mux, http.MethodPost, RekeyPath, `{"shares":2,"threshold":2}`, "admin")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"started":true,"nonce":"`) || !strings.Contains(rec.Body.String(), `"newShares":2,"newThreshold":2,"progress":0,"required":2}`) {
		t.Fatalf("rekey: %d %s", rec.Code, rec.Body)
	}
	if rec := call(mux, http.MethodPost, SealPath, "", "admin"); rec.Code != 200 || rec.Body.String() != `{"sealed":true}` {
		t.Fatalf("seal: %d %s", rec.Code, rec.Body)
	}
	if rec := call(mux, http.MethodPost, RotatePath, "", "admin"); rec.Code != 503 {
		t.Fatalf("rotate while sealed: %d %s", rec.Code, rec.Body)
	}
}

// sealedMux is the shared server of FuzzSysBodies' rekey bodies: an
// unsealed Shamir machine whose state carries over from input to input.
var sealedMux = sync.OnceValue(func() http.Handler {
	mux, _ := newMux(&testing.T{})
	rec := call(mux, http.MethodPost, InitPath, `{"shares":2,"threshold":2}`, "")
	var init seal.InitResponse
	_ = json.Unmarshal(rec.Body.Bytes(), &init)
	for _, sh := range init.Shares {
		b, _ := json.Marshal(seal.UnsealRequest{Share: sh})
		call(mux, http.MethodPost, UnsealPath, string(b), "")
	}
	return mux
})

// FuzzSysBodies sends arbitrary bodies to init (on a fresh server), unseal
// (on an initialized one) and rekey (on an unsealed one): nothing panics
// or fails on the server's side, every answer is the model or an OCI
// error body, and none repeats a share it was sent.
func FuzzSysBodies(f *testing.F) {
	for _, seed := range []string{
		`{"shares":5,"threshold":3}`, `{"shares":255,"threshold":255}`, `{"shares":256,"threshold":2}`,
		`{"shares":-1,"threshold":-2147483648}`, `{"shares":1e400}`, `{"shares":3.5}`, `{"shares":"3"}`,
		`{"share":"AAE="}`, `{"share":""}`, `{"share":"====="}`, `{"share":"\u0000\ud800"}`, `{"reset":true}`,
		`{"share":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh"}`, `{"share":["a"]}`, `{"share":null}`,
		`{"nonce":"x","share":"AAE="}`, `{"cancel":true,"nonce":""}`, `{"cancel":"yes"}`,
		`{"shares":3,"shares":2,"threshold":2}`, `{"unknown":1}`, `[]`, `null`, `""`, ``, `{`, `{}{}`,
		strings.Repeat(`{"a":`, 1000) + strings.Repeat(`}`, 1000), "\xff\xfe{}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var sent struct{ Share string }
		_ = json.Unmarshal(body, &sent)
		fresh, _ := newMux(t)
		initialized, _ := newMux(t)
		call(initialized, http.MethodPost, InitPath, `{"shares":2,"threshold":2}`, "")
		for _, tc := range []struct {
			mux       http.Handler
			path, who string
		}{{fresh, InitPath, ""}, {initialized, UnsealPath, ""}, {sealedMux(), RekeyPath, "admin"}} {
			rec := call(tc.mux, http.MethodPost, tc.path, string(body), tc.who)
			if rec.Code >= 500 {
				t.Fatalf("%s: %d %s", tc.path, rec.Code, rec.Body)
			}
			var v map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatalf("%s: %d answer not JSON: %q", tc.path, rec.Code, rec.Body)
			}
			if rec.Code != 200 && (v["code"] == nil || v["message"] == nil) {
				t.Fatalf("%s: %d not an OCI error: %s", tc.path, rec.Code, rec.Body)
			}
			if share := sent.Share; len(share) >= 8 && bytes.Contains(rec.Body.Bytes(), []byte(share)) {
				t.Fatalf("%s: the answer repeats the share: %s", tc.path, rec.Body)
			}
		}
	})
}
