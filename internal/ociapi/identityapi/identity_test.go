package identityapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
)

func TestTenancyAndRegions(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	c := identityClient(t, env, env.Provider)

	ten, err := c.GetTenancy(ctx, identity.GetTenancyRequest{TenancyId: common.String(tenancy)})
	if err != nil {
		t.Fatalf("GetTenancy: %v", err)
	}
	if *ten.Id != tenancy || *ten.Name != "coffer" || *ten.HomeRegionKey == "" {
		t.Fatalf("tenancy: %+v", ten.Tenancy)
	}
	_, err = c.GetTenancy(ctx, identity.GetTenancyRequest{TenancyId: common.String("ocid1.tenancy.oc1..other")})
	wantError(t, "GetTenancy other", err, http.StatusNotFound, "NotAuthorizedOrNotFound")

	regions, err := c.ListRegionSubscriptions(ctx, identity.ListRegionSubscriptionsRequest{TenancyId: common.String(tenancy)})
	if err != nil {
		t.Fatalf("ListRegionSubscriptions: %v", err)
	}
	if len(regions.Items) != 1 || *regions.Items[0].RegionName != "local" || !*regions.Items[0].IsHomeRegion ||
		regions.Items[0].Status != identity.RegionSubscriptionStatusReady {
		t.Fatalf("regions: %+v", regions.Items)
	}
}

