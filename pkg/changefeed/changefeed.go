// Package changefeed reads Coffer's change feed: a resumable, authorized
// list of which secrets and keys changed (ids and version numbers, never
// content), served as a long poll at GET /20190301/coffer/changes on the
// Secrets endpoint and signed like every OCI request.
//
// [Client] makes one call; [Follow] long-polls with the cursor, resumes
// after failures with Coffer's backoff, reports resets, and stops with
// [ErrUnavailable] when the service has no feed (404 or 501: real OCI or
// an older Coffer), so that callers fall back to polling on their own
// schedule.
//
// pkg/secretcache (Options.FollowChanges) and coffer agent use it.
package changefeed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
)

// Kinds of resource a Change is about.
const (
	KindSecret = "SECRET"
	KindKey    = "KEY"
)

// What happened, in Change.Change.
const (
	Created           = "CREATED"
	Updated           = "UPDATED"
	VersionCreated    = "VERSION_CREATED"
	StageChanged      = "STAGE_CHANGED"
	DeletionScheduled = "DELETION_SCHEDULED"
	DeletionCancelled = "DELETION_CANCELLED"
	Deleted           = "DELETED"
	Enabled           = "ENABLED"
	Disabled          = "DISABLED"
)

// Change is one item of the feed.
type Change struct {
	Sequence      int64  `json:"sequence"`
	Kind          string `json:"kind"`
	ID            string `json:"id"`
	CompartmentID string `json:"compartmentId"`
	VaultID       string `json:"vaultId"`
	Change        string `json:"change"`
	// CurrentVersionNumber is a secret's current version after the change
	// (0 when the answer omitted it).
	CurrentVersionNumber int64     `json:"currentVersionNumber,omitempty"`
	VersionNumbers       []int64   `json:"versionNumbers,omitempty"`
	Time                 time.Time `json:"time"`
}

// Page is one answer of the feed.
type Page struct {
	Items  []Change `json:"items"`
	Cursor string   `json:"cursor"`
	// Reset says the cursor was too old or unknown: everything cached must
	// be reloaded; Cursor is the current end of the feed.
	Reset bool `json:"reset"`
}

// Request is one call's parameters.
type Request struct {
	// Cursor is where to resume; empty asks for the current end (the
	// answer is immediate and has no items).
	Cursor string
	// Wait is how long the server may hold the request when nothing
	// visible changed (whole seconds, 0–60).
	Wait time.Duration
	// CompartmentID, if set, restricts the feed to one compartment.
	CompartmentID string
	// Limit bounds the items of the answer (1–500); 0: the server's.
	Limit int
}

// Lister is what Follow needs: one feed call. *Client implements it.
type Lister interface {
	ListChanges(ctx context.Context, req Request) (Page, error)
}

// ErrUnavailable is in the chain of the error when the service has no
// change feed (HTTP 404 or 501).
var ErrUnavailable = errors.New("changefeed: the service has no change feed")

// Path is the feed's path below the Secrets API's version prefix.
const Path = "/coffer/changes"

// maxBody bounds an answer: 500 items of a few hundred bytes each.
const maxBody = 4 << 20

// Client calls the feed with an SDK base client: the same signer, host
// and HTTP client as the SDK's Secrets client, so every auth method the
// SDK supports works here as well.
type Client struct {
	base common.BaseClient
}

// NewClient returns a client sending requests through base, typically
// the BaseClient of a secrets.SecretsClient (its Host and BasePath
// "20190301" are used as they are).
func NewClient(base common.BaseClient) *Client {
	if base.BasePath == "" {
		base.BasePath = "20190301"
	}
	return &Client{base: base}
}

type listRequest struct {
	Cursor        *string `mandatory:"false" contributesTo:"query" name:"cursor"`
	WaitSeconds   *int    `mandatory:"false" contributesTo:"query" name:"waitSeconds"`
	CompartmentID *string `mandatory:"false" contributesTo:"query" name:"compartmentId"`
	Limit         *int    `mandatory:"false" contributesTo:"query" name:"limit"`
}

// ListChanges makes one call. A 404 or 501 answer is ErrUnavailable
// (wrapping the SDK's service error); other failures are the SDK's errors,
// wrapped.
func (c *Client) ListChanges(ctx context.Context, req Request) (Page, error) {
	var lr listRequest
	if req.Cursor != "" {
		lr.Cursor = &req.Cursor
	}
	w := int(req.Wait / time.Second)
	lr.WaitSeconds = &w
	if req.CompartmentID != "" {
		lr.CompartmentID = &req.CompartmentID
	}
	if req.Limit > 0 {
		lr.Limit = &req.Limit
	}
	hr, err := common.MakeDefaultHTTPRequestWithTaggedStruct(http.MethodGet, Path, lr)
	if err != nil {
		return Page{}, fmt.Errorf("changefeed: build request: %w", err)
	}
	resp, err := c.base.Call(ctx, &hr)
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		var se common.ServiceError
		if errors.As(err, &se) {
			switch se.GetHTTPStatusCode() {
			case http.StatusNotFound, http.StatusNotImplemented:
				return Page{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
		}
		return Page{}, fmt.Errorf("changefeed: list changes: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return Page{}, fmt.Errorf("changefeed: read answer: %w", err)
	}
	return Decode(body)
}

// ErrMalformed is in the chain of the error for an answer that is not the
// feed's JSON.
var ErrMalformed = errors.New("changefeed: malformed answer")

// Decode parses an answer of the feed. The error never quotes the body.
func Decode(body []byte) (Page, error) {
	if len(body) > maxBody {
		return Page{}, fmt.Errorf("%w: more than %d bytes", ErrMalformed, maxBody)
	}
	var p Page
	if err := json.Unmarshal(body, &p); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Page{}, fmt.Errorf("%w: invalid JSON at offset %s", ErrMalformed, strconv.FormatInt(se.Offset, 10))
		}
		return Page{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if p.Cursor == "" {
		return Page{}, fmt.Errorf("%w: no cursor", ErrMalformed)
	}
	return p, nil
}
