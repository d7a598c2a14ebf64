package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/server"
)

// TestCompartmentMoveReachesOtherNodes moves a compartment through one node;
// the other node, once it has synced, decides on the new path: a user
// granted in the new parent reads the vault in the moved compartment, and
// the work request is readable there.
func TestCompartmentMoveReachesOtherNodes(t *testing.T) {
	node := sharedNodes(t, func(c *server.Config) {
		c.SyncInterval = time.Hour // the test calls Sync itself
	})
	a, b := node(""), node("")
	ctx := context.Background()
	ic := a.Identity(t)
	ten := a.Tenancy(t)
	mk := func(parent, name string) *string {
		t.Helper()
		c, err := ic.CreateCompartment(ctx, identity.CreateCompartmentRequest{CreateCompartmentDetails: identity.CreateCompartmentDetails{
			CompartmentId: &parent, Name: common.String(name), Description: common.String(name)}})
		if err != nil {
			t.Fatal(err)
		}
		return c.Id
	}
	oldC, newC := mk(ten, "Old"), mk(ten, "New")
	app := mk(*oldC, "App")
	v, err := vaultClient(t, a, a.Provider).CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: app, DisplayName: common.String("moved"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := ic.CreateGroup(ctx, identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: &ten, Name: common.String("NewReaders"), Description: common.String("d")}})
	if err != nil {
		t.Fatal(err)
	}
	reader := a.NewUser(t, "reader")
	uid, _ := reader.UserOCID()
	if _, err := ic.AddUserToGroup(ctx, identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{UserId: &uid, GroupId: g.Id}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: &ten, Name: common.String("new-readers"), Description: common.String("d"),
		Statements: []string{"Allow group NewReaders to read vaults in compartment New"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Server.Identity.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	cb := vaultClient(t, b, reader)
	_, err = cb.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
	if se := keystest.ServiceError(t, err); se.GetHTTPStatusCode() != http.StatusNotFound {
		t.Fatalf("node b before the move: %v", err)
	}

	mv, err := ic.MoveCompartment(ctx, identity.MoveCompartmentRequest{CompartmentId: app,
		MoveCompartmentDetails: identity.MoveCompartmentDetails{TargetCompartmentId: newC}})
	if err != nil {
		t.Fatal(err)
	}
	changed, err := b.Server.Identity.Sync(ctx)
	if err != nil || !changed {
		t.Fatalf("node b Sync = %v, %v; want a change", changed, err)
	}
	if _, err := cb.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id}); err != nil {
		t.Fatalf("node b after the move: %v", err)
	}
	ib, err := identity.NewIdentityClientWithConfigurationProvider(a.Provider)
	if err != nil {
		t.Fatal(err)
	}
	coffertest.Configure(&ib.BaseClient, b.URL) // node b, admin credentials from node a
	wr, err := ib.GetWorkRequest(ctx, identity.GetWorkRequestRequest{WorkRequestId: mv.OpcWorkRequestId})
	if err != nil || wr.Status != identity.WorkRequestStatusSucceeded {
		t.Fatalf("work request on node b: %v", err)
	}
}
