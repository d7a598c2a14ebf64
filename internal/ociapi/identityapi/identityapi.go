// Package identityapi serves the OCI IdentityClient operations Coffer
// supports (tenancy, regions and region subscriptions, availability and
// fault domains, compartments and moving them, work requests, users, API
// keys, console passwords, groups, memberships, dynamic groups, policies) over
// internal/identity, and Coffer's own administrator-only explain API.
//
// Decisions where OCI's behaviour is not documented or not observable here:
//   - a duplicate name (users, groups and dynamic groups tenancy-wide;
//     policies and compartments per parent) is 409
//     NotAuthorizedOrResourceAlreadyExists, the conventional create
//     conflict (docs/oci-behaviours.md#errors);
//   - a fourth API key is 400 LimitExceeded;
//   - deleting a compartment that holds anything (child compartments,
//     policies, vaults, secrets) is 409 Conflict naming what is left;
//     deleting a group with members or a user in groups is 409 Conflict;
//   - deleted users, groups, dynamic groups, memberships and policies are
//     gone (GET answers 404); deleted compartments stay visible as DELETED;
//   - accessLevel=ACCESSIBLE keeps the compartments on which the caller
//     holds COMPARTMENT_INSPECT;
//   - UpdateGroup and UpdateDynamicGroup also accept "name" (a Coffer
//     extension; the SDK's models have no such field). Renaming a group,
//     dynamic group or compartment rewrites the policy statements that
//     name it, so access is unchanged and GetPolicy shows the new name
//     (internal/identity's package comment has the rule).
package identityapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	idn "github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// Handlers serves the identity operations.
type Handlers struct {
	Identity *idn.Service
	// Region is the one region the tenancy subscribes to.
	Region string
	// Usage is asked before DeleteCompartment (vaults, secrets, ...).
	Usage []idn.CompartmentUsage
	// Authorizer decides accessLevel=ACCESSIBLE per compartment (no audit
	// record per compartment; the list call itself is audited).
	Authorizer authz.Authorizer
	// Explain serves `coffer iam explain`; nil leaves the route out.
	Explain *Explainer
}

const base = "/20160918"

