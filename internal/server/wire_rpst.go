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
	err := s.st.Update(ctx, func(tx store.Tx) error {
		b, err := tx.Get(sessionTokenKeyPath)
		switch {
		case err == nil:
			key, err = authn.SessionTokenKeyFromBytes(b)
			clear(b)
			return err
		case errors.Is(err, store.ErrNotFound):
			if key, err = authn.NewSessionTokenKey(); err != nil {
				return err
			}
			return tx.Put(sessionTokenKeyPath, key.Bytes())
		default:
			return err
		}
	})
	if err != nil {
		return nil, fmt.Errorf("session token key: %w", err)
	}
	return authn.NewSessionTokens(key, s.cfg.Now), nil
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
