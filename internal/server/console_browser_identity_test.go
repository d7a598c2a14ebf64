package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
)

// The identity pages and the policy editor in a real browser: users and
// groups listed, a user's groups and a group's members; the editor lints
// as the administrator types (a syntax error, a grant too broad, a group
// that does not exist, then nothing), creates the policy, saves an edit
// with the version it loaded, refuses to overwrite a newer one, deletes
// it; the editor used by keyboard alone; a member added to a group and
// removed; a user's console password reset, shown once and hidden, and
// used to sign in. Each change is seen through the SDK, each view checked
// for controls a keyboard or screen-reader user cannot use.
func TestConsoleBrowserPolicyEditor(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	ic := env.Identity(t)
	tenancy := env.Tenancy(t)
	adminName, password := adminConsolePassword(t, env)
	adminID, _ := env.Provider.UserOCID()
	g, err := ic.CreateGroup(ctx, identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: &tenancy, Name: common.String("editors"), Description: common.String("policy editors")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ic.AddUserToGroup(ctx, identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{
		UserId: &adminID, GroupId: g.Id}}); err != nil {
		t.Fatal(err)
	}

	b, finish := openConsole(t, 90*time.Second)
	b.do(chromedp.EmulateViewport(1000, 900), chromedp.Navigate(env.URL+"/console/"))
	b.login(adminName, password)

	b.do(chromedp.Click(chromedp.CSS("#nav-identity")))
	b.poll(`document.querySelector('#users li[data-id=` + js(adminID) + `]') && document.querySelector('#groups li[data-id=` + js(*g.Id) + `]')`)
	b.checkAccessible()
	// A group made with the identity page's form opens its page.
	b.do(chromedp.SendKeys(chromedp.CSS("#new-group-name"), "made-in-browser"),
		chromedp.SendKeys(chromedp.CSS("#new-group-description"), "a group from the console"),
		chromedp.Click(chromedp.CSS("#new-group-submit")))
	b.poll(`location.hash.startsWith("#/group/") && document.querySelector("#view h2") && document.querySelector("#view h2").textContent === "Group made-in-browser"`)
	if made, err := ic.ListGroups(ctx, identity.ListGroupsRequest{CompartmentId: &tenancy, Name: common.String("made-in-browser")}); err != nil ||
		len(made.Items) != 1 || *made.Items[0].Description != "a group from the console" {
		t.Fatalf("the SDK sees %+v %v", made.Items, err)
	}
	b.do(chromedp.Click(chromedp.CSS("#nav-identity")))
	b.poll(`document.querySelector('#groups li[data-id=` + js(*g.Id) + `]')`)
	b.do(chromedp.Click(chromedp.CSS(`#groups li[data-id=` + js(*g.Id) + `] a`)))
	b.poll(`document.querySelector('#group-members li[data-id=` + js(adminID) + `]')`)
	b.checkAccessible()
	b.do(chromedp.Click(chromedp.CSS(`#group-members li a`)))
	b.poll(`document.querySelector('#user-groups li[data-id=` + js(*g.Id) + `]') && document.body.innerText.includes("Console password")`)
	b.checkAccessible()

	b.eval(`location.hash = "#/policy-new/" + ` + js(tenancy))
	b.do(chromedp.WaitVisible(chromedp.CSS("#policy-statements")),
		chromedp.SendKeys(chromedp.CSS("#policy-name"), "console-policy"),
		chromedp.SendKeys(chromedp.CSS("#policy-description"), "made in the browser"))
	// typeStatements replaces the box's text as a user types it, and
	// waits for the lint of that text: nothing is clicked.
	finding := func(code string) string {
		return `document.querySelector('#policy-lint li[data-code="` + code + `"]')`
	}
	typeStatements := func(text, until string) {
		t.Helper()
		b.eval(`document.querySelector("#policy-statements").value = ""`)
		b.do(chromedp.SendKeys(chromedp.CSS("#policy-statements"), text))
		b.poll(until)
	}
	b.checkAccessible()
	typeStatements("allow group editors to raed vaults in tenancy", finding("invalid"))
	if !strings.Contains(evalAs[string](b, `document.querySelector("#policy-lint").innerText`), "Line 1") {
		t.Error("the syntax error does not name its line")
	}
	typeStatements("allow group editors to read vaults in tenancy\nallow group editors to manage all-resources in tenancy",
		finding("manage-in-tenancy")+` && !`+finding("invalid")+` && document.querySelector("#policy-lint").innerText.includes("Line 2")`)
	b.screenshot("console-policy-editor.png")
	typeStatements("allow group no-such-group to read vaults in tenancy", finding("unresolved"))
	typeStatements("allow group editors to read vaults in tenancy",
		`document.querySelector("#policy-lint").children.length === 0 && document.querySelector("#policy-lint-status").textContent.includes("No findings")`)

	b.do(chromedp.Click(chromedp.CSS("#policy-save")))
	b.poll(`location.hash.startsWith("#/policy/") && document.querySelector("#view h2").textContent === "Policy console-policy"`)
	pols, err := ic.ListPolicies(ctx, identity.ListPoliciesRequest{CompartmentId: &tenancy, Name: common.String("console-policy")})
	if err != nil || len(pols.Items) != 1 || *pols.Items[0].Description != "made in the browser" ||
		strings.Join(pols.Items[0].Statements, "|") != "allow group editors to read vaults in tenancy" {
		t.Fatalf("the SDK sees %+v %v", pols.Items, err)
	}
	policyID := *pols.Items[0].Id
	b.checkAccessible()

	typeStatements("allow group editors to read vaults in tenancy\n\nallow group editors to read keys in tenancy",
		`document.querySelector("#policy-lint-status").textContent.includes("No findings")`)
	b.do(chromedp.Click(chromedp.CSS("#policy-save")))
	b.poll(`document.querySelector("#policy-statements").value.split("\n").length === 2`)
	got, err := ic.GetPolicy(ctx, identity.GetPolicyRequest{PolicyId: &policyID})
	if err != nil || len(got.Statements) != 2 || got.Statements[1] != "allow group editors to read keys in tenancy" {
		t.Fatalf("after the edit the SDK sees %+v %v", got.Policy, err)
	}

	// Someone else changes the policy while the page shows the old one:
	// saving is refused, not written over theirs.
	if _, err := ic.UpdatePolicy(ctx, identity.UpdatePolicyRequest{PolicyId: &policyID,
		UpdatePolicyDetails: identity.UpdatePolicyDetails{Description: common.String("changed elsewhere")}}); err != nil {
		t.Fatal(err)
	}
	typeStatements("allow group editors to read vaults in tenancy", `document.querySelector("#policy-lint").children.length === 0`)
	b.do(chromedp.Click(chromedp.CSS("#policy-save")))
	b.poll(`document.querySelector("#error").checkVisibility() && document.querySelector("#error").textContent.includes("UpdatePolicy")`)
	got, err = ic.GetPolicy(ctx, identity.GetPolicyRequest{PolicyId: &policyID})
	if err != nil || len(got.Statements) != 2 || *got.Description != "changed elsewhere" {
		t.Fatalf("a stale save changed the policy: %+v %v", got.Policy, err)
	}

	b.eval(`window.confirm = () => true`)
	b.eval(`location.reload()`)
	b.do(chromedp.WaitVisible(chromedp.CSS("#policy-delete")))
	b.eval(`window.confirm = () => true`)
	b.do(chromedp.Click(chromedp.CSS("#policy-delete")))
	b.poll(`location.hash.startsWith("#/policies/") && document.querySelector("#policies") && !document.querySelector('#policies li[data-id=` + js(policyID) + `]')`)
	if got, err := ic.GetPolicy(ctx, identity.GetPolicyRequest{PolicyId: &policyID}); err == nil && got.LifecycleState != identity.PolicyLifecycleStateDeleted {
		t.Errorf("after Delete the SDK sees %v", got.LifecycleState)
	}

	// The editor by keyboard alone: the fields and the button follow each
	// other in the tab order, and Enter on the button creates the policy.
	b.eval(`location.hash = "#/policy-new/" + ` + js(tenancy))
	b.do(chromedp.WaitVisible(chromedp.CSS("#policy-name")))
	b.eval(`document.querySelector("#policy-name").focus()`)
	b.do(chromedp.KeyEvent("keyboard-policy\tby keyboard\tallow group editors to read keys in tenancy"))
	b.poll(`document.querySelector("#policy-lint-status").textContent.includes("No findings")`)
	b.do(chromedp.KeyEvent("\t"))
	if id := evalAs[string](b, `document.activeElement.id`); id != "policy-save" {
		t.Fatalf("Tab from the statements reaches #%s, not the save button", id)
	}
	b.do(chromedp.KeyEvent("\r"))
	b.poll(`document.querySelector("#view h2").textContent === "Policy keyboard-policy"`)
	if pols, err := ic.ListPolicies(ctx, identity.ListPoliciesRequest{CompartmentId: &tenancy, Name: common.String("keyboard-policy")}); err != nil ||
		len(pols.Items) != 1 || *pols.Items[0].Description != "by keyboard" {
		t.Fatalf("the SDK sees %+v %v", pols.Items, err)
	}

	// Members and a console password: carol added to the group, removed,
	// added again; her password reset on her page, shown once, hidden;
	// then she signs in with it.
	carolID, _ := env.NewUser(t, "carol").UserOCID()
	member := `document.querySelector('#group-members li[data-id=` + js(carolID) + `]')`
	b.eval(`location.hash = "#/group/" + ` + js(*g.Id))
	b.do(chromedp.WaitVisible(chromedp.CSS("#member-add-user")), chromedp.SetValue(chromedp.CSS("#member-add-user"), carolID),
		chromedp.Click(chromedp.CSS("#member-add-submit")))
	b.poll(member)
	b.checkAccessible()
	b.do(chromedp.Click(chromedp.CSS(`#group-members li[data-id=` + js(carolID) + `] button.member-remove`)))
	b.poll(`!` + member)
	b.do(chromedp.WaitVisible(chromedp.CSS("#member-add-user")), chromedp.SetValue(chromedp.CSS("#member-add-user"), carolID),
		chromedp.Click(chromedp.CSS("#member-add-submit")))
	b.poll(member)
	b.eval(`location.hash = "#/user/" + ` + js(carolID))
	b.do(chromedp.WaitVisible(chromedp.CSS("#ui-password-reset")))
	b.checkAccessible()
	b.eval(`window.confirm = () => true`)
	b.do(chromedp.Click(chromedp.CSS("#ui-password-reset")))
	b.poll(`document.querySelector("#ui-password").textContent.length >= 20`)
	carolPassword := evalAs[string](b, `document.querySelector("#ui-password").textContent`)
	stored := `[location.href, JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])].some((s) => s.includes(` + js(carolPassword) + `))`
	if evalAs[bool](b, stored) {
		t.Fatal("the new password is in the URL or the browser's storage")
	}
	b.do(chromedp.Click(chromedp.CSS("#ui-password-hide")))
	b.poll(`document.querySelector("#ui-password").textContent === "" && !document.body.innerText.includes(` + js(carolPassword) + `)`)
	b.do(chromedp.Click(chromedp.CSS(selLogout)), chromedp.WaitVisible(chromedp.CSS(selUser)))
	b.login("carol", carolPassword)

	finish()
}

