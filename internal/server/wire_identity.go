package server

import "context"

// wireIdentity registers the identity routes.
func (s *Server) wireIdentity(_ context.Context, w *wiring) error {
	_ = w
	return nil
}
