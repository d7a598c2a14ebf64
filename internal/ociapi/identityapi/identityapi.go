// Package identityapi serves the OCI IdentityClient operations Coffer
// supports (tenancy, region subscriptions, compartments, users, API keys,
// groups, memberships, dynamic groups, policies) over internal/identity,
// and Coffer's own administrator-only explain API.
//
// Decisions where OCI's behaviour is not documented or not observable here:
//   - a duplicate name (users, groups and dynamic groups tenancy-wide;
//     policies and compartments per parent) is 409
//     NotAuthorizedOrResourceAlreadyExists, the conventional create
//     conflict of reference 2.5;
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
	"strconv"
	"strings"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	idn "github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/ociapi"
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
	rs := []ociapi.Route{
		{Pattern: "GET " + base + "/tenancies/{tenancyId}", Operation: "GetTenancy", Handler: h.getTenancy},
		{Pattern: "GET " + base + "/tenancies/{tenancyId}/regionSubscriptions", Operation: "ListRegionSubscriptions", Handler: h.listRegions},

		{Pattern: "POST " + base + "/compartments", Operation: "CreateCompartment", RetryToken: true, Handler: h.createCompartment},
		{Pattern: "GET " + base + "/compartments", Operation: "ListCompartments", Handler: h.listCompartments},
		{Pattern: "GET " + base + "/compartments/{compartmentId}", Operation: "GetCompartment", Handler: h.getCompartment},
		{Pattern: "PUT " + base + "/compartments/{compartmentId}", Operation: "UpdateCompartment", Handler: h.updateCompartment},
		{Pattern: "DELETE " + base + "/compartments/{compartmentId}", Operation: "DeleteCompartment", Handler: h.deleteCompartment},

		{Pattern: "POST " + base + "/users", Operation: "CreateUser", RetryToken: true, Handler: h.createUser},
		{Pattern: "GET " + base + "/users", Operation: "ListUsers", Handler: h.listUsers},
		{Pattern: "GET " + base + "/users/{userId}", Operation: "GetUser", Handler: h.getUser},
		{Pattern: "PUT " + base + "/users/{userId}", Operation: "UpdateUser", Handler: h.updateUser},
		{Pattern: "DELETE " + base + "/users/{userId}", Operation: "DeleteUser", Handler: h.deleteUser},
		{Pattern: "PUT " + base + "/users/{userId}/state", Operation: "UpdateUserState", Handler: h.updateUserState},
		{Pattern: "POST " + base + "/users/{userId}/apiKeys", Operation: "UploadApiKey", RetryToken: true, Handler: h.uploadAPIKey},
		{Pattern: "GET " + base + "/users/{userId}/apiKeys", Operation: "ListApiKeys", Handler: h.listAPIKeys},
		{Pattern: "DELETE " + base + "/users/{userId}/apiKeys/{fingerprint}", Operation: "DeleteApiKey", Handler: h.deleteAPIKey},

		{Pattern: "POST " + base + "/groups", Operation: "CreateGroup", RetryToken: true, Handler: h.createGroup},
		{Pattern: "GET " + base + "/groups", Operation: "ListGroups", Handler: h.listGroups},
		{Pattern: "GET " + base + "/groups/{groupId}", Operation: "GetGroup", Handler: h.getGroup},
		{Pattern: "PUT " + base + "/groups/{groupId}", Operation: "UpdateGroup", Handler: h.updateGroup},
		{Pattern: "DELETE " + base + "/groups/{groupId}", Operation: "DeleteGroup", Handler: h.deleteGroup},

		{Pattern: "POST " + base + "/userGroupMemberships", Operation: "AddUserToGroup", RetryToken: true, Handler: h.addUserToGroup},
		{Pattern: "GET " + base + "/userGroupMemberships", Operation: "ListUserGroupMemberships", Handler: h.listMemberships},
		{Pattern: "GET " + base + "/userGroupMemberships/{userGroupMembershipId}", Operation: "GetUserGroupMembership", Handler: h.getMembership},
		{Pattern: "DELETE " + base + "/userGroupMemberships/{userGroupMembershipId}", Operation: "RemoveUserFromGroup", Handler: h.removeUserFromGroup},

		{Pattern: "POST " + base + "/dynamicGroups", Operation: "CreateDynamicGroup", RetryToken: true, Handler: h.createDynamicGroup},
		{Pattern: "GET " + base + "/dynamicGroups", Operation: "ListDynamicGroups", Handler: h.listDynamicGroups},
		{Pattern: "GET " + base + "/dynamicGroups/{dynamicGroupId}", Operation: "GetDynamicGroup", Handler: h.getDynamicGroup},
		{Pattern: "PUT " + base + "/dynamicGroups/{dynamicGroupId}", Operation: "UpdateDynamicGroup", Handler: h.updateDynamicGroup},
		{Pattern: "DELETE " + base + "/dynamicGroups/{dynamicGroupId}", Operation: "DeleteDynamicGroup", Handler: h.deleteDynamicGroup},

		{Pattern: "POST " + base + "/policies", Operation: "CreatePolicy", RetryToken: true, Handler: h.createPolicy},
		{Pattern: "GET " + base + "/policies", Operation: "ListPolicies", Handler: h.listPolicies},
		{Pattern: "GET " + base + "/policies/{policyId}", Operation: "GetPolicy", Handler: h.getPolicy},
		{Pattern: "PUT " + base + "/policies/{policyId}", Operation: "UpdatePolicy", Handler: h.updatePolicy},
		{Pattern: "DELETE " + base + "/policies/{policyId}", Operation: "DeletePolicy", Handler: h.deletePolicy},
	}
	if h.Explain != nil {
		rs = append(rs, ociapi.Route{Pattern: "POST " + ExplainPath, Operation: "ExplainAuthorization", Handler: h.Explain.serve})
	}
	return rs
}

