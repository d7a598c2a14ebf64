package server

import (
	"context"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ociapi"
)

// SealResponse is the answer of POST SysSealPath.
type SealResponse struct {
	Sealed bool `json:"sealed"`
}

// RotateResponse is the answer of POST SysRotatePath: the keyring's new
// active term.
type RotateResponse struct {
	Term        uint32    `json:"term"`
	Terms       int       `json:"terms"`
	TimeCreated time.Time `json:"timeCreated"`
}

// wireOperator registers the authenticated operator operations: seal,
// keyring rotation and Shamir rekey (rekey.go), each authorized in the tenancy (iam catalog).
func (s *Server) wireOperator(_ context.Context, w *wiring) error {
	id, b := s.Identity, s.barrier
	authorize := func(c *ociapi.Call) error {
		t, err := id.Tenancy(c.Context())
		if err != nil {
			return err
		}
		return c.Authorize(authz.Request{CompartmentID: t.ID})
	}
	seal := func(c *ociapi.Call) error {
		if err := authorize(c); err != nil {
			return err
		}
		if s.cfg.Seal != barrier.SealShamir {
			return errs.E(errs.IncorrectState, "this server's root key comes from a key file (or dev mode), so it cannot be sealed while running: stop the server instead")
		}
		who := ""
		if c.Principal != nil {
			who = c.Principal.ID
		}
		s.seal(context.WithoutCancel(c.Context()), who)
		return c.Reply("", SealResponse{Sealed: true})
	}
	rotate := func(c *ociapi.Call) error {
		if err := authorize(c); err != nil {
			return err
		}
		term, err := b.Rotate(c.Context(), s.cfg.Now())
		if err != nil {
			return err
		}
		st, err := b.Status()
		if err != nil {
			return err
		}
		s.log.Warn("keyring rotated: new values are sealed with the new term", "term", term, "terms", st.Terms)
		return c.Reply("", RotateResponse{Term: term, Terms: st.Terms, TimeCreated: st.Installed})
	}
	w.register(w.api, w.main,
		ociapi.Route{Pattern: "POST " + SysSealPath, Operation: iam.OperationSealServer, Handler: seal},
		ociapi.Route{Pattern: "POST " + SysRotatePath, Operation: iam.OperationRotateKeyring, Handler: rotate},
		ociapi.Route{Pattern: "POST " + SysRekeyPath, Operation: iam.OperationRekeyRootKey, Handler: func(c *ociapi.Call) error {
			if err := authorize(c); err != nil {
				return err
			}
			return s.rekey(c)
		}},
	)
	return nil
}
