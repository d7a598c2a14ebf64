package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"
	"github.com/spf13/cobra"
)

// withIAMResources adds the resource commands of `oci iam` (compartment,
// user, group, dynamic-group, policy, work-request, region,
// availability-domain, fault-domain) to the `coffer iam` group that
// iam_tools.go builds around explain and policy lint, and returns it. Where
// both define a subcommand group (policy), the two are merged: `coffer iam
// policy` then has create, get, list, update, delete and lint.
func withIAMResources(iam *cobra.Command) *cobra.Command {
	mergeCommands(iam, iamCompartmentCommand(), iamUserCommand(), iamGroupCommand(), iamDynamicGroupCommand(), iamPolicyCommand(),
		iamWorkRequestCommand(), iamRegionCommand(), iamAvailabilityDomainCommand(), iamFaultDomainCommand())
	return iam
}

// mergeCommands adds children to parent; a child whose name parent
// already has is merged into the existing subcommand, recursively.
func mergeCommands(parent *cobra.Command, children ...*cobra.Command) {
	for _, child := range children {
		var existing *cobra.Command
		for _, c := range parent.Commands() {
			if c.Name() == child.Name() {
				existing = c
			}
		}
		if existing == nil {
			parent.AddCommand(child)
			continue
		}
		if existing.Example == "" {
			existing.Example = child.Example
		}
		grandchildren := child.Commands()
		child.RemoveCommand(grandchildren...)
		mergeCommands(existing, grandchildren...)
	}
}

var identityStates = []string{"CREATING", "ACTIVE", "INACTIVE", "DELETING", "DELETED"}

// The identity resources the commands manage.
var (
	compartments = &resource[identity.IdentityClient, identity.Compartment]{what: "compartment", idFlag: "compartment-id",
		get: func(ctx context.Context, c identity.IdentityClient, id string) (identity.Compartment, *string, error) {
			r, err := c.GetCompartment(ctx, identity.GetCompartmentRequest{CompartmentId: &id})
			return r.Compartment, r.Etag, err
		},
		states: identityStates,
		state:  func(v identity.Compartment) string { return string(v.LifecycleState) },
		id:     func(v identity.Compartment) *string { return v.Id }}
	users = &resource[identity.IdentityClient, identity.User]{what: "user", idFlag: "user-id",
		get: func(ctx context.Context, c identity.IdentityClient, id string) (identity.User, *string, error) {
			r, err := c.GetUser(ctx, identity.GetUserRequest{UserId: &id})
			return r.User, r.Etag, err
		},
		states: identityStates,
		state:  func(v identity.User) string { return string(v.LifecycleState) },
		id:     func(v identity.User) *string { return v.Id }}
	groups = &resource[identity.IdentityClient, identity.Group]{what: "group", idFlag: "group-id",
		get: func(ctx context.Context, c identity.IdentityClient, id string) (identity.Group, *string, error) {
			r, err := c.GetGroup(ctx, identity.GetGroupRequest{GroupId: &id})
			return r.Group, r.Etag, err
		}}
	dynamicGroups = &resource[identity.IdentityClient, identity.DynamicGroup]{what: "dynamic group", idFlag: "dynamic-group-id",
		get: func(ctx context.Context, c identity.IdentityClient, id string) (identity.DynamicGroup, *string, error) {
			r, err := c.GetDynamicGroup(ctx, identity.GetDynamicGroupRequest{DynamicGroupId: &id})
			return r.DynamicGroup, r.Etag, err
		}}
	policies = &resource[identity.IdentityClient, identity.Policy]{what: "policy", idFlag: "policy-id",
		get: func(ctx context.Context, c identity.IdentityClient, id string) (identity.Policy, *string, error) {
			r, err := c.GetPolicy(ctx, identity.GetPolicyRequest{PolicyId: &id})
			return r.Policy, r.Etag, err
		}}
)

// ---- compartments

