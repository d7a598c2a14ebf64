package identity

import (
	"context"
	"strings"
	"testing"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/store"
)

// An id that cannot be part of a storage key (the store refuses the key) names
// nothing: the Service answers NotFound, as for any unknown id, and never a
// storage failure (500), whoever calls it. The wire handlers happen to check
// ids first; the agent, the CLI and other domains need not.
func TestIDsTheStoreRefusesAreNotFound(t *testing.T) {
	ctx := context.Background()
	svc, res := bootstrapped(t)
	ids := map[string]string{
		"nul":          "ocid1.user.oc1..a\x00b",
		"invalid utf8": "ocid1.user.oc1..\xff",
		"too long":     strings.Repeat("x", store.MaxKeyLen),
	}
	for name, id := range ids {
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				op   string
				kind errs.Kind
				call func() error
			}{
				{"GetUser", errs.NotFound, func() error { _, err := svc.GetUser(ctx, id); return err }},
				{"GetGroup", errs.NotFound, func() error { _, err := svc.GetGroup(ctx, id); return err }},
				{"GetDynamicGroup", errs.NotFound, func() error { _, err := svc.GetDynamicGroup(ctx, id); return err }},
				{"GetMembership", errs.NotFound, func() error { _, err := svc.GetMembership(ctx, id); return err }},
				{"GetPolicy", errs.NotFound, func() error { _, err := svc.GetPolicy(ctx, id); return err }},
				{"GetCompartment", errs.NotFound, func() error { _, err := svc.GetCompartment(ctx, id); return err }},
				{"UpdateUser", errs.NotFound, func() error { _, err := svc.UpdateUser(ctx, id, UserInput{}, ""); return err }},
				{"UpdatePolicy", errs.NotFound, func() error { _, err := svc.UpdatePolicy(ctx, id, PolicyInput{}, ""); return err }},
				{"DeleteGroup", errs.NotFound, func() error { return svc.DeleteGroup(ctx, id, "") }},
				{"DeleteCompartment", errs.NotFound, func() error { _, err := svc.DeleteCompartment(ctx, id, ""); return err }},
				{"RemoveUserFromGroup", errs.NotFound, func() error { return svc.RemoveUserFromGroup(ctx, id, "") }},
				{"ListAPIKeys", errs.NotFound, func() error { _, err := svc.ListAPIKeys(ctx, id); return err }},
				{"DeleteAPIKey", errs.NotFound, func() error { return svc.DeleteAPIKey(ctx, id, "aa:bb") }},
				{"UserPrincipal", errs.NotFound, func() error { _, err := svc.UserPrincipal(ctx, id); return err }},
				{"AddUserToGroup", errs.RelatedNotFound, func() error { _, err := svc.AddUserToGroup(ctx, id, res.GroupID); return err }},
				{"CreatePolicy", errs.NotFound, func() error {
					_, err := svc.CreatePolicy(ctx, PolicyInput{CompartmentID: id, Name: ptr("p"), Description: ptr("d"),
						Statements: []string{"Allow group Administrators to manage all-resources in tenancy"}})
					return err
				}},
			} {
				if err := c.call(); !errs.Is(err, c.kind) {
					t.Errorf("%s(%q) = %v, want %v", c.op, id, err, c.kind)
				}
			}
			if found, err := svc.CompartmentExists(ctx, id); err != nil || found {
				t.Errorf("CompartmentExists(%q) = %v, %v; want false, nil", id, found, err)
			}
		})
	}
}
