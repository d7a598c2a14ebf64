package identityapi

import (
	"context"
	"fmt"
	"strings"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	idn "github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// ExplainPath is Coffer's own explain API. It lives under the identity
// version prefix in a "coffer" segment that no OCI resource uses, so it
// cannot collide with an OCI path.
const ExplainPath = "/20160918/coffer/actions/explain"

// ExplainRequest asks how the engine decides an operation for a principal
// on some targets.
type ExplainRequest struct {
	Principal ExplainPrincipal `json:"principal"`
	Operation string           `json:"operation"`
	// CompartmentID is where a list or create acts; for other operations it
	// defaults to the target's compartment.
	CompartmentID string `json:"compartmentId,omitempty"`
	VaultID       string `json:"vaultId,omitempty"`
	KeyID         string `json:"keyId,omitempty"`
	SecretID      string `json:"secretId,omitempty"`
	// SecretName names the secret of a CreateSecret.
	SecretName string `json:"secretName,omitempty"`
	// Variables are further request and target variables by their policy
	// names, e.g. "request.region".
	Variables map[string]string `json:"variables,omitempty"`
}

// ExplainPrincipal is who is asking: a user (with its groups), a member of
// one group, or an instance or resource matching a dynamic group, described
// by the attributes its rule tests (instance.id, resource.type, ...).
type ExplainPrincipal struct {
	UserID         string            `json:"userId,omitempty"`
	GroupID        string            `json:"groupId,omitempty"`
	DynamicGroupID string            `json:"dynamicGroupId,omitempty"`
	Attributes     map[string]string `json:"attributes,omitempty"`
}

// ExplainResponse is the engine's account of the decision.
type ExplainResponse struct {
	Allowed       bool           `json:"allowed"`
	Operation     string         `json:"operation"`
	Principal     string         `json:"principal"`
	DynamicGroups []string       `json:"dynamicGroups,omitempty"`
	Reason        string         `json:"reason"`
	Suggestion    string         `json:"suggestion,omitempty"`
	Checks        []ExplainCheck `json:"checks"`
	// Notes are caveats about the question itself (for example: the
	// attributes given do not match the dynamic group's rule).
	Notes []string `json:"notes,omitempty"`
}

// ExplainCheck is one permission the operation needs.
type ExplainCheck struct {
	Permission     string             `json:"permission"`
	Target         string             `json:"target"`
	TargetID       string             `json:"targetId,omitempty"`
	CompartmentID  string             `json:"compartmentId,omitempty"`
	Granted        bool               `json:"granted"`
	GrantedBy      []ExplainStatement `json:"grantedBy,omitempty"`
	DeniedBy       []ExplainStatement `json:"deniedBy,omitempty"`
	ConditionFalse []ExplainStatement `json:"conditionFalse,omitempty"`
	Note           string             `json:"note,omitempty"`
	Suggestion     string             `json:"suggestion,omitempty"`
}

// ExplainStatement names one statement of one policy.
type ExplainStatement struct {
	PolicyID   string `json:"policyId"`
	PolicyName string `json:"policyName"`
	Index      int    `json:"index"`
	Text       string `json:"text"`
}

// VaultResources loads vaults by OCID as the authorizer sees them
// (kms.Service is one); a vault that does not exist is errs.NotFound.
type VaultResources interface {
	VaultResource(ctx context.Context, vaultID string) (*authz.Resource, error)
}

// KeyResources loads keys, which are addressed within their vault.
type KeyResources interface {
	KeyResource(ctx context.Context, vaultID, keyID string) (*authz.Resource, error)
}

// SecretResources loads secrets, with the key that encrypts their content.
type SecretResources interface {
	SecretResource(ctx context.Context, secretID string) (*authz.Resource, error)
}

// EngineSource gives the current compiled policy engine.
type EngineSource interface {
	Engine(ctx context.Context) (*iam.Engine, error)
}

// Explainer serves ExplainAuthorization. A nil Vaults, Keys or Secrets
// means that domain is not served and such targets cannot be explained.
type Explainer struct {
	Identity *idn.Service
	Engine   EngineSource
	Vaults   VaultResources
	Keys     KeyResources
	Secrets  SecretResources
}

func (x *Explainer) serve(c *ociapi.Call) error {
	var req ExplainRequest
	if err := c.Decode(&req); err != nil {
		return err
	}
	if err := req.check(); err != nil {
		return err
	}
	t, err := x.Identity.Tenancy(c.Context())
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: t.ID}); err != nil {
		return err
	}
	resp, err := x.Explain(c.Context(), req)
	if err != nil {
		return err
	}
	return c.Reply("", resp)
}

