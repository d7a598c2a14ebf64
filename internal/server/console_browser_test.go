package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/console"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

// The console's elements (docs/console.md lists the page ids).
const (
	selUser     = "#login-user"
	selPassword = "#login-password"
	selSubmit   = "#login-submit"
	selLogout   = "#logout"
	selDenied   = "#denied"
	selCompItem = "#compartments li"
)

// recordCSP runs in every document before the page's own scripts (DevTools
// injects it; the page's CSP does not apply to it) and records the page's
// CSP violations, in the order the page sees them.
const recordCSP = `window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(e.effectiveDirective + " " + e.blockedURI + " " + (e.sample || "")));`

// injectScripts tries the usual ways of running script that a strict CSP
// exists to stop: an inline <script> element, an inline event handler in
// markup put in with innerHTML, and a string given to setTimeout (eval;
// an eval called straight from DevTools' evaluation would be exempt from
// the CSP). Each sets a flag if it runs.
const injectScripts = `(() => {
  const d = document.createElement("div");
  d.id = "csp-probe";
  d.innerHTML = '<img src="csp-probe-missing.png" onerror="window.__ranAttr = true">';
  document.body.appendChild(d);
  const s = document.createElement("script");
  s.textContent = "window.__ranInline = true";
  d.appendChild(s);
  setTimeout("window.__ranEval = true", 0);
  return true;
})()`

// injected reports which of injectScripts' scripts ran.
const injected = `[!!window.__ranInline, !!window.__ranAttr, !!window.__ranEval]`