// Routes returns the IdentityClient routes.
func (h *Handlers) Routes() []ociapi.Route {
	compartments, users, groups, memberships, dynamicGroups, policies := h.compartments(), h.users(), h.groups(), h.memberships(), h.dynamicGroups(), h.policies()
	rs := []ociapi.Route{
		{Pattern: "GET " + base + "/tenancies/{tenancyId}", Operation: "GetTenancy", Handler: h.getTenancy},
		{Pattern: "GET " + base + "/tenancies/{tenancyId}/regionSubscriptions", Operation: "ListRegionSubscriptions", Handler: h.listRegions},

		{Pattern: "POST " + base + "/compartments", Operation: "CreateCompartment", RetryToken: true, Handler: h.createCompartment},
		{Pattern: "GET " + base + "/compartments", Operation: "ListCompartments", Handler: h.listCompartments},
		{Pattern: "GET " + base + "/compartments/{compartmentId}", Operation: "GetCompartment", Handler: compartments.get},
		{Pattern: "PUT " + base + "/compartments/{compartmentId}", Operation: "UpdateCompartment", Handler: update(compartments, h.updateCompartment)},
		{Pattern: "DELETE " + base + "/compartments/{compartmentId}", Operation: "DeleteCompartment", Handler: h.deleteCompartment},

		{Pattern: "POST " + base + "/users", Operation: "CreateUser", RetryToken: true, Handler: createInTenancy(h, users, newUserVars, h.createUser)},
		{Pattern: "GET " + base + "/users", Operation: "ListUsers", Handler: h.listUsers},
		{Pattern: "GET " + base + "/users/{userId}", Operation: "GetUser", Handler: users.get},
		{Pattern: "PUT " + base + "/users/{userId}", Operation: "UpdateUser", Handler: update(users, h.updateUser)},
		{Pattern: "DELETE " + base + "/users/{userId}", Operation: "DeleteUser", Handler: users.remove(h.Identity.DeleteUser)},
		{Pattern: "PUT " + base + "/users/{userId}/state", Operation: "UpdateUserState", Handler: h.updateUserState},
		{Pattern: "POST " + base + "/users/{userId}/apiKeys", Operation: "UploadApiKey", RetryToken: true, Handler: h.uploadAPIKey},
		{Pattern: "GET " + base + "/users/{userId}/apiKeys", Operation: "ListApiKeys", Handler: h.listAPIKeys},
		{Pattern: "DELETE " + base + "/users/{userId}/apiKeys/{fingerprint}", Operation: "DeleteApiKey", Handler: h.deleteAPIKey},
		{Pattern: "POST " + base + "/users/{userId}/uiPassword", Operation: "CreateOrResetUIPassword", Handler: h.createOrResetUIPassword},
		{Pattern: "GET " + base + "/users/{userId}/uiPassword", Operation: "GetUserUIPasswordInformation", Handler: h.getUIPasswordInformation},

		{Pattern: "POST " + base + "/groups", Operation: "CreateGroup", RetryToken: true, Handler: createInTenancy(h, groups, newGroupVars, h.createGroup)},
		{Pattern: "GET " + base + "/groups", Operation: "ListGroups", Handler: h.listGroups},
		{Pattern: "GET " + base + "/groups/{groupId}", Operation: "GetGroup", Handler: groups.get},
		{Pattern: "PUT " + base + "/groups/{groupId}", Operation: "UpdateGroup", Handler: update(groups, h.updateGroup)},
		{Pattern: "DELETE " + base + "/groups/{groupId}", Operation: "DeleteGroup", Handler: groups.remove(h.Identity.DeleteGroup)},

		{Pattern: "POST " + base + "/userGroupMemberships", Operation: "AddUserToGroup", RetryToken: true, Handler: h.addUserToGroup},
		{Pattern: "GET " + base + "/userGroupMemberships", Operation: "ListUserGroupMemberships", Handler: h.listMemberships},
		{Pattern: "GET " + base + "/userGroupMemberships/{userGroupMembershipId}", Operation: "GetUserGroupMembership", Handler: memberships.get},
		{Pattern: "DELETE " + base + "/userGroupMemberships/{userGroupMembershipId}", Operation: "RemoveUserFromGroup", Handler: memberships.remove(h.Identity.RemoveUserFromGroup)},

		{Pattern: "POST " + base + "/dynamicGroups", Operation: "CreateDynamicGroup", RetryToken: true, Handler: createInTenancy(h, dynamicGroups, newDynamicGroupVars, h.createDynamicGroup)},
		{Pattern: "GET " + base + "/dynamicGroups", Operation: "ListDynamicGroups", Handler: h.listDynamicGroups},
		{Pattern: "GET " + base + "/dynamicGroups/{dynamicGroupId}", Operation: "GetDynamicGroup", Handler: dynamicGroups.get},
		{Pattern: "PUT " + base + "/dynamicGroups/{dynamicGroupId}", Operation: "UpdateDynamicGroup", Handler: update(dynamicGroups, h.updateDynamicGroup)},
		{Pattern: "DELETE " + base + "/dynamicGroups/{dynamicGroupId}", Operation: "DeleteDynamicGroup", Handler: dynamicGroups.remove(h.Identity.DeleteDynamicGroup)},

		{Pattern: "POST " + base + "/policies", Operation: "CreatePolicy", RetryToken: true, Handler: h.createPolicy},
		{Pattern: "GET " + base + "/policies", Operation: "ListPolicies", Handler: h.listPolicies},
		{Pattern: "GET " + base + "/policies/{policyId}", Operation: "GetPolicy", Handler: policies.get},
		{Pattern: "PUT " + base + "/policies/{policyId}", Operation: "UpdatePolicy", Handler: update(policies, h.updatePolicy)},
		{Pattern: "DELETE " + base + "/policies/{policyId}", Operation: "DeletePolicy", Handler: policies.remove(h.Identity.DeletePolicy)},
	}
	rs = append(rs, h.moveRoutes()...)
	rs = append(rs, ociapi.Route{Pattern: "POST " + LintPath, Operation: iam.OperationLintPolicy, ReadOnly: true, MaxBody: lintMaxBody, Handler: h.lintPolicy})
	if h.Explain != nil {
		rs = append(rs, ociapi.Route{Pattern: "POST " + ExplainPath, Operation: "ExplainAuthorization", ReadOnly: true, Handler: h.Explain.serve},
			ociapi.Route{Pattern: "POST " + ExplainOwnPath, Operation: iam.OperationExplainOwnAuthorization, ReadOnly: true, Handler: h.Explain.serveOwn})
	}
	return rs
}

