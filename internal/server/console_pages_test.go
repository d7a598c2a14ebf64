package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

// consolePair is a server with a vault, a key and a secret, and two
// console sessions: the administrator's and a user's without a policy.
type consolePair struct {
	f                 *vaultstest.Fixture
	admin, nobody     *consoleUser
	adminID, nobodyID string
	secretID, canary  string
}

func startConsolePair(t *testing.T) *consolePair {
	t.Helper()
	env := coffertest.Start(t, coffertest.Options{})
	f := vaultstest.On(t, env)
	p := &consolePair{f: f, canary: "console-canary-" + strings.Repeat("7", 20)}
	p.secretID = *f.CreateSecret(t, "console-secret", p.canary).Id
	p.adminID, _ = env.Provider.UserOCID()
	p.nobodyID, _ = env.NewUser(t, "pages-nobody").UserOCID()
	u, err := env.Identity(t).GetUser(context.Background(), identity.GetUserRequest{UserId: &p.adminID})
	if err != nil {
		t.Fatal(err)
	}
	p.admin = consoleLogin(t, env.URL, *u.Name, uiPassword(t, env, p.adminID))
	p.nobody = consoleLogin(t, env.URL, "pages-nobody", uiPassword(t, env, p.nobodyID))
	return p
}

// do sends a console request and checks no response but a reveal carries
// the secret's content, in clear or base64.
func (p *consolePair) do(t *testing.T, method, path, body string, u *consoleUser) (int, []byte) {
	t.Helper()
	status, hdr, b := consoleDo(t, p.f.Env.URL, method, path, body, u)
	if hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("%s %s: Cache-Control %q", method, path, hdr.Get("Cache-Control"))
	}
	if !strings.Contains(path, "/reveal") && p.holdsCanary(b) {
		t.Errorf("%s %s: the response holds the secret's content", method, path)
	}
	return status, b
}

func (p *consolePair) holdsCanary(b []byte) bool {
	return bytes.Contains(b, []byte(p.canary)) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString([]byte(p.canary))))
}

func notAuthorized(status int, body []byte) bool {
	return status == http.StatusNotFound && bytes.Contains(body, []byte(`"NotAuthorizedOrNotFound"`))
}

