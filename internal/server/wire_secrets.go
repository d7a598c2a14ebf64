package server

import "context"

// wireSecrets registers the secrets routes.
func (s *Server) wireSecrets(_ context.Context, w *wiring) error {
	_ = w
	return nil
}