// listSpec is what an identity List operation accepts: its sortBy values
// (the same TIMECREATED and NAME for all) and its resource's states.
func listSpec(states []string) ociapi.ListSpec {
	return ociapi.ListSpec{SortBy: identity.GetListUsersSortByEnumStringValues(), LifecycleStates: states}
}

// authorizeInTenancy authorizes an operation on a tenancy-level identity
// resource, with its target variables.
func (h *Handlers) authorizeInTenancy(c *ociapi.Call, vars map[string]string) error {
	t, err := h.Identity.TenancyID(c.Context())
	if err != nil {
		return err
	}
	return c.Authorize(authz.Request{CompartmentID: t, Vars: vars})
}

// ---- tenancy ----

// loadTenancy reads the tenancy named in the path (the only one there is)
// and authorizes the operation on it.
func (h *Handlers) loadTenancy(c *ociapi.Call) (idn.Tenancy, error) {
	t, err := h.Identity.Tenancy(c.Context())
	if err != nil {
		return t, err
	}
	if id, err := c.PathID("tenancyId", ocid.Tenancy); err != nil {
		return t, err
	} else if id != t.ID {
		return t, errs.E(errs.NotFound, "tenancy %s not found or not authorized", id)
	}
	return t, c.Authorize(authz.Request{CompartmentID: t.ID})
}

func (h *Handlers) getTenancy(c *ociapi.Call) error {
	t, err := h.loadTenancy(c)
	if err != nil {
		return err
	}
	ff, def := ociapi.Tags(nil, nil)
	return c.Reply("", identity.Tenancy{Id: common.String(t.ID), Name: common.String(t.Name), Description: common.String(t.Description),
		HomeRegionKey: common.String(regionKey(t.HomeRegion)), FreeformTags: ff, DefinedTags: def})
}

// regionKey is the short key of a region: OCI's three-letter keys are the
// uppercase of the short code; a Coffer region name is upper-cased whole.
func regionKey(region string) string { return strings.ToUpper(region) }

func (h *Handlers) listRegions(c *ociapi.Call) error {
	if _, err := h.loadTenancy(c); err != nil {
		return err
	}
	return c.ReplyList([]identity.RegionSubscription{{
		RegionKey: common.String(regionKey(h.Region)), RegionName: common.String(h.Region),
		Status: identity.RegionSubscriptionStatusReady, IsHomeRegion: common.Bool(true),
	}}, "")
}

// ---- compartments ----

func compartmentModel(v idn.Compartment) identity.Compartment {
	ff, def := ociapi.Tags(v.FreeformTags, v.DefinedTags)
	return identity.Compartment{Id: common.String(v.ID), CompartmentId: common.String(v.ParentID), Name: common.String(v.Name),
		Description: common.String(v.Description), TimeCreated: &common.SDKTime{Time: v.TimeCreated},
		LifecycleState: identity.CompartmentLifecycleStateEnum(v.State), IsAccessible: common.Bool(true),
		FreeformTags: ff, DefinedTags: def}
}

