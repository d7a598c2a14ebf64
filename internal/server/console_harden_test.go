package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/console"
	"github.com/coffer-vault/coffer/internal/server"
)

// --console-origin: behind a TLS-terminating proxy the server sees plain
// HTTP and the browser's Origin is the public https one. The console
// accepts exactly that origin and sets a Secure cookie; its own listener's
// origin, and X-Forwarded-* headers, are refused. A malformed origin stops
// the server before it starts.
func TestConsolePublicOrigin(t *testing.T) {
	_, err := server.Start(context.Background(), server.Config{Dev: true, Listen: "127.0.0.1:0", ConsoleOrigin: "https://vault.example.com/console"})
	if err == nil || !strings.Contains(err.Error(), "--console-origin") || !strings.Contains(err.Error(), "no path") {
		t.Fatalf("Start with an origin that has a path: %v", err)
	}
	env := coffertest.Start(t, coffertest.Options{Config: func(c *server.Config) { c.ConsoleOrigin = "HTTPS://Vault.Example.com:443/" }})
	adminID, _ := env.Provider.UserOCID()
	u, err := env.Identity(t).GetUser(context.Background(), identity.GetUserRequest{UserId: &adminID})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"userName": *u.Name, "password": uiPassword(t, env, adminID)})
	login := func(hdr map[string]string) *http.Response {
		req, err := http.NewRequest("POST", env.URL+"/console/login", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for name, hdr := range map[string]map[string]string{
		"the listener's origin": {"Origin": env.URL},
		"forwarded headers":     {"Origin": env.URL, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "vault.example.com"},
		"another origin":        {"Origin": "https://vault.example.org"},
	} {
		if resp := login(hdr); resp.StatusCode != http.StatusForbidden {
			t.Errorf("login with %s: %d, want 403", name, resp.StatusCode)
		}
	}
	resp := login(map[string]string{"Origin": "https://vault.example.com"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login with the public origin: %d", resp.StatusCode)
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == console.CookieName {
			ck = c
		}
	}
	if ck == nil || !ck.Secure || !ck.HttpOnly {
		t.Fatalf("cookie behind the proxy = %+v", ck)
	}
}

// The explain page's dynamic-group question (principal.dynamicGroupId with
// the attributes its rule tests, and request variables) gets through the
// console the same answer as the signed API call, byte for byte: allowed,
// denied by a where clause on a variable, and with attributes the rule does
// not match. A dynamic group without attributes is the API's 400 MissingParameter.
func TestConsoleExplainDynamicGroup(t *testing.T) {
	p := startConsolePair(t)
	ctx := context.Background()
	ic := p.f.Env.Identity(t)
	tenancy := p.f.Env.Tenancy(t)
	dg, err := ic.CreateDynamicGroup(ctx, identity.CreateDynamicGroupRequest{CreateDynamicGroupDetails: identity.CreateDynamicGroupDetails{
		CompartmentId: &tenancy, Name: common.String("explain-fns"), Description: common.String("x"),
		MatchingRule: common.String("ALL {resource.type = 'fnfunc', resource.compartment.id = '" + tenancy + "'}")}})
	if err != nil {
		t.Fatalf("CreateDynamicGroup: %v", err)
	}
	if _, err := ic.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: &tenancy, Name: common.String("explain-fns"), Description: common.String("x"),
		Statements: []string{"allow dynamic-group explain-fns to read secret-family in tenancy where request.region = 'eu-home-1'",
			"allow dynamic-group explain-fns to use keys in tenancy"}}}); err != nil {
		t.Fatalf("CreatePolicy: %v", err)
	}
	question := func(attrs, vars string) string {
		return `{"principal":{"dynamicGroupId":"` + *dg.Id + `","attributes":` + attrs + `},"operation":"GetSecretBundle","secretId":"` +
			p.secretID + `","variables":` + vars + `}`
	}
	fn := `{"resource.type":"fnfunc","resource.compartment.id":"` + tenancy + `"}`
	for _, c := range []struct {
		name, body string
		allowed    bool
		note       string
	}{
		{"allowed", question(fn, `{"request.region":"eu-home-1"}`), true, ""},
		{"another region", question(fn, `{"request.region":"us-other-1"}`), false, ""},
		{"not a member", question(`{"resource.type":"instance"}`, `{"request.region":"eu-home-1"}`), false, "do not match dynamic group"},
	} {
		status, got := p.do(t, "POST", "/console/api/explain", c.body, p.admin)
		var ans struct {
			Allowed bool     `json:"allowed"`
			Reason  string   `json:"reason"`
			Notes   []string `json:"notes"`
		}
		if status != http.StatusOK || json.Unmarshal(got, &ans) != nil {
			t.Fatalf("%s: %d %s", c.name, status, got)
		}
		if ans.Allowed != c.allowed || ans.Reason == "" || (c.note != "" && !strings.Contains(strings.Join(ans.Notes, " "), c.note)) {
			t.Errorf("%s: %s", c.name, got)
		}
		apiStatus, want := apiExplain(t, p, c.body)
		if apiStatus != http.StatusOK || !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
			t.Errorf("%s: console answers\n%s\nthe API (%d)\n%s", c.name, got, apiStatus, want)
		}
	}
	noAttrs := `{"principal":{"dynamicGroupId":"` + *dg.Id + `"},"operation":"GetSecretBundle","secretId":"` + p.secretID + `"}`
	if status, got := p.do(t, "POST", "/console/api/explain", noAttrs, p.admin); status != http.StatusBadRequest ||
		!bytes.Contains(got, []byte(`"MissingParameter"`)) || !bytes.Contains(got, []byte("needs attributes")) {
		t.Errorf("dynamic group without attributes: %d %s", status, got)
	}
}

