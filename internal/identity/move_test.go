package identity

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
)

// tenancyTree builds compartments under the tenancy from "Parent/Child"
// paths (parents first) and returns their OCIDs by path.
func tenancyTree(t *testing.T, svc *Service, tenancy string, paths ...string) map[string]string {
	t.Helper()
	ids := map[string]string{"": tenancy}
	for _, p := range paths {
		parent, name := "", p
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			parent, name = p[:i], p[i+1:]
		}
		c, err := svc.CreateCompartment(context.Background(), CompartmentInput{ParentID: ids[parent], Name: ptr(name), Description: ptr("d")})
		if err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
		ids[p] = c.ID
	}
	return ids
}

func moveTo(t *testing.T, svc *Service, id, target string) (WorkRequest, error) {
	t.Helper()
	ctx := context.Background()
	scope, err := svc.MoveScope(ctx, id, target)
	if err != nil {
		return WorkRequest{}, err
	}
	return svc.MoveCompartment(ctx, id, target, scope, "")
}

// OCI's three examples of policies on a move ("Moving a Compartment to a
// Different Parent Compartment"), and what happens to access.
func TestMoveRewritesPathsAttachedToSharedAncestors(t *testing.T) {
	ctx := context.Background()
	svc, res, pe := withEngine(t)
	ids := tenancyTree(t, svc, res.TenancyID, "Operations", "Operations/Test", "Operations/Test/A", "Operations/Test/A/Deep",
		"Operations/Dev", "HR", "HR/Prod")
	g, err := svc.CreateGroup(ctx, GroupInput{CompartmentID: res.TenancyID, Name: ptr("G1"), Description: ptr("d")})
	if err != nil {
		t.Fatal(err)
	}
	policy := func(attach, name string, stmts ...string) Policy {
		t.Helper()
		p, err := svc.CreatePolicy(ctx, PolicyInput{CompartmentID: ids[attach], Name: ptr(name), Description: ptr("d"), Statements: stmts})
		if err != nil {
			t.Fatalf("policy %s: %v", name, err)
		}
		return p
	}
	onOps := policy("Operations", "on-ops", "Allow group G1 to manage keys in compartment Test:A",
		"Allow group G1 to read vaults in compartment 'Test':'A':Deep", "Allow group G1 to inspect policies in compartment Test")
	onTest := policy("Operations/Test", "on-test", "Allow group G1 to manage secrets in compartment A")
	onTenancy := policy("", "on-tenancy", "Allow group G1 to inspect compartments in compartment Operations:Test:A")
	inA := policy("Operations/Test/A", "in-a", "Allow group G1 to inspect dynamic-groups in compartment Deep",
		"Allow group G1 to inspect users in compartment A:Deep")

	user := &authz.Principal{Type: authz.PrincipalUser, ID: "ocid1.user.oc1..u", TenancyID: res.TenancyID, GroupIDs: []string{g.ID}}
	allowed := func(op, compartment string) bool {
		t.Helper()
		d, err := pe.Authorize(ctx, authz.Request{Principal: user, Operation: op, CompartmentID: compartment})
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	a, deep := ids["Operations/Test/A"], ids["Operations/Test/A/Deep"]
	type access struct {
		op, compartment string
		want            bool
	}
	check := func(when string, want ...access) {
		t.Helper()
		for _, w := range want {
			if got := allowed(w.op, w.compartment); got != w.want {
				t.Errorf("%s: %s allowed %v, want %v", when, w.op, got, w.want)
			}
		}
	}
	check("before the move", access{"ListKeys", a, true}, access{"ListVaults", deep, true}, access{"ListPolicies", a, true},
		access{"ListSecrets", a, true}, access{"ListCompartments", a, true}, access{"ListDynamicGroups", deep, true}, access{"ListUsers", deep, true})

	// Example 1: A moves from Operations:Test to Operations:Dev.
	w, err := moveTo(t, svc, a, ids["Operations/Dev"])
	if err != nil {
		t.Fatal(err)
	}
	if w.OperationType != WorkRequestMoveCompartment || w.Status != WorkRequestSucceeded || w.CompartmentID != ids["Operations/Dev"] ||
		len(w.Resources) != 1 || w.Resources[0].Identifier != a || w.Resources[0].ActionType != "UPDATED" {
		t.Fatalf("work request: %+v", w)
	}
	statements := func(p Policy) []string {
		t.Helper()
		got, err := svc.GetPolicy(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Statements
	}
	// On the shared parent: rewritten; a path not through A is not.
	if got, want := statements(onOps), []string{"Allow group G1 to manage keys in compartment Dev:A",
		"Allow group G1 to read vaults in compartment Dev:'A':Deep", "Allow group G1 to inspect policies in compartment Test"}; !slices.Equal(got, want) {
		t.Fatalf("policy on the shared parent:\n%q\nwant\n%q", got, want)
	}
	// Example 2: attached to the old parent, not a shared ancestor: left as
	// written, and it no longer grants.
	if got := statements(onTest); !slices.Equal(got, onTest.Statements) {
		t.Fatalf("policy on the old parent rewritten: %q", got)
	}
	if got := statements(onTenancy); !slices.Equal(got, []string{"Allow group G1 to inspect compartments in compartment Operations:Dev:A"}) {
		t.Fatalf("policy on the tenancy: %q", got)
	}
	// Policies attached inside the moved subtree move with it unchanged.
	if got := statements(inA); !slices.Equal(got, inA.Statements) {
		t.Fatalf("policy in the moved subtree changed: %q", got)
	}
	check("after the move to Operations:Dev", access{"ListKeys", a, true}, access{"ListVaults", deep, true}, access{"ListPolicies", a, false},
		access{"ListSecrets", a, false}, access{"ListCompartments", a, true}, access{"ListDynamicGroups", deep, true}, access{"ListUsers", deep, true})

	// Example 3: from Operations:Dev to HR:Prod; the tenancy is the shared
	// ancestor.
	if _, err := moveTo(t, svc, a, ids["HR/Prod"]); err != nil {
		t.Fatal(err)
	}
	if got := statements(onTenancy); !slices.Equal(got, []string{"Allow group G1 to inspect compartments in compartment HR:Prod:A"}) {
		t.Fatalf("policy on the tenancy after the second move: %q", got)
	}
	// On Operations, no longer a shared ancestor: left alone, grants
	// nothing.
	if got := statements(onOps); got[0] != "Allow group G1 to manage keys in compartment Dev:A" {
		t.Fatalf("policy on Operations changed by a move it is not a shared ancestor of: %q", got)
	}
	check("after the move to HR:Prod", access{"ListKeys", a, false}, access{"ListVaults", deep, false},
		access{"ListCompartments", a, true}, access{"ListDynamicGroups", deep, true}, access{"ListUsers", deep, true})
	// Back to the top: the path shortens.
	if _, err := moveTo(t, svc, a, res.TenancyID); err != nil {
		t.Fatal(err)
	}
	if got := statements(onTenancy); !slices.Equal(got, []string{"Allow group G1 to inspect compartments in compartment A"}) {
		t.Fatalf("policy on the tenancy after moving to the top: %q", got)
	}
	c, err := svc.GetCompartment(ctx, a)
	if err != nil || c.ParentID != res.TenancyID {
		t.Fatalf("moved compartment: %+v %v", c, err)
	}
}

func TestMoveRefusals(t *testing.T) {
	ctx := context.Background()
	svc, res, _ := withEngine(t)
	ids := tenancyTree(t, svc, res.TenancyID, "A", "A/B", "A/B/C", "D", "D/B", "E", "E/A",
		"L1", "L1/L2", "L1/L2/L3", "L1/L2/L3/L4", "L1/L2/L3/L4/L5", "Gone", "Sub", "Sub/X")
	if _, err := svc.DeleteCompartment(ctx, ids["Gone"], ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id, target string
		kind             errs.Kind
		msg              string
	}{
		{"the root", res.TenancyID, ids["A"], errs.Invalid, "root"},
		{"into itself", ids["A"], ids["A"], errs.Invalid, "itself"},
		{"into its subtree", ids["A"], ids["A/B/C"], errs.Invalid, "own subtree"},
		{"into its parent", ids["A/B"], ids["A"], errs.Invalid, "already in"},
		{"a sibling of the same name at the target", ids["A/B"], ids["D"], errs.Conflict, "already holds"},
		{"a target named like it", ids["A"], ids["E/A"], errs.Conflict, "same name"},
		{"a deleted target", ids["A/B"], ids["Gone"], errs.RelatedNotFound, ""},
		{"an unknown target", ids["A/B"], "ocid1.compartment.oc1..nothing", errs.RelatedNotFound, ""},
		{"too deep", ids["Sub"], ids["L1/L2/L3/L4/L5"], errs.LimitExceeded, "levels"},
		{"a deleted compartment", ids["Gone"], ids["D"], errs.IncorrectState, ""},
		{"an unknown compartment", "ocid1.compartment.oc1..nothing", ids["D"], errs.NotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := moveTo(t, svc, tc.id, tc.target)
			if !errs.Is(err, tc.kind) || !strings.Contains(errs.Message(err), tc.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tc.kind, tc.msg)
			}
		})
	}
	// Nothing moved, and a leaf fits exactly at the deepest level.
	if c, _ := svc.GetCompartment(ctx, ids["A/B"]); c.ParentID != ids["A"] {
		t.Fatal("a refused move changed the parent")
	}
	if _, err := moveTo(t, svc, ids["Sub/X"], ids["L1/L2/L3/L4/L5"]); err != nil {
		t.Fatalf("leaf to the sixth level: %v", err)
	}
	// A stale scope (the tree changed after authorization) is refused.
	scope, err := svc.MoveScope(ctx, ids["A/B/C"], ids["D"])
	if err != nil || scope != res.TenancyID {
		t.Fatalf("scope: %q %v", scope, err)
	}
	if _, err := svc.MoveCompartment(ctx, ids["A/B/C"], ids["D"], ids["A"], ""); !errs.Is(err, errs.Conflict) {
		t.Fatalf("move with a stale scope: %v", err)
	}
	// if-match is checked.
	if _, err := svc.MoveCompartment(ctx, ids["A/B/C"], ids["D"], scope, "stale"); !errs.Is(err, errs.PreconditionFailed) {
		t.Fatalf("move with a stale etag: %v", err)
	}
	// The name index follows the move: the old parent may reuse the name,
	// the new parent may not.
	if _, err := moveTo(t, svc, ids["A/B/C"], ids["D"]); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateCompartment(ctx, CompartmentInput{ParentID: ids["A/B"], Name: ptr("C"), Description: ptr("d")}); err != nil {
		t.Fatalf("name not freed at the old parent: %v", err)
	}
	if _, err := svc.CreateCompartment(ctx, CompartmentInput{ParentID: ids["D"], Name: ptr("c"), Description: ptr("d")}); !errs.Is(err, errs.AlreadyExists) {
		t.Fatalf("name not claimed at the new parent: %v", err)
	}
}

