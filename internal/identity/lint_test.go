package identity

import (
	"context"
	"fmt"
	"testing"

	"github.com/coffer-vault/coffer/internal/errs"
)

// lintRefuses reports whether LintPolicy (names resolved) finds stmt
// invalid or unresolved, and checkCreateAgrees that CreatePolicy refuses
// exactly those: the editor's errors are the save's.
func checkCreateAgrees(t *testing.T, svc *Service, tenancy, stmt string) {
	t.Helper()
	ctx := context.Background()
	res, err := svc.LintPolicy(ctx, LintInput{CompartmentID: tenancy, Statements: []string{stmt}, Resolve: true, DynamicGroups: true})
	if err != nil {
		t.Fatalf("lint %q: %v", stmt, err)
	}
	refused := false
	for _, f := range res.Statements {
		if f.Index != 0 || f.Text != stmt {
			t.Fatalf("lint %q: finding %+v names another statement", stmt, f)
		}
		refused = refused || f.Invalid() || f.Code == CodeUnresolved
	}
	_, err = svc.CreatePolicy(ctx, PolicyInput{CompartmentID: tenancy, Name: ptr("lint-agrees"), Description: ptr("d"), Statements: []string{stmt}})
	if err != nil && !errs.Is(err, errs.Invalid) {
		t.Fatalf("create %q: %v", stmt, err)
	}
	if refused != (err != nil) {
		t.Fatalf("%q: lint refuses %v, CreatePolicy says %v (findings %+v)", stmt, refused, err, res.Statements)
	}
	if err == nil {
		p, _, _ := svc.ListPolicies(ctx, tenancy, ListOptions{Name: "lint-agrees"})
		if err := svc.DeletePolicy(ctx, p[0].ID, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLintPolicyAgreesWithCreatePolicy(t *testing.T) {
	svc, res, _ := withEngine(t)
	for _, stmt := range lintSeeds {
		checkCreateAgrees(t, svc, res.TenancyID, stmt)
	}
}

func TestLintPolicyFindings(t *testing.T) {
	ctx := context.Background()
	svc, res, _ := withEngine(t)
	if _, err := svc.CreateDynamicGroup(ctx, GroupInput{CompartmentID: res.TenancyID, Name: ptr("everything"), Description: ptr("d"),
		MatchingRule: ptr("ANY {instance.compartment.id = '" + res.TenancyID + "'}")}); err != nil {
		t.Fatal(err)
	}
	stmts := []string{
		"Allow group Administrators to manage all-resources in tenancy",
		"Allow group Nobody to read vaults in tenancy",
		"Allow dynamic-group everything to read vaults in tenancy",
		"Allow group Administrators to reed vaults in tenancy",
	}
	got, err := svc.LintPolicy(ctx, LintInput{CompartmentID: res.TenancyID, Statements: stmts, Resolve: true, DynamicGroups: true})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	last := -1
	for _, f := range got.Statements {
		if f.Index < last {
			t.Errorf("findings out of statement order: %+v", got.Statements)
		}
		last = f.Index
		codes = append(codes, stmts[f.Index][len("Allow group "):len("Allow group ")+3]+":"+f.Code)
	}
	want := "[Adm:manage-in-tenancy Adm:unscoped-secret-access Nob:unresolved Adm:invalid]"
	if s := fmt.Sprint(codes); s != want {
		t.Errorf("statement findings %s, want %s", s, want)
	}
	if len(got.Rules) != 1 || got.Rules[0].DynamicGroupName != "everything" || got.Rules[0].Code != "broad-rule" {
		t.Errorf("rule findings %+v", got.Rules)
	}
	// Without Resolve and DynamicGroups, what needs the records is left out.
	got, err = svc.LintPolicy(ctx, LintInput{CompartmentID: res.TenancyID, Statements: stmts})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range got.Statements {
		if f.Code == CodeUnresolved {
			t.Errorf("unresolved reported without Resolve: %+v", f)
		}
	}
	if len(got.Rules) != 0 {
		t.Errorf("rules linted without DynamicGroups: %+v", got.Rules)
	}
	if _, err := svc.LintPolicy(ctx, LintInput{CompartmentID: "ocid1.compartment.oc1..missing", Statements: stmts}); !errs.Is(err, errs.NotFound) {
		t.Errorf("missing compartment: %v", err)
	}
	many := make([]string, MaxStatementsPerPolicy+1)
	for i := range many {
		many[i] = stmts[0]
	}
	if _, err := svc.LintPolicy(ctx, LintInput{CompartmentID: res.TenancyID, Statements: many}); !errs.Is(err, errs.LimitExceeded) {
		t.Errorf("too many statements: %v", err)
	}
}

var lintSeeds = []string{
	"Allow group Administrators to read vaults in tenancy",
	"Allow group Nobody to read vaults in tenancy",
	"Allow group Administrators to read vaults in compartment Missing",
	"Allow group Administrators to reed vaults in tenancy",
	"Endorse group Administrators to read vaults in tenancy foo",
	"Allow any-user to use keys in tenancy where target.key.id = 'ocid1.key.oc1..x'",
	"Allow dynamic-group Nobody to read secret-bundles in tenancy",
	"Deny group Administrators to manage all-resources in tenancy",
	"Allow group Administrators to {SECRET_READ, KEY_READ} in tenancy where any {request.operation = 'GetSecret'}",
	"",
}

// FuzzLintPolicy: for any statement, the editor's lint finds an error
// exactly when CreatePolicy refuses it, and never fails or panics.
func FuzzLintPolicy(f *testing.F) {
	for _, s := range lintSeeds {
		f.Add(s)
	}
	svc, res, _ := withEngine(f)
	f.Fuzz(func(t *testing.T, stmt string) {
		checkCreateAgrees(t, svc, res.TenancyID, stmt)
	})
}

// BenchmarkLintPolicy: the policy editor's request on a full policy (50
// statements, names resolved, dynamic groups linted), the work the server
// does a moment after each pause in typing.
func BenchmarkLintPolicy(b *testing.B) {
	svc, res, _ := withEngine(b)
	stmts := make([]string, MaxStatementsPerPolicy)
	for i := range stmts {
		stmts[i] = lintSeeds[i%len(lintSeeds)]
	}
	in := LintInput{CompartmentID: res.TenancyID, Statements: stmts, Resolve: true, DynamicGroups: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.LintPolicy(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