// The explain page in a real browser asks a dynamic-group question: the
// dynamic group's OCID from the fragment, attributes and request variables
// typed as name=value lines; the decision follows the variable. A line
// without a name is refused on the page before anything is sent.
func TestConsoleBrowserExplainDynamicGroup(t *testing.T) {
	tab := coffertest.Browser(t)
	p := startConsolePair(t)
	env := p.f.Env
	bg := context.Background()
	ic := env.Identity(t)
	tenancy := env.Tenancy(t)
	dg, err := ic.CreateDynamicGroup(bg, identity.CreateDynamicGroupRequest{CreateDynamicGroupDetails: identity.CreateDynamicGroupDetails{
		CompartmentId: &tenancy, Name: common.String("browser-fns"), Description: common.String("x"),
		MatchingRule: common.String("resource.type = 'fnfunc'")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ic.CreatePolicy(bg, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: &tenancy, Name: common.String("browser-fns"), Description: common.String("x"),
		Statements: []string{"allow dynamic-group browser-fns to read secret-family in tenancy where request.region = 'eu-home-1'",
			"allow dynamic-group browser-fns to use keys in tenancy"}}}); err != nil {
		t.Fatal(err)
	}
	adminID, _ := env.Provider.UserOCID()
	u, err := ic.GetUser(bg, identity.GetUserRequest{UserId: &adminID})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	defer cancel()
	b := &browserT{t: t, ctx: ctx}
	exceptions := b.recordExceptions()
	b.do(chromedp.Navigate(env.URL + "/console/"))
	b.login(*u.Name, uiPassword(t, env, adminID))
	q := url.Values{"dynamicGroupId": {*dg.Id}, "operation": {"GetSecretBundle"}, "secretId": {p.secretID}}
	b.do(chromedp.Navigate(env.URL + "/console/#/explain/" + q.Encode()))
	b.poll(`document.querySelector("#explain-dynamic-group") && document.querySelector("#explain-dynamic-group").value === ` + js(*dg.Id))
	for _, id := range []string{"explain-dynamic-group", "explain-attributes", "explain-variables", "explain-secret-name"} {
		if !evalAs[bool](b, `document.querySelector('label[for=`+js(id)+`]') !== null`) {
			t.Errorf("#%s has no label", id)
		}
	}
	ask := func(attrs, vars string) {
		b.eval(`document.querySelector("#explain-attributes").value = ` + js(attrs) + `;
document.querySelector("#explain-variables").value = ` + js(vars) + `;
document.querySelector("#explain-result").replaceChildren(); true`)
		b.do(chromedp.Click(chromedp.CSS("#explain-submit")))
	}
	decision := `document.querySelector("#explain-decision") ? document.querySelector("#explain-decision").textContent : ""`
	ask("resource.type=fnfunc\n", "request.region = eu-home-1")
	b.poll(decision + ` === "ALLOWED"`)
	ask("resource.type=fnfunc", "request.region=us-other-1")
	b.poll(decision + ` === "DENIED"`)
	ask("resource.type", "")
	b.poll(`!document.querySelector("#error").hidden && document.querySelector("#error").textContent.includes("not name=value")`)
	if got := exceptions(); len(got) != 0 {
		t.Fatalf("the page threw: %q", got)
	}
}
