package identity

import (
	"context"
	"fmt"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// MaxCompartmentDepth is how deep OCI lets compartments nest below the root.
const MaxCompartmentDepth = 6

// CompartmentUsage reports whether a compartment still holds resources of
// one domain (vaults, keys, secrets). The wire layer asks every registered
// usage before DeleteCompartment; inUse names what is left, for the message.
type CompartmentUsage interface {
	CompartmentInUse(ctx context.Context, compartmentID string) (what string, inUse bool, err error)
}

// CompartmentInput is a CreateCompartment or UpdateCompartment request;
// nil fields are unchanged on update.
type CompartmentInput struct {
	ParentID     string // create only
	Name         *string
	Description  *string
	FreeformTags map[string]string
	DefinedTags  map[string]map[string]any
}

// rootCompartment presents the tenancy as the root compartment, as
// GetCompartment does in OCI.
func rootCompartment(t Tenancy) Compartment {
	return Compartment{ID: t.ID, ParentID: t.ID, Name: t.Name, Description: t.Description,
		State: StateActive, TimeCreated: t.TimeCreated, ETag: "root-" + t.ID}
}

// activeParent checks that id is the tenancy or an ACTIVE compartment and
// returns its depth below the root (0 for the tenancy).
func activeParent(r store.Reader, t Tenancy, id string) (int, error) {
	depth := 0
	for id != t.ID {
		c, err := get[Compartment](r, prefixCompart+id, "compartment", id)
		if err != nil {
			return 0, errs.E(errs.RelatedNotFound, "compartment %s not found or not authorized", id)
		}
		if c.State != StateActive {
			return 0, errs.E(errs.RelatedNotFound, "compartment %s is %s", id, c.State)
		}
		depth++
		if depth > MaxCompartmentDepth+1 {
			return 0, fmt.Errorf("identity: compartment tree too deep or cyclic at %s", id)
		}
		id = c.ParentID
	}
	return depth, nil
}

// CreateCompartment creates a compartment under a parent (the tenancy or an
// ACTIVE compartment). Names are unique among siblings.
func (s *Service) CreateCompartment(ctx context.Context, in CompartmentInput) (Compartment, error) {
	if in.ParentID == "" {
		return Compartment{}, errs.E(errs.Missing, "compartmentId (the parent) is required")
	}
	if in.Name == nil {
		return Compartment{}, errs.E(errs.Missing, "name is required")
	}
	if err := compartmentNames.check(*in.Name); err != nil {
		return Compartment{}, err
	}
	if err := checkDescription(in.Description, true); err != nil {
		return Compartment{}, err
	}
	c := Compartment{ID: ocid.New(ocid.Compartment, s.region), ParentID: in.ParentID, Name: *in.Name,
		Description: *in.Description, State: StateActive, TimeCreated: s.now().UTC(),
		FreeformTags: in.FreeformTags, DefinedTags: in.DefinedTags, ETag: etag.New()}
	err := s.update(ctx, func(tx store.Tx) error {
		t, err := tenancyOf(tx)
		if err != nil {
			return err
		}
		depth, err := activeParent(tx, t, in.ParentID)
		if err != nil {
			return err
		}
		if depth+1 > MaxCompartmentDepth {
			return errs.E(errs.LimitExceeded, "compartments nest at most %d levels below the tenancy", MaxCompartmentDepth)
		}
		all, err := record.List[Compartment](tx, prefixCompart)
		if err != nil {
			return err
		}
		if len(all) >= MaxCompartments {
			return errs.E(errs.LimitExceeded, "the tenancy has %d compartments, the most allowed", MaxCompartments)
		}
		if err := claimName(tx, s.nameKey(nameCompartment, c.ParentID, c.Name), c.ID, "a compartment in this parent", c.Name); err != nil {
			return err
		}
		return record.Put(tx, prefixCompart+c.ID, c)
	})
	if err != nil {
		return Compartment{}, fmt.Errorf("identity: create compartment: %w", err)
	}
	return c, nil
}

// GetCompartment returns a compartment; the tenancy OCID gives the root.
func (s *Service) GetCompartment(ctx context.Context, id string) (Compartment, error) {
	var c Compartment
	err := s.st.View(ctx, func(r store.Reader) error {
		t, err := tenancyOf(r)
		if err != nil {
			return err
		}
		if id == t.ID {
			c = rootCompartment(t)
			return nil
		}
		c, err = get[Compartment](r, prefixCompart+id, "compartment", id)
		return err
	})
	return c, err
}

// ListCompartmentsInput is a ListCompartments request.
type ListCompartmentsInput struct {
	ParentID string
	// Subtree lists every compartment below ParentID, which must then be the
	// tenancy (as OCI requires).
	Subtree bool
	// Keep, when set, drops compartments the caller may not see (accessLevel
	// ACCESSIBLE); it runs before paging.
	Keep func(Compartment) bool
	ListOptions
}

// ListCompartments lists the children (or the whole subtree) of a parent.
func (s *Service) ListCompartments(ctx context.Context, in ListCompartmentsInput) ([]Compartment, string, error) {
	if in.ParentID == "" {
		return nil, "", errs.E(errs.Missing, "query parameter compartmentId is required")
	}
	var out []Compartment
	err := s.st.View(ctx, func(r store.Reader) error {
		t, err := tenancyOf(r)
		if err != nil {
			return err
		}
		if in.Subtree && in.ParentID != t.ID {
			return errs.E(errs.Invalid, "compartmentIdInSubtree can only be true when compartmentId is the tenancy")
		}
		all, err := record.List[Compartment](r, prefixCompart)
		if err != nil {
			return err
		}
		for _, c := range all {
			if (in.Subtree || c.ParentID == in.ParentID) && (in.Keep == nil || in.Keep(c)) {
				out = append(out, c)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return sortAndPage(out, in.ListOptions)
}

// UpdateCompartment renames a compartment or changes its description and
// tags. A rename rewrites, in the same transaction, the policy statements
// whose location path resolves to the compartment (see the package
// comment).
func (s *Service) UpdateCompartment(ctx context.Context, id string, in CompartmentInput, ifMatch string) (Compartment, error) {
	if in.Name != nil {
		if err := compartmentNames.check(*in.Name); err != nil {
			return Compartment{}, err
		}
	}
	if err := checkDescription(in.Description, false); err != nil {
		return Compartment{}, err
	}
	var c Compartment
	err := s.update(ctx, func(tx store.Tx) error {
		var err error
		if _, c, err = changeableCompartment(tx, id, ifMatch, "the root compartment is the tenancy; it cannot be updated here"); err != nil {
			return err
		}
		if in.Name != nil && *in.Name != c.Name {
			if err := tx.Delete(s.nameKey(nameCompartment, c.ParentID, c.Name)); err != nil {
				return err
			}
			if err := claimName(tx, s.nameKey(nameCompartment, c.ParentID, *in.Name), c.ID, "a compartment in this parent", *in.Name); err != nil {
				return err
			}
			if err := rewritePolicies(tx, rename{compartmentID: c.ID, oldName: c.Name, newName: *in.Name}); err != nil {
				return err
			}
			c.Name = *in.Name
		}
		c.Description = strOr(in.Description, c.Description)
		mergeTags(&c.FreeformTags, &c.DefinedTags, in.FreeformTags, in.DefinedTags)
		c.ETag = etag.New()
		return record.Put(tx, prefixCompart+c.ID, c)
	})
	return c, err
}

// DeleteCompartment deletes an empty compartment: no active child
// compartments, no policies attached, and nothing any usage reports. The
// record stays, DELETED, as in OCI; its name is free again. The work
// request that records it (OCI deletes asynchronously) is returned.
func (s *Service) DeleteCompartment(ctx context.Context, id, ifMatch string, usages ...CompartmentUsage) (WorkRequest, error) {
	for _, u := range usages {
		what, inUse, err := u.CompartmentInUse(ctx, id)
		if err != nil {
			return WorkRequest{}, fmt.Errorf("identity: delete compartment %s: %w", id, err)
		}
		if inUse {
			return WorkRequest{}, errs.E(errs.Conflict, "compartment %s is not empty: it still holds %s; delete or move them first", id, what)
		}
	}
	var w WorkRequest
	err := s.update(ctx, func(tx store.Tx) error {
		_, c, err := changeableCompartment(tx, id, ifMatch, "the root compartment cannot be deleted")
		if err != nil {
			return err
		}
		all, err := record.List[Compartment](tx, prefixCompart)
		if err != nil {
			return err
		}
		for _, child := range all {
			if child.ParentID == id && child.State == StateActive {
				return errs.E(errs.Conflict, "compartment %s is not empty: it holds compartment %s", id, child.Name)
			}
		}
		policies, err := record.List[Policy](tx, prefixPolicy)
		if err != nil {
			return err
		}
		for _, p := range policies {
			if p.CompartmentID == id {
				return errs.E(errs.Conflict, "compartment %s is not empty: policy %s is attached to it", id, p.Name)
			}
		}
		if err := tx.Delete(s.nameKey(nameCompartment, c.ParentID, c.Name)); err != nil {
			return err
		}
		c.State = StateDeleted
		c.ETag = etag.New()
		if err := record.Put(tx, prefixCompart+c.ID, c); err != nil {
			return err
		}
		w, err = s.compartmentWork(tx, WorkRequestDeleteCompartment, "DELETED", c)
		return err
	})
	return w, err
}

// nonRootCompartment reads the tenancy and compartment id, which must not
// be the root compartment (the tenancy): that is Invalid, with refusal as
// the message.
func nonRootCompartment(r store.Reader, id, refusal string) (Tenancy, Compartment, error) {
	t, err := tenancyOf(r)
	if err != nil {
		return Tenancy{}, Compartment{}, err
	}
	if id == t.ID {
		return t, Compartment{}, errs.E(errs.Invalid, "%s", refusal)
	}
	c, err := get[Compartment](r, prefixCompart+id, "compartment", id)
	return t, c, err
}

// changeableCompartment is nonRootCompartment for a change to the
// compartment: it must also match ifMatch and be ACTIVE.
func changeableCompartment(r store.Reader, id, ifMatch, refusal string) (Tenancy, Compartment, error) {
	t, c, err := nonRootCompartment(r, id, refusal)
	if err != nil {
		return t, c, err
	}
	if err := checkETag(ifMatch, c.ETag, "compartment", id); err != nil {
		return t, c, err
	}
	if c.State != StateActive {
		return t, c, errs.E(errs.IncorrectState, "compartment %s is %s", id, c.State)
	}
	return t, c, nil
}
