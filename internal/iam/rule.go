package iam

import (
	"fmt"
	"strings"

	"github.com/coffer-vault/coffer/internal/authz"
)

// MatchingRule is a compiled dynamic-group matching rule
// (docs/oci-behaviours.md#dynamic-groups).
type MatchingRule struct {
	text string
	root *ruleNode
}

type ruleNode struct {
	op   condOp // opAll, opAny, opEq, opNe, opPresent
	kids []*ruleNode
	// variable: "instance.id", "instance.compartment.id", "resource.id",
	// "resource.compartment.id", "resource.type" or "tag.<ns>.<key>.value"
	// (lower case).
	name string
	val  string // lower case
}

var ruleVars = []string{"instance.id", "instance.compartment.id", "resource.id", "resource.compartment.id", "resource.type"}

// ValidateMatchingRule checks a dynamic group's matching rule when it is
// written (CreateDynamicGroup, UpdateDynamicGroup). As in OCI the syntax is
// validated and OCIDs are not. The error is a *SyntaxError with a position.
func ValidateMatchingRule(rule string) error {
	_, err := ParseMatchingRule(rule)
	return err
}

// ParseMatchingRule compiles a matching rule.
func ParseMatchingRule(rule string) (*MatchingRule, error) {
	p := &scanner{src: rule}
	n, err := parseRuleNode(p, 0)
	if err != nil {
		return nil, err
	}
	if !p.eof() {
		return nil, p.errExpected("the end of the rule")
	}
	return &MatchingRule{text: rule, root: n}, nil
}

// String returns the rule as written.
func (r *MatchingRule) String() string { return r.text }

func parseRuleNode(p *scanner, depth int) (*ruleNode, *SyntaxError) {
	if depth > maxCondDepth {
		return nil, p.errExpected("a shallower rule (nesting too deep)")
	}
	p.skipSpace()
	save := p.pos
	w := p.word()
	if lw := strings.ToLower(w); (lw == "any" || lw == "all") && p.peek() == '{' {
		p.punct('{')
		n := &ruleNode{op: opAll}
		if lw == "any" {
			n.op = opAny
		}
		for {
			k, err := parseRuleNode(p, depth+1)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, k)
			if p.punct(',') {
				continue
			}
			if p.punct('}') {
				return n, nil
			}
			return nil, p.errExpected(`"," or "}"`)
		}
	}
	const expectVar = "ANY {...}, ALL {...} or a variable (instance.id, instance.compartment.id, resource.id, resource.compartment.id, resource.type, tag.<namespace>.<key>.value)"
	if w == "" {
		return nil, p.errExpected(expectVar)
	}
	lw := strings.ToLower(w)
	isTag := strings.HasPrefix(lw, "tag.") && strings.HasSuffix(lw, ".value") && strings.Count(lw, ".") == 3 &&
		!strings.Contains(lw, "..")
	if !isTag && !containsFold(ruleVars, lw) {
		return nil, &SyntaxError{Pos: save + 1, Expected: expectVar, Found: w}
	}
	n := &ruleNode{name: lw}
	switch {
	case p.punct('='):
		n.op = opEq
	case strings.HasPrefix(p.src[p.pos:], "!="):
		p.pos += 2
		n.op = opNe
	default:
		if isTag {
			n.op = opPresent
			return n, nil
		}
		return nil, p.errExpected(`"=" or "!="`)
	}
	v, ok := p.quoted()
	if !ok {
		return nil, p.errExpected("a value in single quotes")
	}
	n.val = strings.ToLower(v)
	return n, nil
}

// Matches reports whether a principal satisfies the rule. Only instance and
// resource principals can: users are in groups, not dynamic groups. A
// variable the principal lacks makes its predicate false, as in policies.
func (r *MatchingRule) Matches(p *authz.Principal) bool {
	if p == nil || (p.Type != authz.PrincipalInstance && p.Type != authz.PrincipalResource) {
		return false
	}
	return r.root.eval(p)
}