func TestMoveScope(t *testing.T) {
	ctx := context.Background()
	svc, res, _ := withEngine(t)
	ids := tenancyTree(t, svc, res.TenancyID, "Ops", "Ops/Test", "Ops/Test/A", "Ops/Dev", "HR")
	for _, tc := range []struct{ id, target, want string }{
		{ids["Ops/Test/A"], ids["Ops/Dev"], ids["Ops"]},
		{ids["Ops/Test/A"], ids["Ops"], ids["Ops"]},
		{ids["Ops/Test/A"], ids["HR"], res.TenancyID},
		{ids["Ops/Dev"], ids["Ops/Test"], ids["Ops"]},
		// A target that is no compartment: the current parent.
		{ids["Ops/Test/A"], "ocid1.compartment.oc1..none", ids["Ops/Test"]},
	} {
		if got, err := svc.MoveScope(ctx, tc.id, tc.target); err != nil || got != tc.want {
			t.Errorf("MoveScope(%s, %s) = %s, %v; want %s", tc.id, tc.target, got, err, tc.want)
		}
	}
}

func TestRewriteMovedStatementRefusesUnwritablePath(t *testing.T) {
	// A compartment named like a keyword cannot stand in a path, quoted or
	// not: the move is refused rather than leaving a broken statement.
	_, _, err := rewriteMovedStatement("Allow group G to read secrets in compartment Test:A", "P", "m", []string{"where"},
		func(path []string) []string { return []string{"test", "m"}[:len(path)] })
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("got %v, want Invalid", err)
	}
}

