package iam

import (
	"context"
	"fmt"
	"testing"

	"github.com/coffer-vault/coffer/internal/authz"
)

// bigSnapshot has 10,000 statements: 100 policies of 100 statements, over
// 500 groups and a tree of 20 top compartments with 10 children each.
func bigSnapshot(tb testing.TB) (*Snapshot, *authz.Principal, string) {
	snap := &Snapshot{TenancyID: tTenancy, TenancyName: "acme"}
	for i := range 20 {
		top := fmt.Sprintf("ocid1.compartment.oc1..top%d", i)
		snap.Compartments = append(snap.Compartments, Compartment{ID: top, Name: fmt.Sprintf("Top%d", i)})
		for j := range 10 {
			snap.Compartments = append(snap.Compartments, Compartment{
				ID: fmt.Sprintf("ocid1.compartment.oc1..top%d-c%d", i, j), ParentID: top, Name: fmt.Sprintf("Child%d", j)})
		}
	}
	for g := range 500 {
		snap.Groups = append(snap.Groups, Group{ID: fmt.Sprintf("ocid1.group.oc1..g%d", g), Name: fmt.Sprintf("G%d", g)})
	}
	verbs := []string{"inspect", "read", "use", "manage"}
	types := []string{"secret-family", "keys", "vaults", "secrets", "secret-bundles", "key-family"}
	n := 0
	for p := range 100 {
		pol := Policy{ID: fmt.Sprintf("ocid1.policy.oc1..p%d", p), Name: fmt.Sprintf("policy-%d", p), CompartmentID: tTenancy}
		for range 100 {
			g := n % 500
			top, child := (n/7)%20, (n/3)%10
			stmt := fmt.Sprintf("Allow group G%d to %s %s in compartment Top%d:Child%d", g, verbs[n%4], types[n%6], top, child)
			if n%5 == 0 {
				stmt += fmt.Sprintf(" where target.secret.name = /app%d-*/", n%97)
			}
			pol.Statements = append(pol.Statements, stmt)
			n++
		}
		snap.Policies = append(snap.Policies, pol)
	}
	// The benchmark user's grants, last in the list.
	snap.Policies = append(snap.Policies, Policy{ID: "ocid1.policy.oc1..app", Name: "app", CompartmentID: tTenancy, Statements: []string{
		"Allow group G7 to read secret-family in compartment Top3 where target.secret.name = /db-*/",
		"Allow group G7 to use keys in compartment Top3:Child4 where target.key.id = '" + tKey + "'",
		"Allow group G8 to manage keys in compartment Top3",
		"Allow group G8 to use vaults in compartment Top3",
	}})
	if got := countStatements(snap); got < 10000 {
		tb.Fatalf("only %d statements", got)
	}
	user := &authz.Principal{Type: authz.PrincipalUser, ID: "ocid1.user.oc1..bench", TenancyID: tTenancy,
		GroupIDs: []string{"ocid1.group.oc1..g7", "ocid1.group.oc1..g8", "ocid1.group.oc1..g107", "ocid1.group.oc1..g207", "ocid1.group.oc1..g307"}}
	return snap, user, "ocid1.compartment.oc1..top3-c4"
}

func countStatements(s *Snapshot) int {
	n := 0
	for _, p := range s.Policies {
		n += len(p.Statements)
	}
	return n
}

func BenchmarkAuthorize10k(b *testing.B) {
	snap, user, comp := bigSnapshot(b)
	e, err := Compile(snap, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if p := e.Problems(); len(p) > 0 {
		b.Fatalf("problems: %v", p[0])
	}
	req := func(op string) authz.Request {
		r := request(user, op)
		in(comp)(&r)
		return r
	}
	for _, tc := range []struct {
		op   string
		want bool
	}{
		{"GetSecretBundle", true},
		{"GetSecret", true},
		{"ListSecrets", false}, // read secret-family is in Top3, but the request lists the tenancy
		{"Encrypt", true},
		{"CreateKey", true},
		{"DeleteUser", false},
	} {
		r := req(tc.op)
		if tc.op == "ListSecrets" {
			r.CompartmentID = tTenancy
		}
		d, _ := e.Authorize(context.Background(), r)
		if d.Allowed != tc.want {
			b.Fatalf("%s: allowed = %v, want %v: %s", tc.op, d.Allowed, tc.want, d.Reason)
		}
		b.Run(tc.op, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				e.Authorize(ctx, r)
			}
		})
	}
}

func BenchmarkCompile10k(b *testing.B) {
	snap, _, _ := bigSnapshot(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(snap, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthorizeDynamicGroup(b *testing.B) {
	snap := baseSnapshot()
	snap.Policies = []Policy{{ID: "p", Name: "p", CompartmentID: tTenancy, Statements: []string{
		"Allow dynamic-group app-prod to read secret-family in compartment AppSecrets where target.secret.name = 'db-*'",
		"Allow dynamic-group app-prod to use keys in compartment AppSecrets where target.key.id = '" + tKey + "'",
	}}}
	e, err := Compile(snap, Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := request(fn, "GetSecretBundle")
	if d, _ := e.Authorize(context.Background(), r); !d.Allowed {
		b.Fatal(d.Reason)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Authorize(context.Background(), r)
	}
}