func iamCompartmentCommand() *cobra.Command {
	var name, desc string
	create := createLeaf(compartments, "Create a compartment",
		`  coffer iam compartment create -c $TENANCY --name payments --description "payments team" --wait-for-state ACTIVE`,
		"the OCID of the parent compartment [required]", []string{"compartment-id", "name", "description"}, identityClient, withWait, nil,
		func(cmd *cobra.Command, c identity.IdentityClient, a createArgs) (identity.Compartment, *string, error) {
			r, err := c.CreateCompartment(cmd.Context(), identity.CreateCompartmentRequest{CreateCompartmentDetails: identity.CreateCompartmentDetails{
				CompartmentId: &a.compartment, Name: &name, Description: &desc, FreeformTags: a.freeform, DefinedTags: a.defined}})
			return r.Compartment, r.Etag, err
		})
	create.Flags().StringVar(&name, "name", "", "the compartment's name, unique among its siblings [required]")
	create.Flags().StringVar(&desc, "description", "", "a description [required]")

	var lc, lName, lState, access, subtree string
	var l listFlags
	lst := listLeaf("list", "List the compartments in a compartment",
		`  coffer iam compartment list -c $TENANCY --compartment-id-in-subtree true --all --query 'data[].name'`,
		[]string{"compartment-id"}, &l, identityClient,
		func(cmd *cobra.Command, c identity.IdentityClient, limit *int, page *string) ([]identity.Compartment, *string, error) {
			var sub *bool
			if subtree != "" {
				b, err := strconv.ParseBool(subtree)
				if err != nil {
					return nil, nil, usageErrorf("--compartment-id-in-subtree must be true or false")
				}
				sub = &b
			}
			r, err := c.ListCompartments(cmd.Context(), identity.ListCompartmentsRequest{CompartmentId: &lc, Limit: limit, Page: page,
				Name: optString(cmd, "name", lName), LifecycleState: identity.CompartmentLifecycleStateEnum(lState),
				AccessLevel: identity.ListCompartmentsAccessLevelEnum(access), CompartmentIdInSubtree: sub,
				SortBy: identity.ListCompartmentsSortByEnum(l.sortBy), SortOrder: identity.ListCompartmentsSortOrderEnum(l.sortOrder)})
			return r.Items, r.OpcNextPage, err
		}, "TIMECREATED", "NAME")
	lst.Flags().StringVarP(&lc, "compartment-id", "c", "", "the OCID of the parent compartment [required]")
	lst.Flags().StringVar(&lName, "name", "", "only the compartment with this name")
	lst.Flags().StringVar(&lState, "lifecycle-state", "", "only compartments in this state")
	lst.Flags().StringVar(&access, "access-level", "", "ANY or ACCESSIBLE")
	lst.Flags().StringVar(&subtree, "compartment-id-in-subtree", "", "true to list the whole subtree")

	var uName, uDesc string
	update := updateLeaf(compartments, "Rename or describe a compartment",
		`  coffer iam compartment update --compartment-id $COMP --description "payments, EU"`, identityClient, withWait, nil,
		func(cmd *cobra.Command, c identity.IdentityClient, u updateArgs) (identity.Compartment, *string, error) {
			r, err := c.UpdateCompartment(cmd.Context(), identity.UpdateCompartmentRequest{CompartmentId: &u.id, IfMatch: u.ifMatch,
				UpdateCompartmentDetails: identity.UpdateCompartmentDetails{Name: optString(cmd, "name", uName), Description: optString(cmd, "description", uDesc),
					FreeformTags: u.freeform, DefinedTags: u.defined}})
			return r.Compartment, r.Etag, err
		})
	update.Flags().StringVar(&uName, "name", "", "a new name")
	update.Flags().StringVar(&uDesc, "description", "", "a new description")

	return group("compartment", "Compartments: the tree that holds resources and where policies attach",
		`  coffer iam compartment list -c $TENANCY --all --output table --query 'data[].{name:name,id:id}'`,
		create, getLeaf(compartments, `  coffer iam compartment get --compartment-id $COMP`, identityClient), lst, update,
		deleteLeaf(compartments, `  coffer iam compartment delete --compartment-id $COMP --force`, identityClient,
			func(ctx context.Context, c identity.IdentityClient, id string, im *string) error {
				_, err := c.DeleteCompartment(ctx, identity.DeleteCompartmentRequest{CompartmentId: &id, IfMatch: im})
				return err
			}),
		compartmentMove(),
	)
}