func (h *Handlers) compartments() kind[idn.Compartment, identity.Compartment] {
	return kind[idn.Compartment, identity.Compartment]{load: h.loadCompartment, model: compartmentModel,
		ref: func(v idn.Compartment) (string, string) { return v.ID, v.ETag }}
}

func (h *Handlers) loadCompartment(c *ociapi.Call) (idn.Compartment, error) {
	id, err := c.PathID("compartmentId", ociapi.Compartments...)
	if err != nil {
		return idn.Compartment{}, err
	}
	v, err := h.Identity.GetCompartment(c.Context(), id)
	if err != nil {
		return v, err
	}
	if v.State == idn.StateDeleted {
		// A deleted compartment is no longer in the policy tree; it is
		// visible to whoever may inspect its parent.
		return v, c.Authorize(authz.Request{CompartmentID: v.ParentID})
	}
	return v, c.Authorize(authz.Request{CompartmentID: v.ID})
}

func (h *Handlers) createCompartment(c *ociapi.Call) error {
	var d identity.CreateCompartmentDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	parent, err := ociapi.CheckID("compartmentId (the parent compartment)", ociapi.Deref(d.CompartmentId), ociapi.Compartments...)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: parent}); err != nil {
		return err
	}
	v, err := h.Identity.CreateCompartment(c.Context(), idn.CompartmentInput{ParentID: parent, Name: d.Name,
		Description: d.Description, FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags})
	return h.compartments().reply(c, v, err)
}

func (h *Handlers) listCompartments(c *ociapi.Call) error {
	parent, o, err := listQuery(c, listSpec(identity.GetCompartmentLifecycleStateEnumStringValues()))
	if err != nil {
		return err
	}
	subtree := false
	if s := c.Query("compartmentIdInSubtree"); s != "" {
		if subtree, err = strconv.ParseBool(s); err != nil {
			return errs.E(errs.Invalid, "query parameter compartmentIdInSubtree must be true or false")
		}
	}
	in := idn.ListCompartmentsInput{ParentID: parent, Subtree: subtree, ListOptions: o}
	level, err := c.QueryEnum("accessLevel", "ANY", "ACCESSIBLE")
	if err != nil {
		return err
	}
	switch level {
	case "", "ANY":
		if err := c.Authorize(authz.Request{CompartmentID: parent}); err != nil {
			return err
		}
	case "ACCESSIBLE":
		// The caller sees the compartments it may inspect, wherever they
		// are; the list itself needs no grant on the parent.
		in.Keep = func(v idn.Compartment) bool {
			d, err := h.Authorizer.Authorize(c.Context(), authz.Request{Principal: c.Principal, Operation: "GetCompartment", CompartmentID: v.ID})
			return err == nil && d.Allowed
		}
	}
	items, next, err := h.Identity.ListCompartments(c.Context(), in)
	if err != nil {
		return err
	}
	return c.ReplyList(ociapi.Models(items, compartmentModel), next)
}

func (h *Handlers) updateCompartment(ctx context.Context, id string, d identity.UpdateCompartmentDetails, ifMatch string) (idn.Compartment, error) {
	return h.Identity.UpdateCompartment(ctx, id, idn.CompartmentInput{Name: d.Name, Description: d.Description,
		FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags}, ifMatch)
}

// ---- users and API keys ----

func userModel(u idn.User) identity.User {
	ff, def := ociapi.Tags(u.FreeformTags, u.DefinedTags)
	m := identity.User{Id: common.String(u.ID), CompartmentId: common.String(u.TenancyID), Name: common.String(u.Name),
		Description: common.String(u.Description), TimeCreated: &common.SDKTime{Time: u.TimeCreated},
		LifecycleState: identity.UserLifecycleStateEnum(u.State), IsMfaActivated: common.Bool(false),
		EmailVerified: common.Bool(false), FreeformTags: ff, DefinedTags: def,
		Capabilities: &identity.UserCapabilities{CanUseApiKeys: common.Bool(true), CanUseConsolePassword: common.Bool(true),
			CanUseAuthTokens: common.Bool(false), CanUseSmtpCredentials: common.Bool(false), CanUseDbCredentials: common.Bool(false),
			CanUseCustomerSecretKeys: common.Bool(false), CanUseOAuth2ClientCredentials: common.Bool(false)}}
	if u.Email != "" {
		m.Email = common.String(u.Email)
	}
	if u.InactiveStatus != 0 {
		m.InactiveStatus = common.Int64(u.InactiveStatus)
	}
	return m
}

