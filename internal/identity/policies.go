package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// StatementResolver resolves the names in a statement (groups, dynamic
// groups, compartments) for a policy attached to compartmentID. The policy
// engine implements it; see PolicyEngine.
type StatementResolver interface {
	CheckStatement(stmt, compartmentID string) error
}

// PolicyInput is a CreatePolicy or UpdatePolicy request; nil fields are
// unchanged on update.
type PolicyInput struct {
	CompartmentID string // create only
	Name          *string
	Description   *string
	Statements    []string
	VersionDate   *string // YYYY-MM-DD
	FreeformTags  map[string]string
	DefinedTags   map[string]map[string]any
}

// checkStatements validates each statement's syntax and vocabulary, then
// (when a resolver is set) its names. The message points at the statement
// index and the position in it, and says what was expected there.
func (s *Service) checkStatements(stmts []string, compartmentID string) error {
	if len(stmts) == 0 {
		return errs.E(errs.Missing, "statements is required: a policy needs at least one statement")
	}
	if len(stmts) > MaxStatementsPerPolicy {
		return errs.E(errs.LimitExceeded, "a policy holds at most %d statements; this one has %d", MaxStatementsPerPolicy, len(stmts))
	}
	for i, st := range stmts {
		if err := iam.ValidateStatement(st); err != nil {
			return errs.Wrap(errs.Invalid, err, "statements[%d] is not valid: %s (statement: %q)", i, err.Error(), st)
		}
	}
	r := s.resolver.Load()
	if r == nil {
		return nil
	}
	for i, st := range stmts {
		if err := (*r).CheckStatement(st, compartmentID); err != nil {
			var syn *iam.SyntaxError
			if errors.As(err, &syn) || errors.Is(err, iam.ErrUnresolved) || errors.Is(err, iam.ErrUnsupported) {
				return errs.Wrap(errs.Invalid, err, "statements[%d] is not valid: %s (statement: %q)", i, err.Error(), st)
			}
			return fmt.Errorf("identity: check statement %d: %w", i, err)
		}
	}
	return nil
}

func checkVersionDate(d *string) error {
	if d == nil || *d == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, *d); err != nil {
		return errs.E(errs.Invalid, "versionDate %q is not a date of the form YYYY-MM-DD", *d)
	}
	return nil
}

// activeCompartment checks that id is the tenancy or an ACTIVE compartment.
func activeCompartment(r store.Reader, id string) error {
	t, err := tenancyOf(r)
	if err != nil {
		return err
	}
	if id == t.ID {
		return nil
	}
	c, err := get[Compartment](r, prefixCompart+id, "compartment", id)
	if err != nil {
		return err
	}
	if c.State != StateActive {
		return errs.E(errs.NotFound, "compartment %s not found or not authorized", id)
	}
	return nil
}

// CreatePolicy attaches a new policy to a compartment. Every statement is
// validated first; names are unique per compartment. The policy applies
// from the next request on.
func (s *Service) CreatePolicy(ctx context.Context, in PolicyInput) (Policy, error) {
	if in.CompartmentID == "" {
		return Policy{}, errs.E(errs.Missing, "compartmentId is required")
	}
	if in.Name == nil {
		return Policy{}, errs.E(errs.Missing, "name is required")
	}
	if err := policyNames.check(*in.Name); err != nil {
		return Policy{}, err
	}
	if err := checkDescription(in.Description, true); err != nil {
		return Policy{}, err
	}
	if err := checkVersionDate(in.VersionDate); err != nil {
		return Policy{}, err
	}
	if err := s.checkStatements(in.Statements, in.CompartmentID); err != nil {
		return Policy{}, err
	}
	p := Policy{ID: ocid.New(ocid.Policy, s.region), CompartmentID: in.CompartmentID, Name: *in.Name,
		Description: *in.Description, Statements: in.Statements, VersionDate: strOr(in.VersionDate, ""),
		State: StateActive, TimeCreated: s.now().UTC(), FreeformTags: in.FreeformTags, DefinedTags: in.DefinedTags, ETag: etag.New()}
	err := s.update(ctx, func(tx store.Tx) error {
		if err := activeCompartment(tx, in.CompartmentID); err != nil {
			return err
		}
		if err := claimName(tx, s.nameKey(namePolicy, p.CompartmentID, p.Name), p.ID, "a policy in this compartment", p.Name); err != nil {
			return err
		}
		return record.Put(tx, prefixPolicy+p.ID, p)
	})
	if err != nil {
		return Policy{}, fmt.Errorf("identity: create policy: %w", err)
	}
	return p, nil
}

// GetPolicy returns a policy.
func (s *Service) GetPolicy(ctx context.Context, id string) (Policy, error) {
	return viewOne[Policy](ctx, s, prefixPolicy, "policy", id)
}

// ListPolicies lists the policies attached to one compartment.
func (s *Service) ListPolicies(ctx context.Context, compartmentID string, o ListOptions) ([]Policy, string, error) {
	if compartmentID == "" {
		return nil, "", errs.E(errs.Missing, "query parameter compartmentId is required")
	}
	var out []Policy
	err := s.st.View(ctx, func(r store.Reader) error {
		all, err := record.List[Policy](r, prefixPolicy)
		if err != nil {
			return err
		}
		for _, p := range all {
			if p.CompartmentID == compartmentID {
				out = append(out, p)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return sortAndPage(out, o)
}

// UpdatePolicy replaces a policy's statements, description, version date
// or tags. The change applies from the next request on.
func (s *Service) UpdatePolicy(ctx context.Context, id string, in PolicyInput, ifMatch string) (Policy, error) {
	if err := checkDescription(in.Description, false); err != nil {
		return Policy{}, err
	}
	if err := checkVersionDate(in.VersionDate); err != nil {
		return Policy{}, err
	}
	cur, err := s.GetPolicy(ctx, id)
	if err != nil {
		return Policy{}, err
	}
	if in.Statements != nil {
		if err := s.checkStatements(in.Statements, cur.CompartmentID); err != nil {
			return Policy{}, err
		}
	}
	var p Policy
	err = s.update(ctx, func(tx store.Tx) error {
		var err error
		if p, err = get[Policy](tx, prefixPolicy+id, "policy", id); err != nil {
			return err
		}
		if err := checkETag(ifMatch, p.ETag, "policy", id); err != nil {
			return err
		}
		p.Description = strOr(in.Description, p.Description)
		p.VersionDate = strOr(in.VersionDate, p.VersionDate)
		if in.Statements != nil {
			p.Statements = in.Statements
		}
		mergeTags(&p.FreeformTags, &p.DefinedTags, in.FreeformTags, in.DefinedTags)
		p.ETag = etag.New()
		return record.Put(tx, prefixPolicy+p.ID, p)
	})
	return p, err
}

// DeletePolicy deletes a policy; what it granted stops on the next request.
func (s *Service) DeletePolicy(ctx context.Context, id, ifMatch string) error {
	return s.update(ctx, func(tx store.Tx) error {
		p, err := get[Policy](tx, prefixPolicy+id, "policy", id)
		if err != nil {
			return err
		}
		if err := checkETag(ifMatch, p.ETag, "policy", id); err != nil {
			return err
		}
		if err := tx.Delete(s.nameKey(namePolicy, p.CompartmentID, p.Name)); err != nil {
			return err
		}
		return tx.Delete(prefixPolicy + id)
	})
}