// The console in a real browser (headless Chromium): log in, see the
// session and the compartments, the CSP holding against injected script,
// no session id where script can read it, log out; and as a user without
// a policy, the denial on the page.
func TestConsoleBrowser(t *testing.T) {
	tab := coffertest.Browser(t)
	env := coffertest.Start(t, coffertest.Options{})
	bg := context.Background()
	ic := env.Identity(t)
	tenancy := env.Tenancy(t)
	for _, name := range []string{"apps", "payments"} {
		if _, err := ic.CreateCompartment(bg, identity.CreateCompartmentRequest{CreateCompartmentDetails: identity.CreateCompartmentDetails{
			CompartmentId: &tenancy, Name: common.String(name), Description: common.String(name)}}); err != nil {
			t.Fatal(err)
		}
	}
	adminID, _ := env.Provider.UserOCID()
	u, err := ic.GetUser(bg, identity.GetUserRequest{UserId: &adminID})
	if err != nil {
		t.Fatal(err)
	}
	adminName, adminPassword := *u.Name, uiPassword(t, env, adminID)
	nobodyID, _ := env.NewUser(t, "console-nobody").UserOCID()
	nobodyPassword := uiPassword(t, env, nobodyID)

	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	defer cancel()
	b := &browserT{t: t, ctx: ctx}
	exceptions := b.recordExceptions()

	// An exception the page throws is recorded by the time the next
	// command returns; without a CSP the injected scripts run: the probes
	// can see a failure.
	b.do(chromedp.Navigate("about:blank"))
	b.eval(`setTimeout(() => { throw new Error("exception-probe"); }); setTimeout(() => { window.__after = true; })`)
	b.poll(`window.__after === true`)
	if got := exceptions(); len(got) != 1 || !strings.Contains(got[0], "exception-probe") {
		t.Fatalf("exceptions recorded: %q", got)
	}
	b.eval(injectScripts)
	b.poll(`window.__ranAttr === true && window.__ranEval === true`)
	if ran := evalAs[[]bool](b, injected); !ran[0] || !ran[1] || !ran[2] {
		t.Fatalf("without a CSP the probe's scripts did not all run: %v", ran)
	}

	b.recordCSP()
	b.do(
		chromedp.EmulateViewport(1024, 640),
		chromedp.Navigate(env.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(selUser)),
	)
	b.screenshot("console-login.png")
	b.checkAccessible()
	if !evalAs[bool](b, `document.querySelector("script:not([src])") === null`) {
		t.Fatal("the page has an inline script")
	}

	b.login(adminName, adminPassword)
	compartments := fmt.Sprintf(`[...document.querySelectorAll(%s)].map((li) => li.textContent).join("|")`, js(selCompItem))
	b.poll(compartments + `.includes("apps") && ` + compartments + `.includes("payments")`)
	b.checkAccessible()
	b.screenshot("console-compartments.png")

	// The session cookie is HttpOnly and SameSite=Strict, and its id is
	// nowhere script can read it.
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{env.URL + "/console/"}})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == console.CookieName {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict || session.Path != "/console/" {
		if session != nil {
			t.Fatalf("session cookie: HttpOnly=%v SameSite=%q Path=%q", session.HTTPOnly, session.SameSite, session.Path)
		}
		t.Fatal("no session cookie in the browser")
	}
	readable := evalAs[string](b, `JSON.stringify([document.cookie, Object.entries(localStorage), Object.entries(sessionStorage)])`)
	for what, secret := range map[string]string{"the cookie's name": console.CookieName, "the session id": session.Value, "the password": adminPassword} {
		if strings.Contains(readable, secret) {
			t.Fatalf("script can read %s (cookies and storage, %d characters)", what, len(readable))
		}
	}

	// The page itself broke no CSP rule; injected script does not run and
	// is reported as a violation.
	if v := evalAs[[]string](b, `window.__csp`); len(v) != 0 {
		t.Fatalf("the console violates its own CSP: %q", v)
	}
	b.eval(injectScripts)
	// Each probe ends by running or by a violation report; wait for all.
	b.poll(`[["__ranInline", "script-src-elem "], ["__ranAttr", "script-src-attr "], ["__ranEval", "script-src "]].every(
  ([ran, directive]) => window[ran] || window.__csp.some((v) => v.startsWith(directive)))`)
	if ran := evalAs[[]bool](b, injected); ran[0] || ran[1] || ran[2] {
		t.Fatalf("injected scripts ran under the CSP (inline, handler, eval): %v", ran)
	}
	v := evalAs[[]string](b, `window.__csp`)
	for _, directive := range []string{"script-src-elem ", "script-src-attr ", "script-src "} {
		if !containsPrefix(v, directive) {
			t.Fatalf("no %s violation reported: %q", directive, v)
		}
	}
	b.eval(`document.getElementById("csp-probe").remove(); window.__csp = []`)

	// Logging out ends the session: the login form again, the cookie
	// gone, and the server no longer knows it.
	b.do(chromedp.Click(chromedp.CSS(selLogout)), chromedp.WaitVisible(chromedp.CSS(selUser)))
	b.poll(fmt.Sprintf(`!document.body.innerText.includes(%s)`, js(adminName)))
	if status := evalAs[int](b, `fetch("session").then((r) => r.status)`, chromedp.EvalAwaitPromise); status != 401 {
		t.Fatalf("session after logout: %d", status)
	}
	if c := evalAs[string](b, `document.cookie`); c != "" {
		t.Fatalf("cookies after logout: %q", c)
	}
	if status, _, _ := consoleDo(t, env.URL, "GET", "/console/session", "", &consoleUser{cookie: &http.Cookie{Name: session.Name, Value: session.Value}}); status != 401 {
		t.Fatalf("the logged-out session still works outside the browser: %d", status)
	}

	// A user without a policy logs in: the API answers the page's request
	// with 404 NotAuthorizedOrNotFound, and the page shows the API's
	// message and the operation refused.
	b.login("console-nobody", nobodyPassword)
	var apiErr struct {
		Status        int
		Code, Message string
	}
	raw := evalAs[string](b, `fetch("api/compartments").then(async (r) => JSON.stringify(Object.assign({status: r.status}, await r.json())))`, chromedp.EvalAwaitPromise)
	if err := json.Unmarshal([]byte(raw), &apiErr); err != nil || apiErr.Status != 404 || apiErr.Code != "NotAuthorizedOrNotFound" || apiErr.Message == "" {
		t.Fatalf("nobody's compartments from the browser: %s", raw)
	}
	denied := `document.querySelector(` + js(selDenied) + `)`
	b.poll(denied + `.checkVisibility() && ` + denied + `.textContent === ` + js(apiErr.Message))
	b.checkAccessible()
	if why := evalAs[string](b, `document.querySelector("#denied-why").textContent`); !strings.Contains(why, "ListCompartments") {
		t.Fatalf("the denial does not name the operation: %q", why)
	}
	if text := evalAs[string](b, `document.body.innerText`); strings.Contains(text, "payments") {
		t.Fatalf("a denied user sees the compartments: %q", text)
	}
	b.screenshot("console-denied.png")

	// The denial links to the explain page with the question filled in
	// (OCIDs and the operation only); an administrator who opens it sees
	// the engine's answer and the statement to add.
	b.poll(`document.querySelector("#denied-explain").checkVisibility()`)
	fragment := evalAs[string](b, `new URL(document.querySelector("#denied-explain").href).hash`)
	q, err := url.ParseQuery(strings.TrimPrefix(fragment, "#/explain/"))
	if err != nil || !strings.HasPrefix(fragment, "#/explain/") || q.Get("userId") != nobodyID || q.Get("operation") != "ListCompartments" ||
		q.Get("compartmentId") != tenancy || len(q) != 3 {
		t.Fatalf("the denial's explain link: %q", fragment)
	}
	b.do(chromedp.Click(chromedp.CSS(selLogout)), chromedp.WaitVisible(chromedp.CSS(selUser)))
	b.login(adminName, adminPassword)
	b.eval(`location.hash = ` + js(fragment))
	b.poll(`document.querySelector("#explain-operation") && document.querySelector("#explain-operation").value === "ListCompartments"`)
	b.do(chromedp.Click(chromedp.CSS("#explain-submit")))
	b.poll(`document.querySelector("#explain-suggestion") && document.querySelector("#explain-suggestion").textContent !== ""`)
	b.checkAccessible()
	if d := evalAs[string](b, `document.querySelector("#explain-decision").textContent`); d != "DENIED" {
		t.Fatalf("the explain page's decision: %q", d)
	}
	if s := evalAs[string](b, `document.querySelector("#explain-suggestion").textContent`); !strings.Contains(s, "Allow ") {
		t.Fatalf("the explain page's suggestion: %q", s)
	}
	b.eval(`document.querySelector("#explain-submit").scrollIntoView()`)
	b.screenshot("console-explain.png")

	if v := evalAs[[]string](b, `window.__csp`); len(v) != 0 {
		t.Fatalf("the console violates its own CSP: %q", v)
	}
	if got := exceptions(); len(got) != 0 {
		t.Fatalf("the console threw: %q", got)
	}
}