func TestRewriteMovedStatement(t *testing.T) {
	// Paths resolve from attach "P"; "m" is the moved compartment.
	resolver := func(resolved ...string) func([]string) []string {
		return func(path []string) []string {
			out := make([]string, len(path))
			copy(out, resolved)
			return out
		}
	}
	for _, tc := range []struct {
		name      string
		resolved  []string
		newParent []string
		in, want  string // want "" means unchanged
	}{
		{"one level", []string{"test", "m"}, []string{"Dev"}, "Allow group G to read secrets in compartment Test:A", "Allow group G to read secrets in compartment Dev:A"},
		{"deeper after", []string{"test", "m", "x"}, []string{"Dev", "Sub"}, "Allow group G to read secrets in compartment Test:A:X where request.region = 'x'",
			"Allow group G to read secrets in compartment Dev:Sub:A:X where request.region = 'x'"},
		{"to the attachment", []string{"test", "m"}, nil, "Allow group G to read secrets in compartment Test:A", "Allow group G to read secrets in compartment A"},
		{"from the attachment", []string{"m"}, []string{"Dev"}, "Allow group G to read secrets in compartment A", "Allow group G to read secrets in compartment Dev:A"},
		{"quoted", []string{"test", "m"}, []string{"Dev"}, "Allow group G to read secrets in compartment 'Test' : 'A'", "Allow group G to read secrets in compartment Dev:'A'"},
		{"self first element", []string{"P", "test", "m"}, []string{"Dev"}, "Allow group G to read secrets in compartment Ops:Test:A",
			"Allow group G to read secrets in compartment Ops:Dev:A"},
		{"not through it", []string{"test", "other"}, []string{"Dev"}, "Allow group G to read secrets in compartment Test:B", ""},
		{"by OCID", nil, []string{"Dev"}, "Allow group G to read secrets in compartment id ocid1.compartment.oc1..m", ""},
		{"tenancy", nil, []string{"Dev"}, "Allow group G to read secrets in tenancy", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed, err := rewriteMovedStatement(tc.in, "P", "m", tc.newParent, resolver(tc.resolved...))
			checkRewrite(t, tc.in, tc.want, got, changed, err)
		})
	}
}

