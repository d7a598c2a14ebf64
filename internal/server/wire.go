package server

import (
	"context"
	"net/http"

	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsvault"
)

// wiring is what each service's wire function registers its routes on.
type wiring struct {
	api *ociapi.API
	// main serves the regional endpoints (kms vaults, vaults, secrets,
	// identity); mgmt and crypto serve every vault's management and crypto
	// endpoints, with the vault in the request context.
	main, mgmt, crypto *http.ServeMux
	// routes records what register registered, for Server.Routes.
	routes []RouteInfo
}

func (s *Server) wireVaults(_ context.Context, w *wiring) error {
	vaults := &kmsvault.Handlers{KMS: s.KMS, Endpoints: s.endpoints, Compartments: s.Identity, Uploader: s.backupUploader()}
	w.register(w.api, w.main, vaults.Routes()...)
	return nil
}

// backupUploader writes BackupVault's and BackupKey's files to the
// pre-authenticated request URIs the operator allowed; none by default.
func (s *Server) backupUploader() *ociapi.BackupUploader {
	return &ociapi.BackupUploader{Prefixes: s.cfg.BackupURIPrefixes}
}