// ---- users

func iamUserCommand() *cobra.Command {
	var name, desc, email string
	create := createLeaf(users, "Create a user (in the tenancy)",
		`  coffer iam user create --name alice --description "Alice, payments" --email alice@example.com`,
		"", []string{"name", "description"}, identityClient, withWait, nil,
		func(cmd *cobra.Command, c identity.IdentityClient, a createArgs) (identity.User, *string, error) {
			r, err := c.CreateUser(cmd.Context(), identity.CreateUserRequest{CreateUserDetails: identity.CreateUserDetails{
				CompartmentId: &a.compartment, Name: &name, Description: &desc, Email: optString(cmd, "email", email), FreeformTags: a.freeform, DefinedTags: a.defined}})
			return r.User, r.Etag, err
		})
	create.Flags().StringVar(&name, "name", "", "the user's unique name [required]")
	create.Flags().StringVar(&desc, "description", "", "a description [required]")
	create.Flags().StringVar(&email, "email", "", "the user's email address")

	var lName, lState string
	var l listFlags
	lst := tenancyListLeaf("List the users of the tenancy", `  coffer iam user list --all --query 'data[].name'`, &l,
		func(cmd *cobra.Command, c identity.IdentityClient, comp string, limit *int, page *string) ([]identity.User, *string, error) {
			r, err := c.ListUsers(cmd.Context(), identity.ListUsersRequest{CompartmentId: &comp, Limit: limit, Page: page,
				Name: optString(cmd, "name", lName), LifecycleState: identity.UserLifecycleStateEnum(lState),
				SortBy: identity.ListUsersSortByEnum(l.sortBy), SortOrder: identity.ListUsersSortOrderEnum(l.sortOrder)})
			return r.Items, r.OpcNextPage, err
		})
	lst.Flags().StringVar(&lName, "name", "", "only the user with this name")
	lst.Flags().StringVar(&lState, "lifecycle-state", "", "only users in this state")

	var uDesc, uEmail string
	update := updateLeaf(users, "Update a user's description or email",
		`  coffer iam user update --user-id $USER_ID --description "Alice, platform"`, identityClient, noWait, nil,
		func(cmd *cobra.Command, c identity.IdentityClient, u updateArgs) (identity.User, *string, error) {
			r, err := c.UpdateUser(cmd.Context(), identity.UpdateUserRequest{UserId: &u.id, IfMatch: u.ifMatch,
				UpdateUserDetails: identity.UpdateUserDetails{Description: optString(cmd, "description", uDesc), Email: optString(cmd, "email", uEmail),
					FreeformTags: u.freeform, DefinedTags: u.defined}})
			return r.User, r.Etag, err
		})
	update.Flags().StringVar(&uDesc, "description", "", "a new description")
	update.Flags().StringVar(&uEmail, "email", "", "a new email address")

	return group("user", "Users, their API keys and console passwords",
		`  coffer iam user api-key upload --user-id $USER_ID --key-file ~/.oci/alice_public.pem`,
		create, getLeaf(users, `  coffer iam user get --user-id $USER_ID`, identityClient), lst, update,
		deleteLeaf(users, `  coffer iam user delete --user-id $USER_ID --force`, identityClient,
			func(ctx context.Context, c identity.IdentityClient, id string, im *string) error {
				_, err := c.DeleteUser(ctx, identity.DeleteUserRequest{UserId: &id, IfMatch: im})
				return err
			}),
		iamAPIKeyCommand(),
		iamUIPasswordCommand(),
	)
}