func (n *ruleNode) eval(p *authz.Principal) bool {
	switch n.op {
	case opAll:
		for _, k := range n.kids {
			if !k.eval(p) {
				return false
			}
		}
		return true
	case opAny:
		for _, k := range n.kids {
			if k.eval(p) {
				return true
			}
		}
		return false
	}
	v, ok := ruleValue(p, n.name)
	switch n.op {
	case opPresent:
		return ok
	case opEq:
		return ok && equalFoldLower(n.val, v)
	case opNe:
		return ok && !equalFoldLower(n.val, v)
	}
	return false
}

// ruleValue resolves a matching-rule variable for a principal: instance.*
// only for instance principals, resource.* for resource principals (with
// resource.type taken from the attributes or, failing that, from the OCID's
// type segment, docs/oci-behaviours.md#dynamic-groups), tags from the
// attributes.
func ruleValue(p *authz.Principal, name string) (string, bool) {
	switch name {
	case "instance.id":
		return p.ID, p.Type == authz.PrincipalInstance && p.ID != ""
	case "instance.compartment.id":
		return p.CompartmentID, p.Type == authz.PrincipalInstance && p.CompartmentID != ""
	case "resource.id":
		if v, ok := attr(p, "resource.id"); ok {
			return v, true
		}
		return p.ID, p.Type == authz.PrincipalResource && p.ID != ""
	case "resource.compartment.id":
		if v, ok := attr(p, "resource.compartment.id"); ok {
			return v, true
		}
		return p.CompartmentID, p.Type == authz.PrincipalResource && p.CompartmentID != ""
	case "resource.type":
		if p.Type != authz.PrincipalResource {
			return "", false
		}
		return principalResourceType(p)
	}
	return attr(p, name)
}

// principalResourceType is a resource principal's type: the "resource.type" attribute,
// else the type segment of its OCID (ocid1.<type>.…).
func principalResourceType(p *authz.Principal) (string, bool) {
	if v, ok := attr(p, "resource.type"); ok {
		return v, true
	}
	if rest, ok := strings.CutPrefix(p.ID, "ocid1."); ok {
		if i := strings.IndexByte(rest, '.'); i > 0 {
			return rest[:i], true
		}
	}
	return "", false
}

// attr looks an attribute up by name, ignoring case in the name.
func attr(p *authz.Principal, name string) (string, bool) {
	if v, ok := p.Attributes[name]; ok {
		return v, true
	}
	for k, v := range p.Attributes {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// broad reports whether the rule can match every instance or resource of
// some kind in the tenancy: no predicate narrows it to named resources,
// compartments below the root, or tag values. Used by Lint.
func (r *MatchingRule) broad(tenancyID string) bool { return !r.root.narrow(tenancyID) }

func (n *ruleNode) narrow(tenancyID string) bool {
	switch n.op {
	case opAll:
		for _, k := range n.kids {
			if k.narrow(tenancyID) {
				return true
			}
		}
		return false
	case opAny:
		for _, k := range n.kids {
			if !k.narrow(tenancyID) {
				return false
			}
		}
		return len(n.kids) > 0
	case opEq:
		switch n.name {
		case "resource.type":
			return false
		case "instance.compartment.id", "resource.compartment.id":
			return tenancyID == "" || !strings.EqualFold(n.val, tenancyID)
		}
		return true
	}
	return false // != and bare tag presence do not narrow
}

// describe is a short form for messages.
func (n *ruleNode) String() string {
	switch n.op {
	case opAll, opAny:
		parts := make([]string, len(n.kids))
		for i, k := range n.kids {
			parts[i] = k.String()
		}
		return fmt.Sprintf("%s {%s}", map[condOp]string{opAll: "ALL", opAny: "ANY"}[n.op], strings.Join(parts, ", "))
	case opPresent:
		return n.name
	}
	return fmt.Sprintf("%s %s '%s'", n.name, opWord(n.op), n.val)
}
