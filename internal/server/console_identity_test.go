package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/identityapi"
)

// The identity pages' read routes are the Identity operations as the
// session's user: the administrator reads, a user without a policy gets
// the API's 404, each audited once under its OCI name.
func TestConsoleIdentityPagesRead(t *testing.T) {
	p := startConsolePair(t)
	env := p.f.Env
	ctx := context.Background()
	ic := env.Identity(t)
	tenancy := p.f.Tenancy
	g := newGroup(t, env, "console-readers")
	if _, err := ic.AddUserToGroup(ctx, identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{
		UserId: &p.nobodyID, GroupId: g.Id}}); err != nil {
		t.Fatal(err)
	}
	env.AllowDynamicGroup(t, "console-apps", "ALL {instance.compartment.id = '"+tenancy+"'}", "read secret-bundles in tenancy")
	dgs, err := ic.ListDynamicGroups(ctx, identity.ListDynamicGroupsRequest{CompartmentId: &tenancy, Name: common.String("console-apps")})
	if err != nil || len(dgs.Items) != 1 {
		t.Fatalf("ListDynamicGroups: %v %d", err, len(dgs.Items))
	}
	pols, err := ic.ListPolicies(ctx, identity.ListPoliciesRequest{CompartmentId: &tenancy, Name: common.String("console-apps-grants")})
	if err != nil || len(pols.Items) != 1 {
		t.Fatalf("ListPolicies: %v %d", err, len(pols.Items))
	}
	q := "?compartmentId=" + url.QueryEscape(tenancy)
	routes := []struct{ op, path, want string }{
		{"ListUsers", "/console/api/users" + q, p.nobodyID},
		{"GetUser", "/console/api/users/" + p.adminID, p.adminID},
		{"GetUserUIPasswordInformation", "/console/api/users/" + p.adminID + "/uiPassword", `"timeCreated"`},
		{"ListGroups", "/console/api/groups" + q, *g.Id},
		{"GetGroup", "/console/api/groups/" + *g.Id, `"console-readers"`},
		{"ListUserGroupMemberships", "/console/api/userGroupMemberships" + q + "&groupId=" + *g.Id, p.nobodyID},
		{"ListDynamicGroups", "/console/api/dynamicGroups" + q, *dgs.Items[0].Id},
		{"GetDynamicGroup", "/console/api/dynamicGroups/" + *dgs.Items[0].Id, "instance.compartment.id"},
		{"ListPolicies", "/console/api/policies" + q, *pols.Items[0].Id},
		{"GetPolicy", "/console/api/policies/" + *pols.Items[0].Id, "read secret-bundles in tenancy"},
	}
	for _, r := range routes {
		adminBefore, nobodyBefore := len(auditLines(env, r.op, p.adminID)), len(auditLines(env, r.op, p.nobodyID))
		status, body := p.do(t, "GET", r.path, "", p.admin)
		if status != http.StatusOK || !bytes.Contains(body, []byte(r.want)) {
			t.Errorf("admin %s: %d %s", r.op, status, body)
		}
		if status, body := p.do(t, "GET", r.path, "", p.nobody); !notAuthorized(status, body) {
			t.Errorf("nobody %s: %d %s", r.op, status, body)
		}
		if evs := auditLines(env, r.op, p.adminID); len(evs) != adminBefore+1 || evs[len(evs)-1]["allowed"] != true {
			t.Errorf("admin's %s audit events: %v", r.op, evs)
		}
		if evs := auditLines(env, r.op, p.nobodyID); len(evs) != nobodyBefore+1 || evs[len(evs)-1]["allowed"] != false {
			t.Errorf("nobody's %s audit events: %v", r.op, evs)
		}
	}
	// Bad ids are refused before anything is read.
	for _, path := range []string{"/console/api/users/ocid1.group.oc1..aaaa", "/console/api/policies/not..an%00ocid",
		"/console/api/groups" + "?compartmentId=x", "/console/api/userGroupMemberships" + q + "&groupId=ocid1.user.oc1..aaaa"} {
		if status, body := p.do(t, "GET", path, "", p.admin); status/100 != 4 || !bytes.Contains(body, []byte(`"code"`)) {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
}

// consoleIfMatch sends a console change with an If-Match header.
func consoleIfMatch(t *testing.T, base, method, path, body, ifMatch string, u *consoleUser) (int, http.Header, []byte) {
	t.Helper()
	return consoleDoHeader(t, base, method, path, body, u, http.Header{"If-Match": {ifMatch}})
}

// The policy editor's changes are CreatePolicy, UpdatePolicy (with the
// If-Match of the version the editor loaded) and DeletePolicy as the
// session's user: applied for the administrator and seen through the SDK,
// refused without the CSRF token and to a user without a policy.
func TestConsolePolicyEditor(t *testing.T) {
	p := startConsolePair(t)
	env := p.f.Env
	ctx := context.Background()
	ic := env.Identity(t)
	tenancy := p.f.Tenancy
	create := `{"compartmentId":"` + tenancy + `","name":"console-made","description":"from the console",` +
		`"statements":["allow group Administrators to read vaults in tenancy"]}`
	noCSRF := &consoleUser{cookie: p.admin.cookie}
	if status, b := p.do(t, "POST", "/console/api/policies", create, noCSRF); status != http.StatusForbidden {
		t.Errorf("create without the CSRF token: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", "/console/api/policies", create, p.nobody); !notAuthorized(status, b) {
		t.Errorf("nobody's create: %d %s", status, b)
	}
	// A statement CreatePolicy refuses is the API's 400 with its message.
	bad := strings.Replace(create, "read vaults", "reed vaults", 1)
	if status, b := p.do(t, "POST", "/console/api/policies", bad, p.admin); status != http.StatusBadRequest || !bytes.Contains(b, []byte("statements[0]")) {
		t.Errorf("invalid statement: %d %s", status, b)
	}
	status, b := p.do(t, "POST", "/console/api/policies", create, p.admin)
	var pol identity.Policy
	if status != http.StatusOK || json.Unmarshal(b, &pol) != nil || pol.Id == nil {
		t.Fatalf("create: %d %s", status, b)
	}
	got, err := ic.GetPolicy(ctx, identity.GetPolicyRequest{PolicyId: pol.Id})
	if err != nil || *got.Description != "from the console" {
		t.Fatalf("the SDK sees %v %v", got.Policy, err)
	}
	path := "/console/api/policies/" + *pol.Id
	update := `{"statements":["allow group Administrators to read vaults in tenancy","allow group Administrators to read keys in tenancy"]}`
	// An edit made from a stale page is refused, not lost over the newer one.
	if status, _, b := consoleIfMatch(t, env.URL, "POST", path, update, `"stale"`, p.admin); status != http.StatusPreconditionFailed {
		t.Errorf("stale If-Match: %d %s", status, b)
	}
	if status, _, b := consoleIfMatch(t, env.URL, "POST", path, update, *got.Etag, p.admin); status != http.StatusOK {
		t.Fatalf("update: %d %s", status, b)
	}
	got, err = ic.GetPolicy(ctx, identity.GetPolicyRequest{PolicyId: pol.Id})
	if err != nil || len(got.Statements) != 2 {
		t.Fatalf("the SDK sees %v %v", got.Policy, err)
	}
	if status, b := p.do(t, "DELETE", path, "", p.nobody); !notAuthorized(status, b) {
		t.Errorf("nobody's delete: %d %s", status, b)
	}
	if status, b := p.do(t, "DELETE", path, "", noCSRF); status != http.StatusForbidden {
		t.Errorf("delete without the CSRF token: %d %s", status, b)
	}
	if status, b := p.do(t, "DELETE", path, "", p.admin); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, b)
	}
	if got, err := ic.GetPolicy(ctx, identity.GetPolicyRequest{PolicyId: pol.Id}); err == nil && got.LifecycleState != identity.PolicyLifecycleStateDeleted {
		t.Errorf("after delete the SDK sees %v", got.LifecycleState)
	}
	for _, op := range []string{"CreatePolicy", "UpdatePolicy", "DeletePolicy"} {
		if evs := auditLines(env, op, p.adminID); len(evs) == 0 {
			t.Errorf("%s not audited for the administrator", op)
		}
	}
}