func (h *Handlers) users() kind[idn.User, identity.User] {
	return kind[idn.User, identity.User]{load: loadInTenancy(h, "userId", ocid.User, h.Identity.GetUser, idn.User.Vars), model: userModel,
		ref: func(u idn.User) (string, string) { return u.ID, u.ETag }}
}

func newUserVars(d identity.CreateUserDetails) map[string]string {
	return idn.User{Name: ociapi.Deref(d.Name)}.Vars()
}

func (h *Handlers) createUser(ctx context.Context, d identity.CreateUserDetails) (idn.User, error) {
	return h.Identity.CreateUser(ctx, idn.UserInput{CompartmentID: ociapi.Deref(d.CompartmentId), Name: d.Name,
		Description: d.Description, Email: d.Email, FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags})
}

func (h *Handlers) listUsers(c *ociapi.Call) error {
	return listIn(c, listSpec(identity.GetUserLifecycleStateEnumStringValues()), userModel, h.Identity.ListUsers)
}

func (h *Handlers) updateUser(ctx context.Context, id string, d identity.UpdateUserDetails, ifMatch string) (idn.User, error) {
	return h.Identity.UpdateUser(ctx, id, idn.UserInput{Description: d.Description, Email: d.Email,
		FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags}, ifMatch)
}

// updateUserState checks the body before loading the user: a request
// without blocked is 400 whoever sends it.
func (h *Handlers) updateUserState(c *ociapi.Call) error {
	var d identity.UpdateStateDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if d.Blocked == nil {
		return errs.E(errs.Missing, "blocked is required")
	}
	users := h.users()
	u, err := users.load(c)
	if err != nil {
		return err
	}
	u, err = h.Identity.UpdateUserState(c.Context(), u.ID, *d.Blocked, c.IfMatch())
	return users.reply(c, u, err)
}

func apiKeyModel(tenancy string, k idn.APIKey) identity.ApiKey {
	return identity.ApiKey{KeyId: common.String(tenancy + "/" + k.UserID + "/" + k.Fingerprint), KeyValue: common.String(k.PublicPEM),
		Fingerprint: common.String(k.Fingerprint), UserId: common.String(k.UserID), TimeCreated: &common.SDKTime{Time: k.TimeCreated},
		LifecycleState: identity.ApiKeyLifecycleStateEnum(k.State)}
}

func (h *Handlers) uploadAPIKey(c *ociapi.Call) error {
	var d identity.CreateApiKeyDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	u, err := h.users().load(c)
	if err != nil {
		return err
	}
	k, err := h.Identity.UploadAPIKey(c.Context(), u.ID, ociapi.Deref(d.Key))
	if err != nil {
		return err
	}
	return c.Reply("", apiKeyModel(u.TenancyID, k))
}

func (h *Handlers) listAPIKeys(c *ociapi.Call) error {
	u, err := h.users().load(c)
	if err != nil {
		return err
	}
	keys, err := h.Identity.ListAPIKeys(c.Context(), u.ID)
	if err != nil {
		return err
	}
	return c.ReplyList(ociapi.Models(keys, func(k idn.APIKey) identity.ApiKey { return apiKeyModel(u.TenancyID, k) }), "")
}

