package server

import (
	"context"
	"fmt"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ociapi/identityapi"
)

// secretKeyRule reports whether Coffer's rule "reading a secret bundle, and
// writing secret content, also needs use keys on the secret's key" is on
// (Config.SecretKeyRule; default on).
func (c Config) secretKeyRule() bool { return c.SecretKeyRule == nil || *c.SecretKeyRule }

// policyEngine compiles the identity records into the policy engine that
// authorizes every request, and keeps it for the explain API.
func (s *Server) policyEngine(ctx context.Context) (*identity.PolicyEngine, error) {
	pe, err := identity.NewPolicyEngine(ctx, s.Identity, iam.Options{MirrorOCITable: !s.cfg.secretKeyRule(), Now: s.cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("policy engine: %w", err)
	}
	s.Policies = pe
	return pe, nil
}

// wireIdentity registers the identity routes and the explain API.
func (s *Server) wireIdentity(ctx context.Context, w *wiring) error {
	if s.Policies == nil {
		if _, err := s.policyEngine(ctx); err != nil {
			return err
		}
	}
	h := &identityapi.Handlers{
		Identity:   s.Identity,
		Region:     s.cfg.Region,
		Usage:      []identity.CompartmentUsage{vaultUsage{s.KMS}},
		Authorizer: w.api.Authorizer,
		Explain: &identityapi.Explainer{
			Identity: s.Identity,
			Engine:   s.Policies,
			Vaults:   vaultResources{s.KMS},
		},
	}
	w.api.Register(w.main, h.Routes()...)
	return nil
}

// vaultUsage tells DeleteCompartment about vaults that are not DELETED.
type vaultUsage struct{ kms *kms.Service }

func (u vaultUsage) CompartmentInUse(ctx context.Context, compartmentID string) (string, bool, error) {
	all, err := u.kms.AllVaults(ctx)
	if err != nil {
		return "", false, err
	}
	for _, v := range all {
		if v.CompartmentID == compartmentID && v.State != kms.VaultDeleted {
			return fmt.Sprintf("vault %s (%s)", v.DisplayName, v.State), true, nil
		}
	}
	return "", false, nil
}

// vaultResources loads vaults for the explain API.
type vaultResources struct{ kms *kms.Service }

func (r vaultResources) Resource(ctx context.Context, id string) (*authz.Resource, error) {
	v, err := r.kms.GetVault(ctx, id)
	if err != nil {
		return nil, err
	}
	return &authz.Resource{ID: v.ID, Name: v.DisplayName, CompartmentID: v.CompartmentID, VaultID: v.ID}, nil
}