// openConsole opens a browser tab for t with its own deadline, recording
// from the start the pages' uncaught exceptions and CSP violations;
// finish, called at the test's end, fails it on any.
func openConsole(t *testing.T, timeout time.Duration) (b *browserT, finish func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(coffertest.Browser(t), timeout)
	t.Cleanup(cancel)
	b = &browserT{t: t, ctx: ctx}
	exceptions := b.recordExceptions()
	b.recordCSP()
	return b, func() {
		t.Helper()
		if v := evalAs[[]string](b, `window.__csp`); len(v) != 0 {
			t.Fatalf("the console violates its own CSP: %q", v)
		}
		if got := exceptions(); len(got) != 0 {
			t.Fatalf("the console threw: %q", got)
		}
	}
}

// adminConsolePassword gives the administrator a console password through
// the SDK and returns his user name and it.
func adminConsolePassword(t *testing.T, env *coffertest.Env) (name, password string) {
	t.Helper()
	id, _ := env.Provider.UserOCID()
	u, err := env.Identity(t).GetUser(context.Background(), identity.GetUserRequest{UserId: &id})
	if err != nil {
		t.Fatal(err)
	}
	return *u.Name, uiPassword(t, env, id)
}

// browserT runs chromedp actions for a test, failing it on an error.
type browserT struct {
	t   *testing.T
	ctx context.Context
}

