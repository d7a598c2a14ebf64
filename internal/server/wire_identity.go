package server

import (
	"context"
	"fmt"

	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/identity"
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
		Usage:      []identity.CompartmentUsage{s.KMS},
		Authorizer: w.api.Authorizer,
		Explain:    s.explainer(),
	}
	if s.Secrets != nil {
		h.Usage = append(h.Usage, s.Secrets)
	}
	w.register(w.api, w.main, h.Routes()...)
	return nil
}

// explainer is the explain API's engine over the served domains (the
// policy engine must be wired: wireIdentity does it).
func (s *Server) explainer() *identityapi.Explainer {
	x := &identityapi.Explainer{Identity: s.Identity, Engine: s.Policies, Vaults: s.KMS, Keys: s.KMS}
	if s.Secrets != nil {
		x.Secrets = s.Secrets
	}
	return x
}