// lintAPI posts body to the lint API signed as p (the administrator when
// nil).
func lintAPI(t *testing.T, env *coffertest.Env, p common.ConfigurationProvider, body string) (int, []byte) {
	t.Helper()
	if p == nil {
		p = env.Provider
	}
	return coffertest.Signed(t, common.DefaultRequestSigner(p), http.MethodPost, env.URL+identityapi.LintPath, []byte(body), time.Now())
}

func lintFindings(t *testing.T, b []byte) identityapi.LintResponse {
	t.Helper()
	var r identityapi.LintResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("lint answer %s: %v", b, err)
	}
	return r
}

// Lint through the API and the console gives the same findings: syntax
// errors with their position, grants too broad, names CreatePolicy would
// not resolve (for a caller who may create policies) and dynamic groups
// matching the whole tenancy (for one who may list them); a reader of
// policies gets the statements' findings only; a user without a policy
// the API's 404.
func TestLintPolicy(t *testing.T) {
	p := startConsolePair(t)
	env := p.f.Env
	tenancy := p.f.Tenancy
	env.AllowDynamicGroup(t, "lint-everything", "ANY {instance.compartment.id = '"+tenancy+"'}", "read vaults in tenancy")
	stmts := []string{
		"allow group Administrators to manage all-resources in tenancy",
		"allow group Administrators to raed vaults in tenancy",
		"allow group no-such-group to read vaults in tenancy",
		"allow dynamic-group lint-everything to read secret-bundles in tenancy",
		"allow group Administrators to read vaults in tenancy",
	}
	js, _ := json.Marshal(map[string]any{"compartmentId": tenancy, "statements": stmts})
	body := string(js)
	status, api := lintAPI(t, env, nil, body)
	if status != http.StatusOK {
		t.Fatalf("lint API: %d %s", status, api)
	}
	r := lintFindings(t, api)
	byStatement := map[int][]string{}
	var rules []string
	for _, f := range r.Findings {
		if f.Statement == nil {
			rules = append(rules, f.DynamicGroupName+":"+f.Code)
			continue
		}
		byStatement[*f.Statement] = append(byStatement[*f.Statement], f.Code)
		if f.Invalid != (f.Code == "invalid" || f.Code == "unresolved") {
			t.Errorf("finding %+v: invalid %v", f, f.Invalid)
		}
	}
	if !r.NamesChecked || !r.RulesChecked {
		t.Errorf("the administrator's lint checked names %v, rules %v", r.NamesChecked, r.RulesChecked)
	}
	if !slices.Contains(byStatement[0], "manage-in-tenancy") || !slices.Contains(byStatement[1], "invalid") ||
		!slices.Contains(byStatement[2], "unresolved") || !slices.Contains(byStatement[3], "unscoped-secret-access") || len(byStatement[4]) != 0 {
		t.Errorf("findings by statement: %v", byStatement)
	}
	if len(rules) != 1 || rules[0] != "lint-everything:broad-rule" {
		t.Errorf("rule findings: %v", rules)
	}
	for _, f := range r.Findings {
		if f.Statement != nil && *f.Statement == 1 && f.Position == 0 {
			t.Errorf("the syntax error has no position: %+v", f)
		}
	}
	// The console's answer is the API's.
	cs, got := p.do(t, "POST", "/console/api/policies/lint", body, p.admin)
	if cs != http.StatusOK || !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(api)) {
		t.Errorf("console answers %d\n%s\nthe API\n%s", cs, got, api)
	}
	if status, b := p.do(t, "POST", "/console/api/policies/lint", body, &consoleUser{cookie: p.admin.cookie}); status != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", "/console/api/policies/lint", body, p.nobody); !notAuthorized(status, b) {
		t.Errorf("nobody: %d %s", status, b)
	}
	// A reader of policies lints, without the name and rule checks that
	// would tell him which groups exist.
	reader := env.NewUser(t, "lint-reader")
	grantGroup(t, env, reader, "lint-readers", "read policies in tenancy")
	coffertest.NextSecond()
	status, b := lintAPI(t, env, reader, body)
	if status != http.StatusOK {
		t.Fatalf("reader: %d %s", status, b)
	}
	rr := lintFindings(t, b)
	if rr.NamesChecked || rr.RulesChecked {
		t.Errorf("the reader's lint checked names %v, rules %v", rr.NamesChecked, rr.RulesChecked)
	}
	for _, f := range rr.Findings {
		if f.Code == "unresolved" || f.Statement == nil {
			t.Errorf("the reader got %+v", f)
		}
	}
	// Bad input: OCI errors, nothing read.
	many := make([]string, 51)
	for i := range many {
		many[i] = stmts[4]
	}
	tooMany, _ := json.Marshal(map[string]any{"compartmentId": tenancy, "statements": many})
	for _, c := range []struct {
		body   string
		status int
	}{
		{`{`, http.StatusBadRequest},
		{`{"statements":["x"]}`, http.StatusBadRequest},
		{`{"compartmentId":"not..an ocid","statements":[]}`, http.StatusBadRequest},
		{`{"compartmentId":"ocid1.vault.oc1..aaaaaaaa","statements":[]}`, http.StatusNotFound},
		{`{"compartmentId":"` + tenancy + `","statements":"x"}`, http.StatusBadRequest},
		{string(tooMany), http.StatusBadRequest},
	} {
		coffertest.NextSecond()
		status, b := lintAPI(t, env, nil, c.body)
		if status != c.status || !bytes.Contains(b, []byte(`"code"`)) {
			t.Errorf("%s: %d %s", c.body, status, b)
		}
	}
	// Nothing to lint is nothing found.
	coffertest.NextSecond()
	if status, b := lintAPI(t, env, nil, `{"compartmentId":"`+tenancy+`","statements":[]}`); status != http.StatusOK || len(lintFindings(t, b).Findings) != 0 {
		t.Errorf("empty: %d %s", status, b)
	}
}

