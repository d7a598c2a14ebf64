package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/console"
)

// consoleUser is a user logged in to a server's console.
type consoleUser struct {
	cookie *http.Cookie
	csrf   string
}

// uiPassword resets a user's console password through the SDK, as admin.
func uiPassword(t *testing.T, env *coffertest.Env, userID string) string {
	t.Helper()
	r, err := env.Identity(t).CreateOrResetUIPassword(context.Background(), identity.CreateOrResetUIPasswordRequest{UserId: &userID})
	if err != nil {
		t.Fatalf("CreateOrResetUIPassword: %v", err)
	}
	return *r.Password
}

// consoleDo sends a console request to base (a server's URL) as u (nil:
// no cookie), from base's own origin.
func consoleDo(t *testing.T, base, method, path, body string, u *consoleUser) (int, http.Header, []byte) {
	t.Helper()
	return consoleDoHeader(t, base, method, path, body, u, nil)
}

// consoleDoHeader is consoleDo with further request headers.
func consoleDoHeader(t *testing.T, base, method, path, body string, u *consoleUser, extra http.Header) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", base)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range extra {
		req.Header[k] = v
	}
	if u != nil {
		req.AddCookie(&http.Cookie{Name: u.cookie.Name, Value: u.cookie.Value})
		req.Header.Set(console.CSRFHeader, u.csrf)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func consoleLogin(t *testing.T, base, name, password string) *consoleUser {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"userName": name, "password": password})
	status, hdr, b := consoleDo(t, base, "POST", "/console/login", string(body), nil)
	if status != http.StatusOK {
		t.Fatalf("console login as %s: %d %s", name, status, b)
	}
	var info struct {
		CSRFToken string `json:"csrfToken"`
	}
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	for _, ck := range (&http.Response{Header: hdr}).Cookies() {
		if ck.Name == console.CookieName {
			return &consoleUser{cookie: ck, csrf: info.CSRFToken}
		}
	}
	t.Fatal("login set no session cookie")
	return nil
}

// auditLines returns the audit events of operation by principal.
func auditLines(env *coffertest.Env, operation, principal string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(env.Logs.String(), "\n") {
		if !strings.Contains(line, `"msg":"authorization"`) {
			continue
		}
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil && ev["operation"] == operation && ev["principal"] == principal {
			out = append(out, ev)
		}
	}
	return out
}

// The console's compartment list is ListCompartments as the user: allowed
// for the administrator, 404 NotAuthorizedOrNotFound for a user without a
// policy, both audited under the user's OCID.
func TestConsoleCompartments(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	ic := env.Identity(t)
	tenancy := env.Tenancy(t)
	if _, err := ic.CreateCompartment(ctx, identity.CreateCompartmentRequest{CreateCompartmentDetails: identity.CreateCompartmentDetails{
		CompartmentId: &tenancy, Name: common.String("console-apps"), Description: common.String("x")}}); err != nil {
		t.Fatal(err)
	}
	adminID, _ := env.Provider.UserOCID()
	nobodyID, _ := env.NewUser(t, "console-nobody").UserOCID()
	u, err := ic.GetUser(ctx, identity.GetUserRequest{UserId: &adminID})
	if err != nil {
		t.Fatal(err)
	}
	admin := consoleLogin(t, env.URL, *u.Name, uiPassword(t, env, adminID))
	nobody := consoleLogin(t, env.URL, "console-nobody", uiPassword(t, env, nobodyID))

	status, _, body := consoleDo(t, env.URL, "GET", "/console/api/compartments", "", admin)
	var list []struct {
		ID, Name string
	}
	if status != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list) != 1 || list[0].Name != "console-apps" {
		t.Fatalf("admin's compartments: %d %s", status, body)
	}
	status, _, body = consoleDo(t, env.URL, "GET", "/console/api/compartments", "", nobody)
	if status != http.StatusNotFound || !bytes.Contains(body, []byte(`"NotAuthorizedOrNotFound"`)) {
		t.Fatalf("nobody's compartments: %d %s", status, body)
	}
	if evs := auditLines(env, "ListCompartments", adminID); len(evs) != 1 || evs[0]["allowed"] != true || evs[0]["compartment"] != tenancy {
		t.Fatalf("admin's audit events: %v", evs)
	}
	evs := auditLines(env, "ListCompartments", nobodyID)
	if len(evs) != 1 || evs[0]["allowed"] != false || evs[0]["suggestion"] == nil {
		t.Fatalf("nobody's audit events: %v", evs)
	}
	// Without a session: 401, and nothing audited.
	if status, _, _ := consoleDo(t, env.URL, "GET", "/console/api/compartments", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("no session: %d", status)
	}
}

