package identityapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
)

// Two users with different policies read the same vaults: the policy
// engine decides, changes apply to the next request, and a deleted API key
// is refused on the next request.
func TestTwoUsersDifferentPolicies(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	admin := identityClient(t, env, env.Provider)
	adminVaults := keystest.VaultClient(t, env, env.Provider)

	x := newCompartment(t, admin, tenancy, "X")
	vault := newVault(t, adminVaults, *x.Id, "shared")
	g1 := newGroup(t, admin, tenancy, "G1")
	g2 := newGroup(t, admin, tenancy, "G2")
	a := newUser(t, admin, tenancy, "alice", *g1.Id)
	b := newUser(t, admin, tenancy, "bob", *g2.Id)
	newPolicy(t, admin, tenancy, "g1-read", "Allow group G1 to read vaults in tenancy")
	p2 := newPolicy(t, admin, tenancy, "g2-inspect", "Allow group G2 to inspect vaults in compartment X")

	va, vb := keystest.VaultClient(t, env, a.Provider), keystest.VaultClient(t, env, b.Provider)

	if _, err := va.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: vault.Id}); err != nil {
		t.Fatalf("alice GetVault: %v", err)
	}
	_, err := vb.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: vault.Id})
	wantError(t, "bob GetVault", err, http.StatusNotFound, "NotAuthorizedOrNotFound")

	list, err := vb.ListVaults(ctx, keymanagement.ListVaultsRequest{CompartmentId: x.Id})
	if err != nil {
		t.Fatalf("bob ListVaults in X: %v", err)
	}
	if len(list.Items) != 1 || *list.Items[0].Id != *vault.Id {
		t.Fatalf("bob ListVaults: %d items", len(list.Items))
	}
	_, err = vb.ListVaults(ctx, keymanagement.ListVaultsRequest{CompartmentId: common.String(tenancy)})
	wantError(t, "bob ListVaults in tenancy", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	// Neither may create a vault.
	_, err = va.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: x.Id, DisplayName: common.String("nope"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	wantError(t, "alice CreateVault", err, http.StatusNotFound, "NotAuthorizedOrNotFound")

	// A policy change applies to the next request.
	_, err = admin.UpdatePolicy(ctx, identity.UpdatePolicyRequest{PolicyId: p2.Id, UpdatePolicyDetails: identity.UpdatePolicyDetails{
		Statements: []string{"Allow group G2 to read vaults in compartment X"}}})
	if err != nil {
		t.Fatalf("UpdatePolicy: %v", err)
	}
	if _, err := vb.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: vault.Id}); err != nil {
		t.Fatalf("bob GetVault after the policy change: %v", err)
	}
	// Removing alice from G1 takes her access on the next request.
	ms, err := admin.ListUserGroupMemberships(ctx, identity.ListUserGroupMembershipsRequest{CompartmentId: common.String(tenancy), UserId: a.User.Id})
	if err != nil || len(ms.Items) != 1 {
		t.Fatalf("ListUserGroupMemberships: %v (%d)", err, len(ms.Items))
	}
	if _, err := admin.RemoveUserFromGroup(ctx, identity.RemoveUserFromGroupRequest{UserGroupMembershipId: ms.Items[0].Id}); err != nil {
		t.Fatalf("RemoveUserFromGroup: %v", err)
	}
	_, err = va.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: vault.Id})
	wantError(t, "alice GetVault without group", err, http.StatusNotFound, "NotAuthorizedOrNotFound")

	// A deleted API key is refused on the next request.
	if _, err := admin.DeleteApiKey(ctx, identity.DeleteApiKeyRequest{UserId: b.User.Id, Fingerprint: common.String(b.Fingerprint)}); err != nil {
		t.Fatalf("DeleteApiKey: %v", err)
	}
	_, err = vb.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: vault.Id})
	wantError(t, "bob GetVault with a deleted key", err, http.StatusUnauthorized, "NotAuthenticated")

	// A blocked user is refused too.
	if _, err := admin.UpdateUserState(ctx, identity.UpdateUserStateRequest{UserId: a.User.Id,
		UpdateStateDetails: identity.UpdateStateDetails{Blocked: common.Bool(true)}}); err != nil {
		t.Fatalf("UpdateUserState: %v", err)
	}
	_, err = va.ListVaults(ctx, keymanagement.ListVaultsRequest{CompartmentId: x.Id})
	wantError(t, "blocked alice", err, http.StatusUnauthorized, "NotAuthenticated")
}