func (h *Handlers) deleteAPIKey(c *ociapi.Call) error {
	fp := c.PathValue("fingerprint")
	if !validFingerprint(fp) {
		return errs.E(errs.Invalid, "fingerprint must be an API key fingerprint: 16 pairs of hex digits separated by ':'")
	}
	u, err := h.users().load(c)
	if err != nil {
		return err
	}
	if err := h.Identity.DeleteAPIKey(c.Context(), u.ID, fp); err != nil {
		return err
	}
	return c.ReplyEmpty(http.StatusNoContent, "")
}

// createOrResetUIPassword generates a console password and returns it
// once. It honours no opc-retry-token: a replayed answer would put the
// password in the retry-token store.
func (h *Handlers) createOrResetUIPassword(c *ociapi.Call) error {
	u, err := h.users().load(c)
	if err != nil {
		return err
	}
	p, err := h.Identity.CreateOrResetUIPassword(c.Context(), u.ID)
	if err != nil {
		return err
	}
	m := uiPasswordModel(p.UIPassword)
	m.Password = common.String(string(p.Password))
	return c.Reply("", m)
}

func (h *Handlers) getUIPasswordInformation(c *ociapi.Call) error {
	u, err := h.users().load(c)
	if err != nil {
		return err
	}
	p, err := h.Identity.UIPasswordInformation(c.Context(), u.ID)
	if err != nil {
		return err
	}
	return c.Reply("", identity.UiPasswordInformation{UserId: common.String(p.UserID),
		TimeCreated: &common.SDKTime{Time: p.TimeCreated}, LifecycleState: identity.UiPasswordInformationLifecycleStateEnum(p.State)})
}

func uiPasswordModel(p idn.UIPassword) identity.UiPassword {
	return identity.UiPassword{UserId: common.String(p.UserID), TimeCreated: &common.SDKTime{Time: p.TimeCreated},
		LifecycleState: identity.UiPasswordLifecycleStateEnum(p.State)}
}

// ---- groups and memberships ----

func groupModel(g idn.Group) identity.Group {
	ff, def := ociapi.Tags(g.FreeformTags, g.DefinedTags)
	return identity.Group{Id: common.String(g.ID), CompartmentId: common.String(g.TenancyID), Name: common.String(g.Name),
		Description: common.String(g.Description), TimeCreated: &common.SDKTime{Time: g.TimeCreated},
		LifecycleState: identity.GroupLifecycleStateEnum(g.State), FreeformTags: ff, DefinedTags: def}
}

func (h *Handlers) groups() kind[idn.Group, identity.Group] {
	return kind[idn.Group, identity.Group]{load: loadInTenancy(h, "groupId", ocid.Group, h.Identity.GetGroup, idn.Group.Vars), model: groupModel,
		ref: func(g idn.Group) (string, string) { return g.ID, g.ETag }}
}

func newGroupVars(d identity.CreateGroupDetails) map[string]string {
	return idn.Group{Name: ociapi.Deref(d.Name)}.Vars()
}

func (h *Handlers) createGroup(ctx context.Context, d identity.CreateGroupDetails) (idn.Group, error) {
	return h.Identity.CreateGroup(ctx, idn.GroupInput{CompartmentID: ociapi.Deref(d.CompartmentId), Name: d.Name,
		Description: d.Description, FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags})
}

func (h *Handlers) listGroups(c *ociapi.Call) error {
	return listIn(c, listSpec(identity.GetGroupLifecycleStateEnumStringValues()), groupModel, h.Identity.ListGroups)
}

// renameDetails adds name to the SDK's UpdateGroupDetails and
// UpdateDynamicGroupDetails: Coffer renames groups and dynamic groups, as
// OCI's identity domains do, though the IdentityClient models have no name
// field (so the SDK sends one only in a raw request).
type renameDetails struct {
	Name *string `json:"name"`
}

type updateGroupDetails struct {
	identity.UpdateGroupDetails
	renameDetails
}

func (h *Handlers) updateGroup(ctx context.Context, id string, d updateGroupDetails, ifMatch string) (idn.Group, error) {
	return h.Identity.UpdateGroup(ctx, id, idn.GroupInput{Name: d.Name, Description: d.Description,
		FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags}, ifMatch)
}

