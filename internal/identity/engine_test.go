package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sync"
	"testing"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/blindindex"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

func bootstrapped(t testing.TB) (*Service, BootstrapResult) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	svc := New(memstore.New(), testIndex(t), "local", nil)
	res, err := svc.Bootstrap(context.Background(), BootstrapSpec{TenancyName: "t", AdminName: "admin", AdminKey: &key.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	return svc, res
}

// withEngine is bootstrapped with the server's policy engine over the
// Service.
func withEngine(t testing.TB) (*Service, BootstrapResult, *PolicyEngine) {
	t.Helper()
	svc, res := bootstrapped(t)
	pe, err := NewPolicyEngine(context.Background(), svc, iam.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return svc, res, pe
}

func ptr(s string) *string { return &s }

// testIndex is a blind index with a fixed key, as the barrier would give.
func testIndex(t testing.TB) *blindindex.Index {
	ix, err := blindindex.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// A policy write applies to the next decision, also while decisions and
// writes run concurrently (run with -race).
func TestPolicyEngineFollowsWrites(t *testing.T) {
	ctx := context.Background()
	svc, res, pe := withEngine(t)
	g, err := svc.CreateGroup(ctx, GroupInput{CompartmentID: res.TenancyID, Name: ptr("Readers"), Description: ptr("d")})
	if err != nil {
		t.Fatal(err)
	}
	req := authz.Request{Principal: &authz.Principal{Type: authz.PrincipalUser, ID: "ocid1.user.oc1..u", TenancyID: res.TenancyID, GroupIDs: []string{g.ID}},
		Operation: "ListVaults", CompartmentID: res.TenancyID}
	if d, err := pe.Authorize(ctx, req); err != nil || d.Allowed {
		t.Fatalf("before the policy: %+v %v", d, err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if _, err := pe.Authorize(ctx, req); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		if _, err := svc.CreatePolicy(ctx, PolicyInput{CompartmentID: res.TenancyID, Name: ptr(fmt.Sprintf("p%d", i)), Description: ptr("d"),
			Statements: []string{"Allow group Readers to inspect secrets in tenancy"}}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	p, err := svc.CreatePolicy(ctx, PolicyInput{CompartmentID: res.TenancyID, Name: ptr("vaults"), Description: ptr("d"),
		Statements: []string{"Allow group Readers to inspect vaults in tenancy"}})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := pe.Authorize(ctx, req); err != nil || !d.Allowed {
		t.Fatalf("after the policy: %+v %v", d, err)
	}
	if err := svc.DeletePolicy(ctx, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	if d, _ := pe.Authorize(ctx, req); d.Allowed {
		t.Fatal("still allowed after the policy was deleted")
	}
}

// Statements naming unknown groups or compartments are refused on write,
// once the engine is the service's resolver.
func TestPolicyStatementsResolved(t *testing.T) {
	ctx := context.Background()
	svc, res := bootstrapped(t)
	if _, err := NewPolicyEngine(ctx, svc, iam.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stmt string
		ok   bool
	}{
		{"Allow group Administrators to read vaults in tenancy", true},
		{"Allow group Nobody to read vaults in tenancy", false},
		{"Allow group Administrators to read vaults in compartment Missing", false},
		{"Allow group Administrators to reed vaults in tenancy", false},
		{"Endorse group Administrators to read vaults in tenancy foo", false},
	} {
		_, err := svc.CreatePolicy(ctx, PolicyInput{CompartmentID: res.TenancyID, Name: ptr("p"), Description: ptr("d"), Statements: []string{tc.stmt}})
		if tc.ok != (err == nil) {
			t.Errorf("%s: err = %v", tc.stmt, err)
		}
		if err != nil && !errs.Is(err, errs.Invalid) {
			t.Errorf("%s: kind %v, want Invalid", tc.stmt, errs.KindOf(err))
		}
		if err == nil {
			p, _, _ := svc.ListPolicies(ctx, res.TenancyID, ListOptions{Name: "p"})
			_ = svc.DeletePolicy(ctx, p[0].ID, "")
		}
	}
}

func TestNameRules(t *testing.T) {
	for _, tc := range []struct {
		rule nameRule
		name string
		ok   bool
	}{
		{userNames, "alice@example.com", true},
		{userNames, "has space", false},
		{groupNames, "Dev-Ops_1.2", true},
		{groupNames, "a@b", false},
		{policyNames, "app secrets", true},
		{compartmentNames, "", false},
		{compartmentNames, string(make([]byte, 101)), false},
	} {
		if err := tc.rule.check(tc.name); (err == nil) != tc.ok {
			t.Errorf("%s %q: %v", tc.rule.what, tc.name, err)
		}
	}
}

// BenchmarkPolicyEngineAuthorize measures a decision through the server's
// authorizer: the generation check plus the compiled engine.
func BenchmarkPolicyEngineAuthorize(b *testing.B) {
	ctx := context.Background()
	_, res, pe := withEngine(b)
	req := authz.Request{Principal: &authz.Principal{Type: authz.PrincipalUser, ID: res.UserID, TenancyID: res.TenancyID, GroupIDs: []string{res.GroupID}},
		Operation: "ListVaults", CompartmentID: res.TenancyID}
	b.ReportAllocs()
	for b.Loop() {
		if d, err := pe.Authorize(ctx, req); err != nil || !d.Allowed {
			b.Fatal(d, err)
		}
	}
}