func listOptions(c *ociapi.Call) (idn.ListOptions, error) {
	limit, err := c.QueryInt("limit")
	if err != nil {
		return idn.ListOptions{}, err
	}
	return idn.ListOptions{Limit: limit, Page: c.Query("page"), Name: c.Query("name"),
		SortBy: c.Query("sortBy"), SortOrder: c.Query("sortOrder"), LifecycleState: c.Query("lifecycleState")}, nil
}

func (h *Handlers) tenancyID(ctx context.Context) (string, error) {
	t, err := h.Identity.Tenancy(ctx)
	return t.ID, err
}

// authorizeInTenancy authorizes an operation on a tenancy-level identity
// resource, with its target variables.
func (h *Handlers) authorizeInTenancy(c *ociapi.Call, vars map[string]string) error {
	t, err := h.tenancyID(c.Context())
	if err != nil {
		return err
	}
	return c.Authorize(authz.Request{CompartmentID: t, Vars: vars})
}

func emptyTags(ff map[string]string, def map[string]map[string]any) (map[string]string, map[string]map[string]interface{}) {
	if ff == nil {
		ff = map[string]string{}
	}
	if def == nil {
		def = map[string]map[string]any{}
	}
	return ff, def
}

// ---- tenancy ----

func (h *Handlers) getTenancy(c *ociapi.Call) error {
	t, err := h.Identity.Tenancy(c.Context())
	if err != nil {
		return err
	}
	if c.PathValue("tenancyId") != t.ID {
		return errs.E(errs.NotFound, "tenancy %s not found or not authorized", c.PathValue("tenancyId"))
	}
	if err := c.Authorize(authz.Request{CompartmentID: t.ID}); err != nil {
		return err
	}
	ff, def := emptyTags(nil, nil)
	return c.Reply("", identity.Tenancy{Id: common.String(t.ID), Name: common.String(t.Name), Description: common.String(t.Description),
		HomeRegionKey: common.String(regionKey(t.HomeRegion)), FreeformTags: ff, DefinedTags: def})
}

// regionKey is the short key of a region: OCI's three-letter keys are the
// uppercase of the short code; a Coffer region name is upper-cased whole.
func regionKey(region string) string { return strings.ToUpper(region) }

