package server

import (
	"context"
	"fmt"

	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/ociapi/federation"
)

// instanceCAPath is where Coffer's instance CA (root and intermediate with
// their private keys) is kept; the barrier seals it like every value.
// Keeping it in the store lets certificates outlive a restart and every
// node sharing the database verify them.
const instanceCAPath = "authn/instance-ca"

// instanceCA loads the instance CA, creating it on first start.
func (s *Server) instanceCA(ctx context.Context) (*authn.InstanceCA, error) {
	var ca *authn.InstanceCA
	err := s.loadOrCreate(ctx, instanceCAPath, func(b []byte) (err error) {
		ca, err = authn.ParseInstanceCA(b)
		return err
	}, func() ([]byte, error) {
		var err error
		if ca, err = authn.NewInstanceCA(s.cfg.Now()); err != nil {
			return nil, err
		}
		return ca.Marshal()
	})
	if err != nil {
		return nil, fmt.Errorf("instance CA: %w", err)
	}
	return ca, nil
}

// wireFederation registers instance-principal federation (POST /v1/x509,
// authenticated by the instance certificate instead of the usual
// signature) and the administrator API that issues instance certificates.
// Tokens it issues are verified by authn.WorkloadTokens on every other
// route.
func (s *Server) wireFederation(ctx context.Context, w *wiring, tokens *authn.SessionTokens) error {
	ca, err := s.instanceCA(ctx)
	if err != nil {
		return err
	}
	tenancyID, active := s.Identity.TenancyID, s.Identity.CompartmentExists
	fed := &authn.Federation{CA: ca, Tokens: tokens, TenancyID: tenancyID, CompartmentActive: active, Now: s.cfg.Now}
	h := &federation.Handlers{CA: ca, Federation: fed, TenancyID: tenancyID, CompartmentExists: active, Now: s.cfg.Now}
	fedAPI := *w.api
	fedAPI.Verifier = fed
	w.register(&fedAPI, w.main, h.FederationRoutes()...)
	w.register(w.api, w.main, h.AdminRoutes()...)
	return nil
}