func (b *browserT) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browserT) eval(expr string) {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](expr))
}

// poll waits until the JavaScript expression expr is true in the page, or
// 20 s have passed. It checks again on the page's own timer; chromedp.Poll
// would build the check with new Function, which the console's CSP (no
// 'unsafe-eval') refuses.
func (b *browserT) poll(expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	wait := `new Promise((resolve) => {
  const check = () => {
    let ok = false;
    try { ok = !!(` + expr + `); } catch (_) {}
    if (ok) { resolve(true); } else { setTimeout(check, 20); }
  };
  check();
})`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](wait, chromedp.EvalAwaitPromise)); err != nil {
		b.t.Fatalf("waiting for %s: %v", expr, err)
	}
}

// recordCSP makes every document the tab loads from now on record its CSP
// violations in window.__csp.
func (b *browserT) recordCSP() {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: recordCSP}); err != nil {
		b.t.Fatal(err)
	}
}

// recordExceptions records the uncaught exceptions of the tab's pages;
// the function it returns gives those recorded since its last call. An
// exception the page throws before a command's reply is recorded by the
// time the command returns (chromedp.Listen sees events in order).
func (b *browserT) recordExceptions() func() []string {
	b.t.Helper()
	var (
		mu  sync.Mutex
		got []string
	)
	err := chromedp.Listen(b.ctx, func(ev any) {
		if e, ok := ev.(*cdpruntime.EventExceptionThrown); ok {
			text := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				text += " " + e.ExceptionDetails.Exception.Description
			}
			mu.Lock()
			got = append(got, text)
			mu.Unlock()
		}
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
}

// login signs in through the form and waits for the user's name on the
// page.
func (b *browserT) login(name, password string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(selUser)))
	b.eval(`document.querySelector(` + js(selUser) + `).value = ""`) // the form keeps the last name
	b.do(
		chromedp.SendKeys(chromedp.CSS(selUser), name),
		chromedp.SendKeys(chromedp.CSS(selPassword), password),
		chromedp.Click(chromedp.CSS(selSubmit)),
	)
	b.poll(fmt.Sprintf(`document.body.innerText.includes(%s)`, js(name)))
	// The form is off the screen once signed in (the hidden attribute
	// alone is not enough: a display rule of the page's CSS beats it).
	if evalAs[bool](b, `document.querySelector(`+js(selUser)+`).checkVisibility()`) {
		b.t.Fatal("the login form is still on the screen after signing in")
	}
}

