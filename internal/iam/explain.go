package iam

import (
	"fmt"
	"slices"
	"strings"

	"github.com/coffer-vault/coffer/internal/authz"
)

// StatementRef names one statement of one policy.
type StatementRef struct {
	PolicyID   string
	PolicyName string
	Index      int // 0-based position in the policy
	Text       string
}

// CheckResult is the outcome of one permission check of a request.
type CheckResult struct {
	Permission string
	Target     Target
	// TargetID is the OCID (or, for a secret being created, the name) of the
	// resource the check is on; for compartment checks the compartment OCID.
	TargetID      string
	CompartmentID string
	Granted       bool
	// GrantedBy are the allow statements that grant the permission here.
	GrantedBy []StatementRef
	// DeniedBy are the deny statements that block it.
	DeniedBy []StatementRef
	// ConditionFalse are statements whose subject, permission and location
	// match but whose where clause is false for this request (often the
	// reason a user believes he has access).
	ConditionFalse []StatementRef
	// Note explains a decision made without statements.
	Note string
	// Suggestion is a statement that would grant the permission, narrowed to
	// the target, if it is missing.
	Suggestion string
}

// Explanation is the full account of a decision, for the audit record and for
// `coffer iam explain`.
type Explanation struct {
	Allowed   bool
	Operation string
	// Principal describes the caller.
	Principal string
	// DynamicGroups are the names of the dynamic groups the caller matches.
	DynamicGroups []string
	Checks        []CheckResult
	Reason        string
	// Suggestion is the statement(s) that would grant what is missing, one
	// per line; empty when allowed.
	Suggestion string
}

// Decision condenses the explanation into what Authorize returns.
func (x Explanation) Decision() authz.Decision {
	d := authz.Decision{Allowed: x.Allowed, Reason: x.Reason, Suggestion: x.Suggestion}
	for _, c := range x.Checks {
		// The first granting statement per check, as Authorize reports it.
		if c.Granted && len(c.GrantedBy) > 0 && !slices.Contains(d.Matched, c.GrantedBy[0].Text) {
			d.Matched = append(d.Matched, c.GrantedBy[0].Text)
		}
		if !c.Granted {
			d.Missing = append(d.Missing, c.Permission)
		}
	}
	return d
}

func describePrincipal(p *authz.Principal) string {
	if p == nil {
		return "no principal"
	}
	return string(p.Type) + " " + p.ID
}

func deny(x Explanation, reason string) Explanation {
	x.Allowed = false
	x.Reason = reason
	return x
}

// Explain decides a request like Authorize and says why: every check, the
// statements that granted, blocked or nearly granted it, and for a denial a
// narrowed statement that would grant what is missing. It is slower than
// Authorize and meant for audit records of denials and for operators.
func (e *Engine) Explain(req authz.Request) Explanation {
	x := Explanation{Operation: req.Operation, Principal: describePrincipal(req.Principal)}
	p := req.Principal
	if p == nil {
		return deny(x, "denied: the request has no authenticated principal")
	}
	if p.TenancyID != e.tenancyID {
		return deny(x, fmt.Sprintf("denied: the principal belongs to tenancy %q, not %s (Coffer serves one tenancy)", p.TenancyID, e.tenancyID))
	}
	op, ok := operations[req.Operation]
	if !ok {
		return deny(x, fmt.Sprintf("denied: unknown operation %q (operations Coffer does not know are never allowed)", req.Operation))
	}
	if op.selfService && selfServiceAllowed(&req) {
		x.Allowed = true
		x.Reason = "allowed: users manage their own credentials (API keys, console password)"
		return x
	}
	if op.everyPrincipal {
		x.Allowed = true
		x.Reason = reasonEveryPrincipal
		return x
	}
	var dgIDs []string
	var buf [16]*subjIndex
	subs := e.subjects(p, buf[:], &dgIDs)
	for _, id := range dgIDs {
		x.DynamicGroups = append(x.DynamicGroups, e.groupNames[id])
	}
	checks, _ := RequiredChecks(req.Operation, e.opts, req.Vars[VarUpdatesContent] == "true")
	checkDeny := e.hasDeny && !e.exemptFromDeny(p)
	x.Allowed = true
	x.Checks = make([]CheckResult, 0, len(checks))
	for _, ch := range checks {
		r := CheckResult{Permission: ch.Permission, Target: ch.Target, TargetID: targetID(&req, ch.Target, e.tenancyID)}
		comp, compID, ok := e.targetComp(&req, ch.Target)
		r.CompartmentID = compID
		switch {
		case !ok && compID == "":
			r.Note = fmt.Sprintf("the request carries no %s to check %s on", ch.Target, ch.Permission)
		case !ok:
			r.Note = fmt.Sprintf("compartment %s is not in this tenancy", compID)
		case ch.perm == permCompartmentInspect && p.Type == authz.PrincipalInstance:
			r.Granted = true
			r.Note = noteInstanceInspect
		default:
			env := evalEnv{e: e, req: &req, perm: ch.perm, target: ch.Target, comp: comp}
			r.GrantedBy, r.ConditionFalse = e.allGrants(subs, false, &env)
			if checkDeny {
				r.DeniedBy, _ = e.allGrants(subs, true, &env)
			}
			r.Granted = len(r.GrantedBy) > 0 && len(r.DeniedBy) == 0
			if !r.Granted && len(r.DeniedBy) == 0 {
				r.Suggestion = e.suggest(&req, ch, comp, dgIDs)
			}
		}
		x.Allowed = x.Allowed && r.Granted
		x.Checks = append(x.Checks, r)
	}
	var sugg []string
	if !x.Allowed {
		for _, c := range x.Checks {
			if c.Suggestion != "" && !slices.Contains(sugg, c.Suggestion) {
				sugg = append(sugg, c.Suggestion)
			}
		}
		x.Suggestion = strings.Join(sugg, "\n")
	}
	x.Reason = e.reason(x, sugg)
	return x
}