// iamUIPasswordCommand: the console password. The server generates it and
// shows it once, in this command's output; it keeps only a hash.
func iamUIPasswordCommand() *cobra.Command {
	var uid string
	reset := leaf("create-or-reset", "Create or reset a user's console password; the new password is shown once",
		`  coffer iam user ui-password create-or-reset --user-id $USER_ID --query data.password --raw-output`,
		hints{}, []string{"user-id"},
		func(cmd *cobra.Command, g *globals) error {
			c, err := g.identityClient()
			if err != nil {
				return err
			}
			r, err := c.CreateOrResetUIPassword(cmd.Context(), identity.CreateOrResetUIPasswordRequest{UserId: &uid})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: r.UiPassword})
		})
	reset.Flags().StringVar(&uid, "user-id", "", "the OCID of the user [required]")

	var gid string
	get := leaf("get", "Show whether and since when a user has a console password (never the password)",
		`  coffer iam user ui-password get --user-id $USER_ID`,
		hints{}, []string{"user-id"},
		func(cmd *cobra.Command, g *globals) error {
			c, err := g.identityClient()
			if err != nil {
				return err
			}
			r, err := c.GetUserUIPasswordInformation(cmd.Context(), identity.GetUserUIPasswordInformationRequest{UserId: &gid})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: r.UiPasswordInformation, etag: r.Etag})
		})
	get.Flags().StringVar(&gid, "user-id", "", "the OCID of the user [required]")

	return group("ui-password", "A user's console password",
		`  coffer iam user ui-password create-or-reset --user-id $USER_ID`, reset, get)
}

// tenancyListLeaf builds the list command of a tenancy-wide resource (users,
// groups, dynamic groups): --compartment-id defaults to the tenancy, --name
// is for fetch to register and send, and the list sorts by TIMECREATED or
// NAME.
func tenancyListLeaf[T any](short, example string, l *listFlags,
	fetch func(cmd *cobra.Command, c identity.IdentityClient, compartment string, limit *int, page *string) ([]T, *string, error)) *cobra.Command {
	var compartment string
	cmd := listLeaf("list", short, example, nil, l, identityClient,
		func(cmd *cobra.Command, c identity.IdentityClient, limit *int, page *string) ([]T, *string, error) {
			comp, err := tenancyDefault(globalsFrom(cmd), compartment)
			if err != nil {
				return nil, nil, err
			}
			return fetch(cmd, c, comp, limit, page)
		}, "TIMECREATED", "NAME")
	cmd.Flags().StringVarP(&compartment, "compartment-id", "c", "", tenancyHelp)
	return cmd
}

func iamAPIKeyCommand() *cobra.Command {
	var uid, key, keyFile string
	upload := leaf("upload", "Upload a user's public API signing key (PEM)",
		`  coffer iam user api-key upload --user-id $USER_ID --key-file ~/.oci/alice_public.pem --query data.fingerprint --raw-output`,
		hints{}, []string{"user-id", "key|key-file"},
		func(cmd *cobra.Command, g *globals) error {
			if cmd.Flags().Changed("key") && cmd.Flags().Changed("key-file") {
				return usageErrorf("pass --key or --key-file, not both")
			}
			pem := key
			if cmd.Flags().Changed("key-file") {
				b, err := readSecretInput(cmd, keyFile)
				if err != nil {
					return err
				}
				pem = string(b)
			}
			c, err := g.identityClient()
			if err != nil {
				return err
			}
			r, err := c.UploadApiKey(cmd.Context(), identity.UploadApiKeyRequest{UserId: &uid, CreateApiKeyDetails: identity.CreateApiKeyDetails{Key: &pem}})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: r.ApiKey, etag: r.Etag})
		})
	upload.Flags().StringVar(&uid, "user-id", "", "the OCID of the user [required]")
	upload.Flags().StringVar(&key, "key", "", "the public key, PEM")
	upload.Flags().StringVar(&keyFile, "key-file", "", "a file holding the public key, PEM (or - for stdin)")

	var lid string
	lst := leaf("list", "List a user's API keys",
		`  coffer iam user api-key list --user-id $USER_ID --query 'data[].fingerprint'`,
		hints{}, []string{"user-id"},
		func(cmd *cobra.Command, g *globals) error {
			c, err := g.identityClient()
			if err != nil {
				return err
			}
			r, err := c.ListApiKeys(cmd.Context(), identity.ListApiKeysRequest{UserId: &lid})
			if err != nil {
				return err
			}
			items := r.Items
			if items == nil {
				items = []identity.ApiKey{}
			}
			return g.print(cmd.OutOrStdout(), response{data: items})
		})
	lst.Flags().StringVar(&lid, "user-id", "", "the OCID of the user [required]")

	var did, fp, ifMatch string
	var force bool
	del := leaf("delete", "Delete a user's API key",
		`  coffer iam user api-key delete --user-id $USER_ID --fingerprint aa:bb:... --force`,
		hints{}, []string{"user-id", "fingerprint"},
		func(cmd *cobra.Command, g *globals) error {
			if err := confirm(cmd, force, "the API key "+fp); err != nil {
				return err
			}
			c, err := g.identityClient()
			if err != nil {
				return err
			}
			_, err = c.DeleteApiKey(cmd.Context(), identity.DeleteApiKeyRequest{UserId: &did, Fingerprint: &fp, IfMatch: optString(cmd, "if-match", ifMatch)})
			return err
		})
	del.Flags().StringVar(&did, "user-id", "", "the OCID of the user [required]")
	del.Flags().StringVar(&fp, "fingerprint", "", "the key's fingerprint [required]")
	del.Flags().StringVar(&ifMatch, "if-match", "", "delete only if the etag matches")
	del.Flags().BoolVar(&force, "force", false, "delete without asking for confirmation")

	return group("api-key", "A user's API signing keys",
		`  coffer iam user api-key list --user-id $USER_ID`, upload, lst, del)
}

