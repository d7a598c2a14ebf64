package identity

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
)

func TestRewriteStatement(t *testing.T) {
	grp := rename{subject: iam.SubjectGroup, oldName: "Ops", newName: "Platform"}
	dyn := rename{subject: iam.SubjectDynamicGroup, oldName: "Ops", newName: "Platform"}
	// Compartment renames: path element i of the statement resolves to
	// "target" when resolved[i] says so.
	comp := rename{compartmentID: "target", oldName: "Apps", newName: "Services"}
	for _, tc := range []struct {
		name     string
		rn       rename
		resolved []string
		in, want string // want "" means unchanged
	}{
		{"group", grp, nil, "Allow group Ops to read secrets in tenancy", "Allow group Platform to read secrets in tenancy"},
		{"case-insensitive", grp, nil, "allow GROUP ops to read secrets in tenancy", "allow GROUP Platform to read secrets in tenancy"},
		{"quoted", grp, nil, "Allow group 'Ops' to read secrets in tenancy", "Allow group 'Platform' to read secrets in tenancy"},
		{"default domain", grp, nil, "Allow group Default/Ops to read secrets in tenancy", "Allow group Default/Platform to read secrets in tenancy"},
		{"other domain", grp, nil, "Allow group Other/Ops to read secrets in tenancy", ""},
		{"in a list", grp, nil, "Allow group A, Ops ,B to read secrets in tenancy", "Allow group A, Platform ,B to read secrets in tenancy"},
		{"by OCID", grp, nil, "Allow group id ocid1.group.oc1..ops to read secrets in tenancy", ""},
		{"prefix of another name", grp, nil, "Allow group Ops2 to read secrets in tenancy", ""},
		{"dynamic-group subject for a group rename", grp, nil, "Allow dynamic-group Ops to read secrets in tenancy", ""},
		{"dynamic group", dyn, nil, "Allow dynamic-group Ops to use keys in tenancy", "Allow dynamic-group Platform to use keys in tenancy"},
		{"group subject for a dynamic-group rename", dyn, nil, "Allow group Ops to use keys in tenancy", ""},
		{"name in a condition stays", grp, nil, "Allow group Ops to manage groups in tenancy where target.group.name = 'Ops'",
			"Allow group Platform to manage groups in tenancy where target.group.name = 'Ops'"},
		{"compartment named like the group", grp, []string{"x"}, "Allow group A to read secrets in compartment Ops", ""},
		{"permission list", grp, nil, "Allow group Ops to {SECRET_BUNDLE_READ, KEY_DECRYPT} in tenancy",
			"Allow group Platform to {SECRET_BUNDLE_READ, KEY_DECRYPT} in tenancy"},
		{"service subject", grp, nil, "Allow service Ops to use keys in tenancy", ""},

		{"compartment", comp, []string{"target"}, "Allow group Apps to read secrets in compartment Apps", "Allow group Apps to read secrets in compartment Services"},
		{"path, middle element", comp, []string{"a", "target", "c"}, "Allow group G to read secrets in compartment Prod:apps:Apps",
			"Allow group G to read secrets in compartment Prod:Services:Apps"},
		{"quoted path element", comp, []string{"target"}, "Allow group G to read secrets in compartment 'Apps' where request.region = 'x'",
			"Allow group G to read secrets in compartment 'Services' where request.region = 'x'"},
		{"same name elsewhere in the tree", comp, []string{"other"}, "Allow group G to read secrets in compartment Apps", ""},
		{"by OCID", comp, nil, "Allow group G to read secrets in compartment id ocid1.compartment.oc1..apps", ""},
		{"tenancy", comp, nil, "Allow group G to read secrets in tenancy", ""},
		{"does not parse", grp, nil, "Allow group Ops to frobnicate secrets in tenancy", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed, err := rewriteStatement(tc.in, tc.rn, func(path []string) []string {
				out := make([]string, len(path))
				copy(out, tc.resolved)
				return out
			})
			checkRewrite(t, tc.in, tc.want, got, changed, err)
		})
	}
}

