package server

import (
	"net/http"

	"github.com/coffer-vault/coffer/internal/ociapi"
)

// Endpoints a route is served on.
const (
	EndpointMain       = "main"       // the regional endpoint (vaults, secrets, identity, operator)
	EndpointManagement = "management" // every vault's management endpoint (keys)
	EndpointCrypto     = "crypto"     // every vault's crypto endpoint
)

// RouteInfo describes one registered operation. Tests walk Routes to drive
// every operation, so a route added to any service is covered without
// editing them.
type RouteInfo struct {
	Endpoint  string
	Pattern   string // a net/http pattern, e.g. "GET /20180608/vaults/{vaultId}"
	Operation string
	// Signed: callers authenticate with a signed request (API key or
	// session token). Federation routes authenticate otherwise.
	Signed bool
}

// Routes returns every operation the server serves, as last wired.
func (s *Server) Routes() []RouteInfo {
	if p := s.routeTable.Load(); p != nil {
		return append([]RouteInfo(nil), (*p)...)
	}
	return nil
}

// register adds routes to mux through api and records them for Routes.
func (w *wiring) register(api *ociapi.API, mux *http.ServeMux, routes ...ociapi.Route) {
	w.registerVia(api, mux, mux, routes...)
}

// registerVia is register with the handlers added through via, a wrapper
// of mux (the console's, which adds its headers).
func (w *wiring) registerVia(api *ociapi.API, mux *http.ServeMux, via ociapi.Mux, routes ...ociapi.Route) {
	api.Register(via, routes...)
	endpoint := EndpointMain
	switch mux {
	case w.mgmt:
		endpoint = EndpointManagement
	case w.crypto:
		endpoint = EndpointCrypto
	}
	for _, rt := range routes {
		w.routes = append(w.routes, RouteInfo{Endpoint: endpoint, Pattern: rt.Pattern, Operation: rt.Operation, Signed: api == w.api})
	}
}
