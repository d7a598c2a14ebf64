package server

import (
	"context"
	"fmt"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ociapi/identityapi"
	"github.com/coffer-vault/coffer/internal/secrets"
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
		Usage:      []identity.CompartmentUsage{vaultUsage{s.KMS}, keyUsage{s.KMS}},
		Authorizer: w.api.Authorizer,
		Explain: &identityapi.Explainer{
			Identity: s.Identity,
			Engine:   s.Policies,
			Vaults:   vaultResources{s.KMS},
			Keys:     keyResources{s.KMS},
		},
	}
	if s.Secrets != nil {
		h.Usage = append(h.Usage, secretUsage{s.Secrets})
		h.Explain.Secrets = secretResources{s.Secrets}
	}
	w.register(w.api, w.main, h.Routes()...)
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

// keyUsage tells DeleteCompartment about keys that are not DELETED (a key
// may sit in another compartment than its vault).
type keyUsage struct{ kms *kms.Service }

func (u keyUsage) CompartmentInUse(ctx context.Context, compartmentID string) (string, bool, error) {
	vaults, err := u.kms.AllVaults(ctx)
	if err != nil {
		return "", false, err
	}
	for _, v := range vaults {
		if v.State == kms.VaultDeleted {
			continue
		}
		page := ""
		for {
			keys, next, err := u.kms.ListKeys(ctx, v.ID, compartmentID, kms.KeyFilter{}, kms.ListOptions{Limit: 1000, Page: page})
			if err != nil {
				return "", false, err
			}
			for _, k := range keys {
				if k.State != kms.KeyDeleted {
					return fmt.Sprintf("key %s (%s)", k.DisplayName, k.State), true, nil
				}
			}
			if next == "" {
				break
			}
			page = next
		}
	}
	return "", false, nil
}

// secretUsage tells DeleteCompartment about secrets that are not DELETED.
type secretUsage struct{ secrets *secrets.Service }

func (u secretUsage) CompartmentInUse(ctx context.Context, compartmentID string) (string, bool, error) {
	page := ""
	for {
		list, next, err := u.secrets.ListSecrets(ctx, secrets.ListSecretsRequest{CompartmentID: compartmentID, Limit: 1000, Page: page})
		if err != nil {
			return "", false, err
		}
		for _, sec := range list {
			if sec.LifecycleState != secrets.StateDeleted {
				return fmt.Sprintf("secret %s (%s)", sec.Name, sec.LifecycleState), true, nil
			}
		}
		if next == "" {
			return "", false, nil
		}
		page = next
	}
}

// keyResources loads keys for the explain API.
type keyResources struct{ kms *kms.Service }

func (r keyResources) Key(ctx context.Context, vaultID, keyID string) (*authz.Resource, error) {
	k, err := r.kms.GetKey(ctx, vaultID, keyID)
	if err != nil {
		return nil, err
	}
	return &authz.Resource{ID: k.ID, Name: k.DisplayName, CompartmentID: k.CompartmentID, VaultID: k.VaultID}, nil
}

// secretResources loads secrets for the explain API, with the key that
// encrypts their content.
type secretResources struct{ secrets *secrets.Service }

func (r secretResources) Resource(ctx context.Context, id string) (*authz.Resource, error) {
	sec, err := r.secrets.GetSecret(ctx, id)
	if err != nil {
		return nil, err
	}
	return &authz.Resource{ID: sec.ID, Name: sec.Name, CompartmentID: sec.CompartmentID, VaultID: sec.VaultID, KeyID: sec.KeyID}, nil
}