// A denial's audit record names the reason, the missing permission and a
// statement that would grant it; the client sees only the plain 404.
func TestDenialAuditRecord(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	admin := identityClient(t, env, env.Provider)
	vault := newVault(t, keystest.VaultClient(t, env, env.Provider), tenancy, "audited")
	g := newGroup(t, admin, tenancy, "Readers")
	u := newUser(t, admin, tenancy, "carol", *g.Id)
	newPolicy(t, admin, tenancy, "readers", "Allow group Readers to inspect vaults in tenancy")

	_, err := keystest.VaultClient(t, env, u.Provider).GetVault(ctx, keymanagement.GetVaultRequest{VaultId: vault.Id})
	se := wantError(t, "carol GetVault", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	if se.GetMessage() != "Authorization failed or requested resource not found." {
		t.Fatalf("client message leaks detail: %q", se.GetMessage())
	}
	for _, leak := range []string{"VAULT_READ", "Allow group", "Readers"} {
		if strings.Contains(se.GetMessage(), leak) {
			t.Fatalf("client message contains %q", leak)
		}
	}

	var found bool
	for _, line := range strings.Split(env.Logs.String(), "\n") {
		if !strings.Contains(line, `"authorization"`) || !strings.Contains(line, *u.User.Id) {
			continue
		}
		var rec struct {
			Operation  string   `json:"operation"`
			Allowed    bool     `json:"allowed"`
			Reason     string   `json:"reason"`
			Missing    []string `json:"missing"`
			Suggestion string   `json:"suggestion"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("audit line is not JSON: %v", err)
		}
		if rec.Operation != "GetVault" || rec.Allowed {
			continue
		}
		found = true
		if rec.Reason == "" || len(rec.Missing) != 1 || rec.Missing[0] != "VAULT_READ" {
			t.Fatalf("audit record: reason %q missing %v", rec.Reason, rec.Missing)
		}
		if !strings.Contains(rec.Suggestion, "Allow group Readers to read vaults") || !strings.Contains(rec.Suggestion, *vault.Id) {
			t.Fatalf("audit suggestion %q does not grant read on the vault", rec.Suggestion)
		}
	}
	if !found {
		t.Fatalf("no denial audit record for GetVault in:\n%s", env.Logs.String())
	}
}

// Only administrators may explain; the explain API answers allow or deny
// with the checks for users, groups and dynamic-group principals.
func TestExplainAPI(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	tenancy := keystest.Tenancy(t, env)
	admin := identityClient(t, env, env.Provider)
	apps := newCompartment(t, admin, tenancy, "Apps")
	vault := newVault(t, keystest.VaultClient(t, env, env.Provider), *apps.Id, "v")
	g := newGroup(t, admin, tenancy, "Devs")
	u := newUser(t, admin, tenancy, "gina", *g.Id)
	_, err := admin.CreateDynamicGroup(context.Background(), identity.CreateDynamicGroupRequest{CreateDynamicGroupDetails: identity.CreateDynamicGroupDetails{
		CompartmentId: common.String(tenancy), Name: common.String("app-prod"), Description: common.String("d"),
		MatchingRule: common.String("instance.compartment.id = '" + *apps.Id + "'")}})
	if err != nil {
		t.Fatal(err)
	}
	dgs, _ := admin.ListDynamicGroups(context.Background(), identity.ListDynamicGroupsRequest{CompartmentId: common.String(tenancy)})
	newPolicy(t, admin, tenancy, "devs", "Allow group Devs to inspect vaults in compartment Apps",
		"Allow dynamic-group app-prod to read vaults in compartment Apps")

	// A non-administrator gets the plain 404.
	if _, status := explainAs(t, env, u.Provider, `{"principal":{"userId":"`+*u.User.Id+`"},"operation":"GetVault","vaultId":"`+*vault.Id+`"}`); status != http.StatusNotFound {
		t.Fatalf("explain as a non-administrator: %d", status)
	}
	ans := explain(t, env, `{"principal":{"userId":"`+*u.User.Id+`"},"operation":"GetVault","vaultId":"`+*vault.Id+`"}`)
	if ans.Allowed || len(ans.Checks) != 1 || ans.Checks[0].Permission != "VAULT_READ" || !contains(ans.Suggestion, "Allow group Devs to read vaults") {
		t.Fatalf("explain gina GetVault: %+v", ans)
	}
	ans = explain(t, env, `{"principal":{"groupId":"`+*g.Id+`"},"operation":"ListVaults","compartmentId":"`+*apps.Id+`"}`)
	if !ans.Allowed || len(ans.Checks[0].GrantedBy) != 1 || ans.Checks[0].GrantedBy[0].PolicyName != "devs" {
		t.Fatalf("explain Devs ListVaults: %+v", ans)
	}
	dg := *dgs.Items[0].Id
	ans = explain(t, env, `{"principal":{"dynamicGroupId":"`+dg+`","attributes":{"instance.id":"ocid1.instance.oc1.local.x","instance.compartment.id":"`+*apps.Id+`"}},"operation":"GetVault","vaultId":"`+*vault.Id+`"}`)
	if !ans.Allowed || len(ans.DynamicGroups) != 1 {
		t.Fatalf("explain dynamic group: %+v", ans)
	}
	ans = explain(t, env, `{"principal":{"dynamicGroupId":"`+dg+`","attributes":{"instance.id":"ocid1.instance.oc1.local.x","instance.compartment.id":"`+tenancy+`"}},"operation":"GetVault","vaultId":"`+*vault.Id+`"}`)
	if ans.Allowed || len(ans.Notes) == 0 {
		t.Fatalf("explain non-matching attributes: %+v", ans)
	}
	for _, bad := range []string{
		`{"principal":{"userId":"ocid1.user.oc1..nobody"},"operation":"GetVault","vaultId":"` + *vault.Id + `"}`,
		`{"principal":{"userId":"` + *u.User.Id + `"},"operation":"NoSuchOperation"}`,
		`{"principal":{},"operation":"GetVault"}`,
	} {
		if _, status := explainAs(t, env, env.Provider, bad); status != http.StatusBadRequest {
			t.Fatalf("explain %s: status %d, want 400", bad, status)
		}
	}
}

// Moving a vault needs VAULT_MOVE where it is and where it goes.
func TestChangeVaultCompartmentNeedsBothCompartments(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	admin := identityClient(t, env, env.Provider)
	a := newCompartment(t, admin, tenancy, "A")
	b := newCompartment(t, admin, tenancy, "B")
	v := newVault(t, keystest.VaultClient(t, env, env.Provider), *a.Id, "movable")
	g := newGroup(t, admin, tenancy, "Movers")
	u := newUser(t, admin, tenancy, "mover", *g.Id)
	p := newPolicy(t, admin, tenancy, "movers", "Allow group Movers to manage vaults in compartment A")
	mc := keystest.VaultClient(t, env, u.Provider)
	move := func() error {
		_, err := mc.ChangeVaultCompartment(ctx, keymanagement.ChangeVaultCompartmentRequest{VaultId: v.Id,
			ChangeVaultCompartmentDetails: keymanagement.ChangeVaultCompartmentDetails{CompartmentId: b.Id}})
		return err
	}
	wantError(t, "move without a grant in B", move(), http.StatusNotFound, "NotAuthorizedOrNotFound")
	if _, err := admin.UpdatePolicy(ctx, identity.UpdatePolicyRequest{PolicyId: p.Id, UpdatePolicyDetails: identity.UpdatePolicyDetails{
		Statements: []string{"Allow group Movers to manage vaults in compartment A", "Allow group Movers to manage vaults in compartment B"}}}); err != nil {
		t.Fatal(err)
	}
	if err := move(); err != nil {
		t.Fatalf("move with grants in A and B: %v", err)
	}
	got, err := mc.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
	if err != nil || *got.CompartmentId != *b.Id {
		t.Fatalf("vault after move: %v", err)
	}
}
