// Package iam is Coffer's policy engine: OCI's IAM policy language (parse,
// compile, evaluate, explain, lint), the permission catalogue (verb ×
// resource type → permissions; operation → permission checks) and dynamic
// group matching rules. It knows nothing of HTTP or SQL: the caller hands it
// a [Snapshot] of the identity data and asks it about an [authz.Request].
//
// # Use
//
//	holder := iam.NewHolder(nil)
//	err := holder.Update(&snapshot, iam.Options{})   // at start and on every identity change
//	decision, err := holder.Authorize(ctx, req)       // per request; implements authz.Authorizer
//	x := holder.Engine().Explain(req)                 // `coffer iam explain`
//	findings := iam.Lint(statements, iam.LintOptions{TenancyID: t})
//	err = iam.ValidateStatement(s)                    // CreatePolicy / UpdatePolicy
//	err = holder.Engine().CheckStatement(s, compartmentID) // ... and resolve names
//	err = iam.ValidateMatchingRule(r)                 // Create/UpdateDynamicGroup
//
// [Compile] turns a snapshot into an immutable [Engine]: statements are parsed
// once and indexed by subject (group or dynamic-group OCID, any-user,
// any-group, service name) and then by interned permission; a location is a
// pre-order interval of the compartment tree, so "is the target at or below
// the statement's compartment" is two integer comparisons. A decision looks
// at the caller's few subjects and the one or two permissions of the
// operation, not at every statement. [Holder] swaps engines with an
// atomic.Pointer so a policy change applies from the next request on.
//
// # Wire-layer contract
//
//   - Request.CompartmentID is where a create or list acts; for identity
//     operations on users, groups and dynamic groups it is the tenancy; for
//     Get/Update/DeleteCompartment it is the compartment itself, for
//     CreateCompartment and ListCompartments the parent.
//   - Vault, Key and Secret are the loaded targets. For secret operations
//     Key is the secret's master key (with its CompartmentID and VaultID).
//     For CreateSecret, Secret carries the Name (and VaultID) from the body.
//   - UpdateSecret with new content: set Vars[VarUpdatesContent] = "true".
//   - Identity targets travel in Vars by their policy names:
//     "target.user.id", "target.user.name", "target.group.id",
//     "target.group.name", "target.policy.name", ... as do
//     "request.includePlainTextKey", "request.region" and "request.user.name".
//   - A service principal's name is its Attributes["service.name"] or its ID.
//   - request.principal.type is "user", "instance", "service", or for a
//     resource principal Attributes["resource.type"] (e.g. "fnfunc",
//     "workload"), else the type segment of its OCID. Dynamic-group rules
//     read the same attributes (and "tag.<ns>.<key>.value").
//   - Vars must come from the server (URL path, loaded resources, request
//     body), never copied from client-chosen keys: they decide conditions
//     and the API-key self-service rule.
//
// An operation missing from the catalogue is denied, as is a request whose
// principal belongs to another tenancy or whose target is not loaded.
//
// # Decisions on OCI's open points (docs/oci-behaviours.md#open-points and others)
//
//   - CreateSecret needs SECRET_CREATE on the compartment and
//     VAULT_CREATE_SECRET on the vault (the verb table's "also use vaults");
//     with Coffer's secret-key rule also KEY_ENCRYPT on the key. KEY_DECRYPT
//     (older table) is not asked for: creating encrypts.
//   - use secrets = SECRET_UPDATE + SECRET_ROTATE (newer page); RotateSecret
//     and CancelSecretRotation need SECRET_ROTATE.
//   - target.secret.id is the variable; the old target.secret.ocid is
//     accepted as an alias.
//   - key-family exists (vaults + keys + key-delegate). secret-replication is
//     not served and is unknown. IAM has no family type: naming one is an
//     error that says so.
//   - secret-versions read covers GetSecretVersion (the page's
//     "GetKeyVersion" is a typo). secret-bundles inspect covers
//     ListSecretBundleVersions.
//   - Rotation interval and the cancel-deletion window are not policy matters
//     (internal/secrets decides them).
//   - The location is required.
//   - Functions' resource.type is fnfunc: the engine compares strings, and a
//     resource principal's type defaults to its OCID's type segment, which is
//     fnfunc for functions.
//   - Error retryability is the wire layer's.
//   - GetWrappingKey needs VAULT_READ on the vault; Schedule/
//     CancelKeyVersionDeletion need KEY_DELETE; CancelSecretDeletion needs
//     SECRET_DELETE (all inferred in the reference).
//   - ExplainAuthorization needs POLICY_UPDATE in the tenancy (`manage
//     policies in tenancy`): an explanation reveals that resources exist,
//     which the 404 hides from everyone else.
//   - GetUsageReport (`coffer usage`) needs USAGE_REPORT_READ in the
//     tenancy (`read usage-report in tenancy`, the statement of OCI's cost
//     analysis); the permission name is Coffer's.
//   - ListChanges (the change feed) needs no permission: every principal of
//     the tenancy may call it, and each item is shown only when the caller
//     may read it (GetSecretBundle for a secret, GetKey for a key).
//
// # Language decisions
//
//   - Keywords, verbs, resource types, permission names and variable names
//     are case-insensitive. Group, dynamic-group and compartment names are
//     matched case-insensitively (OCI does not document it; names differing
//     only by case are not supported). Condition values compare
//     case-insensitively, as OCI documents.
//   - '*' is a wildcard in /pattern/ values (OCI) and also in quoted values
//     such as 'db-*' (Coffer: a literal '*' cannot be matched).
//   - A variable that does not apply to the request makes its predicate false
//     whatever the operator, != included; inside any {...} the siblings still
//     count. request.groups.id = 'x' means "the caller is in x"; != means
//     "is in none of them". Only users have request.groups.id.
//   - A bare compartment name is a child of the compartment the policy is
//     attached to, or that compartment itself; paths A:B:C start there. A
//     policy attached below the root cannot say "in tenancy" nor name a
//     compartment outside its subtree: such statements are Problems and grant
//     nothing.
//   - Statements naming unknown groups or compartments grant nothing (they
//     are Problems); the names that do resolve in a list still grant. Names
//     are resolved when compiling, so renaming a group means rewriting the
//     statements that name it (OCI keeps OCIDs; Coffer keeps the text).
//   - Identity domains: only Default; 'Default'/'Name' is accepted.
//   - Deny statements are always honoured (fail closed) and win over allow;
//     members of Snapshot.AdministratorsGroupID are exempt. Endorse, Admit,
//     Define and deny admit/endorse are rejected with ErrUnsupported.
//   - any-user covers every principal of the tenancy (users, instances,
//     resources, services); any-group covers users with at least one group
//     and principals matching at least one dynamic group.
//   - Instance principals always hold COMPARTMENT_INSPECT; every user may
//     list, upload and delete his own API keys (Vars["target.user.id"] equal
//     to the caller).
//   - Unknown resource types, permissions and variables are syntax errors
//     (with a "did you mean"): a typo never silently grants nothing.
package iam