func (h *Handlers) listRegions(c *ociapi.Call) error {
	t, err := h.Identity.Tenancy(c.Context())
	if err != nil {
		return err
	}
	if c.PathValue("tenancyId") != t.ID {
		return errs.E(errs.NotFound, "tenancy %s not found or not authorized", c.PathValue("tenancyId"))
	}
	if err := c.Authorize(authz.Request{CompartmentID: t.ID}); err != nil {
		return err
	}
	return c.ReplyList([]identity.RegionSubscription{{
		RegionKey: common.String(regionKey(h.Region)), RegionName: common.String(h.Region),
		Status: identity.RegionSubscriptionStatusReady, IsHomeRegion: common.Bool(true),
	}}, "")
}

// ---- compartments ----

func compartmentModel(v idn.Compartment) identity.Compartment {
	ff, def := emptyTags(v.FreeformTags, v.DefinedTags)
	return identity.Compartment{Id: common.String(v.ID), CompartmentId: common.String(v.ParentID), Name: common.String(v.Name),
		Description: common.String(v.Description), TimeCreated: &common.SDKTime{Time: v.TimeCreated},
		LifecycleState: identity.CompartmentLifecycleStateEnum(v.State), IsAccessible: common.Bool(true),
		FreeformTags: ff, DefinedTags: def}
}

func (h *Handlers) loadCompartment(c *ociapi.Call) (idn.Compartment, error) {
	v, err := h.Identity.GetCompartment(c.Context(), c.PathValue("compartmentId"))
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
	if d.CompartmentId == nil || *d.CompartmentId == "" {
		return errs.E(errs.Missing, "compartmentId (the parent compartment) is required")
	}
	if err := c.Authorize(authz.Request{CompartmentID: *d.CompartmentId}); err != nil {
		return err
	}
	v, err := h.Identity.CreateCompartment(c.Context(), idn.CompartmentInput{ParentID: *d.CompartmentId, Name: d.Name,
		Description: d.Description, FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags})
	if err != nil {
		return err
	}
	return c.Reply(v.ETag, compartmentModel(v))
}

func (h *Handlers) getCompartment(c *ociapi.Call) error {
	v, err := h.loadCompartment(c)
	if err != nil {
		return err
	}
	return c.Reply(v.ETag, compartmentModel(v))
}

func (h *Handlers) listCompartments(c *ociapi.Call) error {
	parent := c.Query("compartmentId")
	if parent == "" {
		return errs.E(errs.Missing, "query parameter compartmentId is required")
	}
	o, err := listOptions(c)
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
	switch strings.ToUpper(c.Query("accessLevel")) {
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
	default:
		return errs.E(errs.Invalid, "accessLevel %q is not valid: allowed values are ANY, ACCESSIBLE", c.Query("accessLevel"))
	}
	items, next, err := h.Identity.ListCompartments(c.Context(), in)
	if err != nil {
		return err
	}
	out := make([]identity.Compartment, 0, len(items))
	for _, v := range items {
		out = append(out, compartmentModel(v))
	}
	return c.ReplyList(out, next)
}