func membershipModel(m idn.Membership) identity.UserGroupMembership {
	return identity.UserGroupMembership{Id: common.String(m.ID), CompartmentId: common.String(m.TenancyID),
		GroupId: common.String(m.GroupID), UserId: common.String(m.UserID), TimeCreated: &common.SDKTime{Time: m.TimeCreated},
		LifecycleState: identity.UserGroupMembershipLifecycleStateEnum(m.State)}
}

func (h *Handlers) memberships() kind[idn.Membership, identity.UserGroupMembership] {
	return kind[idn.Membership, identity.UserGroupMembership]{load: loadInTenancy(h, "userGroupMembershipId", ocid.Membership, h.Identity.GetMembership, idn.Membership.Vars),
		model: membershipModel, ref: func(m idn.Membership) (string, string) { return m.ID, m.ETag }}
}

func (h *Handlers) addUserToGroup(c *ociapi.Call) error {
	var d identity.AddUserToGroupDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	userID, err := ociapi.CheckID("userId", ociapi.Deref(d.UserId), ocid.User)
	if err != nil {
		return err
	}
	groupID, err := ociapi.CheckID("groupId", ociapi.Deref(d.GroupId), ocid.Group)
	if err != nil {
		return err
	}
	if err := h.authorizeInTenancy(c, idn.Membership{UserID: userID, GroupID: groupID}.Vars()); err != nil {
		return err
	}
	m, err := h.Identity.AddUserToGroup(c.Context(), userID, groupID)
	return h.memberships().reply(c, m, err)
}

func (h *Handlers) listMemberships(c *ociapi.Call) error {
	userID, err := c.OptionalQueryID("userId", ocid.User)
	if err != nil {
		return err
	}
	groupID, err := c.OptionalQueryID("groupId", ocid.Group)
	if err != nil {
		return err
	}
	return listIn(c, ociapi.ListSpec{}, membershipModel, func(ctx context.Context, comp string, o idn.ListOptions) ([]idn.Membership, string, error) {
		return h.Identity.ListMemberships(ctx, comp, userID, groupID, o)
	})
}

// ---- dynamic groups ----

func dynamicGroupModel(d idn.DynamicGroup) identity.DynamicGroup {
	ff, def := ociapi.Tags(d.FreeformTags, d.DefinedTags)
	return identity.DynamicGroup{Id: common.String(d.ID), CompartmentId: common.String(d.TenancyID), Name: common.String(d.Name),
		Description: common.String(d.Description), MatchingRule: common.String(d.MatchingRule),
		TimeCreated: &common.SDKTime{Time: d.TimeCreated}, LifecycleState: identity.DynamicGroupLifecycleStateEnum(d.State),
		FreeformTags: ff, DefinedTags: def}
}

func (h *Handlers) dynamicGroups() kind[idn.DynamicGroup, identity.DynamicGroup] {
	return kind[idn.DynamicGroup, identity.DynamicGroup]{load: loadInTenancy(h, "dynamicGroupId", ocid.DynamicGroup, h.Identity.GetDynamicGroup, idn.DynamicGroup.Vars),
		model: dynamicGroupModel, ref: func(d idn.DynamicGroup) (string, string) { return d.ID, d.ETag }}
}

func newDynamicGroupVars(d identity.CreateDynamicGroupDetails) map[string]string {
	return idn.DynamicGroup{Name: ociapi.Deref(d.Name)}.Vars()
}

func (h *Handlers) createDynamicGroup(ctx context.Context, d identity.CreateDynamicGroupDetails) (idn.DynamicGroup, error) {
	return h.Identity.CreateDynamicGroup(ctx, idn.GroupInput{CompartmentID: ociapi.Deref(d.CompartmentId), Name: d.Name,
		Description: d.Description, MatchingRule: d.MatchingRule, FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags})
}

