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
)

// Two users with different policies read the same vaults: the policy
// engine decides, changes apply to the next request, and a deleted API key
// is refused on the next request.
func TestTwoUsersDifferentPolicies(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := tenancyOf(t, env)
	admin := identityClient(t, env, env.Provider)
	adminVaults := vaultClient(t, env, env.Provider)

	x := newCompartment(t, admin, tenancy, "X")
	vault := newVault(t, adminVaults, *x.Id, "shared")
	g1 := newGroup(t, admin, tenancy, "G1")
	g2 := newGroup(t, admin, tenancy, "G2")
	a := newUser(t, admin, tenancy, "alice", *g1.Id)
	b := newUser(t, admin, tenancy, "bob", *g2.Id)
	newPolicy(t, admin, tenancy, "g1-read", "Allow group G1 to read vaults in tenancy")
	p2 := newPolicy(t, admin, tenancy, "g2-inspect", "Allow group G2 to inspect vaults in compartment X")

	va, vb := vaultClient(t, env, a.Provider), vaultClient(t, env, b.Provider)

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
	tenancy := tenancyOf(t, env)
	admin := identityClient(t, env, env.Provider)
	vault := newVault(t, vaultClient(t, env, env.Provider), tenancy, "audited")
	g := newGroup(t, admin, tenancy, "Readers")
	u := newUser(t, admin, tenancy, "carol", *g.Id)
	newPolicy(t, admin, tenancy, "readers", "Allow group Readers to inspect vaults in tenancy")

	_, err := vaultClient(t, env, u.Provider).GetVault(ctx, keymanagement.GetVaultRequest{VaultId: vault.Id})
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
