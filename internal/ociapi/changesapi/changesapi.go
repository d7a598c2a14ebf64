// Package changesapi serves Coffer's change feed, `GET
// /20190301/coffer/changes` (docs/oci-behaviours.md "Change feed"): a
// signed long poll that says which secrets and keys changed and their
// version numbers, never content, each item shown only to a caller that may
// read that secret's bundle or that key.
package changesapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/secrets"
)

// Path is the feed's path, under the secrets API's version prefix in a
// "coffer" segment no OCI resource uses.
const Path = "/20190301/coffer/changes"

// Feed answers feed queries (changefeed.Feed).
type Feed interface {
	Changes(ctx context.Context, q changefeed.Query) (changefeed.Page, error)
}

// Secrets reads a secret with the targets its bundle read is authorized
// against (secrets.Service).
type Secrets interface {
	ReadSecret(ctx context.Context, id string, authorize secrets.Authorizer) (*secrets.Secret, error)
}

// Keys gives a key and its vault as the authorizer sees them
// (kms.Service).
type Keys interface {
	SecretTargets(ctx context.Context, vaultID, keyID string) (vault, key *authz.Resource, err error)
}

// Handlers serve the change feed.
type Handlers struct {
	Feed    Feed
	Secrets Secrets
	Keys    Keys
	// TenancyID names the tenancy the call is audited in.
	TenancyID func(ctx context.Context) (string, error)
}

// Routes returns the feed's route.
func (h *Handlers) Routes() []ociapi.Route {
	return []ociapi.Route{{Pattern: "GET " + Path, Operation: iam.OperationListChanges, Handler: h.get}}
}

type item struct {
	Sequence       uint64    `json:"sequence"`
	Kind           string    `json:"kind"`
	ID             string    `json:"id"`
	CompartmentID  string    `json:"compartmentId"`
	VaultID        string    `json:"vaultId"`
	Change         string    `json:"change"`
	CurrentVersion int64     `json:"currentVersionNumber,omitempty"`
	Versions       []int64   `json:"versionNumbers"`
	Time           time.Time `json:"time"`
}

type reply struct {
	Items  []item `json:"items"`
	Cursor string `json:"cursor"`
	Reset  bool   `json:"reset"`
}

var errDenied = errors.New("changesapi: not visible")

func (h *Handlers) get(c *ociapi.Call) error {
	wait, set, err := c.QueryInt64("waitSeconds", 0, int64(changefeed.MaxWait/time.Second))
	if err != nil {
		return err
	}
	if !set {
		wait = int64(changefeed.DefaultWait / time.Second)
	}
	limit, _, err := c.QueryInt64("limit", 1, changefeed.MaxLimit)
	if err != nil {
		return err
	}
	compartment, err := c.OptionalQueryID("compartmentId", ociapi.Compartments...)
	if err != nil {
		return err
	}
	cursor := c.Query("cursor")
	if c.R.URL.Query().Has("cursor") && len(cursor) != changefeed.CursorLen {
		return errs.E(errs.Invalid, "query parameter cursor is not a cursor this feed issued")
	}
	tenancy, err := h.TenancyID(c.Context())
	if err != nil {
		return err
	}
	filter := compartment
	if compartment == "" {
		compartment = tenancy
	}
	if err := c.Authorize(authz.Request{CompartmentID: compartment}); err != nil {
		return err
	}
	q := changefeed.Query{
		Cursor: cursor, Wait: time.Duration(wait) * time.Second, Limit: int(limit), Caller: c.Principal.ID,
		Visible: func(ctx context.Context, e changefeed.Entry) (bool, error) {
			if filter != "" && e.CompartmentID != filter {
				return false, nil
			}
			return h.visible(ctx, c, e)
		},
	}
	if q.Wait > 0 {
		// The server's write timeout (60 s from the request) would cut a
		// full wait's answer; this request may take its wait and a margin.
		// A writer that cannot move its deadline keeps the server's.
		_ = http.NewResponseController(c.W).SetWriteDeadline(time.Now().Add(q.Wait + 30*time.Second))
	}
	page, err := h.Feed.Changes(c.Context(), q)
	if err != nil {
		return err
	}
	out := reply{Items: make([]item, len(page.Items)), Cursor: page.Cursor, Reset: page.Reset}
	for i, e := range page.Items {
		out.Items[i] = item{Sequence: e.Sequence, Kind: string(e.Kind), ID: e.ID, CompartmentID: e.CompartmentID,
			VaultID: e.VaultID, Change: string(e.Change), CurrentVersion: e.CurrentVersion, Versions: e.Versions, Time: e.Time}
	}
	return c.Reply("", out)
}

// visible decides one item as GetSecretBundle or GetKey would, without an
// audit event per item. A secret or key that cannot be found is not shown.
func (h *Handlers) visible(ctx context.Context, c *ociapi.Call, e changefeed.Entry) (bool, error) {
	switch e.Kind {
	case changefeed.KindSecret:
		_, err := h.Secrets.ReadSecret(ctx, e.ID, func(t secrets.ReadTargets) error {
			ok, err := c.Allowed("GetSecretBundle", t.Request())
			if err == nil && !ok {
				err = errDenied
			}
			return err
		})
		return hidden(err)
	case changefeed.KindKey:
		vault, key, err := h.Keys.SecretTargets(ctx, e.VaultID, e.ID)
		if err != nil {
			return hidden(err)
		}
		return c.Allowed("GetKey", authz.Request{CompartmentID: key.CompartmentID, Vault: vault, Key: key})
	}
	return false, nil
}

func hidden(err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errDenied), errs.Is(err, errs.NotFound):
		return false, nil
	}
	return false, err
}
