package console

import (
	"encoding/json"
	"errors"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/ociapi"
)

// ownPasswordReset wraps the console's CreateOrResetUIPassword route: a
// user resetting his own console password must give the current one. A
// session alone (a screen left unlocked) could otherwise set a password
// only its taker knows and lock the owner out; an administrator resetting
// another user's password needs only the policy, as in the API. The
// current password is checked as a login is, under the same throttle.
func (h *Handler) ownPasswordReset(next ociapi.HandlerFunc) ociapi.HandlerFunc {
	return func(c *ociapi.Call) error {
		if c.Principal == nil || c.PathValue("userId") != c.Principal.ID {
			return next(c)
		}
		current, err := decodeCurrentPassword(c.Body)
		if err != nil {
			return err
		}
		defer clear(current)
		id, ok := cookieID(c.R)
		if !ok {
			return errs.E(errs.Unauthenticated, "no console session cookie")
		}
		rec, err := h.sessions.get(c.Context(), id)
		if errors.Is(err, errNoSession) {
			return errs.E(errs.Unauthenticated, "the console session is unknown or expired")
		} else if err != nil {
			return err
		}
		u, err := h.checkPassword(c, rec.UserName, current)
		if errors.Is(err, identity.ErrBadLogin) || (err == nil && u.UserID != c.Principal.ID) {
			return errs.E(errs.Forbidden, "resetting your own console password needs your current one, and it is wrong")
		}
		if err != nil {
			return err
		}
		return next(c)
	}
}

// decodeCurrentPassword reads {"currentPassword": "..."}; an error never
// holds the value.
func decodeCurrentPassword(body []byte) ([]byte, error) {
	var d struct {
		CurrentPassword *string `json:"currentPassword"`
	}
	if len(body) == 0 || json.Unmarshal(body, &d) != nil {
		return nil, errs.E(errs.Missing, "resetting your own console password needs your current one: send {\"currentPassword\": \"...\"}")
	}
	if d.CurrentPassword == nil || *d.CurrentPassword == "" {
		return nil, errs.E(errs.Missing, "currentPassword is required to reset your own console password")
	}
	if len(*d.CurrentPassword) > maxPassword {
		return nil, errs.E(errs.Invalid, "currentPassword is longer than %d bytes", maxPassword)
	}
	return []byte(*d.CurrentPassword), nil
}
