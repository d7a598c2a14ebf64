package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

// acceptDialogs accepts every JavaScript dialog (window.confirm) the tab
// opens from now on, as a user pressing OK; the function it returns gives
// the messages of those accepted since its last call.
func (b *browserT) acceptDialogs() func() []string {
	b.t.Helper()
	var (
		mu  sync.Mutex
		got []string
	)
	dialogs := chromedp.Events(b.ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, ev.Message)
			mu.Unlock()
			if _, err := chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				return
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
}

// text is the textContent of the first element sel matches ("" when none).
func (b *browserT) text(sel string) string {
	b.t.Helper()
	return evalAs[string](b, `(document.querySelector(`+js(sel)+`) || {textContent: ""}).textContent`)
}

// noError fails the test when the page shows an error (#error) or a
// denial (#denied).
func (b *browserT) noError(step string) {
	b.t.Helper()
	if msg := evalAs[string](b, `["#error", "#denied"].map((s) => document.querySelector(s)).filter((e) => e.checkVisibility()).map((e) => e.textContent).join(" ")`); msg != "" {
		b.t.Fatalf("%s: the page shows %q", step, msg)
	}
}

// The console's change flows in a real browser, as the administrator, each
// seen through the SDK afterwards: rotate a key, schedule and cancel its
// deletion; create a secret version, promote an older one back, schedule
// and cancel the secret's deletion; the usage page's rows and cost
// column; and for a user without a policy the usage page's denial. No
// exception, no CSP violation, and no content on the page unasked.
func TestConsoleBrowserFlows(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	f := vaultstest.On(t, env)
	bg := context.Background()
	canary := "flows-canary-" + strings.Repeat("5", 20)
	secretID := *f.CreateSecret(t, "flows-secret", canary).Id
	vaultID, keyID := *f.Vault.Id, f.KeyID
	adminName, adminPassword := adminConsolePassword(t, env)
	adminID, _ := env.Provider.UserOCID()
	nobodyID, _ := env.NewUser(t, "flows-nobody").UserOCID()
	nobodyPassword := uiPassword(t, env, nobodyID)

	b, finish := openConsole(t, 90*time.Second)
	dialogs := b.acceptDialogs()
	b.do(chromedp.EmulateViewport(1024, 640), chromedp.Navigate(env.URL+"/console/"))
	b.login(adminName, adminPassword)

	getKey := func() keymanagement.Key {
		t.Helper()
		k, err := f.Vault.Mgmt.GetKey(bg, keymanagement.GetKeyRequest{KeyId: &keyID})
		if err != nil {
			t.Fatal(err)
		}
		return k.Key
	}
	getSecret := func() vault.Secret {
		t.Helper()
		s, err := f.Vaults.GetSecret(bg, vault.GetSecretRequest{SecretId: &secretID})
		if err != nil {
			t.Fatal(err)
		}
		return s.Secret
	}

	// Rotate: a second version, marked current on the page, the one the
	// SDK names current.
	oldVersion := *getKey().CurrentKeyVersion
	b.eval(`location.hash = ` + js("#/key/"+vaultID+"/"+keyID))
	b.poll(`document.querySelectorAll("#versions tr").length === 1`)
	b.do(chromedp.Click(chromedp.CSS("#rotate")))
	b.poll(`document.querySelectorAll("#versions tr").length === 2`)
	b.checkAccessible()
	newVersion := *getKey().CurrentKeyVersion
	if newVersion == oldVersion {
		t.Fatal("the SDK sees no new key version after Rotate")
	}
	if cur := b.text(`#versions tr[data-id="` + newVersion + `"] td`); cur != newVersion+" (current)" {
		t.Fatalf("the new version's row: %q", cur)
	}
	if old := b.text(`#versions tr[data-id="` + oldVersion + `"] td`); old != oldVersion {
		t.Fatalf("the old version's row: %q", old)
	}
	b.noError("rotate")

	// Schedule the key's deletion (confirmed) and cancel it.
	b.do(chromedp.Click(chromedp.CSS("#key-schedule-deletion")))
	b.do(chromedp.WaitVisible(chromedp.CSS("#key-cancel-deletion")))
	if evalAs[bool](b, `document.querySelector("#rotate") !== null`) {
		t.Fatal("a key pending deletion offers Rotate, which the API refuses")
	}
	if d := dialogs(); len(d) != 1 || !strings.Contains(d[0], "Schedule the deletion of key") {
		t.Fatalf("dialogs: %q", d)
	}
	if k := getKey(); k.LifecycleState != keymanagement.KeyLifecycleStatePendingDeletion {
		t.Fatalf("the key after Schedule deletion: %s", k.LifecycleState)
	}
	if !strings.Contains(evalAs[string](b, `document.querySelector("#view dl").textContent`), "Deletion") {
		t.Fatal("the key's page does not show when it will be deleted")
	}
	b.do(chromedp.Click(chromedp.CSS("#key-cancel-deletion")))
	b.do(chromedp.WaitVisible(chromedp.CSS("#key-disable")))
	if k := getKey(); k.LifecycleState != keymanagement.KeyLifecycleStateEnabled || k.TimeOfDeletion != nil {
		t.Fatalf("the key after Cancel deletion: %s", k.LifecycleState)
	}
	b.noError("the key's deletion")

	// A new secret version through the form: version 2, CURRENT, the box
	// emptied; the content is on the page only in no element's text.
	b.eval(`location.hash = ` + js("#/secret/"+secretID))
	b.poll(`document.querySelectorAll("#versions tr").length === 1`)
	second := "flows-second-" + strings.Repeat("6", 20)
	b.do(chromedp.SendKeys(chromedp.CSS("#new-version-content"), second), chromedp.Click(chromedp.CSS("#new-version-submit")))
	b.poll(`document.querySelectorAll("#versions tr").length === 2`)
	stages := func(n int) string { return b.text(fmt.Sprintf(`#versions tr[data-id="%d"] td:nth-child(2)`, n)) }
	if s1, s2 := stages(1), stages(2); !strings.Contains(s2, "CURRENT") || strings.Contains(s1, "CURRENT") {
		t.Fatalf("stages after a new version: 1 %q, 2 %q", s1, s2)
	}
	if v := evalAs[string](b, `document.querySelector("#new-version-content").value`); v != "" {
		t.Fatal("the new-version box still holds the content")
	}
	if body := evalAs[string](b, `document.documentElement.outerHTML + document.body.innerText`); strings.Contains(body, second) || strings.Contains(body, canary) {
		t.Fatal("the secret's page shows content nobody revealed")
	}
	if s := getSecret(); *s.CurrentVersionNumber != 2 {
		t.Fatalf("the SDK's current version after a new one: %d", *s.CurrentVersionNumber)
	}
	got, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: &secretID})
	if err != nil || got != second {
		t.Fatalf("the new version's content through the SDK: %v", err)
	}

	// Promote version 1 back: CURRENT moves on the page and in the SDK.
	b.do(chromedp.Click(chromedp.CSS(`#versions tr[data-id="1"] button.promote`)))
	b.poll(`document.querySelector('#versions tr[data-id="1"] td:nth-child(2)').textContent.includes("CURRENT")`)
	if s2 := stages(2); strings.Contains(s2, "CURRENT") {
		t.Fatalf("version 2 still CURRENT after promoting 1: %q", s2)
	}
	if evalAs[bool](b, `document.querySelector('#versions tr[data-id="1"] button.promote') !== null`) ||
		!evalAs[bool](b, `document.querySelector('#versions tr[data-id="2"] button.promote') !== null`) {
		t.Fatal("Make current is on the wrong version")
	}
	if s := getSecret(); *s.CurrentVersionNumber != 1 {
		t.Fatalf("the SDK's current version after promoting 1: %d", *s.CurrentVersionNumber)
	}
	b.noError("versions")

	// Schedule the secret's deletion (confirmed) and cancel it from the page.
	b.do(chromedp.Click(chromedp.CSS("#schedule-deletion")))
	b.do(chromedp.WaitVisible(chromedp.CSS("#cancel-deletion")))
	if d := dialogs(); len(d) != 1 || !strings.Contains(d[0], "flows-secret") {
		t.Fatalf("dialogs: %q", d)
	}
	if s := getSecret(); s.LifecycleState != vault.SecretLifecycleStatePendingDeletion {
		t.Fatalf("the secret after Schedule deletion: %s", s.LifecycleState)
	}
	if evalAs[bool](b, `document.querySelector("#schedule-deletion").checkVisibility()`) {
		t.Fatal("Schedule deletion is offered for a secret pending deletion")
	}
	b.noError("the secret's deletion")
	b.do(chromedp.Click(chromedp.CSS("#cancel-deletion")))
	b.do(chromedp.WaitVisible(chromedp.CSS("#schedule-deletion")))
	if evalAs[bool](b, `document.querySelector("#cancel-deletion").checkVisibility()`) {
		t.Fatal("Cancel deletion is still offered after cancelling")
	}
	if s := getSecret(); s.LifecycleState != vault.SecretLifecycleStateActive || s.TimeOfDeletion != nil {
		t.Fatalf("the secret after Cancel deletion: %s", s.LifecycleState)
	}
	b.noError("cancelling the secret's deletion")
	b.shots("console-secret", `document.querySelector("#content").textContent === ""`, "")

	// The usage page: rows by operation; the SDK's retrievals (3, and the
	// one above) counted; the cost follows the price typed, client-side.
	for range 3 {
		if _, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: &secretID}); err != nil {
			t.Fatal(err)
		}
	}
	b.do(chromedp.Click(chromedp.CSS("#nav-usage")))
	b.poll(`document.querySelectorAll("#usage-rows tr").length > 0`)
	b.checkAccessible()
	if cur := evalAs[string](b, `document.querySelector("#nav-usage").getAttribute("aria-current")`); cur != "page" {
		t.Fatalf("the usage link is not marked current: %q", cur)
	}
	if p := b.text(`#usage-rows tr[data-key="` + adminID + `"] td`); p != adminID {
		t.Fatalf("the administrator's row by principal: %q", p)
	}
	b.eval(`document.querySelector("#usage-group").value = "operation"`)
	b.do(chromedp.Click(chromedp.CSS("#usage-submit")))
	row := `#usage-rows tr[data-key="GetSecretBundle"]`
	b.poll(`document.querySelector(` + js(row) + `) !== null`)
	if !strings.Contains(evalAs[string](b, `location.hash`), "groupBy=operation") {
		t.Fatal("the fragment does not hold the grouping")
	}
	cells := func() []string {
		return evalAs[[]string](b, `[...document.querySelectorAll(`+js(row+" td")+`)].map((td) => td.checkVisibility() ? td.textContent : "-")`)
	}
	c := cells() // key, calls, denied, errors, retrievals, cost
	if len(c) != 6 || c[4] != "4" || c[1] != "4" || c[5] != "0.000012" {
		t.Fatalf("GetSecretBundle's row (4 retrievals at 0.03 per 10,000): %q", c)
	}
	b.eval(`document.querySelector("#usage-price").value = ""`)
	b.do(chromedp.SendKeys(chromedp.CSS("#usage-price"), "250"))
	b.poll(`document.querySelector(` + js(row+" td.cost") + `).textContent === "0.1"`)
	b.eval(`document.querySelector("#usage-price").value = ""; document.querySelector("#usage-price").dispatchEvent(new Event("input"))`)
	if c := cells(); c[5] != "-" || evalAs[bool](b, `document.querySelector("#usage thead th.cost").checkVisibility()`) {
		t.Fatalf("without a price the cost column shows: %q", c)
	}
	// A negative price is no price: marked invalid, no cost shown.
	b.do(chromedp.SendKeys(chromedp.CSS("#usage-price"), "-1"))
	b.poll(`document.querySelector("#usage-price").getAttribute("aria-invalid") === "true"`)
	if c := cells(); c[5] != "-" {
		t.Fatalf("with a negative price the cost shows: %q", c)
	}
	// The browser will not send the form with it (min="0"): the submit
	// handler, which would change the fragment at once, does not run.
	hash := evalAs[string](b, `location.hash`)
	b.do(chromedp.Click(chromedp.CSS("#usage-submit")))
	if h := evalAs[string](b, `location.hash`); h != hash || !evalAs[bool](b, `document.querySelector("#usage-price").validity.rangeUnderflow`) {
		t.Fatalf("a negative price was sent: %q", h)
	}
	b.eval(`document.querySelector("#usage-price").value = ""; document.querySelector("#usage-price").dispatchEvent(new Event("input"))`)
	if total := b.text("#usage-total td:nth-child(5)"); total == "" {
		t.Fatal("no total row")
	} else if n, _ := strconv.Atoi(total); n < 4 {
		t.Fatalf("total retrievals %q", total)
	}
	b.noError("usage")

	// A start typed into the form (local time) goes to the fragment as
	// UTC, stays in the form, and bounds the report (widened to the hour).
	b.eval(`document.querySelector("#usage-since").value = localInput(new Date(Date.now() - 2 * 3600e3).toISOString())`)
	// The view the submit replaces is marked, so the wait below is for the
	// new one and not satisfied by the old before the fragment's change
	// has been handled.
	b.eval(`document.querySelector("#usage-form").dataset.stale = "1"`)
	b.do(chromedp.Click(chromedp.CSS("#usage-submit")))
	b.poll(`new URLSearchParams(location.hash.slice("#/usage/".length)).get("since") !== null && document.querySelector("#usage-form:not([data-stale])") !== null && document.querySelector("#usage-rows tr") !== null`)
	since, err := time.Parse(time.RFC3339, evalAs[string](b, `new URLSearchParams(location.hash.slice("#/usage/".length)).get("since")`))
	if err != nil || time.Since(since) < 2*time.Hour-2*time.Minute || time.Since(since) > 2*time.Hour+time.Minute {
		t.Fatalf("the fragment's since: %v %v", since, err)
	}
	if v := evalAs[string](b, `document.querySelector("#usage-since").value`); v == "" {
		t.Fatal("the form lost its start")
	}
	if r := b.text("#usage-range"); !strings.Contains(r, "by operation") {
		t.Fatalf("the range: %q", r)
	}
	// A bad time in a hand-made fragment is the API's 400 on the page, the
	// form still there to correct it, and no exception.
	b.eval(`location.hash = "#/usage/groupBy=operation&since=%E0"`)
	b.poll(`document.querySelector("#error").checkVisibility() && document.querySelector("#usage-form") !== null`)
	if e := b.text("#error"); !strings.Contains(e, "GetUsageReport") || !strings.Contains(e, "InvalidParameter") {
		t.Fatalf("a bad since: %q", e)
	}
	b.eval(`location.hash = "#/usage/groupBy=operation"`)
	b.poll(`document.querySelector(` + js(row) + `) !== null`)
	b.eval(`document.querySelector("#usage-price").value = "0.03"; document.querySelector("#usage-price").dispatchEvent(new Event("input")); document.activeElement.blur()`)
	b.shots("console-usage", `document.querySelector("#usage-rows tr") !== null`, "#usage-range")

	// A user without a policy: the API's denial on the usage page.
	b.do(chromedp.Click(chromedp.CSS(selLogout)), chromedp.WaitVisible(chromedp.CSS(selUser)))
	b.login("flows-nobody", nobodyPassword)
	b.eval(`location.hash = "#/usage"`)
	b.poll(`document.querySelector(` + js(selDenied) + `).checkVisibility()`)
	var apiErr struct{ Code, Message string }
	raw := evalAs[string](b, `fetch("api/usage").then((r) => r.text())`, chromedp.EvalAwaitPromise)
	if err := json.Unmarshal([]byte(raw), &apiErr); err != nil || apiErr.Code != "NotAuthorizedOrNotFound" || apiErr.Message == "" {
		t.Fatalf("nobody's usage from the browser: %s", raw)
	}
	if d := b.text(selDenied); d != apiErr.Message {
		t.Fatalf("the denial: %q, the API's %q", d, apiErr.Message)
	}
	if why := b.text("#denied-why"); !strings.Contains(why, "GetUsageReport") {
		t.Fatalf("the denial does not name the operation: %q", why)
	}
	if evalAs[bool](b, `document.querySelector("#usage-rows") !== null`) {
		t.Fatal("a denied user sees usage rows")
	}

	finish()
	if d := dialogs(); len(d) != 0 {
		t.Fatalf("unexpected dialogs: %q", d)
	}
}

