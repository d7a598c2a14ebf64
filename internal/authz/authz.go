// Package authz holds the types every request carries to the one authorizer:
// who is calling (Principal), what they want to do (Operation) and on what
// (the loaded target resources). The wire layer fills a Request after it has
// authenticated the caller and loaded the target; an Authorizer (the policy
// engine in internal/iam) decides. Keeping these types apart lets the wire
// layer, authentication and the policy engine share them without importing
// each other.
package authz

import "context"

// PrincipalType says what kind of caller a Principal is. The values are the
// ones OCI exposes as request.principal.type.
type PrincipalType string

// Principal kinds.
const (
	PrincipalUser     PrincipalType = "user"
	PrincipalInstance PrincipalType = "instance"
	PrincipalResource PrincipalType = "resource"
	PrincipalService  PrincipalType = "service"
)

// Principal is an authenticated caller.
type Principal struct {
	Type      PrincipalType
	ID        string // user OCID, instance OCID, resource OCID
	TenancyID string
	// GroupIDs are the OCIDs of the groups a user belongs to, resolved when
	// the request was authenticated.
	GroupIDs []string
	// CompartmentID is the compartment of an instance or resource principal.
	CompartmentID string
	// Attributes carry what dynamic-group matching rules test, with the
	// names those rules use: "resource.type", "resource.id",
	// "resource.compartment.id", "tag.<namespace>.<key>.value".
	Attributes map[string]string
}

// Resource is one loaded target of a request.
type Resource struct {
	ID            string
	Name          string
	CompartmentID string
	VaultID       string // for keys and secrets
	KeyID         string // for secrets: the master key that encrypts their content
}

// Request is one authorization question.
type Request struct {
	Principal *Principal
	// Operation is the OCI operation name, e.g. "GetSecretBundle".
	Operation string
	// CompartmentID is where the operation acts: the compartment of the
	// target resource, or the compartment named by a list or create call.
	CompartmentID string
	// The loaded targets; nil when the operation has none of that kind.
	Vault  *Resource
	Key    *Resource
	Secret *Resource
	// Vars are further request and target variables, by their policy
	// language names (for example "request.includePlainTextKey" or
	// "target.user.id").
	Vars map[string]string
}

// Decision is an authorizer's answer. Reason is for the operator (audit log,
// `coffer iam explain`); the caller only ever sees 404 NotAuthorizedOrNotFound.
type Decision struct {
	Allowed bool
	// Reason says, in one sentence, why: which statements granted the
	// request, or which permission is missing on which target.
	Reason string
	// Matched are the statements (as written) that granted permissions.
	Matched []string
	// Missing are the permissions no statement granted, e.g. "KEY_DECRYPT".
	Missing []string
	// Suggestion is a statement that would grant what is missing, narrowed
	// to the target; empty when allowed.
	Suggestion string
}

// Authorizer decides requests. Implementations must be safe for concurrent use
// and must see policy changes from the next request on.
type Authorizer interface {
	Authorize(ctx context.Context, req Request) (Decision, error)
}
