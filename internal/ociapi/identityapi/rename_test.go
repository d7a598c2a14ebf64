package identityapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
)

// renameGroup renames a group through the IdentityClient's signed Call:
// the SDK's UpdateGroupDetails has no name field, Coffer's UpdateGroup
// accepts one.
func renameGroup(t *testing.T, c identity.IdentityClient, id, name string) (identity.Group, int) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name})
	var g identity.Group
	status := callJSON(t, c, http.MethodPut, "/20160918/groups/"+id, string(body), &g)
	return g, status
}

// Renaming a group and the compartments a policy names keeps the member's
// access on the next request; GetPolicy shows the statements rewritten to
// the new names.
func TestRenameKeepsAccess(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	admin := identityClient(t, env, env.Provider)

	apps := newCompartment(t, admin, tenancy, "Apps")
	prod := newCompartment(t, admin, *apps.Id, "Prod")
	vault := newVault(t, keystest.VaultClient(t, env, env.Provider), *prod.Id, "v")
	g := newGroup(t, admin, tenancy, "Readers")
	u := newUser(t, admin, tenancy, "reader", *g.Id)
	p := newPolicy(t, admin, tenancy, "readers",
		"Allow group Readers to read vaults in compartment Apps:Prod",
		"Allow group Readers to inspect compartments in tenancy where target.group.name = 'Readers'")
	before, err := admin.GetPolicy(ctx, identity.GetPolicyRequest{PolicyId: p.Id})
	if err != nil {
		t.Fatal(err)
	}
	uv := keystest.VaultClient(t, env, u.Provider)
	read := func(when string) {
		t.Helper()
		if _, err := uv.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: vault.Id}); err != nil {
			t.Fatalf("GetVault %s: %v", when, err)
		}
	}
	read("before the renames")

	got, status := renameGroup(t, admin, *g.Id, "Auditors")
	if status != http.StatusOK || *got.Name != "Auditors" {
		t.Fatalf("rename group: %d %+v", status, got)
	}
	read("after the group rename")
	if _, err := admin.UpdateCompartment(ctx, identity.UpdateCompartmentRequest{CompartmentId: apps.Id,
		UpdateCompartmentDetails: identity.UpdateCompartmentDetails{Name: common.String("Services")}}); err != nil {
		t.Fatal(err)
	}
	read("after the compartment rename")

	gp, err := admin.GetPolicy(ctx, identity.GetPolicyRequest{PolicyId: p.Id})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Allow group Auditors to read vaults in compartment Services:Prod",
		"Allow group Auditors to inspect compartments in tenancy where target.group.name = 'Readers'",
	}
	if !slices.Equal(gp.Statements, want) {
		t.Fatalf("GetPolicy statements %q, want %q", gp.Statements, want)
	}
	if *gp.Etag == *before.Etag {
		t.Fatal("the rewritten policy kept its etag")
	}

	// Renaming onto a taken name is the create conflict; the rename of a
	// group whose new name cannot stand in a statement is 400.
	newGroup(t, admin, tenancy, "Other")
	if _, status := renameGroup(t, admin, *g.Id, "other"); status != http.StatusConflict {
		t.Fatalf("rename onto a taken name: %d", status)
	}
	if _, status := renameGroup(t, admin, *g.Id, "to"); status != http.StatusBadRequest {
		t.Fatalf("rename to a keyword: %d", status)
	}
	read("after the refused renames")
}