func (h *Handlers) updateCompartment(c *ociapi.Call) error {
	var d identity.UpdateCompartmentDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	v, err := h.loadCompartment(c)
	if err != nil {
		return err
	}
	v, err = h.Identity.UpdateCompartment(c.Context(), v.ID, idn.CompartmentInput{Name: d.Name, Description: d.Description,
		FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags}, c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(v.ETag, compartmentModel(v))
}

func (h *Handlers) deleteCompartment(c *ociapi.Call) error {
	v, err := h.loadCompartment(c)
	if err != nil {
		return err
	}
	if err := h.Identity.DeleteCompartment(c.Context(), v.ID, c.IfMatch(), h.Usage...); err != nil {
		return err
	}
	return c.ReplyEmpty(204, "")
}

// ---- users and API keys ----

func userModel(u idn.User) identity.User {
	ff, def := emptyTags(u.FreeformTags, u.DefinedTags)
	m := identity.User{Id: common.String(u.ID), CompartmentId: common.String(u.TenancyID), Name: common.String(u.Name),
		Description: common.String(u.Description), TimeCreated: &common.SDKTime{Time: u.TimeCreated},
		LifecycleState: identity.UserLifecycleStateEnum(u.State), IsMfaActivated: common.Bool(false),
		EmailVerified: common.Bool(false), FreeformTags: ff, DefinedTags: def,
		Capabilities: &identity.UserCapabilities{CanUseApiKeys: common.Bool(true), CanUseConsolePassword: common.Bool(false),
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

func userVars(u idn.User) map[string]string {
	return map[string]string{"target.user.id": u.ID, "target.user.name": u.Name}
}

func (h *Handlers) loadUser(c *ociapi.Call) (idn.User, error) {
	u, err := h.Identity.GetUser(c.Context(), c.PathValue("userId"))
	if err != nil {
		return u, err
	}
	return u, h.authorizeInTenancy(c, userVars(u))
}

func (h *Handlers) createUser(c *ociapi.Call) error {
	var d identity.CreateUserDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if err := h.authorizeInTenancy(c, map[string]string{"target.user.name": strVal(d.Name)}); err != nil {
		return err
	}
	u, err := h.Identity.CreateUser(c.Context(), idn.UserInput{CompartmentID: strVal(d.CompartmentId), Name: d.Name,
		Description: d.Description, Email: d.Email, FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags})
	if err != nil {
		return err
	}
	return c.Reply(u.ETag, userModel(u))
}

func strVal(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (h *Handlers) getUser(c *ociapi.Call) error {
	u, err := h.loadUser(c)
	if err != nil {
		return err
	}
	return c.Reply(u.ETag, userModel(u))
}

func (h *Handlers) listUsers(c *ociapi.Call) error {
	comp := c.Query("compartmentId")
	if comp == "" {
		return errs.E(errs.Missing, "query parameter compartmentId is required")
	}
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: comp}); err != nil {
		return err
	}
	items, next, err := h.Identity.ListUsers(c.Context(), comp, o)
	if err != nil {
		return err
	}
	out := make([]identity.User, 0, len(items))
	for _, u := range items {
		out = append(out, userModel(u))
	}
	return c.ReplyList(out, next)
}

func (h *Handlers) updateUser(c *ociapi.Call) error {
	var d identity.UpdateUserDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	u, err := h.loadUser(c)
	if err != nil {
		return err
	}
	u, err = h.Identity.UpdateUser(c.Context(), u.ID, idn.UserInput{Description: d.Description, Email: d.Email,
		FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags}, c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(u.ETag, userModel(u))
}

func (h *Handlers) updateUserState(c *ociapi.Call) error {
	var d identity.UpdateStateDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if d.Blocked == nil {
		return errs.E(errs.Missing, "blocked is required")
	}
	u, err := h.loadUser(c)
	if err != nil {
		return err
	}
	u, err = h.Identity.UpdateUserState(c.Context(), u.ID, *d.Blocked, c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(u.ETag, userModel(u))
}

func (h *Handlers) deleteUser(c *ociapi.Call) error {
	u, err := h.loadUser(c)
	if err != nil {
		return err
	}
	if err := h.Identity.DeleteUser(c.Context(), u.ID, c.IfMatch()); err != nil {
		return err
	}
	return c.ReplyEmpty(204, "")
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
	u, err := h.loadUser(c)
	if err != nil {
		return err
	}
	k, err := h.Identity.UploadAPIKey(c.Context(), u.ID, strVal(d.Key))
	if err != nil {
		return err
	}
	return c.Reply("", apiKeyModel(u.TenancyID, k))
}

func (h *Handlers) listAPIKeys(c *ociapi.Call) error {
	u, err := h.loadUser(c)
	if err != nil {
		return err
	}
	keys, err := h.Identity.ListAPIKeys(c.Context(), u.ID)
	if err != nil {
		return err
	}
	out := make([]identity.ApiKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, apiKeyModel(u.TenancyID, k))
	}
	return c.ReplyList(out, "")
}

func (h *Handlers) deleteAPIKey(c *ociapi.Call) error {
	u, err := h.loadUser(c)
	if err != nil {
		return err
	}
	if err := h.Identity.DeleteAPIKey(c.Context(), u.ID, c.PathValue("fingerprint")); err != nil {
		return err
	}
	return c.ReplyEmpty(204, "")
}

// ---- groups and memberships ----

func groupModel(g idn.Group) identity.Group {
	ff, def := emptyTags(g.FreeformTags, g.DefinedTags)
	return identity.Group{Id: common.String(g.ID), CompartmentId: common.String(g.TenancyID), Name: common.String(g.Name),
		Description: common.String(g.Description), TimeCreated: &common.SDKTime{Time: g.TimeCreated},
		LifecycleState: identity.GroupLifecycleStateEnum(g.State), FreeformTags: ff, DefinedTags: def}
}

func (h *Handlers) loadGroup(c *ociapi.Call) (idn.Group, error) {
	g, err := h.Identity.GetGroup(c.Context(), c.PathValue("groupId"))
	if err != nil {
		return g, err
	}
	return g, h.authorizeInTenancy(c, map[string]string{"target.group.id": g.ID, "target.group.name": g.Name})
}

func (h *Handlers) createGroup(c *ociapi.Call) error {
	var d identity.CreateGroupDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if err := h.authorizeInTenancy(c, map[string]string{"target.group.name": strVal(d.Name)}); err != nil {
		return err
	}
	g, err := h.Identity.CreateGroup(c.Context(), idn.GroupInput{CompartmentID: strVal(d.CompartmentId), Name: d.Name,
		Description: d.Description, FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags})
	if err != nil {
		return err
	}
	return c.Reply(g.ETag, groupModel(g))
}

func (h *Handlers) getGroup(c *ociapi.Call) error {
	g, err := h.loadGroup(c)
	if err != nil {
		return err
	}
	return c.Reply(g.ETag, groupModel(g))
}

func (h *Handlers) listGroups(c *ociapi.Call) error {
	comp := c.Query("compartmentId")
	if comp == "" {
		return errs.E(errs.Missing, "query parameter compartmentId is required")
	}
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: comp}); err != nil {
		return err
	}
	items, next, err := h.Identity.ListGroups(c.Context(), comp, o)
	if err != nil {
		return err
	}
	out := make([]identity.Group, 0, len(items))
	for _, g := range items {
		out = append(out, groupModel(g))
	}
	return c.ReplyList(out, next)
}

// renameDetails adds name to the SDK's UpdateGroupDetails and
// UpdateDynamicGroupDetails: Coffer renames groups and dynamic groups, as
// OCI's identity domains do, though the IdentityClient models have no name
// field (so the SDK sends one only in a raw request).
type renameDetails struct {
	Name *string `json:"name"`
}

func (h *Handlers) updateGroup(c *ociapi.Call) error {
	var d struct {
		identity.UpdateGroupDetails
		renameDetails
	}
	if err := c.Decode(&d); err != nil {
		return err
	}
	g, err := h.loadGroup(c)
	if err != nil {
		return err
	}
	g, err = h.Identity.UpdateGroup(c.Context(), g.ID, idn.GroupInput{Name: d.Name, Description: d.Description,
		FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags}, c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(g.ETag, groupModel(g))
}

func (h *Handlers) deleteGroup(c *ociapi.Call) error {
	g, err := h.loadGroup(c)
	if err != nil {
		return err
	}
	if err := h.Identity.DeleteGroup(c.Context(), g.ID, c.IfMatch()); err != nil {
		return err
	}
	return c.ReplyEmpty(204, "")
}

func membershipModel(m idn.Membership) identity.UserGroupMembership {
	return identity.UserGroupMembership{Id: common.String(m.ID), CompartmentId: common.String(m.TenancyID),
		GroupId: common.String(m.GroupID), UserId: common.String(m.UserID), TimeCreated: &common.SDKTime{Time: m.TimeCreated},
		LifecycleState: identity.UserGroupMembershipLifecycleStateEnum(m.State)}
}

func (h *Handlers) addUserToGroup(c *ociapi.Call) error {
	var d identity.AddUserToGroupDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if err := h.authorizeInTenancy(c, map[string]string{"target.user.id": strVal(d.UserId), "target.group.id": strVal(d.GroupId)}); err != nil {
		return err
	}
	m, err := h.Identity.AddUserToGroup(c.Context(), strVal(d.UserId), strVal(d.GroupId))
	if err != nil {
		return err
	}
	return c.Reply(m.ETag, membershipModel(m))
}

func (h *Handlers) loadMembership(c *ociapi.Call) (idn.Membership, error) {
	m, err := h.Identity.GetMembership(c.Context(), c.PathValue("userGroupMembershipId"))
	if err != nil {
		return m, err
	}
	return m, h.authorizeInTenancy(c, map[string]string{"target.user.id": m.UserID, "target.group.id": m.GroupID})
}

func (h *Handlers) getMembership(c *ociapi.Call) error {
	m, err := h.loadMembership(c)
	if err != nil {
		return err
	}
	return c.Reply(m.ETag, membershipModel(m))
}

func (h *Handlers) removeUserFromGroup(c *ociapi.Call) error {
	m, err := h.loadMembership(c)
	if err != nil {
		return err
	}
	if ifm := c.IfMatch(); ifm != "" && ifm != m.ETag {
		return errs.E(errs.PreconditionFailed, "the if-match etag does not match membership %s", m.ID)
	}
	if err := h.Identity.RemoveUserFromGroup(c.Context(), m.ID); err != nil {
		return err
	}
	return c.ReplyEmpty(204, "")
}

func (h *Handlers) listMemberships(c *ociapi.Call) error {
	comp := c.Query("compartmentId")
	if comp == "" {
		return errs.E(errs.Missing, "query parameter compartmentId is required")
	}
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: comp}); err != nil {
		return err
	}
	items, next, err := h.Identity.ListMemberships(c.Context(), comp, c.Query("userId"), c.Query("groupId"), o)
	if err != nil {
		return err
	}
	out := make([]identity.UserGroupMembership, 0, len(items))
	for _, m := range items {
		out = append(out, membershipModel(m))
	}
	return c.ReplyList(out, next)
}

// ---- dynamic groups ----

func dynamicGroupModel(d idn.DynamicGroup) identity.DynamicGroup {
	ff, def := emptyTags(d.FreeformTags, d.DefinedTags)
	return identity.DynamicGroup{Id: common.String(d.ID), CompartmentId: common.String(d.TenancyID), Name: common.String(d.Name),
		Description: common.String(d.Description), MatchingRule: common.String(d.MatchingRule),
		TimeCreated: &common.SDKTime{Time: d.TimeCreated}, LifecycleState: identity.DynamicGroupLifecycleStateEnum(d.State),
		FreeformTags: ff, DefinedTags: def}
}

func (h *Handlers) loadDynamicGroup(c *ociapi.Call) (idn.DynamicGroup, error) {
	d, err := h.Identity.GetDynamicGroup(c.Context(), c.PathValue("dynamicGroupId"))
	if err != nil {
		return d, err
	}
	return d, h.authorizeInTenancy(c, map[string]string{"target.dynamicgroup.id": d.ID, "target.dynamicgroup.name": d.Name})
}

func (h *Handlers) createDynamicGroup(c *ociapi.Call) error {
	var d identity.CreateDynamicGroupDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if err := h.authorizeInTenancy(c, map[string]string{"target.dynamicgroup.name": strVal(d.Name)}); err != nil {
		return err
	}
	g, err := h.Identity.CreateDynamicGroup(c.Context(), idn.GroupInput{CompartmentID: strVal(d.CompartmentId), Name: d.Name,
		Description: d.Description, MatchingRule: d.MatchingRule, FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags})
	if err != nil {
		return err
	}
	return c.Reply(g.ETag, dynamicGroupModel(g))
}

func (h *Handlers) getDynamicGroup(c *ociapi.Call) error {
	d, err := h.loadDynamicGroup(c)
	if err != nil {
		return err
	}
	return c.Reply(d.ETag, dynamicGroupModel(d))
}

func (h *Handlers) listDynamicGroups(c *ociapi.Call) error {
	comp := c.Query("compartmentId")
	if comp == "" {
		return errs.E(errs.Missing, "query parameter compartmentId is required")
	}
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: comp}); err != nil {
		return err
	}
	items, next, err := h.Identity.ListDynamicGroups(c.Context(), comp, o)
	if err != nil {
		return err
	}
	out := make([]identity.DynamicGroup, 0, len(items))
	for _, d := range items {
		out = append(out, dynamicGroupModel(d))
	}
	return c.ReplyList(out, next)
}

