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
	{pattern: "GET /console/api/vaults/{vaultId}", operation: "GetVault"},
	{pattern: "GET /console/api/vaults/{vaultId}/keys", operation: "ListKeys", vault: true},
	{pattern: "GET /console/api/vaults/{vaultId}/keys/{keyId}", operation: "GetKey", vault: true},
	{pattern: "GET /console/api/vaults/{vaultId}/keys/{keyId}/versions", operation: "ListKeyVersions", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys/{keyId}/versions", operation: "CreateKeyVersion", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys/{keyId}/enable", operation: "EnableKey", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys/{keyId}/disable", operation: "DisableKey", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys/{keyId}/scheduleDeletion", operation: "ScheduleKeyDeletion", vault: true},
	{pattern: "POST /console/api/vaults/{vaultId}/keys/{keyId}/cancelDeletion", operation: "CancelKeyDeletion", vault: true},
	{pattern: "GET /console/api/secrets", operation: "ListSecrets"},
	{pattern: "GET /console/api/secrets/{secretId}", operation: "GetSecret"},
	{pattern: "POST /console/api/secrets/{secretId}", operation: "UpdateSecret"},
	{pattern: "GET /console/api/secrets/{secretId}/versions", operation: "ListSecretVersions"},
	{pattern: "POST /console/api/secrets/{secretId}/scheduleDeletion", operation: "ScheduleSecretDeletion"},
	{pattern: "POST /console/api/secrets/{secretId}/reveal", operation: "GetSecretBundle", readOnly: true},
	{pattern: "POST /console/api/secrets/{secretId}/cancelDeletion", operation: "CancelSecretDeletion"},
	// The usage and cost view: the usage report (usageapi), read in the
	// tenancy, with the report's own query parameters.
	{pattern: "GET /console/api/usage", operation: "GetUsageReport"},
	// The "why can't X do Y" page: Coffer's explain API, a read sent as
	// POST because the question is a JSON body.
	{pattern: "POST /console/api/explain", operation: "ExplainAuthorization", readOnly: true},
}

// APIRoutes returns the console's routes for vaults, keys and secrets:
// each is an OCI operation served by the API's own handler (ops: the
// routes of kmsvault, kmsmgmt, vaultsapi, secretsapi, identityapi's
// explain and usageapi), so it loads,
// authorizes, audits and answers exactly as the same call made with an
// API key, as the session's user. A key route names its vault in the path
// where the API takes it from the management endpoint. It panics when an
// operation is missing from ops (a wiring mistake).
func APIRoutes(ops ...[]ociapi.Route) []ociapi.Route {
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
		h := r.Handler
		if ar.vault {
			h = onVault(h)
		}
		out = append(out, ociapi.Route{Pattern: ar.pattern, Operation: ar.operation, ReadOnly: ar.readOnly,
			MaxBody: r.MaxBody, Handler: h})
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
