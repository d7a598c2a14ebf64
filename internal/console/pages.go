package console

import (
	"fmt"

	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// apiRoute is one route of the console's API that is an OCI operation
// served by the API's own handler: the console path, the operation whose
// handler (and so whose authorization, audit and reply) it uses, whether
// the path names the vault whose management endpoint the API would serve
// it on, and whether it is a read sent as POST.
type apiRoute struct {
	pattern   string
	operation string
	vault     bool
	readOnly  bool
}

// apiRoutes are the console's pages' routes. Reads are GET; every change
// (and the reveal, which must never be a URL) is POST, so it needs the
// session's CSRF token and the console's origin (Handler.Verify).
var apiRoutes = []apiRoute{
	{pattern: "GET /console/api/vaults", operation: "ListVaults"},
	{pattern: "POST /console/api/vaults", operation: "CreateVault"},
	{pattern: "GET /console/api/vaults/{vaultId}", operation: "GetVault"},
	{pattern: "GET /console/api/vaults/{vaultId}/keys", operation: "ListKeys", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys", operation: "CreateKey", vault: true},
	{pattern: "GET /console/api/vaults/{vaultId}/keys/{keyId}", operation: "GetKey", vault: true},
	{pattern: "GET /console/api/vaults/{vaultId}/keys/{keyId}/versions", operation: "ListKeyVersions", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys/{keyId}/versions", operation: "CreateKeyVersion", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys/{keyId}/versions/{keyVersionId}/scheduleDeletion", operation: "ScheduleKeyVersionDeletion", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys/{keyId}/versions/{keyVersionId}/cancelDeletion", operation: "CancelKeyVersionDeletion", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys/{keyId}/enable", operation: "EnableKey", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys/{keyId}/disable", operation: "DisableKey", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys/{keyId}/scheduleDeletion", operation: "ScheduleKeyDeletion", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys/{keyId}/cancelDeletion", operation: "CancelKeyDeletion", vault: true},
	{pattern: "GET /console/api/secrets", operation: "ListSecrets"},
	{pattern: "POST /console/api/secrets", operation: "CreateSecret"},
	{pattern: "GET /console/api/secrets/{secretId}", operation: "GetSecret"},
	{pattern: "POST /console/api/secrets/{secretId}", operation: "UpdateSecret"},
	{pattern: "GET /console/api/secrets/{secretId}/versions", operation: "ListSecretVersions"},
	{pattern: "POST /console/api/secrets/{secretId}/scheduleDeletion", operation: "ScheduleSecretDeletion"},
	{pattern: "POST /console/api/secrets/{secretId}/reveal", operation: "GetSecretBundle", readOnly: true},
	{pattern: "POST /console/api/secrets/{secretId}/versions/{secretVersionNumber}/scheduleDeletion", operation: "ScheduleSecretVersionDeletion"},
	{pattern: "POST /console/api/secrets/{secretId}/versions/{secretVersionNumber}/cancelDeletion", operation: "CancelSecretVersionDeletion"},
	{pattern: "POST /console/api/secrets/{secretId}/cancelDeletion", operation: "CancelSecretDeletion"},
	// The usage and cost view: the usage report (usageapi), read in the
	// tenancy, with the report's own query parameters.
	{pattern: "GET /console/api/usage", operation: "GetUsageReport"},
	// Identity pages: users (console passwords reset), groups (members
	// added and removed) and dynamic groups; policies to read and edit,
	// with lint as the editor types (LintPolicy, a read sent as POST
	// because the statements are a JSON body).
	{pattern: "GET /console/api/users", operation: "ListUsers"},
	{pattern: "POST /console/api/users", operation: "CreateUser"},
	{pattern: "GET /console/api/users/{userId}", operation: "GetUser"},
	{pattern: "GET /console/api/users/{userId}/uiPassword", operation: "GetUserUIPasswordInformation"},
	// The answer holds the new password, once: like a reveal it is a POST
	// (CSRF token, never a URL) answered no-store. One's own needs the
	// current password (ownPasswordReset).
	{pattern: "POST /console/api/users/{userId}/uiPassword", operation: "CreateOrResetUIPassword"},
	{pattern: "GET /console/api/groups", operation: "ListGroups"},
	{pattern: "POST /console/api/groups", operation: "CreateGroup"},
	{pattern: "GET /console/api/groups/{groupId}", operation: "GetGroup"},
	{pattern: "GET /console/api/userGroupMemberships", operation: "ListUserGroupMemberships"},
	{pattern: "POST /console/api/userGroupMemberships", operation: "AddUserToGroup"},
	{pattern: "DELETE /console/api/userGroupMemberships/{userGroupMembershipId}", operation: "RemoveUserFromGroup"},
	{pattern: "GET /console/api/dynamicGroups", operation: "ListDynamicGroups"},
	{pattern: "POST /console/api/dynamicGroups", operation: "CreateDynamicGroup"},
	{pattern: "GET /console/api/dynamicGroups/{dynamicGroupId}", operation: "GetDynamicGroup"},
	{pattern: "GET /console/api/policies", operation: "ListPolicies"},
	{pattern: "POST /console/api/policies", operation: "CreatePolicy"},
	{pattern: "GET /console/api/policies/{policyId}", operation: "GetPolicy"},
	{pattern: "POST /console/api/policies/{policyId}", operation: "UpdatePolicy"},
	{pattern: "DELETE /console/api/policies/{policyId}", operation: "DeletePolicy"},
	{pattern: "POST /console/api/policies/lint", operation: "LintPolicy", readOnly: true},
	// The "why can't X do Y" page: Coffer's explain API, a read sent as
	// POST because the question is a JSON body.
	{pattern: "POST /console/api/explain", operation: "ExplainAuthorization", readOnly: true},
	// "Why was I denied?": any signed-in user about himself.
	{pattern: "POST /console/api/explainOwn", operation: "ExplainOwnAuthorization", readOnly: true},
}

// APIRoutes returns the console's routes for vaults, keys and secrets:
// each is an OCI operation served by the API's own handler (ops: the
// routes of kmsvault, kmsmgmt, vaultsapi, secretsapi, identityapi's
// explain and usageapi), so it loads,
// authorizes, audits and answers exactly as the same call made with an
// API key, as the session's user. A key route names its vault in the path
// where the API takes it from the management endpoint. It panics when an
// operation is missing from ops (a wiring mistake).
func (h *Handler) APIRoutes(ops ...[]ociapi.Route) []ociapi.Route {
	byName := map[string]ociapi.Route{}
	for _, rs := range ops {
		for _, r := range rs {
			byName[r.Operation] = r
		}
	}
	out := make([]ociapi.Route, 0, len(apiRoutes))
	for _, ar := range apiRoutes {
		r, ok := byName[ar.operation]
		if !ok {
			panic(fmt.Sprintf("console: no handler for %s", ar.operation))
		}
		next := r.Handler
		if ar.vault {
			next = onVault(next)
		}
		if ar.operation == "CreateOrResetUIPassword" {
			next = h.ownPasswordReset(next)
		}
		out = append(out, ociapi.Route{Pattern: ar.pattern, Operation: ar.operation, ReadOnly: ar.readOnly,
			MaxBody: r.MaxBody, Handler: next})
	}
	return out
}

// onVault serves a management-endpoint handler for the vault named in the
// path, checked before anything is read.
func onVault(next ociapi.HandlerFunc) ociapi.HandlerFunc {
	return func(c *ociapi.Call) error {
		id, err := c.PathID("vaultId", ocid.Vault)
		if err != nil {
			return err
		}
		c.VaultID = id
		return next(c)
	}
}