// allGrants lists every statement granting (or blocking) env's permission on
// env's compartment for the subjects, and those whose condition is false.
func (e *Engine) allGrants(subs []*subjIndex, deny bool, env *evalEnv) (ok, condFalse []StatementRef) {
	pre := e.comps[env.comp].pre
	var seen []int32
	for _, s := range subs {
		list := s.allow
		if deny {
			list = s.deny
		}
		if list == nil {
			continue
		}
		for _, g := range list[env.perm] {
			if g.lo > pre || pre > g.hi || slices.Contains(seen, g.stmt) {
				continue
			}
			seen = append(seen, g.stmt)
			cs := e.stmts[g.stmt]
			ref := StatementRef{PolicyID: cs.policyID, PolicyName: cs.policyName, Index: cs.index, Text: cs.st.Text}
			if g.cond == nil || g.cond.eval(env) {
				ok = append(ok, ref)
			} else {
				condFalse = append(condFalse, ref)
			}
		}
	}
	return ok, condFalse
}

func targetID(req *authz.Request, t Target, tenancy string) string {
	switch t {
	case TargetTenancy:
		return tenancy
	case TargetCompartment:
		return req.CompartmentID
	case TargetVault:
		if req.Vault != nil {
			return req.Vault.ID
		}
	case TargetKey:
		if req.Key != nil {
			return req.Key.ID
		}
	case TargetSecret:
		if req.Secret != nil {
			if req.Secret.ID != "" {
				return req.Secret.ID
			}
			return req.Secret.Name
		}
	}
	return ""
}

// maxReasonMissing bounds the missing permissions a reason names one by
// one (the checks themselves are all in the explanation).
const maxReasonMissing = 6