// ---- groups

func iamGroupCommand() *cobra.Command {
	var name, desc string
	create := createLeaf(groups, "Create a group (in the tenancy)",
		`  coffer iam group create --name payments-apps --description "apps of the payments team"`,
		"", []string{"name", "description"}, identityClient, noWait, nil,
		func(cmd *cobra.Command, c identity.IdentityClient, a createArgs) (identity.Group, *string, error) {
			r, err := c.CreateGroup(cmd.Context(), identity.CreateGroupRequest{CreateGroupDetails: identity.CreateGroupDetails{
				CompartmentId: &a.compartment, Name: &name, Description: &desc, FreeformTags: a.freeform, DefinedTags: a.defined}})
			return r.Group, r.Etag, err
		})
	create.Flags().StringVar(&name, "name", "", "the group's unique name [required]")
	create.Flags().StringVar(&desc, "description", "", "a description [required]")

	var lName string
	var l listFlags
	lst := tenancyListLeaf("List the groups of the tenancy", `  coffer iam group list --all --output table --query 'data[].{name:name,id:id}'`, &l,
		func(cmd *cobra.Command, c identity.IdentityClient, comp string, limit *int, page *string) ([]identity.Group, *string, error) {
			r, err := c.ListGroups(cmd.Context(), identity.ListGroupsRequest{CompartmentId: &comp, Limit: limit, Page: page,
				Name: optString(cmd, "name", lName), SortBy: identity.ListGroupsSortByEnum(l.sortBy), SortOrder: identity.ListGroupsSortOrderEnum(l.sortOrder)})
			return r.Items, r.OpcNextPage, err
		})
	lst.Flags().StringVar(&lName, "name", "", "only the group with this name")

	var uDesc string
	update := updateLeaf(groups, "Update a group's description",
		`  coffer iam group update --group-id $GROUP --description "payments apps, EU"`, identityClient, noWait, nil,
		func(cmd *cobra.Command, c identity.IdentityClient, u updateArgs) (identity.Group, *string, error) {
			r, err := c.UpdateGroup(cmd.Context(), identity.UpdateGroupRequest{GroupId: &u.id, IfMatch: u.ifMatch,
				UpdateGroupDetails: identity.UpdateGroupDetails{Description: optString(cmd, "description", uDesc), FreeformTags: u.freeform, DefinedTags: u.defined}})
			return r.Group, r.Etag, err
		})
	update.Flags().StringVar(&uDesc, "description", "", "a new description")

	return group("group", "Groups of users, and their members",
		`  coffer iam group add-user --group-id $GROUP --user-id $USER_ID`,
		create, getLeaf(groups, `  coffer iam group get --group-id $GROUP`, identityClient), lst, update,
		deleteLeaf(groups, `  coffer iam group delete --group-id $GROUP --force`, identityClient,
			func(ctx context.Context, c identity.IdentityClient, id string, im *string) error {
				_, err := c.DeleteGroup(ctx, identity.DeleteGroupRequest{GroupId: &id, IfMatch: im})
				return err
			}),
		groupAddUser(), groupRemoveUser(),
	)
}

