package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coffer-vault/coffer/internal/seal"
)

// TestHealthzWhileStarting: before the store is unsealed and the routes are
// built, /healthz says 503 and every API path answers 503 in OCI's error
// shape.
func TestHealthzWhileStarting(t *testing.T) {
	s := &Server{mains: http.NewServeMux(), seal: seal.New(seal.Config{Type: seal.TypeKeyFile})}
	s.mains.HandleFunc("GET /healthz", s.healthz)
	for path, want := range map[string]int{"/healthz": http.StatusServiceUnavailable, "/20180608/vaults": http.StatusServiceUnavailable} {
		rec := httptest.NewRecorder()
		s.serveMain(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("%s while starting = %d, want %d", path, rec.Code, want)
		}
	}
	rec := httptest.NewRecorder()
	s.serveMain(rec, httptest.NewRequest(http.MethodGet, "/20180608/vaults", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" || rec.Header().Get("opc-request-id") == "" {
		t.Errorf("starting error: content type %q, request id %q", ct, rec.Header().Get("opc-request-id"))
	}
	s.ready.Store(true)
	rec = httptest.NewRecorder()
	s.serveMain(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("/healthz when ready = %d", rec.Code)
	}
}