// Explain answers an explain request. Errors are caller errors (unknown
// principal or target) or internal ones.
func (x *Explainer) Explain(ctx context.Context, req ExplainRequest) (ExplainResponse, error) {
	if err := req.check(); err != nil {
		return ExplainResponse{}, err
	}
	t, err := x.Identity.Tenancy(ctx)
	if err != nil {
		return ExplainResponse{}, err
	}
	p, name, err := x.principal(ctx, t.ID, req.Principal)
	if err != nil {
		return ExplainResponse{}, err
	}
	_, ex, notes, err := x.explainFor(ctx, t.ID, p, req)
	if err != nil {
		return ExplainResponse{}, err
	}
	if req.Principal.DynamicGroupID != "" && !containsFold(ex.DynamicGroups, name) {
		notes = append(notes, fmt.Sprintf("the attributes given do not match dynamic group %s's matching rule, so its statements do not apply", name))
	}
	out := toResponse(ex, notes)
	if req.Principal.GroupID != "" {
		// The engine sees a stand-in user in the group; the answer names
		// the group the question was about.
		out.Principal = fmt.Sprintf("any member of group %s (%s)", name, req.Principal.GroupID)
	}
	return out, nil
}

// explainFor asks the engine how it decides req's operation on req's
// targets for p.
func (x *Explainer) explainFor(ctx context.Context, tenancy string, p *authz.Principal, req ExplainRequest) (authz.Request, iam.Explanation, []string, error) {
	if req.Operation == "" {
		return authz.Request{}, iam.Explanation{}, nil, errs.E(errs.Missing, "operation is required, e.g. GetSecretBundle")
	}
	if !knownOperation(req.Operation) {
		return authz.Request{}, iam.Explanation{}, nil, errs.E(errs.Invalid, "operation %q is not one Coffer serves", req.Operation)
	}
	var notes []string
	ar := authz.Request{Principal: p, Operation: req.Operation, CompartmentID: req.CompartmentID, Vars: req.Variables}
	if err := x.targets(ctx, req, &ar, &notes); err != nil {
		return authz.Request{}, iam.Explanation{}, nil, err
	}
	if ar.CompartmentID == "" {
		for _, r := range []*authz.Resource{ar.Secret, ar.Key, ar.Vault} {
			if r != nil {
				ar.CompartmentID = r.CompartmentID
				break
			}
		}
	}
	if ar.CompartmentID == "" {
		ar.CompartmentID = tenancy
		notes = append(notes, "no compartment or target given: the question is asked in the tenancy (root compartment)")
	}
	eng, err := x.Engine.Engine(ctx)
	if err != nil {
		return authz.Request{}, iam.Explanation{}, nil, err
	}
	return ar, eng.Explain(ar), notes, nil
}

