package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/ociapi/rpstapi"
	"github.com/coffer-vault/coffer/internal/store"
)

// sessionTokenKeyPath is where the HMAC key of resource principal session
// tokens is kept; like every value, it is sealed by the barrier. Keeping
// it in the store lets tokens outlive a restart and be verified by every
// node sharing the database.
const sessionTokenKeyPath = "authn/session-token-key"

// sessionTokens loads the session-token key, creating it on first start.
func (s *Server) sessionTokens(ctx context.Context) (*authn.SessionTokens, error) {
	var key authn.SessionTokenKey
	err := s.loadOrCreate(ctx, sessionTokenKeyPath, func(b []byte) (err error) {
		key, err = authn.SessionTokenKeyFromBytes(b)
		return err
	}, func() ([]byte, error) {
		var err error
		if key, err = authn.NewSessionTokenKey(); err != nil {
			return nil, err
		}
		return key.Bytes(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("session token key: %w", err)
	}
	return authn.NewSessionTokens(key, s.cfg.Now), nil
}

// loadOrCreate reads the sealed value at path and hands it to load, or, on
// first start, stores what create makes, in one transaction so that nodes
// starting together agree on one value. Both byte slices are cleared
// afterwards: they hold key material.
func (s *Server) loadOrCreate(ctx context.Context, path string, load func([]byte) error, create func() ([]byte, error)) error {
	return s.st.Update(ctx, func(tx store.Tx) error {
		b, err := tx.Get(path)
		switch {
		case err == nil:
		case errors.Is(err, store.ErrNotFound):
			if b, err = create(); err != nil {
				return err
			}
			defer clear(b)
			return tx.Put(path, b)
		default:
			return err
		}
		defer clear(b)
		return load(b)
	})
}

// wireResourcePrincipals registers the administrator API that mints
// resource principal session tokens.
func (s *Server) wireResourcePrincipals(w *wiring, tokens *authn.SessionTokens) {
	h := &rpstapi.Handlers{
		Tokens:            tokens,
		TenancyID:         s.Identity.TenancyID,
		CompartmentExists: s.Identity.CompartmentExists,
	}
	w.register(w.api, w.main, h.Routes()...)
}
