package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/ociapi/identityapi"
	"github.com/coffer-vault/coffer/internal/ociapi/usageapi"
	"github.com/coffer-vault/coffer/internal/usage"
)

// Cancelling a deletion from the console is CancelKeyDeletion and
// CancelSecretDeletion, the API's handlers as CSRF-protected POSTs:
// refused without the session's token, 404 for a user without a policy,
// done (as the SDK sees) and audited for the administrator.
func TestConsoleCancelDeletion(t *testing.T) {
	p := startConsolePair(t)
	f := p.f
	ctx := context.Background()
	vaultID, keyID := *f.Vault.Id, f.KeyID
	if _, err := f.Vault.Mgmt.ScheduleKeyDeletion(ctx, keymanagement.ScheduleKeyDeletionRequest{KeyId: &keyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Vaults.ScheduleSecretDeletion(ctx, vault.ScheduleSecretDeletionRequest{SecretId: &p.secretID}); err != nil {
		t.Fatal(err)
	}
	cancels := []struct {
		op, path, want, after string
		key                   bool
	}{
		{"CancelKeyDeletion", "/console/api/vaults/" + vaultID + "/keys/" + keyID + "/cancelDeletion", `"ENABLED"`, "ENABLED", true},
		{"CancelSecretDeletion", "/console/api/secrets/" + p.secretID + "/cancelDeletion", "", "ACTIVE", false},
	}
	noCSRF := &consoleUser{cookie: p.admin.cookie}
	wrongCSRF := &consoleUser{cookie: p.admin.cookie, csrf: p.nobody.csrf}
	for _, c := range cancels {
		for name, u := range map[string]*consoleUser{"no token": noCSRF, "another session's token": wrongCSRF} {
			if status, b := p.do(t, "POST", c.path, "", u); status != http.StatusForbidden || !strings.Contains(string(b), `"NotAllowed"`) {
				t.Errorf("%s with %s: %d %s", c.op, name, status, b)
			}
		}
		if status, _ := p.do(t, "POST", c.path, "", nil); status != http.StatusUnauthorized {
			t.Errorf("%s without a session: %d", c.op, status)
		}
		if status, b := p.do(t, "POST", c.path, "", p.nobody); !notAuthorized(status, b) {
			t.Errorf("nobody %s: %d %s", c.op, status, b)
		}
		// Nothing was cancelled by the refused requests.
		if state, when := lifecycle(t, p, c.key); state != "PENDING_DELETION" || !when {
			t.Fatalf("%s after the refused requests: %s (time of deletion %v)", c.op, state, when)
		}
		if status, b := p.do(t, "POST", c.path, "", p.admin); status != http.StatusOK || !strings.Contains(string(b), c.want) {
			t.Errorf("admin %s: %d %s", c.op, status, b)
		}
		if evs := auditLines(f.Env, c.op, p.adminID); len(evs) != 1 || evs[0]["allowed"] != true {
			t.Errorf("admin's %s audit events: %v", c.op, evs)
		}
		if evs := auditLines(f.Env, c.op, p.nobodyID); len(evs) != 1 || evs[0]["allowed"] != false {
			t.Errorf("nobody's %s audit events: %v", c.op, evs)
		}
		if state, when := lifecycle(t, p, c.key); state != c.after || when {
			t.Errorf("%s: the SDK sees %s (time of deletion %v)", c.op, state, when)
		}
		// A GET is no way to cancel.
		if status, _ := p.do(t, "GET", c.path, "", p.admin); status < 400 {
			t.Errorf("GET %s: %d", c.op, status)
		}
	}
	// Cancelling what is not pending deletion is the API's conflict, not
	// a 5xx.
	for _, c := range cancels {
		if status, b := p.do(t, "POST", c.path, "", p.admin); status/100 != 4 || !strings.Contains(string(b), `"code"`) {
			t.Errorf("admin %s again: %d %s", c.op, status, b)
		}
	}
	if strings.Contains(f.Env.Logs.String(), p.canary) {
		t.Error("the server log holds the secret's content")
	}
}

// The console's new routes are in Server.Routes under their OCI names, so
// the edge matrix and TestConsoleBadInput reach them with bad ids, queries
// and bodies.
func TestConsoleUsageRoutesListed(t *testing.T) {
	p := startConsolePair(t)
	want := map[string]string{
		"POST /console/api/vaults/{vaultId}/keys/{keyId}/cancelDeletion": "CancelKeyDeletion",
		"POST /console/api/secrets/{secretId}/cancelDeletion":            "CancelSecretDeletion",
		"GET /console/api/usage":                                         "GetUsageReport",
	}
	for _, r := range p.f.Env.Server.Routes() {
		if op, ok := want[r.Pattern]; ok && op == r.Operation {
			delete(want, r.Pattern)
		}
	}
	if len(want) != 0 {
		t.Fatalf("not in Server.Routes: %v", want)
	}
}

// lifecycle reads through the SDK the state of the pair's key (key) or
// secret (!key), and whether it has a time of deletion.
func lifecycle(t *testing.T, p *consolePair, key bool) (string, bool) {
	t.Helper()
	ctx := context.Background()
	if key {
		k, err := p.f.Vault.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: &p.f.KeyID})
		if err != nil {
			t.Fatal(err)
		}
		return string(k.LifecycleState), k.TimeOfDeletion != nil
	}
	s, err := p.f.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: &p.secretID})
	if err != nil {
		t.Fatal(err)
	}
	return string(s.LifecycleState), s.TimeOfDeletion != nil
}

