package iam

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/authz"
)

func codes(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	slices.Sort(out)
	return out
}

func TestLintStatements(t *testing.T) {
	for _, tc := range []struct {
		stmt string
		want []string
	}{
		// The three examples of the original brief.
		{"Allow any-user to read secret-family in tenancy", []string{"broad-subject", "unscoped-secret-access"}},
		{"Allow group Developers to manage secret-family in tenancy", []string{"manage-in-tenancy", "unscoped-secret-access"}},
		{"Allow dynamic-group app-prod to read secret-family in compartment AppSecrets where target.secret.name = 'db-*'", nil},

		{"Allow any-group to use keys in compartment X", []string{"broad-subject", "unscoped-key-export"}},
		{"Allow group Apps to use keys in compartment X", []string{"unscoped-key-export"}},
		{"Allow group Apps to use key-family in compartment X", []string{"unscoped-key-export"}},
		{"Allow group Apps to {KEY_ENCRYPT, KEY_EXPORT} in compartment X", []string{"unscoped-key-export"}},
		{"Allow group Apps to {KEY_ENCRYPT, KEY_DECRYPT} in compartment X", nil},
		{"Allow group Apps to use keys in compartment X where target.vault.id = 'ocid1.vault.oc1..v'", []string{"unscoped-key-export"}},
		{"Allow group Apps to use keys in compartment X where any {target.key.id = 'ocid1.key.oc1..k', request.user.name = 'a'}", []string{"unscoped-key-export"}},
		{"Allow group Apps to use keys in compartment X where target.key.id = 'ocid1.key.oc1..k'", nil},
		{"Allow group Apps to use keys in compartment X where target.key.id in ('ocid1.key.oc1..k', 'ocid1.key.oc1..l')", nil},
		{"Allow group Apps to use keys in compartment X where all {target.vault.id = 'ocid1.vault.oc1..v', target.key.id = 'ocid1.key.oc1..k'}", nil},
		{"Allow group Apps to use keys in compartment X where request.permission != 'KEY_EXPORT'", nil},
		{"Allow group Apps to use keys in compartment X where request.operation != 'ExportKey'", nil},
		{"Allow group Apps to read keys in compartment X", nil},
		{"Allow any-user to read secret-bundles in compartment X where target.secret.name = 'a'", []string{"broad-subject"}},
		{"Allow any-user to read secret-bundles in compartment X where request.principal.id = 'ocid1.fnfunc.oc1..a'", nil},
		{"Allow any-user to inspect secret-family in tenancy", nil},
		{"Allow group Admins to manage all-resources in tenancy", []string{"manage-in-tenancy", "unscoped-secret-access"}},
		{"Allow group Admins to manage keys in tenancy", []string{"manage-in-tenancy"}},
		{"Allow group Admins to manage vaults in tenancy", []string{"manage-in-tenancy"}},
		{"Allow group Admins to manage keys in tenancy where target.vault.id = 'ocid1.vault.oc1..v'", nil},
		{"Allow group Admins to manage keys in compartment Security", nil},
		{"Allow group Auditors to read all-resources in tenancy", []string{"unscoped-secret-access"}},
		{"Allow group Auditors to read all-resources in tenancy where request.permission != 'SECRET_BUNDLE_READ'", nil},
		{"Allow group Apps to {SECRET_BUNDLE_READ} in compartment X", []string{"unscoped-secret-access"}},
		{"Allow group Apps to read secret-bundles in compartment X", []string{"unscoped-secret-access"}},
		{"Allow group Apps to read secrets in compartment X", nil},
		{"Deny any-user to manage secret-family in tenancy", nil},
		{"Allow group Apps to reed secrets in compartment X", []string{"invalid"}},
	} {
		got := Lint([]string{tc.stmt}, LintOptions{})
		if !slices.Equal(codes(got), tc.want) {
			t.Errorf("%q: findings %v, want %v", tc.stmt, codes(got), tc.want)
		}
		for _, f := range got {
			if f.Reason == "" || strings.Contains(f.Reason, "\n") {
				t.Errorf("%q: finding without a one-line reason: %+v", tc.stmt, f)
			}
			if f.Invalid() {
				// The parser's expectation is the advice, with where it stopped.
				if f.Suggestion != "" || f.Pos == 0 || !strings.Contains(f.Reason, "expected") ||
					!strings.Contains(f.String(), "\n  "+strings.Repeat(" ", f.Pos-1)+"^") {
					t.Errorf("%q: invalid finding without the parser's expectation and a caret: %+v\n%s", tc.stmt, f, f)
				}
				continue
			}
			if f.Suggestion == "" {
				t.Errorf("%q: finding without a suggestion: %+v", tc.stmt, f)
			}
			// A suggestion is a statement that parses and draws fewer findings.
			if err := ValidateStatement(f.Suggestion); err != nil && !strings.Contains(f.Suggestion, "<") {
				t.Errorf("%q: suggestion %q does not parse: %v", tc.stmt, f.Suggestion, err)
			}
		}
	}
}