func groupAddUser() *cobra.Command {
	var uid, gid string
	cmd := leaf("add-user", "Add a user to a group",
		`  coffer iam group add-user --group-id $GROUP --user-id $USER_ID`,
		hints{}, []string{"user-id", "group-id"},
		func(cmd *cobra.Command, g *globals) error {
			c, err := g.identityClient()
			if err != nil {
				return err
			}
			r, err := c.AddUserToGroup(cmd.Context(), identity.AddUserToGroupRequest{AddUserToGroupDetails: identity.AddUserToGroupDetails{UserId: &uid, GroupId: &gid}})
			if err != nil {
				return err
			}
			return g.print(cmd.OutOrStdout(), response{data: r.UserGroupMembership, etag: r.Etag})
		})
	cmd.Flags().StringVar(&uid, "user-id", "", "the OCID of the user [required]")
	cmd.Flags().StringVar(&gid, "group-id", "", "the OCID of the group [required]")
	return cmd
}

// groupRemoveUser finds the membership of the user in the group and
// deletes it, as the oci CLI does.
func groupRemoveUser() *cobra.Command {
	var uid, gid string
	cmd := leaf("remove-user", "Remove a user from a group",
		`  coffer iam group remove-user --group-id $GROUP --user-id $USER_ID`,
		hints{}, []string{"user-id", "group-id"},
		func(cmd *cobra.Command, g *globals) error {
			tenancy, err := tenancyDefault(g, "")
			if err != nil {
				return err
			}
			c, err := g.identityClient()
			if err != nil {
				return err
			}
			ms, _, err := list(&listFlags{all: true}, func(limit *int, page *string) ([]identity.UserGroupMembership, *string, error) {
				r, err := c.ListUserGroupMemberships(cmd.Context(), identity.ListUserGroupMembershipsRequest{CompartmentId: &tenancy,
					UserId: &uid, GroupId: &gid, Limit: limit, Page: page})
				return r.Items, r.OpcNextPage, err
			})
			if err != nil {
				return err
			}
			if len(ms) == 0 {
				return fmt.Errorf("user %s is not a member of group %s", uid, gid)
			}
			for _, m := range ms {
				if _, err := c.RemoveUserFromGroup(cmd.Context(), identity.RemoveUserFromGroupRequest{UserGroupMembershipId: m.Id}); err != nil {
					return err
				}
			}
			return nil
		})
	cmd.Flags().StringVar(&uid, "user-id", "", "the OCID of the user [required]")
	cmd.Flags().StringVar(&gid, "group-id", "", "the OCID of the group [required]")
	return cmd
}

// ---- dynamic groups