func TestCompartmentsThroughSDK(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	c := identityClient(t, env, env.Provider)

	apps := newCompartment(t, c, tenancy, "Apps")
	if apps.LifecycleState != identity.CompartmentLifecycleStateActive || *apps.CompartmentId != tenancy || apps.TimeCreated == nil {
		t.Fatalf("new compartment: %+v", apps)
	}
	prod := newCompartment(t, c, *apps.Id, "Prod")
	newCompartment(t, c, *apps.Id, "Dev")

	// Names are unique per parent only.
	_, err := c.CreateCompartment(ctx, identity.CreateCompartmentRequest{CreateCompartmentDetails: identity.CreateCompartmentDetails{
		CompartmentId: apps.Id, Name: common.String("prod"), Description: common.String("dup")}})
	wantError(t, "duplicate compartment", err, http.StatusConflict, "NotAuthorizedOrResourceAlreadyExists")
	newCompartment(t, c, tenancy, "Prod")

	got, err := c.GetCompartment(ctx, identity.GetCompartmentRequest{CompartmentId: prod.Id})
	if err != nil || *got.Name != "Prod" || *got.CompartmentId != *apps.Id || got.Etag == nil {
		t.Fatalf("GetCompartment: %v %+v", err, got.Compartment)
	}
	root, err := c.GetCompartment(ctx, identity.GetCompartmentRequest{CompartmentId: common.String(tenancy)})
	if err != nil || *root.Id != tenancy {
		t.Fatalf("GetCompartment(tenancy): %v", err)
	}

	children, err := c.ListCompartments(ctx, identity.ListCompartmentsRequest{CompartmentId: apps.Id, SortBy: identity.ListCompartmentsSortByName})
	if err != nil {
		t.Fatalf("ListCompartments: %v", err)
	}
	if names := compartmentNames(children.Items); names != "Dev,Prod" {
		t.Fatalf("children of Apps: %s", names)
	}
	top, err := c.ListCompartments(ctx, identity.ListCompartmentsRequest{CompartmentId: common.String(tenancy), SortBy: identity.ListCompartmentsSortByName})
	if err != nil || compartmentNames(top.Items) != "Apps,Prod" {
		t.Fatalf("children of the tenancy: %v %s", err, compartmentNames(top.Items))
	}
	all, err := c.ListCompartments(ctx, identity.ListCompartmentsRequest{CompartmentId: common.String(tenancy),
		CompartmentIdInSubtree: common.Bool(true), AccessLevel: identity.ListCompartmentsAccessLevelAccessible,
		SortBy: identity.ListCompartmentsSortByName, SortOrder: identity.ListCompartmentsSortOrderAsc})
	if err != nil || compartmentNames(all.Items) != "Apps,Dev,Prod,Prod" {
		t.Fatalf("subtree: %v %s", err, compartmentNames(all.Items))
	}
	_, err = c.ListCompartments(ctx, identity.ListCompartmentsRequest{CompartmentId: apps.Id, CompartmentIdInSubtree: common.Bool(true)})
	wantError(t, "subtree below the root", err, http.StatusBadRequest, "InvalidParameter")
	page1, err := c.ListCompartments(ctx, identity.ListCompartmentsRequest{CompartmentId: common.String(tenancy), CompartmentIdInSubtree: common.Bool(true), Limit: common.Int(3)})
	if err != nil || len(page1.Items) != 3 || page1.OpcNextPage == nil {
		t.Fatalf("page 1: %v %d", err, len(page1.Items))
	}
	page2, err := c.ListCompartments(ctx, identity.ListCompartmentsRequest{CompartmentId: common.String(tenancy), CompartmentIdInSubtree: common.Bool(true), Limit: common.Int(3), Page: page1.OpcNextPage})
	if err != nil || len(page2.Items) != 1 || page2.OpcNextPage != nil {
		t.Fatalf("page 2: %v %d", err, len(page2.Items))
	}

	upd, err := c.UpdateCompartment(ctx, identity.UpdateCompartmentRequest{CompartmentId: prod.Id, IfMatch: got.Etag,
		UpdateCompartmentDetails: identity.UpdateCompartmentDetails{Description: common.String("production")}})
	if err != nil || *upd.Description != "production" || *upd.Etag == *got.Etag {
		t.Fatalf("UpdateCompartment: %v", err)
	}
	_, err = c.UpdateCompartment(ctx, identity.UpdateCompartmentRequest{CompartmentId: prod.Id, IfMatch: got.Etag,
		UpdateCompartmentDetails: identity.UpdateCompartmentDetails{Description: common.String("stale")}})
	wantError(t, "stale etag", err, http.StatusPreconditionFailed, "NoEtagMatch")
	_, err = c.UpdateCompartment(ctx, identity.UpdateCompartmentRequest{CompartmentId: prod.Id,
		UpdateCompartmentDetails: identity.UpdateCompartmentDetails{Name: common.String("Dev")}})
	wantError(t, "rename onto a sibling", err, http.StatusConflict, "NotAuthorizedOrResourceAlreadyExists")

	// Deleting is refused while a compartment holds a child, a policy or a vault.
	_, err = c.DeleteCompartment(ctx, identity.DeleteCompartmentRequest{CompartmentId: apps.Id})
	se := wantError(t, "delete compartment with children", err, http.StatusConflict, "Conflict")
	if !strings.Contains(se.GetMessage(), "not empty") {
		t.Fatalf("message %q", se.GetMessage())
	}
	vaults := keystest.VaultClient(t, env, env.Provider)
	v := newVault(t, vaults, *prod.Id, "in-prod")
	_, err = c.DeleteCompartment(ctx, identity.DeleteCompartmentRequest{CompartmentId: prod.Id})
	se = wantError(t, "delete compartment with a vault", err, http.StatusConflict, "Conflict")
	if !strings.Contains(se.GetMessage(), "vault in-prod") {
		t.Fatalf("message %q does not name the vault", se.GetMessage())
	}
	// Moving the vault out empties it (ChangeVaultCompartment).
	if _, err := vaults.ChangeVaultCompartment(ctx, keymanagement.ChangeVaultCompartmentRequest{VaultId: v.Id,
		ChangeVaultCompartmentDetails: keymanagement.ChangeVaultCompartmentDetails{CompartmentId: common.String(tenancy)}}); err != nil {
		t.Fatalf("ChangeVaultCompartment: %v", err)
	}
	moved, err := vaults.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
	if err != nil || *moved.CompartmentId != tenancy {
		t.Fatalf("vault after move: %v", err)
	}
	_, err = vaults.ChangeVaultCompartment(ctx, keymanagement.ChangeVaultCompartmentRequest{VaultId: v.Id,
		ChangeVaultCompartmentDetails: keymanagement.ChangeVaultCompartmentDetails{CompartmentId: common.String("ocid1.compartment.oc1..nope")}})
	if err == nil {
		t.Fatal("ChangeVaultCompartment to a missing compartment succeeded")
	}
	pol := newPolicy(t, c, *prod.Id, "local", "Allow group Administrators to read vaults in compartment Prod")
	_, err = c.DeleteCompartment(ctx, identity.DeleteCompartmentRequest{CompartmentId: prod.Id})
	wantError(t, "delete compartment with a policy", err, http.StatusConflict, "Conflict")
	if _, err := c.DeletePolicy(ctx, identity.DeletePolicyRequest{PolicyId: pol.Id}); err != nil {
		t.Fatalf("DeletePolicy: %v", err)
	}
	if _, err := c.DeleteCompartment(ctx, identity.DeleteCompartmentRequest{CompartmentId: prod.Id}); err != nil {
		t.Fatalf("DeleteCompartment: %v", err)
	}
	gone, err := c.GetCompartment(ctx, identity.GetCompartmentRequest{CompartmentId: prod.Id})
	if err != nil || gone.LifecycleState != identity.CompartmentLifecycleStateDeleted {
		t.Fatalf("deleted compartment: %v %s", err, gone.LifecycleState)
	}
	children, err = c.ListCompartments(ctx, identity.ListCompartmentsRequest{CompartmentId: apps.Id})
	if err != nil || compartmentNames(children.Items) != "Dev" {
		t.Fatalf("after delete: %v %s", err, compartmentNames(children.Items))
	}
	// A vault cannot be created in a deleted compartment; the name is free again.
	_, err = vaults.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
		CompartmentId: prod.Id, DisplayName: common.String("late"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
	if err == nil {
		t.Fatal("CreateVault in a deleted compartment succeeded")
	}
	coffertest.NextSecond() // the first CreateCompartment again, not a replay of it
	newCompartment(t, c, *apps.Id, "Prod")
}

func compartmentNames(items []identity.Compartment) string {
	var names []string
	for _, c := range items {
		names = append(names, *c.Name)
	}
	return strings.Join(names, ",")
}

func TestUsersKeysGroupsThroughSDK(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	c := identityClient(t, env, env.Provider)

	u, err := c.CreateUser(ctx, identity.CreateUserRequest{OpcRetryToken: common.String("create-dave"), CreateUserDetails: identity.CreateUserDetails{
		CompartmentId: common.String(tenancy), Name: common.String("dave"), Description: common.String("Dave"), Email: common.String("dave@example.com")}})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if u.LifecycleState != identity.UserLifecycleStateActive || *u.CompartmentId != tenancy || u.IsMfaActivated == nil || *u.Email != "dave@example.com" {
		t.Fatalf("user: %+v", u.User)
	}
	// The retry token replays the same user.
	again, err := c.CreateUser(ctx, identity.CreateUserRequest{OpcRetryToken: common.String("create-dave"), CreateUserDetails: identity.CreateUserDetails{
		CompartmentId: common.String(tenancy), Name: common.String("dave"), Description: common.String("Dave"), Email: common.String("dave@example.com")}})
	if err != nil || *again.Id != *u.Id {
		t.Fatalf("retried CreateUser: %v", err)
	}
	_, err = c.CreateUser(ctx, identity.CreateUserRequest{CreateUserDetails: identity.CreateUserDetails{
		CompartmentId: common.String(tenancy), Name: common.String("DAVE"), Description: common.String("dup")}})
	wantError(t, "duplicate user", err, http.StatusConflict, "NotAuthorizedOrResourceAlreadyExists")
	_, err = c.CreateUser(ctx, identity.CreateUserRequest{CreateUserDetails: identity.CreateUserDetails{
		CompartmentId: common.String(tenancy), Name: common.String("has space"), Description: common.String("bad")}})
	wantError(t, "bad user name", err, http.StatusBadRequest, "InvalidParameter")

	got, err := c.GetUser(ctx, identity.GetUserRequest{UserId: u.Id})
	if err != nil || *got.Name != "dave" {
		t.Fatalf("GetUser: %v", err)
	}
	users, err := c.ListUsers(ctx, identity.ListUsersRequest{CompartmentId: common.String(tenancy), SortBy: identity.ListUsersSortByName})
	if err != nil || len(users.Items) != 2 || *users.Items[0].Name != "admin" || *users.Items[1].Name != "dave" {
		t.Fatalf("ListUsers: %v %d", err, len(users.Items))
	}
	byName, err := c.ListUsers(ctx, identity.ListUsersRequest{CompartmentId: common.String(tenancy), Name: common.String("dave")})
	if err != nil || len(byName.Items) != 1 {
		t.Fatalf("ListUsers by name: %v", err)
	}
	upd, err := c.UpdateUser(ctx, identity.UpdateUserRequest{UserId: u.Id, IfMatch: got.Etag, UpdateUserDetails: identity.UpdateUserDetails{Description: common.String("David")}})
	if err != nil || *upd.Description != "David" {
		t.Fatalf("UpdateUser: %v", err)
	}
	_, err = c.UpdateUser(ctx, identity.UpdateUserRequest{UserId: u.Id, IfMatch: got.Etag, UpdateUserDetails: identity.UpdateUserDetails{Description: common.String("x")}})
	wantError(t, "stale user etag", err, http.StatusPreconditionFailed, "NoEtagMatch")
	blocked, err := c.UpdateUserState(ctx, identity.UpdateUserStateRequest{UserId: u.Id, UpdateStateDetails: identity.UpdateStateDetails{Blocked: common.Bool(true)}})
	if err != nil || blocked.LifecycleState != identity.UserLifecycleStateInactive || blocked.InactiveStatus == nil || *blocked.InactiveStatus != 4 {
		t.Fatalf("UpdateUserState blocked: %v %+v", err, blocked.User)
	}
	unblocked, err := c.UpdateUserState(ctx, identity.UpdateUserStateRequest{UserId: u.Id, UpdateStateDetails: identity.UpdateStateDetails{Blocked: common.Bool(false)}})
	if err != nil || unblocked.LifecycleState != identity.UserLifecycleStateActive {
		t.Fatalf("UpdateUserState unblocked: %v", err)
	}

	// API keys: fingerprint computed by the server, at most three.
	var fps []string
	for i := 0; i < 3; i++ {
		_, pub := newKey(t)
		k, err := c.UploadApiKey(ctx, identity.UploadApiKeyRequest{UserId: u.Id, CreateApiKeyDetails: identity.CreateApiKeyDetails{Key: common.String(pub)}})
		if err != nil {
			t.Fatalf("UploadApiKey %d: %v", i, err)
		}
		if len(*k.Fingerprint) != 47 || *k.KeyId != tenancy+"/"+*u.Id+"/"+*k.Fingerprint || k.LifecycleState != identity.ApiKeyLifecycleStateActive {
			t.Fatalf("api key: %+v", k.ApiKey)
		}
		fps = append(fps, *k.Fingerprint)
	}
	_, pub := newKey(t)
	_, err = c.UploadApiKey(ctx, identity.UploadApiKeyRequest{UserId: u.Id, CreateApiKeyDetails: identity.CreateApiKeyDetails{Key: common.String(pub)}})
	wantError(t, "fourth API key", err, http.StatusBadRequest, "LimitExceeded")
	_, err = c.UploadApiKey(ctx, identity.UploadApiKeyRequest{UserId: u.Id, CreateApiKeyDetails: identity.CreateApiKeyDetails{Key: common.String("not a key")}})
	wantError(t, "garbage key", err, http.StatusBadRequest, "InvalidParameter")
	keys, err := c.ListApiKeys(ctx, identity.ListApiKeysRequest{UserId: u.Id})
	if err != nil || len(keys.Items) != 3 {
		t.Fatalf("ListApiKeys: %v %d", err, len(keys.Items))
	}
	if _, err := c.DeleteApiKey(ctx, identity.DeleteApiKeyRequest{UserId: u.Id, Fingerprint: common.String(fps[0])}); err != nil {
		t.Fatalf("DeleteApiKey: %v", err)
	}
	coffertest.NextSecond() // the same request again, not a replay of it
	_, err = c.DeleteApiKey(ctx, identity.DeleteApiKeyRequest{UserId: u.Id, Fingerprint: common.String(fps[0])})
	wantError(t, "DeleteApiKey twice", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	if _, err := c.UploadApiKey(ctx, identity.UploadApiKeyRequest{UserId: u.Id, CreateApiKeyDetails: identity.CreateApiKeyDetails{Key: common.String(pub)}}); err != nil {
		t.Fatalf("UploadApiKey after a delete: %v", err)
	}

	// Groups and memberships.
	g := newGroup(t, c, tenancy, "Ops")
	_, err = c.CreateGroup(ctx, identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: common.String(tenancy), Name: common.String("ops"), Description: common.String("dup")}})
	wantError(t, "duplicate group", err, http.StatusConflict, "NotAuthorizedOrResourceAlreadyExists")
	_, err = c.CreateGroup(ctx, identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: common.String("ocid1.compartment.oc1..x"), Name: common.String("elsewhere"), Description: common.String("d")}})
	if err == nil {
		t.Fatal("CreateGroup outside the tenancy succeeded")
	}
	gg, err := c.GetGroup(ctx, identity.GetGroupRequest{GroupId: g.Id})
	if err != nil || *gg.Name != "Ops" {
		t.Fatalf("GetGroup: %v", err)
	}
	ug, err := c.UpdateGroup(ctx, identity.UpdateGroupRequest{GroupId: g.Id, IfMatch: gg.Etag, UpdateGroupDetails: identity.UpdateGroupDetails{Description: common.String("operators")}})
	if err != nil || *ug.Description != "operators" {
		t.Fatalf("UpdateGroup: %v", err)
	}
	groups, err := c.ListGroups(ctx, identity.ListGroupsRequest{CompartmentId: common.String(tenancy)})
	if err != nil || len(groups.Items) != 2 {
		t.Fatalf("ListGroups: %v %d", err, len(groups.Items))
	}
	m, err := c.AddUserToGroup(ctx, identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{UserId: u.Id, GroupId: g.Id}})
	if err != nil || *m.UserId != *u.Id || *m.GroupId != *g.Id || m.LifecycleState != identity.UserGroupMembershipLifecycleStateActive {
		t.Fatalf("AddUserToGroup: %v", err)
	}
	coffertest.NextSecond() // the same request again, not a replay of it
	_, err = c.AddUserToGroup(ctx, identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{UserId: u.Id, GroupId: g.Id}})
	wantError(t, "AddUserToGroup twice", err, http.StatusConflict, "NotAuthorizedOrResourceAlreadyExists")
	_, err = c.AddUserToGroup(ctx, identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{UserId: u.Id, GroupId: common.String("ocid1.group.oc1..none")}})
	wantError(t, "AddUserToGroup missing group", err, http.StatusBadRequest, "RelatedResourceNotAuthorizedOrNotFound")
	gm, err := c.GetUserGroupMembership(ctx, identity.GetUserGroupMembershipRequest{UserGroupMembershipId: m.Id})
	if err != nil || *gm.Id != *m.Id {
		t.Fatalf("GetUserGroupMembership: %v", err)
	}
	byGroup, err := c.ListUserGroupMemberships(ctx, identity.ListUserGroupMembershipsRequest{CompartmentId: common.String(tenancy), GroupId: g.Id})
	if err != nil || len(byGroup.Items) != 1 {
		t.Fatalf("ListUserGroupMemberships: %v", err)
	}
	_, err = c.DeleteGroup(ctx, identity.DeleteGroupRequest{GroupId: g.Id})
	wantError(t, "delete non-empty group", err, http.StatusConflict, "Conflict")
	_, err = c.DeleteUser(ctx, identity.DeleteUserRequest{UserId: u.Id})
	wantError(t, "delete user in a group", err, http.StatusConflict, "Conflict")
	if _, err := c.RemoveUserFromGroup(ctx, identity.RemoveUserFromGroupRequest{UserGroupMembershipId: m.Id}); err != nil {
		t.Fatalf("RemoveUserFromGroup: %v", err)
	}
	_, err = c.GetUserGroupMembership(ctx, identity.GetUserGroupMembershipRequest{UserGroupMembershipId: m.Id})
	wantError(t, "removed membership", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	if _, err := c.DeleteGroup(ctx, identity.DeleteGroupRequest{GroupId: g.Id}); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	if _, err := c.DeleteUser(ctx, identity.DeleteUserRequest{UserId: u.Id}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err = c.GetUser(ctx, identity.GetUserRequest{UserId: u.Id})
	wantError(t, "deleted user", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
}

func TestDynamicGroupsAndPoliciesThroughSDK(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	c := identityClient(t, env, env.Provider)
	newCompartment(t, c, tenancy, "AppSecrets")

	rule := "ALL {instance.compartment.id = '" + tenancy + "', tag.team.name.value = 'payments'}"
	d, err := c.CreateDynamicGroup(ctx, identity.CreateDynamicGroupRequest{CreateDynamicGroupDetails: identity.CreateDynamicGroupDetails{
		CompartmentId: common.String(tenancy), Name: common.String("app-prod"), Description: common.String("apps"), MatchingRule: common.String(rule)}})
	if err != nil || *d.MatchingRule != rule || d.LifecycleState != identity.DynamicGroupLifecycleStateActive {
		t.Fatalf("CreateDynamicGroup: %v", err)
	}
	_, err = c.CreateDynamicGroup(ctx, identity.CreateDynamicGroupRequest{CreateDynamicGroupDetails: identity.CreateDynamicGroupDetails{
		CompartmentId: common.String(tenancy), Name: common.String("broken"), Description: common.String("x"), MatchingRule: common.String("ALL {instance.compartment.id = }")}})
	se := wantError(t, "invalid matching rule", err, http.StatusBadRequest, "InvalidParameter")
	if !strings.Contains(se.GetMessage(), "position 32") || !strings.Contains(se.GetMessage(), "expected") {
		t.Fatalf("rule error message %q has no position", se.GetMessage())
	}
	_, err = c.CreateGroup(ctx, identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
		CompartmentId: common.String(tenancy), Name: common.String("App-Prod"), Description: common.String("clash")}})
	wantError(t, "group named like a dynamic group", err, http.StatusConflict, "NotAuthorizedOrResourceAlreadyExists")
	gd, err := c.GetDynamicGroup(ctx, identity.GetDynamicGroupRequest{DynamicGroupId: d.Id})
	if err != nil {
		t.Fatalf("GetDynamicGroup: %v", err)
	}
	ud, err := c.UpdateDynamicGroup(ctx, identity.UpdateDynamicGroupRequest{DynamicGroupId: d.Id, IfMatch: gd.Etag,
		UpdateDynamicGroupDetails: identity.UpdateDynamicGroupDetails{MatchingRule: common.String("instance.compartment.id = '" + tenancy + "'")}})
	if err != nil || !strings.HasPrefix(*ud.MatchingRule, "instance.") {
		t.Fatalf("UpdateDynamicGroup: %v", err)
	}
	_, err = c.UpdateDynamicGroup(ctx, identity.UpdateDynamicGroupRequest{DynamicGroupId: d.Id, IfMatch: gd.Etag,
		UpdateDynamicGroupDetails: identity.UpdateDynamicGroupDetails{Description: common.String("stale")}})
	wantError(t, "stale dynamic group etag", err, http.StatusPreconditionFailed, "NoEtagMatch")
	dgs, err := c.ListDynamicGroups(ctx, identity.ListDynamicGroupsRequest{CompartmentId: common.String(tenancy)})
	if err != nil || len(dgs.Items) != 1 {
		t.Fatalf("ListDynamicGroups: %v", err)
	}

	// Policies: statements validated on write, with the position.
	good := "Allow dynamic-group app-prod to read secret-family in compartment AppSecrets where target.secret.name = 'db-*'"
	p, err := c.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: common.String(tenancy), Name: common.String("app secrets"), Description: common.String("apps read db secrets"),
		Statements: []string{good}, VersionDate: &common.SDKDate{Date: time.Date(2024, 5, 17, 0, 0, 0, 0, time.UTC)}}})
	if err != nil {
		t.Fatalf("CreatePolicy: %v", err)
	}
	if p.VersionDate == nil || p.VersionDate.Date.Format("2006-01-02") != "2024-05-17" || len(p.Statements) != 1 || p.LifecycleState != identity.PolicyLifecycleStateActive {
		t.Fatalf("policy: %+v", p.Policy)
	}
	_, err = c.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: common.String(tenancy), Name: common.String("typo"), Description: common.String("x"),
		Statements: []string{"Allow group Administrators to read vaults in tenancy", "Allow group Administrators to reed vaults in tenancy"}}})
	se = wantError(t, "invalid statement", err, http.StatusBadRequest, "InvalidParameter")
	for _, want := range []string{"statements[1]", "position 31", "expected", `"reed"`} {
		if !strings.Contains(se.GetMessage(), want) {
			t.Fatalf("statement error %q lacks %q", se.GetMessage(), want)
		}
	}
	_, err = c.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: common.String(tenancy), Name: common.String("ghost"), Description: common.String("x"),
		Statements: []string{"Allow group Ghosts to read vaults in tenancy"}}})
	se = wantError(t, "unknown group", err, http.StatusBadRequest, "InvalidParameter")
	if !strings.Contains(se.GetMessage(), "Ghosts") {
		t.Fatalf("unknown group message %q", se.GetMessage())
	}
	_, err = c.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: common.String(tenancy), Name: common.String("App Secrets"), Description: common.String("dup"), Statements: []string{good}}})
	wantError(t, "duplicate policy", err, http.StatusConflict, "NotAuthorizedOrResourceAlreadyExists")

	gp, err := c.GetPolicy(ctx, identity.GetPolicyRequest{PolicyId: p.Id})
	if err != nil || gp.Statements[0] != good {
		t.Fatalf("GetPolicy: %v", err)
	}
	up, err := c.UpdatePolicy(ctx, identity.UpdatePolicyRequest{PolicyId: p.Id, IfMatch: gp.Etag, UpdatePolicyDetails: identity.UpdatePolicyDetails{
		Statements: []string{good, "Allow dynamic-group app-prod to use keys in compartment AppSecrets"}}})
	if err != nil || len(up.Statements) != 2 {
		t.Fatalf("UpdatePolicy: %v", err)
	}
	_, err = c.UpdatePolicy(ctx, identity.UpdatePolicyRequest{PolicyId: p.Id, IfMatch: gp.Etag, UpdatePolicyDetails: identity.UpdatePolicyDetails{Description: common.String("stale")}})
	wantError(t, "stale policy etag", err, http.StatusPreconditionFailed, "NoEtagMatch")
	_, err = c.UpdatePolicy(ctx, identity.UpdatePolicyRequest{PolicyId: p.Id, UpdatePolicyDetails: identity.UpdatePolicyDetails{Statements: []string{"Allow"}}})
	wantError(t, "UpdatePolicy with a bad statement", err, http.StatusBadRequest, "InvalidParameter")
	pols, err := c.ListPolicies(ctx, identity.ListPoliciesRequest{CompartmentId: common.String(tenancy), SortBy: identity.ListPoliciesSortByName})
	if err != nil || len(pols.Items) != 2 || *pols.Items[0].Name != "Administrators" {
		t.Fatalf("ListPolicies: %v %d", err, len(pols.Items))
	}
	if _, err := c.DeletePolicy(ctx, identity.DeletePolicyRequest{PolicyId: p.Id}); err != nil {
		t.Fatalf("DeletePolicy: %v", err)
	}
	_, err = c.GetPolicy(ctx, identity.GetPolicyRequest{PolicyId: p.Id})
	wantError(t, "deleted policy", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	if _, err := c.DeleteDynamicGroup(ctx, identity.DeleteDynamicGroupRequest{DynamicGroupId: d.Id}); err != nil {
		t.Fatalf("DeleteDynamicGroup: %v", err)
	}
	_, err = c.GetDynamicGroup(ctx, identity.GetDynamicGroupRequest{DynamicGroupId: d.Id})
	wantError(t, "deleted dynamic group", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
}

// A user without identity grants sees 404 on identity reads, and every
// user may manage his own API keys (OCI's self-service rule).
func TestIdentityAuthorization(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	tenancy := keystest.Tenancy(t, env)
	admin := identityClient(t, env, env.Provider)
	e := newUser(t, admin, tenancy, "erin")
	f := newUser(t, admin, tenancy, "frank")
	ec := identityClient(t, env, e.Provider)

	_, err := ec.ListUsers(ctx, identity.ListUsersRequest{CompartmentId: common.String(tenancy)})
	wantError(t, "erin ListUsers", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	_, err = ec.CreatePolicy(ctx, identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
		CompartmentId: common.String(tenancy), Name: common.String("self"), Description: common.String("x"),
		Statements: []string{"Allow any-user to manage all-resources in tenancy"}}})
	wantError(t, "erin CreatePolicy", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
	if _, err := ec.ListApiKeys(ctx, identity.ListApiKeysRequest{UserId: e.User.Id}); err != nil {
		t.Fatalf("erin lists her own keys: %v", err)
	}
	_, err = ec.ListApiKeys(ctx, identity.ListApiKeysRequest{UserId: f.User.Id})
	wantError(t, "erin lists frank's keys", err, http.StatusNotFound, "NotAuthorizedOrNotFound")
}