func knownOperation(op string) bool {
	for _, o := range iam.Operations() {
		if o == op {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// principal makes the authz principal the question is asked for, and
// returns the name of the group or dynamic group it stands for.
func (x *Explainer) principal(ctx context.Context, tenancy string, p ExplainPrincipal) (*authz.Principal, string, error) {
	n := 0
	for _, s := range []string{p.UserID, p.GroupID, p.DynamicGroupID} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return nil, "", errs.E(errs.Invalid, "principal must name exactly one of userId, groupId, dynamicGroupId")
	}
	switch {
	case p.UserID != "":
		pr, err := x.Identity.UserPrincipal(ctx, p.UserID)
		if err != nil {
			return nil, "", relatedNotFound(err, "user", p.UserID)
		}
		return pr, "", nil
	case p.GroupID != "":
		g, err := x.Identity.GetGroup(ctx, p.GroupID)
		if err != nil {
			return nil, "", relatedNotFound(err, "group", p.GroupID)
		}
		return &authz.Principal{Type: authz.PrincipalUser, ID: "member-of-" + g.ID, TenancyID: tenancy, GroupIDs: []string{g.ID},
			Attributes: map[string]string{"user.name": "(a member of " + g.Name + ")"}}, g.Name, nil
	}
	d, err := x.Identity.GetDynamicGroup(ctx, p.DynamicGroupID)
	if err != nil {
		return nil, "", relatedNotFound(err, "dynamic group", p.DynamicGroupID)
	}
	if len(p.Attributes) == 0 {
		return nil, "", errs.E(errs.Missing, "a dynamic-group principal needs attributes its rule tests, e.g. instance.compartment.id=ocid1... or resource.type=fnfunc")
	}
	pr := &authz.Principal{Type: authz.PrincipalResource, TenancyID: tenancy, Attributes: map[string]string{}}
	for k, v := range p.Attributes {
		switch strings.ToLower(k) {
		case "instance.id":
			pr.Type, pr.ID = authz.PrincipalInstance, v
		case "instance.compartment.id":
			pr.Type, pr.CompartmentID = authz.PrincipalInstance, v
		case "resource.id":
			pr.ID = v
		case "resource.compartment.id":
			pr.CompartmentID = v
		default:
			pr.Attributes[k] = v
		}
	}
	return pr, d.Name, nil
}

func relatedNotFound(err error, what, id string) error {
	if errs.Is(err, errs.NotFound) {
		return errs.E(errs.RelatedNotFound, "%s %s not found", what, id)
	}
	return err
}

func notServed(what string) error {
	return errs.E(errs.NotImplemented, "this server does not serve %ss yet, so it cannot explain access to one", what)
}

// targets loads the named targets and the ones they imply: a secret's key
// and vault, a key's vault.
func (x *Explainer) targets(ctx context.Context, req ExplainRequest, ar *authz.Request, notes *[]string) error {
	var err error
	if req.SecretID != "" {
		if x.Secrets == nil {
			return notServed("secret")
		}
		if ar.Secret, err = x.Secrets.SecretResource(ctx, req.SecretID); err != nil {
			return relatedNotFound(err, "secret", req.SecretID)
		}
		if req.KeyID == "" {
			req.KeyID = ar.Secret.KeyID
		}
		if req.VaultID == "" {
			req.VaultID = ar.Secret.VaultID
		}
	} else if req.SecretName != "" {
		ar.Secret = &authz.Resource{Name: req.SecretName, VaultID: req.VaultID, KeyID: req.KeyID, CompartmentID: req.CompartmentID}
	}
	if req.KeyID != "" {
		switch {
		case x.Keys == nil && ar.Secret != nil:
			// Without the keys domain, assume the key sits with the secret.
			ar.Key = &authz.Resource{ID: req.KeyID, VaultID: ar.Secret.VaultID, CompartmentID: ar.Secret.CompartmentID}
			*notes = append(*notes, "keys are not served here: the secret's key is assumed to be in the secret's compartment")
		case x.Keys == nil:
			return notServed("key")
		case req.VaultID == "":
			return errs.E(errs.Missing, "a key is addressed within its vault: give vaultId with keyId")
		default:
			if ar.Key, err = x.Keys.KeyResource(ctx, req.VaultID, req.KeyID); err != nil {
				return relatedNotFound(err, "key", req.KeyID)
			}
		}
	}
	if req.VaultID != "" {
		if x.Vaults == nil {
			return notServed("vault")
		}
		if ar.Vault, err = x.Vaults.VaultResource(ctx, req.VaultID); err != nil {
			return relatedNotFound(err, "vault", req.VaultID)
		}
	}
	return nil
}

func refs(in []iam.StatementRef) []ExplainStatement {
	var out []ExplainStatement
	for _, r := range in {
		out = append(out, ExplainStatement{PolicyID: r.PolicyID, PolicyName: r.PolicyName, Index: r.Index, Text: r.Text})
	}
	return out
}

func toResponse(ex iam.Explanation, notes []string) ExplainResponse {
	out := ExplainResponse{Allowed: ex.Allowed, Operation: ex.Operation, Principal: ex.Principal, DynamicGroups: ex.DynamicGroups,
		Reason: ex.Reason, Suggestion: ex.Suggestion, Checks: []ExplainCheck{}, Notes: notes}
	for _, c := range ex.Checks {
		out.Checks = append(out.Checks, ExplainCheck{Permission: c.Permission, Target: c.Target.String(), TargetID: c.TargetID,
			CompartmentID: c.CompartmentID, Granted: c.Granted, GrantedBy: refs(c.GrantedBy), DeniedBy: refs(c.DeniedBy),
			ConditionFalse: refs(c.ConditionFalse), Note: c.Note, Suggestion: c.Suggestion})
	}
	return out
}

// check refuses malformed ids before any is looked up: a well-formed id of
// the wrong type is refused too, since the question would name nothing.
func (r ExplainRequest) check() error {
	for _, f := range []struct {
		name, id string
		types    []string
	}{
		{"principal.userId", r.Principal.UserID, []string{ocid.User}},
		{"principal.groupId", r.Principal.GroupID, []string{ocid.Group}},
		{"principal.dynamicGroupId", r.Principal.DynamicGroupID, []string{ocid.DynamicGroup}},
		{"compartmentId", r.CompartmentID, ociapi.Compartments},
		{"vaultId", r.VaultID, []string{ocid.Vault}},
		{"keyId", r.KeyID, []string{ocid.Key}},
		{"secretId", r.SecretID, []string{ocid.Secret}},
	} {
		if _, err := ociapi.OptionalID(f.name, f.id, f.types...); err != nil {
			if errs.Is(err, errs.NotFound) {
				return errs.E(errs.RelatedNotFound, "%s is not the OCID of a %s", f.name, strings.Join(f.types, " or "))
			}
			return err
		}
	}
	if len(r.Operation) > 100 {
		return errs.E(errs.Invalid, "operation is longer than 100 characters")
	}
	return nil
}
