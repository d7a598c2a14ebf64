package server

import (
	"context"
	"net/http"

	"github.com/coffer-vault/coffer/internal/console"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ociapi/identityapi"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsvault"
	"github.com/coffer-vault/coffer/internal/ociapi/secretsapi"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi"
)

// Requests per second (and burst) each client address may make to the
// console's public routes: the page, its assets and the login (failed
// logins have their own, much tighter, limits).
const (
	consolePublicRate  = 20
	consolePublicBurst = 60
)

// wireConsole serves the web console under /console/ on the main endpoint:
// its routes run through the same pipeline as the API's (authorizer,
// audit, metrics, usage), with the console session in place of a request
// signature and no replay guard or retry tokens (nothing is signed).
func (s *Server) wireConsole(_ context.Context, w *wiring) error {
	h := console.New(console.Options{
		Users: s.Identity, Compartments: s.Identity, Store: s.st,
		IdleTimeout: s.cfg.ConsoleIdleTimeout, AbsoluteTimeout: s.cfg.ConsoleSessionLifetime,
		Origin: s.cfg.ConsoleOrigin, Now: s.cfg.Now, Log: s.log,
	})
	api := &ociapi.API{
		Verifier: h, Authorizer: w.api.Authorizer, Log: w.api.Log, Audit: w.api.Audit, MaxBody: w.api.MaxBody,
		Limiter: w.api.Limiter, Observer: w.api.Observer, Usage: w.api.Usage, AuthFail: w.api.AuthFail,
		PublicLimiter: ociapi.NewRateLimiter(consolePublicRate, consolePublicBurst),
	}
	s.console = h
	w.registerVia(api, w.main, console.Mux{Mux: w.main}, h.Routes()...)
	// The pages' routes are the API's own handlers under console paths: the
	// same loading, authorization, audit and replies, as the session's user.
	pages := h.APIRoutes(
		(&kmsvault.Handlers{KMS: s.KMS, Endpoints: s.endpoints, Compartments: s.Identity}).Routes(),
		(&kmsmgmt.Handlers{KMS: s.KMS, Compartments: s.Identity}).Routes(),
		(&vaultsapi.Handlers{Secrets: s.Secrets, Targets: s.KMS, Compartments: s.Identity}).Routes(),
		(&secretsapi.Handlers{Secrets: s.Secrets}).Routes(),
		(&identityapi.Handlers{Identity: s.Identity, Authorizer: w.api.Authorizer, Explain: s.explainer()}).Routes(),
		s.usageHandlers().Routes(),
	)
	w.registerVia(api, w.main, console.Mux{Mux: w.main}, pages...)
	w.main.Handle("/console/", console.NotFound)
	w.main.Handle("GET /console", console.Secure(http.RedirectHandler("/console/", http.StatusMovedPermanently)))
	return nil
}

// expireConsoleSessions deletes expired console sessions (a background
// job).
func (s *Server) expireConsoleSessions(ctx context.Context) {
	if s.console == nil {
		return
	}
	if n, err := s.console.ExpireSessions(ctx); err != nil {
		s.log.Error("console session expiry failed", "error", err)
	} else if n > 0 {
		s.log.Info("console sessions expired", "count", n)
	}
}