// consoleUsage reads the usage report through the console as u.
func consoleUsage(t *testing.T, p *consolePair, u *consoleUser, query string) usage.Report {
	t.Helper()
	status, b := p.do(t, "GET", "/console/api/usage?"+query, "", u)
	var rep usage.Report
	if status != http.StatusOK || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("console usage %s: %d %s", query, status, b)
	}
	return rep
}

// apiUsage reads the usage report signed as the administrator (the SDK
// identity client's own signer), as `coffer usage` does.
func apiUsage(t *testing.T, p *consolePair, query string) usage.Report {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, usageapi.Path+"?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.f.Env.Identity(t).Call(context.Background(), req)
	if err != nil {
		t.Fatalf("usage API: %v", err)
	}
	defer resp.Body.Close()
	var rep usage.Report
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// The console's usage view is GetUsageReport, the usage API's handler
// with its query parameters, as the session's user: its counts move with
// the SDK's calls and the console's own, it answers what the signed API
// answers, a user without a policy gets the API's denial, and both are
// audited.
func TestConsoleUsage(t *testing.T) {
	p := startConsolePair(t)
	f := p.f
	byOp := "groupBy=operation"
	before := usageRow(consoleUsage(t, p, p.admin, byOp), "GetSecretBundle")
	for range 3 {
		if got, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: &p.secretID}); err != nil || got != p.canary {
			t.Fatalf("GetSecretBundle: %v", err)
		}
	}
	after := usageRow(consoleUsage(t, p, p.admin, byOp), "GetSecretBundle")
	if after.Retrievals != before.Retrievals+3 || after.Calls != before.Calls+3 {
		t.Fatalf("GetSecretBundle after 3 SDK retrievals: %+v, before %+v", after, before)
	}
	// A reveal in the console is a retrieval too: the same operation,
	// counted by the same counter.
	if status, b := p.do(t, "POST", "/console/api/secrets/"+p.secretID+"/reveal", "", p.admin); status != http.StatusOK {
		t.Fatalf("reveal: %d %s", status, b)
	}
	bySecret := consoleUsage(t, p, p.admin, "groupBy=secret")
	if r := usageRow(bySecret, p.secretID); r.Retrievals != after.Retrievals+1 || bySecret.GroupBy != usage.BySecret {
		t.Fatalf("the secret's row after a reveal: %+v (by %s)", r, bySecret.GroupBy)
	}
	// The same report as the signed API's, for the same range: the
	// retrievals agree (the calls differ by the reports' own requests).
	since, until := bySecret.Since.Format(time.RFC3339), bySecret.Until.Format(time.RFC3339)
	q := url.Values{"groupBy": {"secret"}, "since": {since}, "until": {until}}.Encode()
	fromConsole, fromAPI := consoleUsage(t, p, p.admin, q), apiUsage(t, p, q)
	if !fromConsole.Since.Equal(fromAPI.Since) || !fromConsole.Until.Equal(fromAPI.Until) || usageRow(fromConsole, p.secretID) != usageRow(fromAPI, p.secretID) ||
		fromConsole.Total.Retrievals != fromAPI.Total.Retrievals {
		t.Fatalf("console and API reports differ:\n%+v\n%+v", fromConsole, fromAPI)
	}
	byPrincipal := consoleUsage(t, p, p.admin, "")
	if byPrincipal.GroupBy != usage.ByPrincipal || usageRow(byPrincipal, p.adminID).Calls == 0 {
		t.Fatalf("by principal (the default): %+v", byPrincipal)
	}

	// Bad parameters are the API's 400s.
	for _, bad := range []string{"groupBy=team", "since=yesterday", "until=2025-13-01T00:00:00Z", "since=" + url.QueryEscape(until)} {
		status, b := p.do(t, "GET", "/console/api/usage?"+bad, "", p.admin)
		if status != http.StatusBadRequest || !strings.Contains(string(b), `"InvalidParameter"`) {
			t.Errorf("%s: %d %s", bad, status, b)
		}
	}
	if status, b := p.do(t, "GET", "/console/api/usage", "", p.nobody); !notAuthorized(status, b) {
		t.Errorf("nobody: %d %s", status, b)
	}
	// The denial's explain link asks this of the explain API: denied, and
	// the statement OCI's usage reports take.
	explain := `{"principal":{"userId":"` + p.nobodyID + `"},"operation":"GetUsageReport","compartmentId":"` + f.Tenancy + `"}`
	var ans identityapi.ExplainResponse
	if status, b := p.do(t, "POST", "/console/api/explain", explain, p.admin); status != http.StatusOK || json.Unmarshal(b, &ans) != nil ||
		ans.Allowed || !strings.Contains(ans.Suggestion, "read usage-report in tenancy") {
		t.Errorf("explain GetUsageReport for nobody: %d %s", status, b)
	}
	if status, _ := p.do(t, "GET", "/console/api/usage", "", nil); status != http.StatusUnauthorized {
		t.Errorf("no session: %d", status)
	}
	if evs := auditLines(f.Env, "GetUsageReport", p.adminID); len(evs) < 6 || evs[0]["allowed"] != true {
		t.Errorf("admin's usage audit events: %v", evs)
	}
	if evs := auditLines(f.Env, "GetUsageReport", p.nobodyID); len(evs) != 1 || evs[0]["allowed"] != false {
		t.Errorf("nobody's usage audit events: %v", evs)
	}
	// The denied calls count as denied in the report, under the user.
	if r := usageRow(consoleUsage(t, p, p.admin, ""), p.nobodyID); r.Denied == 0 {
		t.Errorf("nobody's row: %+v", r)
	}
	if strings.Contains(f.Env.Logs.String(), p.canary) {
		t.Error("the server log holds the secret's content")
	}
}
