package server

import (
	"context"
	"fmt"

	"github.com/coffer-vault/coffer/internal/ociapi/secretsapi"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi"
	"github.com/coffer-vault/coffer/internal/secrets"
)

// wireSecrets builds the secrets service over the store and the KMS (its
// KeyUser: data keys are wrapped by the vault's master keys) and registers
// the VaultsClient and SecretsClient routes on the main endpoint.
func (s *Server) wireSecrets(_ context.Context, w *wiring) error {
	svc, err := secrets.New(secrets.Config{Store: s.st, Keys: s.KMS, Names: s.names, Region: s.cfg.Region, Now: s.cfg.Now, Log: s.log, PeerRegions: s.PeerRegions()})
	if err != nil {
		return fmt.Errorf("secrets service: %w", err)
	}
	s.Secrets = svc
	vaults := &vaultsapi.Handlers{Secrets: svc, Targets: s.KMS, Compartments: s.Identity}
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
