package identity

import (
	"context"
)

// Identity records are authorized by the policy variables that describe
// them (target.user.name, target.policy.id, ...; see iam's condition
// variables). Each record type names its own, so that loading a record and
// creating one (where only the requested name is known yet) describe it
// alike. An id that is still empty (a record not created yet) is left out
// rather than sent empty.

// Vars are the user's target variables.
func (u User) Vars() map[string]string {
	return targetVars("target.user", u.ID, u.Name)
}

// Vars are the group's target variables.
func (g Group) Vars() map[string]string {
	return targetVars("target.group", g.ID, g.Name)
}

// Vars are the dynamic group's target variables.
func (d DynamicGroup) Vars() map[string]string {
	return targetVars("target.dynamicgroup", d.ID, d.Name)
}

// Vars are the policy's target variables.
func (p Policy) Vars() map[string]string {
	return targetVars("target.policy", p.ID, p.Name)
}

// Vars are the membership's target variables: its user and its group.
func (m Membership) Vars() map[string]string {
	return map[string]string{"target.user.id": m.UserID, "target.group.id": m.GroupID}
}

func targetVars(prefix, id, name string) map[string]string {
	vars := map[string]string{prefix + ".name": name}
	if id != "" {
		vars[prefix+".id"] = id
	}
	return vars
}

// TenancyID returns the tenancy's OCID, or ErrNotBootstrapped.
func (s *Service) TenancyID(ctx context.Context) (string, error) {
	t, err := s.Tenancy(ctx)
	return t.ID, err
}
