package identity

import (
	"context"
	"strings"
	"sync"

	"github.com/coffer-vault/coffer/internal/authz"
)

// SimpleAuthorizer evaluates only statements of the form
// "Allow group NAME to manage all-resources in tenancy". It exists so that no
// request bypasses authorization before the full policy engine is wired in;
// every other statement grants nothing.
type SimpleAuthorizer struct {
	svc *Service

	mu     sync.Mutex
	gen    uint64
	loaded bool
	admins map[string]bool // group IDs granted everything
}

// NewSimpleAuthorizer returns an authorizer over svc's policies.
func NewSimpleAuthorizer(svc *Service) *SimpleAuthorizer { return &SimpleAuthorizer{svc: svc} }

// Authorize implements authz.Authorizer.
func (a *SimpleAuthorizer) Authorize(ctx context.Context, req authz.Request) (authz.Decision, error) {
	admins, err := a.adminGroups(ctx)
	if err != nil {
		return authz.Decision{}, err
	}
	if req.Principal != nil {
		for _, g := range req.Principal.GroupIDs {
			if admins[g] {
				return authz.Decision{Allowed: true, Reason: "group " + g + " may manage all-resources in tenancy"}, nil
			}
		}
	}
	return authz.Decision{Allowed: false, Reason: "no statement grants manage all-resources in tenancy to the caller's groups"}, nil
}

func (a *SimpleAuthorizer) adminGroups(ctx context.Context) (map[string]bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	gen := a.svc.Generation()
	if a.loaded && a.gen == gen {
		return a.admins, nil
	}
	snap, err := a.svc.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]string{}
	for _, g := range snap.Groups {
		byName[strings.ToLower(g.Name)] = g.ID
	}
	admins := map[string]bool{}
	for _, p := range snap.Policies {
		if p.CompartmentID != snap.TenancyID {
			continue
		}
		for _, st := range p.Statements {
			f := strings.Fields(strings.ToLower(st))
			if len(f) == 7 && f[0] == "allow" && f[1] == "group" && f[3] == "to" && f[4] == "manage" && f[5] == "all-resources" && f[6] == "in" {
				continue // "in" without location: malformed
			}
			if len(f) == 8 && f[0] == "allow" && f[1] == "group" && f[3] == "to" && f[4] == "manage" &&
				f[5] == "all-resources" && f[6] == "in" && f[7] == "tenancy" {
				if id, ok := byName[f[2]]; ok {
					admins[id] = true
				}
			}
		}
	}
	a.admins, a.gen, a.loaded = admins, gen, true
	return admins, nil
}
