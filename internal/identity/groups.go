package identity

import (
	"context"
	"fmt"
	"strings"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// More limits from OCI's (docs/oci-behaviours.md#policy-language).
const (
	MaxDynamicGroups      = 50
	MaxMatchingRuleLength = 100000
	MaxGroupsPerUser      = 250
)

// GroupInput is a CreateGroup, UpdateGroup, CreateDynamicGroup or
// UpdateDynamicGroup request; nil fields are unchanged on update.
type GroupInput struct {
	CompartmentID string // create only: the tenancy
	Name          *string
	Description   *string
	MatchingRule  *string // dynamic groups only
	FreeformTags  map[string]string
	DefinedTags   map[string]map[string]any
}

// CreateGroup creates a group. Group and dynamic-group names share one
// namespace in the tenancy.
func (s *Service) CreateGroup(ctx context.Context, in GroupInput) (Group, error) {
	if in.Name == nil {
		return Group{}, errs.E(errs.Missing, "name is required")
	}
	if err := groupNames.check(*in.Name); err != nil {
		return Group{}, err
	}
	if err := checkDescription(in.Description, true); err != nil {
		return Group{}, err
	}
	g := Group{ID: ocid.New(ocid.Group, s.region), Name: *in.Name, Description: *in.Description,
		State: StateActive, TimeCreated: s.now().UTC(), FreeformTags: in.FreeformTags, DefinedTags: in.DefinedTags, ETag: etag.New()}
	err := s.update(ctx, func(tx store.Tx) error {
		t, err := checkTenancy(tx, in.CompartmentID)
		if err != nil {
			return err
		}
		g.TenancyID = t.ID
		if err := claimName(tx, s.nameKey(nameGroup, "", g.Name), g.ID, "a group or dynamic group", g.Name); err != nil {
			return err
		}
		return record.Put(tx, prefixGroup+g.ID, g)
	})
	if err != nil {
		return Group{}, fmt.Errorf("identity: create group: %w", err)
	}
	return g, nil
}

// GetGroup returns a group.
func (s *Service) GetGroup(ctx context.Context, id string) (Group, error) {
	return viewOne[Group](ctx, s, prefixGroup, "group", id)
}

// ListGroups lists the groups of the tenancy.
func (s *Service) ListGroups(ctx context.Context, compartmentID string, o ListOptions) ([]Group, string, error) {
	return listInTenancy[Group](ctx, s, compartmentID, prefixGroup, o)
}

// UpdateGroup changes a group's name, description and tags. A rename
// rewrites the policy statements that name the group, in the same
// transaction (see the package comment).
func (s *Service) UpdateGroup(ctx context.Context, id string, in GroupInput, ifMatch string) (Group, error) {
	if err := checkGroupUpdate(in); err != nil {
		return Group{}, err
	}
	var g Group
	err := s.update(ctx, func(tx store.Tx) error {
		var err error
		if g, err = get[Group](tx, prefixGroup+id, "group", id); err != nil {
			return err
		}
		if err := checkETag(ifMatch, g.ETag, "group", id); err != nil {
			return err
		}
		if strings.EqualFold(g.Name, AdministratorsGroup) && in.Name != nil && *in.Name != g.Name {
			return errs.E(errs.Invalid, "the %s group cannot be renamed: Coffer recognises it by name", AdministratorsGroup)
		}
		if g.Name, err = s.renameGroup(tx, iam.SubjectGroup, g.ID, g.Name, in.Name); err != nil {
			return err
		}
		g.Description = strOr(in.Description, g.Description)
		mergeTags(&g.FreeformTags, &g.DefinedTags, in.FreeformTags, in.DefinedTags)
		g.ETag = etag.New()
		return record.Put(tx, prefixGroup+g.ID, g)
	})
	return g, err
}

// DeleteGroup deletes an empty group.
func (s *Service) DeleteGroup(ctx context.Context, id, ifMatch string) error {
	return s.update(ctx, func(tx store.Tx) error {
		g, err := get[Group](tx, prefixGroup+id, "group", id)
		if err != nil {
			return err
		}
		if err := checkETag(ifMatch, g.ETag, "group", id); err != nil {
			return err
		}
		members, err := record.List[Membership](tx, prefixMember)
		if err != nil {
			return err
		}
		for _, m := range members {
			if m.GroupID == id {
				return errs.E(errs.Conflict, "group %s is not empty; remove its members first", g.Name)
			}
		}
		if err := tx.Delete(s.nameKey(nameGroup, "", g.Name)); err != nil {
			return err
		}
		return tx.Delete(prefixGroup + id)
	})
}

// AddUserToGroup adds a user to a group. The user's next request carries
// the group.
func (s *Service) AddUserToGroup(ctx context.Context, userID, groupID string) (Membership, error) {
	if userID == "" || groupID == "" {
		return Membership{}, errs.E(errs.Missing, "userId and groupId are required")
	}
	var m Membership
	err := s.update(ctx, func(tx store.Tx) error {
		t, err := tenancyOf(tx)
		if err != nil {
			return err
		}
		if _, err := get[User](tx, prefixUser+userID, "user", userID); err != nil {
			return errs.E(errs.RelatedNotFound, "user %s not found or not authorized", userID)
		}
		if _, err := get[Group](tx, prefixGroup+groupID, "group", groupID); err != nil {
			return errs.E(errs.RelatedNotFound, "group %s not found or not authorized", groupID)
		}
		link := prefixUserGrp + userID + "/" + groupID
		if member, err := record.Exists(tx, link); err != nil {
			return err
		} else if member {
			return errs.E(errs.AlreadyExists, "user %s is already a member of group %s", userID, groupID)
		}
		n, err := tx.List(prefixUserGrp+userID+"/", "", 0)
		if err != nil {
			return err
		}
		if len(n) >= MaxGroupsPerUser {
			return errs.E(errs.LimitExceeded, "user %s is in %d groups, the most allowed", userID, MaxGroupsPerUser)
		}
		m = Membership{ID: ocid.New(ocid.Membership, s.region), TenancyID: t.ID, UserID: userID, GroupID: groupID,
			State: StateActive, TimeCreated: s.now().UTC(), ETag: etag.New()}
		if err := record.Put(tx, link, m.ID); err != nil {
			return err
		}
		return record.Put(tx, prefixMember+m.ID, m)
	})
	if err != nil {
		return Membership{}, fmt.Errorf("identity: add user to group: %w", err)
	}
	return m, nil
}

// userGroups returns the ids of the groups userID is a member of.
func userGroups(r store.Reader, userID string) ([]string, error) {
	return record.Names(r, prefixUserGrp+userID+"/")
}

// GetMembership returns a user-group membership.
func (s *Service) GetMembership(ctx context.Context, id string) (Membership, error) {
	return viewOne[Membership](ctx, s, prefixMember, "membership", id)
}

// ListMemberships lists memberships, filtered by user and group when given.
func (s *Service) ListMemberships(ctx context.Context, compartmentID, userID, groupID string, o ListOptions) ([]Membership, string, error) {
	var out []Membership
	err := s.st.View(ctx, func(r store.Reader) error {
		if _, err := checkTenancy(r, compartmentID); err != nil {
			return err
		}
		all, err := record.List[Membership](r, prefixMember)
		if err != nil {
			return err
		}
		for _, m := range all {
			if (userID == "" || m.UserID == userID) && (groupID == "" || m.GroupID == groupID) {
				out = append(out, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return sortAndPage(out, o)
}

// RemoveUserFromGroup deletes a membership; the user's next request no
// longer carries the group.
func (s *Service) RemoveUserFromGroup(ctx context.Context, id, ifMatch string) error {
	return s.update(ctx, func(tx store.Tx) error {
		m, err := get[Membership](tx, prefixMember+id, "membership", id)
		if err != nil {
			return err
		}
		if err := checkETag(ifMatch, m.ETag, "membership", id); err != nil {
			return err
		}
		if err := tx.Delete(prefixUserGrp + m.UserID + "/" + m.GroupID); err != nil {
			return err
		}
		return tx.Delete(prefixMember + id)
	})
}

// checkGroupUpdate checks the fields of an UpdateGroup or
// UpdateDynamicGroup request that need no record.
func checkGroupUpdate(in GroupInput) error {
	if in.Name != nil {
		if err := groupNames.check(*in.Name); err != nil {
			return err
		}
	}
	return checkDescription(in.Description, false)
}

// renameGroup moves a group's or dynamic group's unique name to newName
// (when given and different) and rewrites the policy statements that name
// it. It returns the name the record should carry.
func (s *Service) renameGroup(tx store.Tx, kind iam.SubjectKind, id, oldName string, newName *string) (string, error) {
	if newName == nil || *newName == oldName {
		return oldName, nil
	}
	if err := tx.Delete(s.nameKey(nameGroup, "", oldName)); err != nil {
		return "", err
	}
	if err := claimName(tx, s.nameKey(nameGroup, "", *newName), id, "a group or dynamic group", *newName); err != nil {
		return "", err
	}
	if err := rewritePolicies(tx, rename{subject: kind, oldName: oldName, newName: *newName}); err != nil {
		return "", err
	}
	return *newName, nil
}

// checkRule validates a matching rule with the policy engine's parser; the
// message names the position and what was expected.
func checkRule(rule string) error {
	if len(rule) > MaxMatchingRuleLength {
		return errs.E(errs.Invalid, "matchingRule is longer than %d characters", MaxMatchingRuleLength)
	}
	if err := iam.ValidateMatchingRule(rule); err != nil {
		return errs.Wrap(errs.Invalid, err, "matchingRule is not valid: %s", err.Error())
	}
	return nil
}

// CreateDynamicGroup creates a dynamic group after validating its rule.
func (s *Service) CreateDynamicGroup(ctx context.Context, in GroupInput) (DynamicGroup, error) {
	if in.Name == nil {
		return DynamicGroup{}, errs.E(errs.Missing, "name is required")
	}
	if err := groupNames.check(*in.Name); err != nil {
		return DynamicGroup{}, err
	}
	if err := checkDescription(in.Description, true); err != nil {
		return DynamicGroup{}, err
	}
	if in.MatchingRule == nil {
		return DynamicGroup{}, errs.E(errs.Missing, "matchingRule is required")
	}
	if err := checkRule(*in.MatchingRule); err != nil {
		return DynamicGroup{}, err
	}
	d := DynamicGroup{ID: ocid.New(ocid.DynamicGroup, s.region), Name: *in.Name, Description: *in.Description,
		MatchingRule: *in.MatchingRule, State: StateActive, TimeCreated: s.now().UTC(),
		FreeformTags: in.FreeformTags, DefinedTags: in.DefinedTags, ETag: etag.New()}
	err := s.update(ctx, func(tx store.Tx) error {
		t, err := checkTenancy(tx, in.CompartmentID)
		if err != nil {
			return err
		}
		d.TenancyID = t.ID
		n, err := tx.List(prefixDynGroup, "", 0)
		if err != nil {
			return err
		}
		if len(n) >= MaxDynamicGroups {
			return errs.E(errs.LimitExceeded, "the tenancy has %d dynamic groups, the most allowed", MaxDynamicGroups)
		}
		if err := claimName(tx, s.nameKey(nameGroup, "", d.Name), d.ID, "a group or dynamic group", d.Name); err != nil {
			return err
		}
		return record.Put(tx, prefixDynGroup+d.ID, d)
	})
	if err != nil {
		return DynamicGroup{}, fmt.Errorf("identity: create dynamic group: %w", err)
	}
	return d, nil
}

// GetDynamicGroup returns a dynamic group.
func (s *Service) GetDynamicGroup(ctx context.Context, id string) (DynamicGroup, error) {
	return viewOne[DynamicGroup](ctx, s, prefixDynGroup, "dynamic group", id)
}

// ListDynamicGroups lists the dynamic groups of the tenancy.
func (s *Service) ListDynamicGroups(ctx context.Context, compartmentID string, o ListOptions) ([]DynamicGroup, string, error) {
	return listInTenancy[DynamicGroup](ctx, s, compartmentID, prefixDynGroup, o)
}

// UpdateDynamicGroup changes a dynamic group's name, description, rule and
// tags. A rename rewrites the policy statements that name the dynamic
// group, in the same transaction.
func (s *Service) UpdateDynamicGroup(ctx context.Context, id string, in GroupInput, ifMatch string) (DynamicGroup, error) {
	if err := checkGroupUpdate(in); err != nil {
		return DynamicGroup{}, err
	}
	if in.MatchingRule != nil {
		if err := checkRule(*in.MatchingRule); err != nil {
			return DynamicGroup{}, err
		}
	}
	var d DynamicGroup
	err := s.update(ctx, func(tx store.Tx) error {
		var err error
		if d, err = get[DynamicGroup](tx, prefixDynGroup+id, "dynamic group", id); err != nil {
			return err
		}
		if err := checkETag(ifMatch, d.ETag, "dynamic group", id); err != nil {
			return err
		}
		if d.Name, err = s.renameGroup(tx, iam.SubjectDynamicGroup, d.ID, d.Name, in.Name); err != nil {
			return err
		}
		d.Description = strOr(in.Description, d.Description)
		d.MatchingRule = strOr(in.MatchingRule, d.MatchingRule)
		mergeTags(&d.FreeformTags, &d.DefinedTags, in.FreeformTags, in.DefinedTags)
		d.ETag = etag.New()
		return record.Put(tx, prefixDynGroup+d.ID, d)
	})
	return d, err
}

// DeleteDynamicGroup deletes a dynamic group.
func (s *Service) DeleteDynamicGroup(ctx context.Context, id, ifMatch string) error {
	return s.update(ctx, func(tx store.Tx) error {
		d, err := get[DynamicGroup](tx, prefixDynGroup+id, "dynamic group", id)
		if err != nil {
			return err
		}
		if err := checkETag(ifMatch, d.ETag, "dynamic group", id); err != nil {
			return err
		}
		if err := tx.Delete(s.nameKey(nameGroup, "", d.Name)); err != nil {
			return err
		}
		return tx.Delete(prefixDynGroup + id)
	})
}