// FuzzRewriteStatement: any statement that parses is either left alone or
// rewritten to one that parses with only the renamed names changed (the
// function checks that itself and reports an error otherwise).
func FuzzRewriteStatement(f *testing.F) {
	for _, s := range []string{
		"Allow group Ops to read secrets in tenancy",
		"Allow group 'Ops', Default/ops,id ocid1.group.oc1..x to {SECRET_READ} in compartment A:Ops:'Ops'",
		"Allow dynamic-group Ops to use keys in compartment Ops where target.group.name='Ops'",
		"Deny any-user to manage all-resources in compartment Ops",
		"Allow service Ops, objectstorage to use keys in compartment id ocid1.compartment.oc1..x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stmt string) {
		for _, rn := range []rename{
			{subject: iam.SubjectGroup, oldName: "ops", newName: "Platform"},
			{subject: iam.SubjectDynamicGroup, oldName: "OPS", newName: "x.y-z"},
			{compartmentID: "c", oldName: "Ops", newName: "New_Name"},
		} {
			out, changed, err := rewriteStatement(stmt, rn, func(path []string) []string {
				ids := make([]string, len(path))
				for i, p := range path {
					if strings.EqualFold(p, rn.oldName) {
						ids[i] = "c"
					}
				}
				return ids
			})
			checkFuzzedRewrite(t, stmt, out, changed, err)
		}
	})
}