// Group members and console passwords from the console: AddUserToGroup,
// RemoveUserFromGroup and CreateOrResetUIPassword as the session's user.
// The new password is in the reset's answer only (no-store, never logged);
// it ends the user's sessions; a user may reset his own, not another's.
func TestConsoleMembersAndPasswords(t *testing.T) {
	p := startConsolePair(t)
	env := p.f.Env
	ctx := context.Background()
	ic := env.Identity(t)
	tenancy := p.f.Tenancy
	g := newGroup(t, env, "console-members")
	add := `{"userId":"` + p.nobodyID + `","groupId":"` + *g.Id + `"}`
	if status, b := p.do(t, "POST", "/console/api/userGroupMemberships", add, &consoleUser{cookie: p.admin.cookie}); status != http.StatusForbidden {
		t.Errorf("add without the CSRF token: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", "/console/api/userGroupMemberships", add, p.nobody); !notAuthorized(status, b) {
		t.Errorf("nobody adds himself: %d %s", status, b)
	}
	status, b := p.do(t, "POST", "/console/api/userGroupMemberships", add, p.admin)
	var m identity.UserGroupMembership
	if status != http.StatusOK || json.Unmarshal(b, &m) != nil || m.Id == nil {
		t.Fatalf("add: %d %s", status, b)
	}
	members := func() int {
		r, err := ic.ListUserGroupMemberships(ctx, identity.ListUserGroupMembershipsRequest{CompartmentId: &tenancy, GroupId: g.Id})
		if err != nil {
			t.Fatal(err)
		}
		return len(r.Items)
	}
	if n := members(); n != 1 {
		t.Fatalf("the SDK sees %d members", n)
	}
	path := "/console/api/userGroupMemberships/" + *m.Id
	if status, b := p.do(t, "DELETE", path, "", p.nobody); !notAuthorized(status, b) {
		t.Errorf("nobody removes: %d %s", status, b)
	}
	if status, b := p.do(t, "DELETE", path, "", p.admin); status/100 != 2 {
		t.Fatalf("remove: %d %s", status, b)
	}
	if n := members(); n != 0 {
		t.Fatalf("after remove the SDK sees %d members", n)
	}

	// The administrator resets the user's console password: the old
	// session ends, the new password signs in, and it was never logged.
	status, b = p.do(t, "POST", "/console/api/users/"+p.nobodyID+"/uiPassword", "", p.admin)
	var pw identity.UiPassword
	if status != http.StatusOK || json.Unmarshal(b, &pw) != nil || pw.Password == nil || len(*pw.Password) < 20 {
		t.Fatalf("reset: %d %s", status, b)
	}
	if status, _ := p.do(t, "GET", "/console/session", "", p.nobody); status != http.StatusUnauthorized {
		t.Errorf("the user's session after the reset: %d", status)
	}
	nobody := consoleLogin(t, env.URL, "pages-nobody", *pw.Password)
	if status, b := p.do(t, "GET", "/console/api/users/"+p.nobodyID+"/uiPassword", "", nobody); status != http.StatusOK {
		t.Errorf("the user reads his own password's information: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", "/console/api/users/"+p.adminID+"/uiPassword", "", nobody); !notAuthorized(status, b) {
		t.Errorf("the user resets the administrator's password: %d %s", status, b)
	}
	if status, b := p.do(t, "GET", "/console/api/users/"+p.nobodyID+"/uiPassword", "", &consoleUser{cookie: nobody.cookie}); status != http.StatusOK {
		t.Errorf("a read needs no CSRF token: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", "/console/api/users/"+p.nobodyID+"/uiPassword", "", &consoleUser{cookie: nobody.cookie}); status != http.StatusForbidden {
		t.Errorf("a reset without the CSRF token: %d %s", status, b)
	}
	// His own, as OCI's user-credentials page allows, with his current
	// password (a session alone must not be able to lock him out): his
	// session ends.
	ownPath := "/console/api/users/" + p.nobodyID + "/uiPassword"
	if status, b := p.do(t, "POST", ownPath, "", nobody); status != http.StatusBadRequest || !bytes.Contains(b, []byte("currentPassword")) {
		t.Errorf("own reset without the current password: %d %s", status, b)
	}
	if status, b := p.do(t, "POST", ownPath, `{"currentPassword":"not-it"}`, nobody); status != http.StatusForbidden {
		t.Errorf("own reset with a wrong current password: %d %s", status, b)
	}
	if status, _ := p.do(t, "GET", "/console/session", "", nobody); status != http.StatusOK {
		t.Errorf("the session after refused resets: %d", status)
	}
	status, b = p.do(t, "POST", ownPath, `{"currentPassword":"`+*pw.Password+`"}`, nobody)
	var own identity.UiPassword
	if status != http.StatusOK || json.Unmarshal(b, &own) != nil || own.Password == nil {
		t.Fatalf("own reset: %d %s", status, b)
	}
	if status, _ := p.do(t, "GET", "/console/session", "", nobody); status != http.StatusUnauthorized {
		t.Errorf("the session after resetting one's own password: %d", status)
	}
	// Wrong current passwords count as failed logins for the name from
	// this address: with the one above, the sixth is throttled before any
	// hash (a success between them gives back nothing of theirs).
	again := consoleLogin(t, env.URL, "pages-nobody", *own.Password)
	for i := 1; i <= 5; i++ {
		status, b := p.do(t, "POST", ownPath, `{"currentPassword":"wrong-`+strconv.Itoa(i)+`"}`, again)
		if want := map[bool]int{true: http.StatusTooManyRequests, false: http.StatusForbidden}[i == 5]; status != want {
			t.Errorf("wrong current password %d: %d %s", i, status, b)
		}
	}
	for _, secret := range []string{*pw.Password, *own.Password} {
		if strings.Contains(env.Logs.String(), secret) {
			t.Error("a console password is in the server's log")
		}
	}
	if evs := auditLines(env, "CreateOrResetUIPassword", p.adminID); len(evs) == 0 {
		t.Error("the reset is not audited")
	}
}

// newGroup creates a group through the SDK as the administrator.
func newGroup(t *testing.T, env *coffertest.Env, name string) identity.Group {
	t.Helper()
	tenancy := env.Tenancy(t)
	r, err := env.Identity(t).CreateGroup(context.Background(), identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: &tenancy, Name: common.String(name), Description: common.String(name)}})
	if err != nil {
		t.Fatal(err)
	}
	return r.Group
}

// Users, groups and dynamic groups created from the identity page are
// CreateUser, CreateGroup and CreateDynamicGroup as the session's user:
// made for the administrator and seen through the SDK; refused without the
// CSRF token, to a user without a policy, and with the API's 400 for a
// body it refuses.
func TestConsoleCreateIdentities(t *testing.T) {
	p := startConsolePair(t)
	env := p.f.Env
	ctx := context.Background()
	ic := env.Identity(t)
	tenancy := p.f.Tenancy
	noCSRF := &consoleUser{cookie: p.admin.cookie}
	cases := []struct {
		path, op, body, bad string
		get                 func(id string) error
	}{
		{"/console/api/users", "CreateUser", `{"compartmentId":"` + tenancy + `","name":"made-user","description":"d","email":"u@example.com"}`,
			`{"compartmentId":"` + tenancy + `","description":"no name"}`,
			func(id string) error {
				_, err := ic.GetUser(ctx, identity.GetUserRequest{UserId: &id})
				return err
			}},
		{"/console/api/groups", "CreateGroup", `{"compartmentId":"` + tenancy + `","name":"made-group","description":"d"}`,
			`{"compartmentId":"ocid1.vault.oc1..aaaa","name":"x","description":"d"}`,
			func(id string) error {
				_, err := ic.GetGroup(ctx, identity.GetGroupRequest{GroupId: &id})
				return err
			}},
		{"/console/api/dynamicGroups", "CreateDynamicGroup", `{"compartmentId":"` + tenancy + `","name":"made-dg","description":"d","matchingRule":"ALL {instance.compartment.id = '` + tenancy + `'}"}`,
			`{"compartmentId":"` + tenancy + `","name":"bad-dg","description":"d","matchingRule":"ALL {instance.compartment.id = "}`,
			func(id string) error {
				_, err := ic.GetDynamicGroup(ctx, identity.GetDynamicGroupRequest{DynamicGroupId: &id})
				return err
			}},
	}
	for _, c := range cases {
		if status, b := p.do(t, "POST", c.path, c.body, noCSRF); status != http.StatusForbidden {
			t.Errorf("%s without the CSRF token: %d %s", c.op, status, b)
		}
		if status, b := p.do(t, "POST", c.path, c.body, p.nobody); !notAuthorized(status, b) {
			t.Errorf("nobody's %s: %d %s", c.op, status, b)
		}
		if status, b := p.do(t, "POST", c.path, c.bad, p.admin); status/100 != 4 || !bytes.Contains(b, []byte(`"code"`)) {
			t.Errorf("%s with %s: %d %s", c.op, c.bad, status, b)
		}
		status, b := p.do(t, "POST", c.path, c.body, p.admin)
		var made struct {
			ID string `json:"id"`
		}
		if status != http.StatusOK || json.Unmarshal(b, &made) != nil || made.ID == "" {
			t.Fatalf("%s: %d %s", c.op, status, b)
		}
		if err := c.get(made.ID); err != nil {
			t.Errorf("%s: the SDK does not see %s: %v", c.op, made.ID, err)
		}
		if evs := auditLines(env, c.op, p.adminID); len(evs) == 0 {
			t.Errorf("%s not audited", c.op)
		}
	}
}