// FuzzRewriteMovedStatement: a statement is left alone or rewritten to one
// that parses with only its path changed (the function checks that and
// reports Invalid otherwise); it never panics.
func FuzzRewriteMovedStatement(f *testing.F) {
	for _, s := range []string{
		"Allow group G to read secrets in compartment Test:A",
		"Allow group 'G' to {SECRET_READ} in compartment 'Test':A:B where target.secret.name = 'x'",
		"Deny any-user to manage all-resources in compartment A",
		"Allow group G to read secrets in compartment id ocid1.compartment.oc1..x",
	} {
		f.Add(s, "Dev")
	}
	f.Fuzz(func(t *testing.T, stmt, parent string) {
		resolve := func(path []string) []string {
			ids := make([]string, len(path))
			for i, p := range path {
				if strings.EqualFold(p, "a") {
					ids[i] = "m"
					break
				}
				ids[i] = "x"
			}
			return ids
		}
		out, changed, err := rewriteMovedStatement(stmt, "P", "m", []string{parent, "Sub"}, resolve)
		checkFuzzedRewrite(t, stmt, out, changed, err)
	})
}

func TestWorkRequestsListAndExpire(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	svc, res, _ := withEngine(t)
	svc.now = func() time.Time { return now }
	ids := tenancyTree(t, svc, res.TenancyID, "A", "B", "C")
	w1, err := moveTo(t, svc, ids["A"], ids["B"])
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	w2, err := svc.DeleteCompartment(ctx, ids["C"], "")
	if err != nil {
		t.Fatal(err)
	}
	if w2.OperationType != WorkRequestDeleteCompartment || w2.CompartmentID != res.TenancyID || w2.Resources[0].ActionType != "DELETED" {
		t.Fatalf("delete work request: %+v", w2)
	}
	got, err := svc.GetWorkRequest(ctx, w1.ID)
	if err != nil || got.ID != w1.ID || !got.TimeFinished.Equal(w1.TimeFinished) {
		t.Fatalf("GetWorkRequest: %+v %v", got, err)
	}
	list, _, err := svc.ListWorkRequests(ctx, ListWorkRequestsInput{CompartmentID: res.TenancyID})
	if err != nil || len(list) != 1 || list[0].ID != w2.ID {
		t.Fatalf("work requests in the tenancy: %+v %v", list, err)
	}
	list, _, err = svc.ListWorkRequests(ctx, ListWorkRequestsInput{CompartmentID: ids["B"], ResourceIdentifier: ids["A"]})
	if err != nil || len(list) != 1 || list[0].ID != w1.ID {
		t.Fatalf("work requests on A in B: %+v %v", list, err)
	}
	if list, _, _ := svc.ListWorkRequests(ctx, ListWorkRequestsInput{CompartmentID: ids["B"], ResourceIdentifier: ids["C"]}); len(list) != 0 {
		t.Fatalf("resource filter: %+v", list)
	}
	// Retention: w1 expires 30 days after it finished, w2 an hour later.
	if n, err := svc.ExpireWorkRequests(ctx, w1.TimeFinished.Add(WorkRequestRetention+time.Minute)); err != nil || n != 1 {
		t.Fatalf("expire: %d %v", n, err)
	}
	if _, err := svc.GetWorkRequest(ctx, w1.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("expired work request: %v", err)
	}
	if _, err := svc.GetWorkRequest(ctx, w2.ID); err != nil {
		t.Fatalf("work request expired early: %v", err)
	}
}