func TestLintSuggestionsNarrower(t *testing.T) {
	fs := Lint([]string{"Allow group Developers to manage secret-family in tenancy", "Allow group Apps to use keys in compartment X"}, LintOptions{})
	if len(fs) < 3 {
		t.Fatalf("findings %v, want at least three to check", codes(fs))
	}
	for _, f := range fs {
		fill := strings.NewReplacer("<compartment>", "AppSecrets", "<vault ocid>", "ocid1.vault.oc1..v", "<app>", "app", "<key ocid>", "ocid1.key.oc1..k")
		sugg := fill.Replace(f.Suggestion)
		again := Lint([]string{sugg}, LintOptions{})
		for _, g := range again {
			if g.Code == f.Code {
				t.Errorf("suggestion %q still draws %s", sugg, g.Code)
			}
		}
	}
}

func TestLintDynamicGroups(t *testing.T) {
	dgs := []DynamicGroup{
		{Name: "root-instances", MatchingRule: "instance.compartment.id = '" + tTenancy + "'"},
		{Name: "all-functions", MatchingRule: "ALL {resource.type='fnfunc'}"},
		{Name: "any-functions-or-app", MatchingRule: "ANY {resource.type='fnfunc', resource.compartment.id = '" + tApp + "'}"},
		{Name: "not-dev", MatchingRule: "instance.compartment.id != '" + tApp + "'"},
		{Name: "app-functions", MatchingRule: "ALL {resource.type='fnfunc', resource.compartment.id = '" + tApp + "'}"},
		{Name: "one-instance", MatchingRule: "instance.id = 'ocid1.instance.oc1..x'"},
		{Name: "tagged", MatchingRule: "All {instance.compartment.id = '" + tTenancy + "', tag.dept.team.value = 'ops'}"},
		{Name: "broken", MatchingRule: "ALL {resource.type='fnfunc'"},
	}
	got := Lint(nil, LintOptions{TenancyID: tTenancy, DynamicGroups: dgs})
	flagged := map[string]string{}
	for _, f := range got {
		flagged[dgs[f.Index].Name] = f.Code
	}
	want := map[string]string{
		"root-instances": "broad-rule", "all-functions": "broad-rule", "any-functions-or-app": "broad-rule",
		"not-dev": "broad-rule", "broken": "invalid",
	}
	if !mapsEqual(flagged, want) {
		t.Errorf("flagged %v, want %v", flagged, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func explainEngine(t *testing.T, stmts ...string) *Engine {
	t.Helper()
	snap := baseSnapshot()
	snap.Policies = []Policy{{ID: "ocid1.policy.oc1..p", Name: "apps", CompartmentID: tTenancy, Statements: stmts}}
	e, err := Compile(snap, Options{Now: fixedClock("2026-06-15T12:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Problems()) > 0 {
		t.Fatalf("problems: %v", e.Problems())
	}
	return e
}

func TestExplainMissingKeyUse(t *testing.T) {
	e := explainEngine(t, devSecretsRead)
	req := request(alice, "GetSecretBundle")
	x := e.Explain(req)
	if x.Allowed {
		t.Fatal("allowed without use keys")
	}
	if len(x.Checks) != 2 {
		t.Fatalf("checks = %+v", x.Checks)
	}
	bundle, key := x.Checks[0], x.Checks[1]
	if !bundle.Granted || bundle.Permission != "SECRET_BUNDLE_READ" || len(bundle.GrantedBy) != 1 || bundle.GrantedBy[0].Text != devSecretsRead || bundle.GrantedBy[0].PolicyName != "apps" {
		t.Errorf("bundle check = %+v", bundle)
	}
	if key.Granted || key.Permission != "KEY_DECRYPT" || key.Target != TargetKey || key.TargetID != tKey {
		t.Errorf("key check = %+v", key)
	}
	wantSugg := "Allow group Developers to use keys in compartment AppSecrets where target.key.id = '" + tKey + "'"
	if key.Suggestion != wantSugg || x.Suggestion != wantSugg {
		t.Errorf("suggestion = %q, want %q", x.Suggestion, wantSugg)
	}
	wantReason := "denied: has SECRET_BUNDLE_READ via '" + devSecretsRead + "' but no KEY_DECRYPT on key " + tKey + "; add: " + wantSugg
	if x.Reason != wantReason {
		t.Errorf("reason =\n%s\nwant\n%s", x.Reason, wantReason)
	}
	// Authorize carries the same account.
	d, err := e.Authorize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.Reason != x.Reason || d.Suggestion != wantSugg || !slices.Equal(d.Missing, []string{"KEY_DECRYPT"}) || !slices.Equal(d.Matched, []string{devSecretsRead}) {
		t.Errorf("decision = %+v", d)
	}
	// The suggestion, once added, grants the request.
	e2 := explainEngine(t, devSecretsRead, wantSugg)
	if d, _ := e2.Authorize(context.Background(), req); !d.Allowed {
		t.Errorf("suggested statement does not grant: %s", d.Reason)
	}
}

func TestExplainSuggestions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		who   *authz.Principal
		op    string
		mod   func(*authz.Request)
		stmts []string
		want  string
	}{
		{"nothing granted to a user", alice, "GetSecret", nil, nil,
			"Allow group Developers to read secrets in compartment AppSecrets where target.secret.id = '" + tSecret + "'"},
		{"user without groups", carol, "Encrypt", nil, nil,
			"Allow any-user to use keys in compartment AppSecrets where all {request.user.id = '" + carol.ID + "', target.key.id = '" + tKey + "'}"},
		{"function in a dynamic group", fn, "GetSecretBundle", nil, []string{"Allow dynamic-group app-prod to read secret-bundles in compartment AppSecrets"},
			"Allow dynamic-group app-prod to use keys in compartment AppSecrets where target.key.id = '" + tKey + "'"},
		{"instance in no dynamic group", instC, "GetSecret", nil, nil,
			"Allow any-user to read secrets in compartment AppSecrets where all {request.principal.id = '" + instC.ID + "', target.secret.id = '" + tSecret + "'}"},
		{"create key in a deep compartment", alice, "CreateKey", in(tCompC), []string{"Allow group Developers to use vaults in tenancy"},
			"Allow group Developers to manage keys in compartment CompartmentA:CompartmentB:CompartmentC where target.vault.id = '" + tVault + "'"},
		{"vault target", alice, "UpdateVault", nil, nil,
			"Allow group Developers to manage vaults in compartment AppSecrets where target.vault.id = '" + tVault + "'"},
		{"secret being created", alice, "CreateSecret", func(r *authz.Request) { r.Secret.ID = "" },
			[]string{"Allow group Developers to manage secrets in tenancy", "Allow group Developers to use vaults in tenancy"},
			"Allow group Developers to use keys in compartment AppSecrets where target.key.id = '" + tKey + "'"},
		{"identity at the root", bob, "CreateUser", func(r *authz.Request) { r.CompartmentID = tTenancy }, nil,
			"Allow group Admins to manage users in tenancy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := explainEngine(t, tc.stmts...)
			req := request(tc.who, tc.op)
			if tc.mod != nil {
				tc.mod(&req)
			}
			x := e.Explain(req)
			if x.Allowed {
				t.Fatal("allowed")
			}
			if x.Suggestion != tc.want {
				t.Errorf("suggestion =\n%s\nwant\n%s", x.Suggestion, tc.want)
			}
			// Adding the suggestion must grant the request.
			e2 := explainEngine(t, append(slices.Clone(tc.stmts), strings.Split(x.Suggestion, "\n")...)...)
			if d, _ := e2.Authorize(context.Background(), req); !d.Allowed {
				t.Errorf("suggestion does not grant: %s", d.Reason)
			}
		})
	}
}

func TestExplainConditionAndDeny(t *testing.T) {
	near := "Allow group Developers to read secrets in tenancy where target.secret.name = 'api-*'"
	e := explainEngine(t, near)
	x := e.Explain(request(alice, "GetSecret"))
	if x.Allowed || len(x.Checks) != 1 || len(x.Checks[0].ConditionFalse) != 1 || x.Checks[0].ConditionFalse[0].Text != near {
		t.Fatalf("explanation = %+v", x)
	}
	if !strings.Contains(x.Reason, "where clause is false") {
		t.Errorf("reason does not mention the false condition: %s", x.Reason)
	}

	blocker := "Deny group Developers to read secret-bundles in tenancy"
	e = explainEngine(t, "Allow group Developers to manage secret-family in tenancy", "Allow group Developers to use keys in tenancy", blocker)
	x = e.Explain(request(alice, "GetSecretBundle"))
	if x.Allowed || len(x.Checks[0].DeniedBy) != 1 || x.Checks[0].DeniedBy[0].Text != blocker || x.Checks[0].Suggestion != "" {
		t.Fatalf("explanation = %+v", x)
	}
	if !strings.Contains(x.Reason, "blocked by '"+blocker+"'") {
		t.Errorf("reason = %s", x.Reason)
	}
}

func TestExplainAllowedAndGuards(t *testing.T) {
	e := explainEngine(t, devSecretsRead, devUseKeys)
	x := e.Explain(request(alice, "GetSecretBundle"))
	if !x.Allowed || x.Suggestion != "" || !strings.HasPrefix(x.Reason, "allowed: has SECRET_BUNDLE_READ via") {
		t.Errorf("explanation = %+v", x)
	}
	for _, tc := range []struct {
		req  authz.Request
		want string
	}{
		{request(alice, "Frobnicate"), "unknown operation"},
		{request(stranger, "GetSecret"), "tenancy"},
		{request(nil, "GetSecret"), "no authenticated principal"},
		{func() authz.Request { r := request(alice, "Encrypt"); r.Key = nil; return r }(), "carries no key"},
	} {
		d, _ := e.Authorize(context.Background(), tc.req)
		if d.Allowed || !strings.Contains(d.Reason, tc.want) {
			t.Errorf("%s: decision = %+v, want a denial mentioning %q", tc.req.Operation, d, tc.want)
		}
	}
	x = e.Explain(request(fn, "GetSecret"))
	if len(x.DynamicGroups) != 1 || x.DynamicGroups[0] != "app-prod" {
		t.Errorf("dynamic groups = %v", x.DynamicGroups)
	}
}

// TestNarrows pins how a condition's all{} and any{} combine for the lint
// checks: all{} needs one narrowing kid, any{} needs every kid to narrow.
func TestNarrows(t *testing.T) {
	key := &cond{op: opEq, v: varKeyID}
	user := &cond{op: opEq, v: varUserID}
	other := &cond{op: opEq, v: varOperation}
	for _, tc := range []struct {
		name            string
		c               *cond
		keys, principal bool
	}{
		{"nil", nil, false, false},
		{"key", key, true, false},
		{"user", user, false, true},
		{"all with one key", &cond{op: opAll, kids: []*cond{other, key}}, true, false},
		{"all without", &cond{op: opAll, kids: []*cond{other}}, false, false},
		{"any of keys", &cond{op: opAny, kids: []*cond{key, key}}, true, false},
		{"any with another", &cond{op: opAny, kids: []*cond{key, other}}, false, false},
		{"empty any", &cond{op: opAny}, false, false},
		{"nested", &cond{op: opAny, kids: []*cond{key, {op: opAll, kids: []*cond{user, key}}}}, true, false},
	} {
		if got := namesKeys(tc.c); got != tc.keys {
			t.Errorf("%s: namesKeys = %v, want %v", tc.name, got, tc.keys)
		}
		if got := narrowsPrincipal(tc.c); got != tc.principal {
			t.Errorf("%s: narrowsPrincipal = %v, want %v", tc.name, got, tc.principal)
		}
	}
}