func iamDynamicGroupCommand() *cobra.Command {
	var name, desc, rule string
	create := createLeaf(dynamicGroups, "Create a dynamic group: instances or resources matched by a rule",
		`  coffer iam dynamic-group create --name build-hosts --description "CI runners" \
      --matching-rule "ALL {instance.compartment.id = '$COMP'}"`,
		"", []string{"name", "description", "matching-rule"}, identityClient, noWait, nil,
		func(cmd *cobra.Command, c identity.IdentityClient, a createArgs) (identity.DynamicGroup, *string, error) {
			r, err := c.CreateDynamicGroup(cmd.Context(), identity.CreateDynamicGroupRequest{CreateDynamicGroupDetails: identity.CreateDynamicGroupDetails{
				CompartmentId: &a.compartment, Name: &name, Description: &desc, MatchingRule: &rule, FreeformTags: a.freeform, DefinedTags: a.defined}})
			return r.DynamicGroup, r.Etag, err
		})
	create.Flags().StringVar(&name, "name", "", "the dynamic group's unique name [required]")
	create.Flags().StringVar(&desc, "description", "", "a description [required]")
	create.Flags().StringVar(&rule, "matching-rule", "", "the matching rule [required]")

	var lName string
	var l listFlags
	lst := tenancyListLeaf("List the dynamic groups of the tenancy",
		`  coffer iam dynamic-group list --all --query 'data[].{name:name,rule:"matching-rule"}'`, &l,
		func(cmd *cobra.Command, c identity.IdentityClient, comp string, limit *int, page *string) ([]identity.DynamicGroup, *string, error) {
			r, err := c.ListDynamicGroups(cmd.Context(), identity.ListDynamicGroupsRequest{CompartmentId: &comp, Limit: limit, Page: page,
				Name: optString(cmd, "name", lName), SortBy: identity.ListDynamicGroupsSortByEnum(l.sortBy), SortOrder: identity.ListDynamicGroupsSortOrderEnum(l.sortOrder)})
			return r.Items, r.OpcNextPage, err
		})
	lst.Flags().StringVar(&lName, "name", "", "only the dynamic group with this name")

	var uDesc, uRule string
	update := updateLeaf(dynamicGroups, "Update a dynamic group's rule or description",
		`  coffer iam dynamic-group update --dynamic-group-id $DG --matching-rule "instance.id = '$INSTANCE'"`, identityClient, noWait, nil,
		func(cmd *cobra.Command, c identity.IdentityClient, u updateArgs) (identity.DynamicGroup, *string, error) {
			r, err := c.UpdateDynamicGroup(cmd.Context(), identity.UpdateDynamicGroupRequest{DynamicGroupId: &u.id, IfMatch: u.ifMatch,
				UpdateDynamicGroupDetails: identity.UpdateDynamicGroupDetails{Description: optString(cmd, "description", uDesc),
					MatchingRule: optString(cmd, "matching-rule", uRule), FreeformTags: u.freeform, DefinedTags: u.defined}})
			return r.DynamicGroup, r.Etag, err
		})
	update.Flags().StringVar(&uDesc, "description", "", "a new description")
	update.Flags().StringVar(&uRule, "matching-rule", "", "a new matching rule")

	return group("dynamic-group", "Dynamic groups: instances and resources (instance and resource principals) matched by rules",
		`  coffer iam dynamic-group get --dynamic-group-id $DG --query 'data."matching-rule"' --raw-output`,
		create, getLeaf(dynamicGroups, `  coffer iam dynamic-group get --dynamic-group-id $DG`, identityClient), lst, update,
		deleteLeaf(dynamicGroups, `  coffer iam dynamic-group delete --dynamic-group-id $DG --force`, identityClient,
			func(ctx context.Context, c identity.IdentityClient, id string, im *string) error {
				_, err := c.DeleteDynamicGroup(ctx, identity.DeleteDynamicGroupRequest{DynamicGroupId: &id, IfMatch: im})
				return err
			}),
	)
}

// ---- policies

// optVersionDate parses --version-date (YYYY-MM-DD); empty is nil.
func optVersionDate(v string) (*common.SDKDate, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return nil, usageErrorf("--version-date must be YYYY-MM-DD, not %q", v)
	}
	return &common.SDKDate{Date: t}, nil
}

