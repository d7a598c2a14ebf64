package server

import (
	"context"
	"fmt"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ociapi/secretsapi"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi"
	"github.com/coffer-vault/coffer/internal/secrets"
)

// wireSecrets builds the secrets service over the store and the KMS (its
// KeyUser: data keys are wrapped by the vault's master keys) and registers
// the VaultsClient and SecretsClient routes on the main endpoint.
func (s *Server) wireSecrets(_ context.Context, w *wiring) error {
	svc, err := secrets.New(secrets.Config{Store: s.st, Keys: s.KMS, Names: s.names, Region: s.cfg.Region, Now: s.cfg.Now, Log: s.log})
	if err != nil {
		return fmt.Errorf("secrets service: %w", err)
	}
	s.Secrets = svc
	targets := kmsTargets{kms: s.KMS}
	vaults := &vaultsapi.Handlers{Secrets: svc, Targets: targets, Compartments: s.Identity}
	w.register(w.api, w.main, vaults.Routes()...)
	bundles := &secretsapi.Handlers{Secrets: svc}
	w.register(w.api, w.main, bundles.Routes()...)
	return nil
}

// runSecretJobs completes due secret and secret-version deletions and runs
// due scheduled rotations.
func (s *Server) runSecretJobs(ctx context.Context) {
	if s.Secrets == nil {
		return
	}
	rep, err := s.Secrets.CompleteDueDeletions(ctx)
	if err != nil {
		s.log.Error("secret deletion job failed", "error", err)
	}
	if rep != (secrets.DeletionReport{}) {
		s.log.Info("secret deletions completed", "secrets", rep.Secrets, "versions", rep.Versions, "retry_tokens", rep.RetryTokens)
	}
	n, err := s.Secrets.RotateDue(ctx)
	if err != nil {
		s.log.Error("scheduled secret rotation failed", "error", err)
	}
	if n > 0 {
		s.log.Info("secrets rotated", "count", n)
	}
}

// kmsTargets implements vaultsapi.Targets over the KMS domain.
type kmsTargets struct{ kms *kms.Service }

func (t kmsTargets) Vault(ctx context.Context, vaultID string) (*authz.Resource, error) {
	v, err := t.kms.GetVault(ctx, vaultID)
	if errs.Is(err, errs.NotFound) {
		return &authz.Resource{ID: vaultID, VaultID: vaultID}, nil
	}
	if err != nil {
		return nil, err
	}
	return &authz.Resource{ID: v.ID, Name: v.DisplayName, CompartmentID: v.CompartmentID, VaultID: v.ID}, nil
}

func (t kmsTargets) Key(ctx context.Context, vaultID, keyID string) (*authz.Resource, error) {
	k, err := t.kms.GetKey(ctx, vaultID, keyID)
	if errs.Is(err, errs.NotFound) {
		return &authz.Resource{ID: keyID, VaultID: vaultID}, nil
	}
	if err != nil {
		return nil, err
	}
	return &authz.Resource{ID: k.ID, Name: k.DisplayName, CompartmentID: k.CompartmentID, VaultID: k.VaultID}, nil
}
