package server

import "context"

// wireKeys registers the keys routes.
func (s *Server) wireKeys(_ context.Context, w *wiring) error {
	_ = w
	return nil
}