// A narrow user in a real browser: he may read the secret's metadata and
// bundles but not use its key, presses Reveal, is denied, asks "Why was I
// denied?" and reads what is missing and the statement to add; the
// content never reaches the page. A user without a policy asking the same
// learns nothing.
func TestConsoleBrowserNarrowUserExplained(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	f := vaultstest.On(t, env)
	canary := "narrow-canary-" + strings.Repeat("5", 20)
	secretID := *f.CreateSecret(t, "narrow-secret", canary).Id
	narrow := env.NewUser(t, "narrow")
	grantGroup(t, env, narrow, "secret-readers", "read secret-family in tenancy")
	narrowID, _ := narrow.UserOCID()
	narrowPassword := uiPassword(t, env, narrowID)
	nobodyID, _ := env.NewUser(t, "narrow-nobody").UserOCID()
	nobodyPassword := uiPassword(t, env, nobodyID)

	b, finish := openConsole(t, 60*time.Second)
	b.do(chromedp.EmulateViewport(1000, 800), chromedp.Navigate(env.URL+"/console/"))
	b.login("narrow", narrowPassword)
	b.eval(`location.hash = "#/secret/" + ` + js(secretID))
	b.do(chromedp.WaitVisible(chromedp.CSS("#reveal")), chromedp.Click(chromedp.CSS("#reveal")))
	b.poll(`document.querySelector("#denied").checkVisibility() && document.querySelector("#denied-own").checkVisibility()`)
	b.checkAccessible()
	b.do(chromedp.Click(chromedp.CSS("#denied-own")))
	b.poll(`document.querySelector("#denied-own-suggestion")`)
	reason := evalAs[string](b, `document.querySelector("#denied-own-reason").textContent`)
	suggestion := evalAs[string](b, `document.querySelector("#denied-own-suggestion").textContent`)
	if !strings.Contains(reason, "KEY_DECRYPT") || !strings.Contains(suggestion, "secret-readers") || !strings.Contains(suggestion, f.KeyID) {
		t.Errorf("the explanation: %q, add %q", reason, suggestion)
	}
	if strings.Contains(evalAs[string](b, `document.body.innerText`), "read secret-family in tenancy") {
		t.Error("the page quotes the user's policy")
	}
	b.eval(`window.scrollTo(0, 0)`)
	b.screenshot("console-denied-explained.png")
	if evalAs[bool](b, `document.documentElement.outerHTML.includes(`+js(canary)+`)`) {
		t.Fatal("the content reached the narrow user's page")
	}
	// Navigating clears the explanation with the denial.
	b.eval(`location.hash = "#/compartments"`)
	b.poll(`document.querySelector("#denied-own-result").hidden && !document.querySelector("#denied-own-reason")`)

	b.do(chromedp.Click(chromedp.CSS(selLogout)), chromedp.WaitVisible(chromedp.CSS(selUser)))
	b.login("narrow-nobody", nobodyPassword)
	b.eval(`location.hash = "#/secret/" + ` + js(secretID))
	b.poll(`document.querySelector("#denied-own").checkVisibility()`)
	b.do(chromedp.Click(chromedp.CSS("#denied-own")))
	b.poll(`document.querySelector("#denied-own-reason") && document.querySelector("#denied-own-reason").textContent.includes("cannot tell you more")`)
	finish()
}