func (h *Handlers) updateDynamicGroup(c *ociapi.Call) error {
	var d struct {
		identity.UpdateDynamicGroupDetails
		renameDetails
	}
	if err := c.Decode(&d); err != nil {
		return err
	}
	g, err := h.loadDynamicGroup(c)
	if err != nil {
		return err
	}
	g, err = h.Identity.UpdateDynamicGroup(c.Context(), g.ID, idn.GroupInput{Name: d.Name, Description: d.Description, MatchingRule: d.MatchingRule,
		FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags}, c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(g.ETag, dynamicGroupModel(g))
}

func (h *Handlers) deleteDynamicGroup(c *ociapi.Call) error {
	d, err := h.loadDynamicGroup(c)
	if err != nil {
		return err
	}
	if err := h.Identity.DeleteDynamicGroup(c.Context(), d.ID, c.IfMatch()); err != nil {
		return err
	}
	return c.ReplyEmpty(204, "")
}

// ---- policies ----

func policyModel(p idn.Policy) identity.Policy {
	ff, def := emptyTags(p.FreeformTags, p.DefinedTags)
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

func (h *Handlers) loadPolicy(c *ociapi.Call) (idn.Policy, error) {
	p, err := h.Identity.GetPolicy(c.Context(), c.PathValue("policyId"))
	if err != nil {
		return p, err
	}
	return p, c.Authorize(authz.Request{CompartmentID: p.CompartmentID,
		Vars: map[string]string{"target.policy.id": p.ID, "target.policy.name": p.Name}})
}

func (h *Handlers) createPolicy(c *ociapi.Call) error {
	var d identity.CreatePolicyDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if d.CompartmentId == nil || *d.CompartmentId == "" {
		return errs.E(errs.Missing, "compartmentId is required")
	}
	if err := c.Authorize(authz.Request{CompartmentID: *d.CompartmentId, Vars: map[string]string{"target.policy.name": strVal(d.Name)}}); err != nil {
		return err
	}
	p, err := h.Identity.CreatePolicy(c.Context(), idn.PolicyInput{CompartmentID: *d.CompartmentId, Name: d.Name,
		Description: d.Description, Statements: d.Statements, VersionDate: sdkDate(d.VersionDate),
		FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags})
	if err != nil {
		return err
	}
	return c.Reply(p.ETag, policyModel(p))
}

func (h *Handlers) getPolicy(c *ociapi.Call) error {
	p, err := h.loadPolicy(c)
	if err != nil {
		return err
	}
	return c.Reply(p.ETag, policyModel(p))
}

func (h *Handlers) listPolicies(c *ociapi.Call) error {
	comp := c.Query("compartmentId")
	if comp == "" {
		return errs.E(errs.Missing, "query parameter compartmentId is required")
	}
	o, err := listOptions(c)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: comp}); err != nil {
		return err
	}
	items, next, err := h.Identity.ListPolicies(c.Context(), comp, o)
	if err != nil {
		return err
	}
	out := make([]identity.Policy, 0, len(items))
	for _, p := range items {
		out = append(out, policyModel(p))
	}
	return c.ReplyList(out, next)
}

func (h *Handlers) updatePolicy(c *ociapi.Call) error {
	var d identity.UpdatePolicyDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	p, err := h.loadPolicy(c)
	if err != nil {
		return err
	}
	p, err = h.Identity.UpdatePolicy(c.Context(), p.ID, idn.PolicyInput{Description: d.Description, Statements: d.Statements,
		VersionDate: sdkDate(d.VersionDate), FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags}, c.IfMatch())
	if err != nil {
		return err
	}
	return c.Reply(p.ETag, policyModel(p))
}

func (h *Handlers) deletePolicy(c *ociapi.Call) error {
	p, err := h.loadPolicy(c)
	if err != nil {
		return err
	}
	if err := h.Identity.DeletePolicy(c.Context(), p.ID, c.IfMatch()); err != nil {
		return err
	}
	return c.ReplyEmpty(204, "")
}