// shots checks the page in the dark palette at a laptop's width and in the
// light one at a phone's (375 px): ready (the JavaScript condition) in
// both, the dark background applied, nothing wider than the phone's
// screen; and writes name-dark.png and name-phone.png when screenshots are
// asked for (b.screenshot), the phone's scrolled to the element phoneTop
// selects when not "". It leaves the light palette at 1024 px.
func (b *browserT) shots(name, ready, phoneTop string) {
	b.t.Helper()
	media := func(scheme string) {
		b.t.Helper()
		if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
			b.t.Fatal(err)
		}
	}
	media("dark")
	b.poll(`matchMedia("(prefers-color-scheme: dark)").matches && (` + ready + `)`)
	if bg := evalAs[string](b, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(22, 23, 27)" {
		b.t.Fatalf("%s: the dark palette's background is not applied: %s", name, bg)
	}
	b.screenshot(name + "-dark.png")
	media("light")
	b.do(chromedp.EmulateViewport(375, 740))
	b.poll(`innerWidth === 375 && (` + ready + `)`)
	if w := evalAs[int](b, `document.documentElement.scrollWidth`); w > 375 {
		b.t.Fatalf("%s: the page is %d px wide on a 375 px screen", name, w)
	}
	if phoneTop != "" {
		b.eval(`document.querySelector(` + js(phoneTop) + `).scrollIntoView()`)
	}
	b.screenshot(name + "-phone.png")
	b.eval(`scrollTo(0, 0)`)
	b.do(chromedp.EmulateViewport(1024, 640))
	b.poll(`innerWidth === 1024`)
}
