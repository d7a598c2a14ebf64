package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ociapi/sysapi"
	"github.com/coffer-vault/coffer/internal/seal"
)

// Limits on the public operator routes: they are reachable by anyone who
// reaches the listener, so each client address gets a small token bucket.
const (
	sysRatePerSecond = 10
	sysBurst         = 50
)

// registerSys adds the public operator routes (seal status, init,
// unseal) to the main listener's outer mux, which serves them whether or
// not the server is sealed.
func (s *Server) registerSys(m *http.ServeMux) {
	api := &ociapi.API{Log: s.log, Observer: s.metrics, PublicLimiter: ociapi.NewRateLimiter(sysRatePerSecond, sysBurst)}
	routes := (&sysapi.Handlers{Seal: s.seal}).PublicRoutes()
	api.Register(m, routes...)
	for _, rt := range routes {
		_, path, _ := strings.Cut(rt.Pattern, " ")
		m.HandleFunc(path, notFound) // other methods

	}
}

// wireOperator registers the signed operator operations: seal, keyring
// rotation and Shamir rekey, each authorized in the tenancy (iam catalog).
func (s *Server) wireOperator(_ context.Context, w *wiring) error {
	id := s.Identity
	h := &sysapi.Handlers{Seal: s.seal, TenancyID: func(ctx context.Context) (string, error) {
		t, err := id.Tenancy(ctx)
		return t.ID, err
	}, BackupKeys: s.keyring, Replication: regionReplication{s}}
	w.register(w.api, w.main, h.Routes()...)
	return nil
}

// sealHooks are what the seal machine does around the barrier's life.
func (s *Server) sealHooks() seal.Hooks {
	return seal.Hooks{Open: s.unsealWith, Live: s.goLive, Close: s.teardown}
}