// A password reset through the SDK ends the console session; passwords
// and session ids never reach the log.
func TestConsoleCanary(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	userID, _ := env.NewUser(t, "console-canary").UserOCID()
	pw := uiPassword(t, env, userID)
	u := consoleLogin(t, env.URL, "console-canary", pw)
	if status, _, b := consoleDo(t, env.URL, "GET", "/console/session", "", u); status != http.StatusOK || !bytes.Contains(b, []byte(userID)) {
		t.Fatalf("session: %d %s", status, b)
	}
	bad, _ := json.Marshal(map[string]string{"userName": "console-canary", "password": pw + "x"})
	if status, _, _ := consoleDo(t, env.URL, "POST", "/console/login", string(bad), nil); status != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", status)
	}
	coffertest.NextSecond()
	pw2 := uiPassword(t, env, userID)
	if status, _, _ := consoleDo(t, env.URL, "GET", "/console/session", "", u); status != http.StatusUnauthorized {
		t.Fatalf("session after a reset: %d", status)
	}
	u2 := consoleLogin(t, env.URL, "console-canary", pw2)
	if status, _, _ := consoleDo(t, env.URL, "POST", "/console/logout", "", u2); status != http.StatusNoContent {
		t.Fatalf("logout: %d", status)
	}
	for what, v := range map[string]string{"password": pw, "second password": pw2, "session id": u.cookie.Value, "second session id": u2.cookie.Value, "csrf token": u.csrf} {
		if strings.Contains(env.Logs.String(), v) {
			t.Errorf("the server log holds the %s", what)
		}
	}
}

// A session made on one node is accepted on another sharing its
// PostgreSQL database, and a logout on either ends it on both.
func TestConsoleSessionOnTwoNodes(t *testing.T) {
	node := sharedNodes(t, nil)
	a := node(coffertest.DataDir(t))
	b := node(coffertest.DataDir(t))
	ctx := context.Background()
	tenancy := a.Tenancy(t)
	r, err := a.Identity(t).CreateUser(ctx, identity.CreateUserRequest{CreateUserDetails: identity.CreateUserDetails{
		CompartmentId: &tenancy, Name: common.String("console-shared"), Description: common.String("x")}})
	if err != nil {
		t.Fatal(err)
	}
	u := consoleLogin(t, a.URL, "console-shared", uiPassword(t, a, *r.Id))
	if status, _, body := consoleDo(t, b.URL, "GET", "/console/session", "", u); status != http.StatusOK || !bytes.Contains(body, []byte(*r.Id)) {
		t.Fatalf("node b: %d %s", status, body)
	}
	if status, _, body := consoleDo(t, b.URL, "POST", "/console/logout", "", u); status != http.StatusNoContent {
		t.Fatalf("logout on node b: %d %s", status, body)
	}
	if status, _, _ := consoleDo(t, a.URL, "GET", "/console/session", "", u); status != http.StatusUnauthorized {
		t.Fatalf("node a after logout on b: %d", status)
	}
}

// /console redirects to the page, with the console's headers.
func TestConsoleRedirect(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(env.URL + "/console")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/console/" || resp.Header.Get("Content-Security-Policy") != console.ContentSecurityPolicy {
		t.Fatalf("GET /console: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = http.Get(env.URL + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(b, []byte("Sign in")) {
		t.Fatalf("GET /console/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