// The read pages' routes are the OCI operations as the user: allowed for
// the administrator, 404 NotAuthorizedOrNotFound for a user without a
// policy, each audited under its OCI name; none holds secret content.
func TestConsolePagesRead(t *testing.T) {
	p := startConsolePair(t)
	f := p.f
	vaultID, keyID, tenancy := *f.Vault.Id, f.KeyID, f.Tenancy
	q := "?compartmentId=" + url.QueryEscape(tenancy)
	routes := []struct{ op, path, want string }{
		{"ListVaults", "/console/api/vaults" + q, vaultID},
		{"GetVault", "/console/api/vaults/" + vaultID, vaultID},
		{"ListKeys", "/console/api/vaults/" + vaultID + "/keys" + q, keyID},
		{"GetKey", "/console/api/vaults/" + vaultID + "/keys/" + keyID, keyID},
		{"ListKeyVersions", "/console/api/vaults/" + vaultID + "/keys/" + keyID + "/versions", keyID},
		{"ListSecrets", "/console/api/secrets" + q + "&vaultId=" + vaultID, p.secretID},
		{"GetSecret", "/console/api/secrets/" + p.secretID, p.secretID},
		{"ListSecretVersions", "/console/api/secrets/" + p.secretID + "/versions", `"CURRENT"`},
	}
	for _, r := range routes {
		status, body := p.do(t, "GET", r.path, "", p.admin)
		if status != http.StatusOK || !bytes.Contains(body, []byte(r.want)) {
			t.Errorf("admin %s: %d %s", r.op, status, body)
		}
		if status, body := p.do(t, "GET", r.path, "", p.nobody); !notAuthorized(status, body) {
			t.Errorf("nobody %s: %d %s", r.op, status, body)
		}
		if evs := auditLines(f.Env, r.op, p.adminID); len(evs) != 1 || evs[0]["allowed"] != true {
			t.Errorf("admin's %s audit events: %v", r.op, evs)
		}
		if evs := auditLines(f.Env, r.op, p.nobodyID); len(evs) != 1 || evs[0]["allowed"] != false {
			t.Errorf("nobody's %s audit events: %v", r.op, evs)
		}
		if status, _ := p.do(t, "GET", r.path, "", nil); status != http.StatusUnauthorized {
			t.Errorf("no session %s: %d", r.op, status)
		}
	}
	// A malformed vault id is refused before anything is read.
	if status, body := p.do(t, "GET", "/console/api/vaults/not..an%00ocid/keys"+q, "", p.admin); status != http.StatusBadRequest {
		t.Errorf("bad vault id: %d %s", status, body)
	}
	// A key named under another vault is not found: the path's vault is
	// the management endpoint the API would serve it on.
	other := keystest.NewVault(t, f.Env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	if status, body := p.do(t, "GET", "/console/api/vaults/"+*other.Id+"/keys/"+keyID, "", p.admin); status != http.StatusNotFound {
		t.Errorf("a key under another vault: %d %s", status, body)
	}
	// The session names the tenancy, where the pages start.
	if status, body := p.do(t, "GET", "/console/session", "", p.nobody); status != http.StatusOK || !bytes.Contains(body, []byte(`"tenancyId":"`+tenancy+`"`)) {
		t.Errorf("session: %d %s", status, body)
	}
	if strings.Contains(f.Env.Logs.String(), p.canary) {
		t.Error("the server log holds the secret's content")
	}
}

// Reveal is GetSecretBundle as a CSRF-protected POST, answered with
// no-store; nothing else carries the content.
func TestConsoleReveal(t *testing.T) {
	p := startConsolePair(t)
	path := "/console/api/secrets/" + p.secretID + "/reveal"
	status, b := p.do(t, "POST", path, "", p.admin)
	var bundle sdksecrets.SecretBundle
	if status != http.StatusOK || json.Unmarshal(b, &bundle) != nil || vaultstest.Decode(t, bundle) != p.canary {
		t.Fatalf("admin reveal: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", path+"?stage=CURRENT", "", p.admin); status != http.StatusOK || !p.holdsCanary(b) {
		t.Fatalf("admin reveal of CURRENT: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", path, "", p.nobody); !notAuthorized(status, b) {
		t.Fatalf("nobody reveal: %d %s", status, b)
	}
	noCSRF := &consoleUser{cookie: p.admin.cookie}
	if status, b := p.do(t, "POST", path, "", noCSRF); status != http.StatusForbidden || p.holdsCanary(b) {
		t.Fatalf("reveal without the CSRF token: %d %s", status, b)
	}
	// Never a GET: a URL that shows content would be in the history.
	if status, b := p.do(t, "GET", path, "", p.admin); status < 400 {
		t.Fatalf("GET reveal: %d %s", status, b)
	}
	if evs := auditLines(p.f.Env, "GetSecretBundle", p.adminID); len(evs) != 2 || evs[0]["allowed"] != true {
		t.Fatalf("admin's reveal audit events: %v", evs)
	}
	if evs := auditLines(p.f.Env, "GetSecretBundle", p.nobodyID); len(evs) != 1 || evs[0]["allowed"] != false {
		t.Fatalf("nobody's reveal audit events: %v", evs)
	}
	// The page and its assets hold no content either.
	for _, a := range []string{"/console/", "/console/app.js", "/console/app.css", "/console/session"} {
		p.do(t, "GET", a, "", p.admin)
	}
	if strings.Contains(p.f.Env.Logs.String(), p.canary) || strings.Contains(p.f.Env.Logs.String(), base64.StdEncoding.EncodeToString([]byte(p.canary))) {
		t.Fatal("the server log holds the secret's content")
	}
}

// The changes are the OCI operations as CSRF-protected POSTs: refused
// without the token, 404 for a user without a policy, done and audited
// for the administrator.
func TestConsoleChanges(t *testing.T) {
	p := startConsolePair(t)
	f := p.f
	vaultID, keyID := *f.Vault.Id, f.KeyID
	newContent, _ := json.Marshal(map[string]any{"secretContent": map[string]string{"contentType": "BASE64",
		"content": base64.StdEncoding.EncodeToString([]byte(p.canary + "-2"))}})
	changes := []struct{ op, path, body, want string }{
		{"UpdateSecret", "/console/api/secrets/" + p.secretID, string(newContent), `"currentVersionNumber":2`},
		{"UpdateSecret", "/console/api/secrets/" + p.secretID, `{"currentVersionNumber":1}`, `"currentVersionNumber":1`},
		{"CreateKeyVersion", "/console/api/vaults/" + vaultID + "/keys/" + keyID + "/versions", "", keyID},
		{"DisableKey", "/console/api/vaults/" + vaultID + "/keys/" + keyID + "/disable", "", `"DISABLED"`},
		{"EnableKey", "/console/api/vaults/" + vaultID + "/keys/" + keyID + "/enable", "", `"ENABLED"`},
		{"ScheduleSecretDeletion", "/console/api/secrets/" + p.secretID + "/scheduleDeletion", "", ""},
		{"ScheduleKeyDeletion", "/console/api/vaults/" + vaultID + "/keys/" + keyID + "/scheduleDeletion", "", ""},
	}
	noCSRF := &consoleUser{cookie: p.admin.cookie}
	wrongCSRF := &consoleUser{cookie: p.admin.cookie, csrf: p.nobody.csrf}
	for _, c := range changes {
		for name, u := range map[string]*consoleUser{"no token": noCSRF, "another session's token": wrongCSRF} {
			if status, b := p.do(t, "POST", c.path, c.body, u); status != http.StatusForbidden {
				t.Errorf("%s with %s: %d %s", c.op, name, status, b)
			}
		}
		if status, b := p.do(t, "POST", c.path, c.body, p.nobody); !notAuthorized(status, b) {
			t.Errorf("nobody %s: %d %s", c.op, status, b)
		}
		status, b := p.do(t, "POST", c.path, c.body, p.admin)
		if status/100 != 2 || !bytes.Contains(b, []byte(c.want)) {
			t.Errorf("admin %s: %d %s", c.op, status, b)
		}
		if bytes.Contains(b, []byte(p.canary+"-2")) || bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString([]byte(p.canary+"-2")))) {
			t.Errorf("admin %s: the answer holds the new version's content", c.op)
		}
	}
	for _, op := range []string{"UpdateSecret", "CreateKeyVersion", "DisableKey", "EnableKey", "ScheduleSecretDeletion", "ScheduleKeyDeletion"} {
		evs := auditLines(f.Env, op, p.adminID)
		if len(evs) == 0 || evs[len(evs)-1]["allowed"] != true {
			t.Errorf("admin's %s audit events: %v", op, evs)
		}
		if evs := auditLines(f.Env, op, p.nobodyID); len(evs) == 0 || evs[0]["allowed"] != false {
			t.Errorf("nobody's %s audit events: %v", op, evs)
		}
	}
	// The changes are the API's: the SDK sees them.
	s, err := f.Vaults.GetSecret(context.Background(), vault.GetSecretRequest{SecretId: &p.secretID})
	if err != nil || *s.CurrentVersionNumber != 1 || s.LifecycleState != "PENDING_DELETION" {
		t.Fatalf("the secret after the console's changes: %v %+v", err, s.Secret)
	}
	k, err := f.Vault.Mgmt.GetKey(context.Background(), keymanagement.GetKeyRequest{KeyId: &keyID})
	if err != nil || k.LifecycleState != keymanagement.KeyLifecycleStatePendingDeletion {
		t.Fatalf("the key after the console's changes: %v %s", err, k.LifecycleState)
	}
	if strings.Contains(f.Env.Logs.String(), p.canary) {
		t.Fatal("the server log holds the secret's content")
	}
}

// The console's API routes answer malformed ids, queries and bodies, as
// a signed-in administrator with the CSRF token, with an OCI error and
// never a 5xx (the edge matrix reaches them only without a session).
func TestConsoleBadInput(t *testing.T) {
	p := startConsolePair(t)
	valid := map[string]string{"vaultId": *p.f.Vault.Id, "keyId": p.f.KeyID, "secretId": p.secretID}
	param := regexp.MustCompile(`\{[a-zA-Z]+\}`)
	n := 0
	for _, rt := range p.f.Env.Server.Routes() {
		method, tmpl, _ := strings.Cut(rt.Pattern, " ")
		if !strings.HasPrefix(tmpl, "/console/api/") {
			continue
		}
		fill := func(bad, with string) string {
			return param.ReplaceAllStringFunc(tmpl, func(m string) string {
				name := m[1 : len(m)-1]
				if name == bad {
					return with
				}
				return valid[name]
			})
		}
		var paths []string
		for _, m := range param.FindAllString(tmpl, -1) {
			for _, seg := range badSegments {
				paths = append(paths, fill(m[1:len(m)-1], seg))
			}
		}
		for _, qs := range badQueries {
			paths = append(paths, fill("", "")+"?"+qs)
		}
		bodies := map[string][]byte{"none": nil}
		if method == "POST" {
			bodies = badBodies()
		}
		for _, path := range paths {
			for name, body := range bodies {
				if name != "none" && strings.Contains(path, "?") {
					continue // bodies once, with good ids
				}
				status, b := p.do(t, method, path, string(body), p.admin)
				n++
				var e struct{ Code, Message string }
				if status >= 500 || (status >= 400 && (json.Unmarshal(b, &e) != nil || e.Code == "" || e.Message == "")) {
					t.Errorf("%s %s body %s: %d %.200s", method, path, name, status, b)
				}
			}
		}
		for name, body := range bodies {
			if name == "none" {
				continue
			}
			status, b := p.do(t, method, fill("", ""), string(body), p.admin)
			n++
			var e struct{ Code, Message string }
			if status >= 500 || (status >= 400 && (json.Unmarshal(b, &e) != nil || e.Code == "")) {
				t.Errorf("%s %s body %s: %d %.200s", method, tmpl, name, status, b)
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d requests: are the console's routes in Server.Routes?", n)
	}
}
