package identity

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
)

// CodeUnresolved is the Finding code LintPolicy gives a statement that
// parses but names a group, dynamic group or compartment that does not
// exist (or is not allowed where the policy is attached): CreatePolicy
// would refuse it.
const CodeUnresolved = "unresolved"

// LintInput asks what `coffer iam policy lint` would say about a policy's
// statements, attached to CompartmentID.
type LintInput struct {
	CompartmentID string
	Statements    []string
	// Resolve also checks the names the statements use, as CreatePolicy
	// does, reporting each failure as a CodeUnresolved finding.
	Resolve bool
	// DynamicGroups also lints the matching rules of the dynamic groups the
	// statements name (iam.Lint's broad-rule check).
	DynamicGroups bool
}

// LintResult is what LintPolicy found.
type LintResult struct {
	// Statements are the statements' findings in statement order (Index
	// is the statement's).
	Statements []iam.Finding
	// Rules are the findings on the matching rules of the dynamic groups
	// the statements name.
	Rules []RuleFinding
}

// RuleFinding is a finding on a dynamic group's matching rule.
type RuleFinding struct {
	DynamicGroupID, DynamicGroupName string
	iam.Finding
}

// LintPolicy lints statements as the policy editor types them: syntax
// errors and statements that grant too much (iam.Lint), and, when asked,
// names CreatePolicy would not resolve and dynamic groups whose rule
// matches a whole tenancy.
func (s *Service) LintPolicy(ctx context.Context, in LintInput) (LintResult, error) {
	if len(in.Statements) > MaxStatementsPerPolicy {
		return LintResult{}, errs.E(errs.LimitExceeded, "a policy holds at most %d statements; this one has %d", MaxStatementsPerPolicy, len(in.Statements))
	}
	if ok, err := s.CompartmentExists(ctx, in.CompartmentID); err != nil {
		return LintResult{}, err
	} else if !ok {
		return LintResult{}, errs.E(errs.NotFound, "compartment %s not found or not authorized", in.CompartmentID)
	}
	tenancy, err := s.TenancyID(ctx)
	if err != nil {
		return LintResult{}, err
	}
	var res LintResult
	res.Statements = iam.Lint(in.Statements, iam.LintOptions{TenancyID: tenancy})
	if r := s.resolver.Load(); in.Resolve && r != nil {
		for i, st := range in.Statements {
			if iam.ValidateStatement(st) != nil {
				continue // reported as invalid already
			}
			err := (*r).CheckStatement(st, in.CompartmentID)
			switch {
			case err == nil:
			case errors.Is(err, iam.ErrUnresolved) || errors.Is(err, iam.ErrUnsupported):
				res.Statements = append(res.Statements, iam.Finding{Index: i, Text: st, Code: CodeUnresolved, Reason: err.Error()})
			default:
				return LintResult{}, fmt.Errorf("identity: lint statement %d: %w", i, err)
			}
		}
		sort.SliceStable(res.Statements, func(a, b int) bool { return res.Statements[a].Index < res.Statements[b].Index })
	}
	if in.DynamicGroups {
		dgs, err := s.dynamicGroupsNamed(ctx, tenancy, in.Statements)
		if err != nil {
			return LintResult{}, err
		}
		for _, f := range iam.Lint(nil, iam.LintOptions{TenancyID: tenancy, DynamicGroups: dgs}) {
			res.Rules = append(res.Rules, RuleFinding{DynamicGroupID: dgs[f.Index].ID, DynamicGroupName: dgs[f.Index].Name, Finding: f})
		}
	}
	return res, nil
}

// dynamicGroupsNamed loads the dynamic groups the statements name.
func (s *Service) dynamicGroupsNamed(ctx context.Context, tenancy string, statements []string) ([]iam.DynamicGroup, error) {
	named := iam.DynamicGroupsNamed(statements)
	if len(named) == 0 {
		return nil, nil
	}
	var out []iam.DynamicGroup
	page := ""
	for {
		dgs, next, err := s.ListDynamicGroups(ctx, tenancy, ListOptions{Page: page, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("identity: lint: list dynamic groups: %w", err)
		}
		for _, d := range dgs {
			if named[strings.ToLower(d.ID)] || named[strings.ToLower(d.Name)] {
				out = append(out, iam.DynamicGroup{ID: d.ID, Name: d.Name, MatchingRule: d.MatchingRule})
			}
		}
		if next == "" {
			return out, nil
		}
		page = next
	}
}
