package identityapi

import (
	"fmt"
	"strings"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ociapi"
)

// ExplainOwnPath is Coffer's own "why was I denied" API: any caller (a
// user, an instance or a resource principal) asks how the engine decides
// an operation for itself.
const ExplainOwnPath = "/20160918/coffer/actions/explainOwn"

// serveOwn explains the caller's own decision, in less detail than an
// administrator's explain: which permissions the caller lacks on which
// target and the statement an administrator would add, but not the text
// of the statements that did or did not apply (policies the caller may
// not be allowed to read). A target the caller can neither inspect nor
// use at all is the 404 a denial and a missing resource both get, so the
// answer tells nobody whether it exists.
func (x *Explainer) serveOwn(c *ociapi.Call) error {
	var req ExplainRequest
	if err := c.Decode(&req); err != nil {
		return err
	}
	if req.Principal.UserID != "" || req.Principal.GroupID != "" || req.Principal.DynamicGroupID != "" || len(req.Principal.Attributes) > 0 {
		return errs.E(errs.Invalid, "explainOwn explains the caller's own decisions: leave principal out (an administrator asks about others with %s)", ExplainPath)
	}
	if err := req.check(); err != nil {
		return err
	}
	tenancy, err := x.Identity.TenancyID(c.Context())
	if err != nil {
		return err
	}
	// Every principal may ask about itself (iam.EveryPrincipal): the
	// call is authorized and audited as such, and what it shows is
	// limited below.
	if err := c.Authorize(authz.Request{CompartmentID: tenancy}); err != nil {
		return err
	}
	ar, ex, _, err := x.explainFor(c.Context(), tenancy, c.Principal, req)
	if errs.Is(err, errs.RelatedNotFound) {
		return ociapi.NotAuthorizedOrNotFound()
	}
	if err != nil {
		return err
	}
	if ok, err := visible(c, ar, ex); err != nil {
		return err
	} else if !ok {
		return ociapi.NotAuthorizedOrNotFound()
	}
	return c.Reply("", ownResponse(ex))
}

// visible reports whether the caller may know the question's target
// exists: some permission the operation needs is granted to it there, or
// it may inspect the target (GetSecret, GetKey, GetVault or
// GetCompartment, whichever names the most specific target).
func visible(c *ociapi.Call, ar authz.Request, ex iam.Explanation) (bool, error) {
	for _, ch := range ex.Checks {
		if ch.Granted {
			return true, nil
		}
	}
	req := authz.Request{CompartmentID: ar.CompartmentID}
	op := "GetCompartment"
	switch {
	case ar.Secret != nil && ar.Secret.ID != "":
		op, req.Secret, req.CompartmentID = "GetSecret", ar.Secret, ar.Secret.CompartmentID
	case ar.Key != nil && ar.Key.ID != "":
		op, req.Key, req.Vault, req.CompartmentID = "GetKey", ar.Key, ar.Vault, ar.Key.CompartmentID
	case ar.Vault != nil:
		op, req.Vault, req.CompartmentID = "GetVault", ar.Vault, ar.Vault.CompartmentID
	}
	return c.Allowed(op, req)
}

// ownResponse is ex without the statements' texts: each check says only
// whether it is granted, and for a missing one whether a deny statement
// blocks it and what to add.
func ownResponse(ex iam.Explanation) ExplainResponse {
	out := ExplainResponse{Allowed: ex.Allowed, Operation: ex.Operation, Principal: ex.Principal, DynamicGroups: ex.DynamicGroups,
		Suggestion: ex.Suggestion, Checks: []ExplainCheck{}}
	var missing []string
	for _, ch := range ex.Checks {
		oc := ExplainCheck{Permission: ch.Permission, Target: ch.Target.String(), TargetID: ch.TargetID,
			CompartmentID: ch.CompartmentID, Granted: ch.Granted, Suggestion: ch.Suggestion}
		if ch.Granted {
			oc.Note = ch.Note
		} else {
			m := ch.Permission + " on " + ch.Target.String() + " " + ch.TargetID
			switch {
			case len(ch.DeniedBy) > 0:
				oc.Note = "blocked by a deny statement"
				m += " (blocked by a deny statement)"
			case ch.Note != "":
				oc.Note = ch.Note
				m += " (" + ch.Note + ")"
			}
			missing = append(missing, strings.TrimSpace(m))
		}
		out.Checks = append(out.Checks, oc)
	}
	switch {
	case ex.Allowed:
		out.Reason = "allowed: every permission the operation needs is granted"
	default:
		out.Reason = fmt.Sprintf("denied: missing %s", strings.Join(missing, "; "))
	}
	return out
}
