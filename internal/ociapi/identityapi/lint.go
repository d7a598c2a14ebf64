package identityapi

import (
	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/iam"
	idn "github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// LintPath is Coffer's own policy lint API, beside the explain API: the
// console's policy editor asks it as the user types.
const LintPath = "/20160918/coffer/actions/lintPolicy"

// lintMaxBody bounds a lint request: a policy's 50 statements with room
// to spare, and little work for each keystroke's request.
const lintMaxBody = 64 << 10

// LintRequest is a policy's statements, as they would be attached to a
// compartment.
type LintRequest struct {
	CompartmentID string   `json:"compartmentId"`
	Statements    []string `json:"statements"`
}

// LintFinding is one finding: a statement's (Statement is its 0-based
// index) or a dynamic group's matching rule's (DynamicGroupID set).
type LintFinding struct {
	Statement        *int   `json:"statement,omitempty"`
	DynamicGroupID   string `json:"dynamicGroupId,omitempty"`
	DynamicGroupName string `json:"dynamicGroupName,omitempty"`
	Text             string `json:"text"`
	// Code is iam.Finding's, or "unresolved" (identity.CodeUnresolved).
	Code   string `json:"code"`
	Reason string `json:"reason"`
	// Invalid is true for what CreatePolicy or UpdatePolicy would refuse
	// (syntax errors, unresolved names); the others are advice.
	Invalid    bool   `json:"invalid"`
	Suggestion string `json:"suggestion,omitempty"`
	// Position is the 1-based byte position of a syntax error in Text.
	Position int `json:"position,omitempty"`
}

// LintResponse lists the findings; none means nothing to report.
type LintResponse struct {
	Findings []LintFinding `json:"findings"`
	// NamesChecked says whether the names were resolved (the caller may
	// create policies in the compartment); RulesChecked whether the named
	// dynamic groups' rules were linted (the caller may list them).
	NamesChecked bool `json:"namesChecked"`
	RulesChecked bool `json:"rulesChecked"`
}

// lintPolicy is authorized as reading the compartment's policies
// (POLICY_READ, like ListPolicies). Names are resolved only for a caller
// who may create a policy there (CreatePolicy would tell him the same),
// and the rules of named dynamic groups linted only for one who may list
// dynamic groups: lint shows nothing its caller could not learn otherwise.
func (h *Handlers) lintPolicy(c *ociapi.Call) error {
	var req LintRequest
	if err := c.Decode(&req); err != nil {
		return err
	}
	comp, err := ociapi.CheckID("compartmentId", req.CompartmentID, ocid.Tenancy, ocid.Compartment)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: comp}); err != nil {
		return err
	}
	tenancy, err := h.Identity.TenancyID(c.Context())
	if err != nil {
		return err
	}
	in := idn.LintInput{CompartmentID: comp, Statements: req.Statements}
	if in.Resolve, err = c.Allowed("CreatePolicy", authz.Request{CompartmentID: comp}); err != nil {
		return err
	}
	if in.DynamicGroups, err = c.Allowed("ListDynamicGroups", authz.Request{CompartmentID: tenancy}); err != nil {
		return err
	}
	res, err := h.Identity.LintPolicy(c.Context(), in)
	if err != nil {
		return err
	}
	out := LintResponse{Findings: []LintFinding{}, NamesChecked: in.Resolve, RulesChecked: in.DynamicGroups}
	for _, f := range res.Statements {
		i := f.Index
		out.Findings = append(out.Findings, lintFinding(f, &i))
	}
	for _, f := range res.Rules {
		lf := lintFinding(f.Finding, nil)
		lf.DynamicGroupID, lf.DynamicGroupName = f.DynamicGroupID, f.DynamicGroupName
		out.Findings = append(out.Findings, lf)
	}
	return c.Reply("", out)
}

func lintFinding(f iam.Finding, statement *int) LintFinding {
	return LintFinding{Statement: statement, Text: f.Text, Code: f.Code, Reason: f.Reason, Suggestion: f.Suggestion,
		Position: f.Pos, Invalid: f.Invalid() || f.Code == idn.CodeUnresolved}
}