func (e *Engine) reason(x Explanation, sugg []string) string {
	var has, missing []string
	for _, c := range x.Checks {
		switch {
		case c.Granted && len(c.GrantedBy) > 0:
			has = append(has, c.Permission+" via '"+c.GrantedBy[0].Text+"'")
		case c.Granted:
			has = append(has, fmt.Sprintf("%s (%s)", c.Permission, c.Note))
		case len(c.DeniedBy) > 0:
			missing = append(missing, fmt.Sprintf("%s on %s %s is blocked by '%s'", c.Permission, c.Target, c.TargetID, c.DeniedBy[0].Text))
		case c.Note != "":
			missing = append(missing, fmt.Sprintf("no %s: %s", c.Permission, c.Note))
		default:
			m := "no " + c.Permission + " on " + c.Target.String() + " " + c.TargetID
			if len(c.ConditionFalse) > 0 {
				m += fmt.Sprintf(" ('%s' matches but its where clause is false for this request)", c.ConditionFalse[0].Text)
			}
			missing = append(missing, m)
		}
	}
	if x.Allowed {
		return "allowed: has " + strings.Join(has, "; ")
	}
	var b strings.Builder
	b.WriteString("denied: ")
	if len(has) > 0 {
		b.WriteString("has " + strings.Join(has, "; ") + " but ")
	}
	if len(missing) > maxReasonMissing {
		// manage all-resources is every permission: name a few.
		missing = append(missing[:maxReasonMissing:maxReasonMissing], fmt.Sprintf("and %d more", len(missing)-maxReasonMissing))
	}
	b.WriteString(strings.Join(missing, "; "))
	if len(sugg) > 0 {
		b.WriteString("; add: " + strings.Join(sugg, "; add: "))
	}
	return b.String()
}

// suggest writes a statement that would grant the check's permission to
// this principal, narrowed to the target. It assumes a policy attached to
// the tenancy (compartment paths are written from the root).
func (e *Engine) suggest(req *authz.Request, ch Check, comp int32, dgIDs []string) string {
	p := req.Principal
	var subject string
	var conds []string
	switch p.Type {
	case authz.PrincipalUser:
		for _, g := range p.GroupIDs {
			if n, ok := e.groupNames[g]; ok {
				subject = "group " + quoteName(n)
				break
			}
		}
		if subject == "" {
			subject = "any-user"
			conds = append(conds, "request.user.id = '"+p.ID+"'")
		}
	case authz.PrincipalInstance, authz.PrincipalResource:
		if len(dgIDs) > 0 {
			subject = "dynamic-group " + quoteName(e.groupNames[dgIDs[0]])
		} else {
			subject = "any-user"
			conds = append(conds, "request.principal.id = '"+p.ID+"'")
		}
	case authz.PrincipalService:
		subject = "service " + quoteName(serviceName(p))
	default:
		return ""
	}
	grant := minVerb[ch.perm].String() + " " + permType[ch.perm]
	allResources := false
	if op := operations[req.Operation]; op != nil && op.allResources {
		grant, allResources = VerbManage.String()+" "+familyAll, true
	}
	switch t := targetID(req, ch.Target, e.tenancyID); {
	case allResources:
		// One statement, not narrowed: OCI asks for all-resources there.
	case ch.Target == TargetKey && t != "":
		conds = append(conds, "target.key.id = '"+t+"'")
	case ch.Target == TargetSecret && req.Secret != nil && req.Secret.ID != "":
		conds = append(conds, "target.secret.id = '"+req.Secret.ID+"'")
	case ch.Target == TargetSecret && t != "":
		conds = append(conds, "target.secret.name = '"+t+"'")
	case ch.Target == TargetVault && t != "":
		conds = append(conds, "target.vault.id = '"+t+"'")
	case ch.Target == TargetCompartment && req.Vault != nil && req.Vault.ID != "" && (isKeyType(permType[ch.perm]) || isSecretType(permType[ch.perm])):
		conds = append(conds, "target.vault.id = '"+req.Vault.ID+"'")
	}
	s := "Allow " + subject + " to " + grant + " in " + e.locationText(comp)
	switch len(conds) {
	case 0:
	case 1:
		s += " where " + conds[0]
	default:
		s += " where all {" + strings.Join(conds, ", ") + "}"
	}
	return s
}

// locationText writes a compartment as a location for a policy attached to
// the tenancy.
func (e *Engine) locationText(c int32) string {
	if c == 0 {
		return "tenancy"
	}
	var path []string
	for n := c; n != 0; n = e.comps[n].parent {
		name := e.comps[n].name
		if name == "" || strings.ContainsAny(name, " :'") {
			return "compartment id " + e.comps[c].id
		}
		path = append(path, name)
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return "compartment " + strings.Join(path, ":")
}

func quoteName(n string) string {
	for i := 0; i < len(n); i++ {
		if isSpace(n[i]) || isSpecial(n[i]) {
			return "'" + n + "'"
		}
	}
	if n == "" || isKeyword(n) || strings.EqualFold(n, "id") {
		return "'" + n + "'"
	}
	return n
}