func (h *Handlers) listDynamicGroups(c *ociapi.Call) error {
	return listIn(c, listSpec(identity.GetDynamicGroupLifecycleStateEnumStringValues()), dynamicGroupModel, h.Identity.ListDynamicGroups)
}

type updateDynamicGroupDetails struct {
	identity.UpdateDynamicGroupDetails
	renameDetails
}

func (h *Handlers) updateDynamicGroup(ctx context.Context, id string, d updateDynamicGroupDetails, ifMatch string) (idn.DynamicGroup, error) {
	return h.Identity.UpdateDynamicGroup(ctx, id, idn.GroupInput{Name: d.Name, Description: d.Description, MatchingRule: d.MatchingRule,
		FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags}, ifMatch)
}

// ---- policies ----

func policyModel(p idn.Policy) identity.Policy {
	ff, def := ociapi.Tags(p.FreeformTags, p.DefinedTags)
	m := identity.Policy{Id: common.String(p.ID), CompartmentId: common.String(p.CompartmentID), Name: common.String(p.Name),
		Statements: p.Statements, Description: common.String(p.Description), TimeCreated: &common.SDKTime{Time: p.TimeCreated},
		LifecycleState: identity.PolicyLifecycleStateEnum(p.State), FreeformTags: ff, DefinedTags: def}
	if m.Statements == nil {
		m.Statements = []string{}
	}
	if p.VersionDate != "" {
		if d, err := common.NewSDKDateFromString(p.VersionDate); err == nil {
			m.VersionDate = d
		}
	}
	return m
}

func sdkDate(d *common.SDKDate) *string {
	if d == nil || d.Date.IsZero() {
		return nil
	}
	return common.String(d.Date.Format("2006-01-02"))
}

func (h *Handlers) policies() kind[idn.Policy, identity.Policy] {
	return kind[idn.Policy, identity.Policy]{load: h.loadPolicy, model: policyModel,
		ref: func(p idn.Policy) (string, string) { return p.ID, p.ETag }}
}

func (h *Handlers) loadPolicy(c *ociapi.Call) (idn.Policy, error) {
	id, err := c.PathID("policyId", ocid.Policy)
	if err != nil {
		return idn.Policy{}, err
	}
	p, err := h.Identity.GetPolicy(c.Context(), id)
	if err != nil {
		return p, err
	}
	return p, c.Authorize(authz.Request{CompartmentID: p.CompartmentID, Vars: p.Vars()})
}

func (h *Handlers) createPolicy(c *ociapi.Call) error {
	var d identity.CreatePolicyDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	comp, err := ociapi.CheckID("compartmentId", ociapi.Deref(d.CompartmentId), ociapi.Compartments...)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: comp, Vars: idn.Policy{Name: ociapi.Deref(d.Name)}.Vars()}); err != nil {
		return err
	}
	p, err := h.Identity.CreatePolicy(c.Context(), idn.PolicyInput{CompartmentID: comp, Name: d.Name,
		Description: d.Description, Statements: d.Statements, VersionDate: sdkDate(d.VersionDate),
		FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags})
	return h.policies().reply(c, p, err)
}

func (h *Handlers) listPolicies(c *ociapi.Call) error {
	return listIn(c, listSpec(identity.GetPolicyLifecycleStateEnumStringValues()), policyModel, h.Identity.ListPolicies)
}

func (h *Handlers) updatePolicy(ctx context.Context, id string, d identity.UpdatePolicyDetails, ifMatch string) (idn.Policy, error) {
	return h.Identity.UpdatePolicy(ctx, id, idn.PolicyInput{Description: d.Description, Statements: d.Statements,
		VersionDate: sdkDate(d.VersionDate), FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags}, ifMatch)
}

// validFingerprint reports whether s has the form of an API key's
// fingerprint, the MD5 of its DER as OCI shows it: aa:bb:...:ff.
func validFingerprint(s string) bool {
	if len(s) != 16*3-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