func TestAvailabilityAndFaultDomains(t *testing.T) {
	ctx := context.Background()
	svc, res, _ := withEngine(t)
	ads, err := svc.AvailabilityDomains(ctx)
	if err != nil || len(ads) != 1 {
		t.Fatalf("ADs: %+v %v", ads, err)
	}
	ad := ads[0]
	prefix, rest, ok := strings.Cut(ad.Name, ":")
	if !ok || len(prefix) != 4 || rest != strings.ToUpper(svc.Region())+"-AD-1" || ad.TenancyID != res.TenancyID ||
		!strings.HasPrefix(ad.ID, "ocid1.availabilitydomain.oc1..") {
		t.Fatalf("AD: %+v", ad)
	}
	again, _ := svc.AvailabilityDomains(ctx)
	if again[0] != ad {
		t.Fatal("the AD is not stable")
	}
	fds, err := svc.FaultDomains(ctx, strings.ToLower(ad.Name))
	if err != nil || len(fds) != 3 {
		t.Fatalf("FDs: %+v %v", fds, err)
	}
	for i, f := range fds {
		if f.Name != "FAULT-DOMAIN-"+string(rune('1'+i)) || f.AvailabilityDomain != ad.Name || f.ID == fds[(i+1)%3].ID {
			t.Fatalf("FD %d: %+v", i, f)
		}
	}
	if _, err := svc.FaultDomains(ctx, "abcd:ELSEWHERE-AD-1"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("unknown AD: %v", err)
	}
}
