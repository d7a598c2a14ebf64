package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/ociapi/identityapi"
)

// apiExplain posts body to the explain API signed as the administrator
// (the SDK client's own signer) and returns the status and answer.
func apiExplain(t *testing.T, p *consolePair, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, identityapi.ExplainPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.f.Env.Identity(t).Call(context.Background(), req)
	if err != nil {
		t.Fatalf("explain API: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// The console's explain route is the explain API as the session's user:
// the same answer as the signed API call, CSRF-protected, refused to a
// user without a policy as the API refuses them, and audited.
func TestConsoleExplain(t *testing.T) {
	p := startConsolePair(t)
	const path = "/console/api/explain"
	cases := []struct {
		name, user string
		allowed    bool
	}{
		{"denied", p.nobodyID, false},
		{"allowed", p.adminID, true},
	}
	for _, c := range cases {
		body := `{"principal":{"userId":"` + c.user + `"},"operation":"GetSecretBundle","secretId":"` + p.secretID + `"}`
		status, got := p.do(t, "POST", path, body, p.admin)
		var ans identityapi.ExplainResponse
		if status != http.StatusOK || json.Unmarshal(got, &ans) != nil {
			t.Fatalf("%s: %d %s", c.name, status, got)
		}
		if ans.Allowed != c.allowed || ans.Reason == "" || (ans.Suggestion == "") == !c.allowed {
			t.Errorf("%s: %+v", c.name, ans)
		}
		apiStatus, want := apiExplain(t, p, body)
		if apiStatus != http.StatusOK || !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
			t.Errorf("%s: console answers\n%s\nthe API\n%s", c.name, got, want)
		}
	}
	body := `{"principal":{"userId":"` + p.nobodyID + `"},"operation":"GetSecretBundle","secretId":"` + p.secretID + `"}`
	noCSRF := &consoleUser{cookie: p.admin.cookie}
	if status, b := p.do(t, "POST", path, body, noCSRF); status != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", path, body, nil); status != http.StatusUnauthorized {
		t.Errorf("no session: %d %s", status, b)
	}
	// A user without a policy gets what the API gives them.
	if status, b := p.do(t, "POST", path, body, p.nobody); !notAuthorized(status, b) {
		t.Errorf("nobody: %d %s", status, b)
	}
	// Bad input is an OCI error, not a 5xx.
	for _, bad := range []string{`{`, `{"principal":{"userId":"` + p.nobodyID + `"},"operation":"NoSuchOp"}`,
		`{"principal":{"userId":"not..an ocid"},"operation":"GetSecretBundle"}`} {
		if status, b := p.do(t, "POST", path, bad, p.admin); status != http.StatusBadRequest || !bytes.Contains(b, []byte(`"code"`)) {
			t.Errorf("bad input %s: %d %s", bad, status, b)
		}
	}
	if evs := auditLines(p.f.Env, "ExplainAuthorization", p.adminID); len(evs) < 4 || evs[0]["allowed"] != true {
		t.Errorf("admin's explain audit events: %v", evs)
	}
	if evs := auditLines(p.f.Env, "ExplainAuthorization", p.nobodyID); len(evs) != 1 || evs[0]["allowed"] != false {
		t.Errorf("nobody's explain audit events: %v", evs)
	}
}
