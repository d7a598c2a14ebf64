package identity

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/store"
)

// PolicyEngine is the server's authorizer: the iam engine compiled from this
// Service's records, recompiled whenever the identity generation moves (on
// every identity write, eagerly from OnChange and, as a backstop, lazily
// before a decision), and swapped atomically so a policy change applies
// from the next request on.
type PolicyEngine struct {
	svc    *Service
	opts   iam.Options
	holder *iam.Holder

	mu       sync.Mutex    // serialises compiles
	compiled atomic.Uint64 // generation+1 of the engine in holder; 0: none
}

// NewPolicyEngine compiles the current records and keeps the engine in step
// with later writes. It also becomes svc's statement resolver, so that
// CreatePolicy and UpdatePolicy refuse statements naming unknown groups or
// compartments.
func NewPolicyEngine(ctx context.Context, svc *Service, opts iam.Options) (*PolicyEngine, error) {
	e := &PolicyEngine{svc: svc, opts: opts, holder: iam.NewHolder(nil)}
	if _, err := e.Engine(ctx); err != nil {
		return nil, err
	}
	var r StatementResolver = e
	svc.resolver.Store(&r)
	svc.OnChange(func() { _, _ = e.Engine(context.Background()) })
	return e, nil
}

// Engine returns the engine for the current identity generation,
// compiling it first if a write happened since the last compile.
func (e *PolicyEngine) Engine(ctx context.Context) (*iam.Engine, error) {
	if g := e.svc.Generation() + 1; e.compiled.Load() == g {
		return e.holder.Engine(), nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Read the generation before the snapshot: a write that lands while we
	// compile moves it again, and the next call recompiles.
	g := e.svc.Generation() + 1
	if e.compiled.Load() == g {
		return e.holder.Engine(), nil
	}
	snap, err := e.svc.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("identity: policy snapshot: %w", err)
	}
	if err := e.holder.Update(snap.IAM(), e.opts); err != nil {
		return nil, fmt.Errorf("identity: compile policies: %w", err)
	}
	e.compiled.Store(g)
	return e.holder.Engine(), nil
}

// Authorize implements authz.Authorizer.
func (e *PolicyEngine) Authorize(ctx context.Context, req authz.Request) (authz.Decision, error) {
	eng, err := e.Engine(ctx)
	if err != nil {
		return authz.Decision{Reason: "the policy engine could not be loaded"}, err
	}
	return eng.Authorize(ctx, req)
}

// CheckStatement implements StatementResolver with the current engine.
func (e *PolicyEngine) CheckStatement(stmt, compartmentID string) error {
	eng, err := e.Engine(context.Background())
	if err != nil {
		return err
	}
	return eng.CheckStatement(stmt, compartmentID)
}

// IAM converts a snapshot to the policy engine's input. Deleted
// compartments are left out, so statements naming them stop resolving.
func (s Snapshot) IAM() *iam.Snapshot {
	out := &iam.Snapshot{TenancyID: s.TenancyID, TenancyName: s.TenancyName}
	for _, c := range s.Compartments {
		if c.State == StateActive {
			out.Compartments = append(out.Compartments, iam.Compartment{ID: c.ID, ParentID: c.ParentID, Name: c.Name})
		}
	}
	for _, g := range s.Groups {
		out.Groups = append(out.Groups, iam.Group{ID: g.ID, Name: g.Name})
		if strings.EqualFold(g.Name, AdministratorsGroup) {
			out.AdministratorsGroupID = g.ID
		}
	}
	for _, d := range s.DynamicGroups {
		out.DynamicGroups = append(out.DynamicGroups, iam.DynamicGroup{ID: d.ID, Name: d.Name, MatchingRule: d.MatchingRule})
	}
	for _, p := range s.Policies {
		out.Policies = append(out.Policies, iam.Policy{ID: p.ID, Name: p.Name, CompartmentID: p.CompartmentID, Statements: p.Statements})
	}
	return out
}

// UserPrincipal builds the principal a user's requests carry (its groups
// resolved), for `coffer iam explain`.
func (s *Service) UserPrincipal(ctx context.Context, userID string) (*authz.Principal, error) {
	var (
		u      User
		t      Tenancy
		groups []string
	)
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		if t, err = tenancyOf(r); err != nil {
			return err
		}
		if u, err = get[User](r, prefixUser+userID, "user", userID); err != nil {
			return err
		}
		groups, err = userGroups(r, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if u.State != StateActive {
		return nil, errs.E(errs.Invalid, "user %s is %s: its requests are refused before authorization", userID, u.State)
	}
	return &authz.Principal{Type: authz.PrincipalUser, ID: u.ID, TenancyID: t.ID, GroupIDs: groups,
		Attributes: map[string]string{"user.name": u.Name}}, nil
}