// Renames through the Service: the member keeps access on the next
// decision, the statements show the new names, the old names are free.
func TestRenameKeepsPoliciesWorking(t *testing.T) {
	ctx := context.Background()
	svc, res, pe := withEngine(t)
	g, err := svc.CreateGroup(ctx, GroupInput{CompartmentID: res.TenancyID, Name: ptr("Readers"), Description: ptr("d")})
	if err != nil {
		t.Fatal(err)
	}
	dg, err := svc.CreateDynamicGroup(ctx, GroupInput{CompartmentID: res.TenancyID, Name: ptr("Fns"), Description: ptr("d"),
		MatchingRule: ptr("ALL {resource.type = 'fnfunc'}")})
	if err != nil {
		t.Fatal(err)
	}
	apps, err := svc.CreateCompartment(ctx, CompartmentInput{ParentID: res.TenancyID, Name: ptr("Apps"), Description: ptr("d")})
	if err != nil {
		t.Fatal(err)
	}
	prod, err := svc.CreateCompartment(ctx, CompartmentInput{ParentID: apps.ID, Name: ptr("Prod"), Description: ptr("d")})
	if err != nil {
		t.Fatal(err)
	}
	top, err := svc.CreatePolicy(ctx, PolicyInput{CompartmentID: res.TenancyID, Name: ptr("top"), Description: ptr("d"), Statements: []string{
		"Allow group Readers to read vaults in compartment Apps:Prod",
		"Allow dynamic-group Fns to read vaults in compartment apps",
		"Allow group Readers to inspect vaults in tenancy where target.group.name = 'Readers'",
	}})
	if err != nil {
		t.Fatal(err)
	}
	inApps, err := svc.CreatePolicy(ctx, PolicyInput{CompartmentID: apps.ID, Name: ptr("in-apps"), Description: ptr("d"), Statements: []string{
		"Allow group Readers to read secrets in compartment Prod",
	}})
	if err != nil {
		t.Fatal(err)
	}
	user := &authz.Principal{Type: authz.PrincipalUser, ID: "ocid1.user.oc1..u", TenancyID: res.TenancyID, GroupIDs: []string{g.ID}}
	allowed := func(op, compartment string) bool {
		t.Helper()
		d, err := pe.Authorize(ctx, authz.Request{Principal: user, Operation: op, CompartmentID: compartment})
		if err != nil {
			t.Fatal(err)
		}
		return d.Allowed
	}
	if !allowed("ListVaults", prod.ID) || !allowed("ListSecrets", prod.ID) {
		t.Fatal("no access before the renames")
	}

	if _, err := svc.UpdateGroup(ctx, g.ID, GroupInput{Name: ptr("Auditors")}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateDynamicGroup(ctx, dg.ID, GroupInput{Name: ptr("Functions")}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateCompartment(ctx, apps.ID, CompartmentInput{Name: ptr("Services")}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateCompartment(ctx, prod.ID, CompartmentInput{Name: ptr("Production")}, ""); err != nil {
		t.Fatal(err)
	}
	if !allowed("ListVaults", prod.ID) || !allowed("ListSecrets", prod.ID) {
		t.Fatal("access lost after the renames")
	}
	got, err := svc.GetPolicy(ctx, top.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Allow group Auditors to read vaults in compartment Services:Production",
		"Allow dynamic-group Functions to read vaults in compartment Services",
		"Allow group Auditors to inspect vaults in tenancy where target.group.name = 'Readers'",
	}
	if !slices.Equal(got.Statements, want) || got.ETag == top.ETag {
		t.Fatalf("statements after renames:\n%q\nwant\n%q (etag changed: %v)", got.Statements, want, got.ETag != top.ETag)
	}
	if got, _ := svc.GetPolicy(ctx, inApps.ID); !slices.Equal(got.Statements, []string{"Allow group Auditors to read secrets in compartment Production"}) {
		t.Fatalf("policy in the renamed compartment: %q", got.Statements)
	}

	// The old names are free; the new ones are taken.
	if _, err := svc.CreateGroup(ctx, GroupInput{CompartmentID: res.TenancyID, Name: ptr("Readers"), Description: ptr("d")}); err != nil {
		t.Fatalf("old group name not freed: %v", err)
	}
	_, err = svc.CreateGroup(ctx, GroupInput{CompartmentID: res.TenancyID, Name: ptr("functions"), Description: ptr("d")})
	if !errs.Is(err, errs.AlreadyExists) {
		t.Fatalf("new dynamic-group name not claimed: %v", err)
	}
	_, err = svc.UpdateGroup(ctx, g.ID, GroupInput{Name: ptr("Readers")}, "")
	if !errs.Is(err, errs.AlreadyExists) {
		t.Fatalf("rename onto a taken name: %v", err)
	}
	// A name that cannot stand in a statement is refused and nothing
	// changes.
	_, err = svc.UpdateGroup(ctx, g.ID, GroupInput{Name: ptr("to")}, "")
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "cannot stand in policy statement") {
		t.Fatalf("rename to a subject keyword: %v", err)
	}
	if cur, _ := svc.GetGroup(ctx, g.ID); cur.Name != "Auditors" {
		t.Fatalf("group renamed by a refused update: %s", cur.Name)
	}
	_, err = svc.UpdateGroup(ctx, g.ID, GroupInput{Name: ptr("bad name!")}, "")
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("rename to an invalid name: %v", err)
	}
	admins, _, err := svc.ListGroups(ctx, res.TenancyID, ListOptions{Name: AdministratorsGroup})
	if err != nil || len(admins) != 1 {
		t.Fatalf("administrators group: %v %v", admins, err)
	}
	_, err = svc.UpdateGroup(ctx, admins[0].ID, GroupInput{Name: ptr("Admins")}, "")
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("rename of the Administrators group: %v", err)
	}
}

// checkRewrite fails t unless a rewrite of in gave want, or, when want is
// "", left in as it was.
func checkRewrite(t *testing.T, in, want, got string, changed bool, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if want == "" {
		if got != in || changed {
			t.Fatalf("got %q (changed %v), want it unchanged", got, changed)
		}
		return
	}
	if got != want || !changed {
		t.Fatalf("got %q (changed %v), want %q", got, changed, want)
	}
}

// checkFuzzedRewrite fails t unless a rewrite of stmt either refused it as
// Invalid or, when it says it changed nothing, answered stmt itself.
func checkFuzzedRewrite(t *testing.T, stmt, out string, changed bool, err error) {
	t.Helper()
	if err != nil && !errs.Is(err, errs.Invalid) {
		t.Fatalf("%q: %v", stmt, err)
	}
	if err == nil && !changed && out != stmt {
		t.Fatalf("unchanged but different: %q -> %q", stmt, out)
	}
}