func iamPolicyCommand() *cobra.Command {
	var name, desc, statements, versionDate string
	var st []string
	var vd *common.SDKDate
	create := createLeaf(policies, "Create a policy: statements in OCI's policy language",
		`  coffer iam policy create -c $TENANCY --name app-reads --description "app reads its secrets" \
      --statements '["allow group app to read secret-family in compartment payments", "allow group app to use keys in compartment payments"]'
  coffer iam policy create -c $TENANCY --name ops --description ops --statements file://ops-statements.json`,
		"the OCID of the compartment the policy attaches to [required]", []string{"compartment-id", "name", "description", "statements"},
		identityClient, noWait,
		func(*cobra.Command) (err error) {
			st = nil
			if err := parseJSONArg("statements", statements, &st); err != nil {
				return err
			}
			vd, err = optVersionDate(versionDate)
			return err
		},
		func(cmd *cobra.Command, c identity.IdentityClient, a createArgs) (identity.Policy, *string, error) {
			r, err := c.CreatePolicy(cmd.Context(), identity.CreatePolicyRequest{CreatePolicyDetails: identity.CreatePolicyDetails{
				CompartmentId: &a.compartment, Name: &name, Description: &desc, Statements: st, VersionDate: vd, FreeformTags: a.freeform, DefinedTags: a.defined}})
			return r.Policy, r.Etag, err
		})
	create.Flags().StringVar(&name, "name", "", "the policy's name [required]")
	create.Flags().StringVar(&desc, "description", "", "a description [required]")
	create.Flags().StringVar(&statements, "statements", "", `the statements as a JSON list of strings (or file://path) [required]`)
	create.Flags().StringVar(&versionDate, "version-date", "", "evaluate the policy as of this date (YYYY-MM-DD)")

	var lc, lName string
	var l listFlags
	lst := listLeaf("list", "List the policies attached to a compartment",
		`  coffer iam policy list -c $TENANCY --all --query 'data[].statements[]'`,
		[]string{"compartment-id"}, &l, identityClient,
		func(cmd *cobra.Command, c identity.IdentityClient, limit *int, page *string) ([]identity.Policy, *string, error) {
			r, err := c.ListPolicies(cmd.Context(), identity.ListPoliciesRequest{CompartmentId: &lc, Limit: limit, Page: page,
				Name: optString(cmd, "name", lName), SortBy: identity.ListPoliciesSortByEnum(l.sortBy), SortOrder: identity.ListPoliciesSortOrderEnum(l.sortOrder)})
			return r.Items, r.OpcNextPage, err
		}, "TIMECREATED", "NAME")
	lst.Flags().StringVarP(&lc, "compartment-id", "c", "", "the OCID of the compartment [required]")
	lst.Flags().StringVar(&lName, "name", "", "only the policy with this name")

	var uDesc, uStatements, uVersionDate string
	update := updateLeaf(policies, "Replace a policy's statements or description",
		`  coffer iam policy update --policy-id $POLICY --statements '["allow group app to read secret-bundles in compartment payments"]'`, identityClient, noWait, nil,
		func(cmd *cobra.Command, c identity.IdentityClient, u updateArgs) (identity.Policy, *string, error) {
			d := identity.UpdatePolicyDetails{Description: optString(cmd, "description", uDesc), FreeformTags: u.freeform, DefinedTags: u.defined}
			if uStatements != "" {
				if err := parseJSONArg("statements", uStatements, &d.Statements); err != nil {
					return identity.Policy{}, nil, err
				}
			}
			var err error
			if d.VersionDate, err = optVersionDate(uVersionDate); err != nil {
				return identity.Policy{}, nil, err
			}
			r, err := c.UpdatePolicy(cmd.Context(), identity.UpdatePolicyRequest{PolicyId: &u.id, IfMatch: u.ifMatch, UpdatePolicyDetails: d})
			return r.Policy, r.Etag, err
		})
	update.Flags().StringVar(&uDesc, "description", "", "a new description")
	update.Flags().StringVar(&uStatements, "statements", "", "the new statements as a JSON list (replaces them all)")
	update.Flags().StringVar(&uVersionDate, "version-date", "", "a new version date (YYYY-MM-DD)")

	return group("policy", "Policies: who may do what, where",
		`  coffer iam policy get --policy-id $POLICY --query 'data.statements'`,
		create, getLeaf(policies, `  coffer iam policy get --policy-id $POLICY`, identityClient), lst, update,
		deleteLeaf(policies, `  coffer iam policy delete --policy-id $POLICY --force`, identityClient,
			func(ctx context.Context, c identity.IdentityClient, id string, im *string) error {
				_, err := c.DeletePolicy(ctx, identity.DeletePolicyRequest{PolicyId: &id, IfMatch: im})
				return err
			}),
	)
}