// screenshot writes a PNG of the page to $COFFER_CONSOLE_SCREENSHOTS/name
// (nothing when the variable is unset); docs/console/ holds the ones the
// README shows.
func (b *browserT) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("COFFER_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// accessibilityProblems lists what keeps the current view from a keyboard
// or screen-reader user: an input without a label, a button or link
// without a name, a control taken out of the tab order, or one that
// cannot take the focus.
const accessibilityProblems = `(() => {
  const out = [];
  const shown = (e) => e.checkVisibility();
  for (const e of document.querySelectorAll("input, textarea, select")) {
    if (shown(e) && e.labels.length === 0 && !e.getAttribute("aria-label")) { out.push("unlabelled " + e.tagName + "#" + e.id); }
  }
  for (const e of document.querySelectorAll("button, a[href]")) {
    if (!shown(e)) { continue; }
    if (!(e.textContent.trim() || e.getAttribute("aria-label"))) { out.push("nameless " + e.tagName + "#" + e.id); }
    if (e.tabIndex < 0) { out.push("not in the tab order: " + e.tagName + "#" + e.id); }
    e.focus();
    if (document.activeElement !== e) { out.push("cannot take the focus: " + e.tagName + "#" + e.id); }
  }
  for (const e of document.querySelectorAll("[onclick], div[tabindex], span[tabindex]")) {
    out.push("script-only control " + e.tagName + "#" + e.id);
  }
  return out;
})()`

// checkAccessible fails the test on accessibilityProblems in the view.
func (b *browserT) checkAccessible() {
	b.t.Helper()
	if got := evalAs[[]string](b, accessibilityProblems); len(got) != 0 {
		b.t.Errorf("%s: %q", evalAs[string](b, `location.hash`), got)
	}
}

func evalAs[T any](b *browserT, expr string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// A secret's page in a real browser: the content is nowhere in the page or
// its storage until Reveal, is gone after Hide and after leaving the page,
// never in the URL; a user without a policy sees the denial, not the
// content.
func TestConsoleBrowserReveal(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	f := vaultstest.On(t, env)
	canary := "browser-canary-" + strings.Repeat("4", 20)
	secretID := *f.CreateSecret(t, "browser-secret", canary).Id
	adminName, adminPassword := adminConsolePassword(t, env)
	nobodyID, _ := env.NewUser(t, "reveal-nobody").UserOCID()
	nobodyPassword := uiPassword(t, env, nobodyID)

	b, finish := openConsole(t, 60*time.Second)
	// holds is true when the page's markup, text, URL or storage holds the
	// content, in clear or base64.
	holds := `[document.documentElement.outerHTML, document.body.innerText, location.href,
  JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])].some((s) =>
  s.includes(` + js(canary) + `) || s.includes(` + js(base64.StdEncoding.EncodeToString([]byte(canary))) + `))`
	content := `document.querySelector("#content").textContent`

	b.do(chromedp.Navigate(env.URL + "/console/"))
	b.login(adminName, adminPassword)
	b.eval(`location.hash = "#/secret/" + ` + js(secretID))
	b.do(chromedp.WaitVisible(chromedp.CSS("#reveal")))
	if evalAs[bool](b, holds) {
		t.Fatal("the secret's page holds its content before Reveal")
	}
	b.checkAccessible()
	b.do(chromedp.Click(chromedp.CSS("#reveal")))
	b.poll(content + ` === ` + js(canary))
	if !evalAs[bool](b, holds) {
		t.Fatal("the check does not see the revealed content")
	}
	b.do(chromedp.Click(chromedp.CSS("#hide")))
	b.poll(content + ` === ""`)
	if evalAs[bool](b, holds) {
		t.Fatal("the page holds the content after Hide")
	}

	// Revealed, then away to the compartments and back: hidden again.
	b.do(chromedp.Click(chromedp.CSS("#reveal")))
	b.poll(content + ` === ` + js(canary))
	b.eval(`location.hash = "#/compartments"`)
	b.do(chromedp.WaitVisible(chromedp.CSS("#compartments")))
	if evalAs[bool](b, holds) {
		t.Fatal("the page holds the content after leaving the secret")
	}
	b.eval(`history.back()`)
	b.do(chromedp.WaitVisible(chromedp.CSS("#reveal")))
	if evalAs[bool](b, holds) || evalAs[string](b, content) != "" {
		t.Fatal("the content is back without Reveal after returning to the secret")
	}

	// A user without a policy: the denial, never the content.
	b.do(chromedp.Click(chromedp.CSS(selLogout)), chromedp.WaitVisible(chromedp.CSS(selUser)))
	b.login("reveal-nobody", nobodyPassword)
	b.eval(`location.hash = "#/secret/" + ` + js(secretID))
	b.poll(`document.querySelector(` + js(selDenied) + `).checkVisibility()`)
	if evalAs[bool](b, holds) {
		t.Fatal("a user without a policy sees the content")
	}
	finish()
}
