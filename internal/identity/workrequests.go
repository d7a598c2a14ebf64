package identity

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/page"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Work requests record the identity operations OCI runs asynchronously and
// answers with an opc-work-request-id: MoveCompartment and
// DeleteCompartment. Coffer does the work in the request's own
// transaction, so the record is written there, already SUCCEEDED, and is
// visible (GetWorkRequest) as soon as the response leaves. Records expire
// WorkRequestRetention after they finish (ExpireWorkRequests, run by the
// server's background jobs), so they stay bounded.

// Work request operation types. DELETE_COMPARTMENT is the SDK's enum value;
// the SDK's WorkRequest enum has no value for a move (it reads unknown
// values through), so Coffer names it as OCI names the operation.
const (
	WorkRequestDeleteCompartment = "DELETE_COMPARTMENT"
	WorkRequestMoveCompartment   = "MOVE_COMPARTMENT"
)

// WorkRequestSucceeded is the only status a Coffer work request has: the
// work is done before the response leaves.
const WorkRequestSucceeded = "SUCCEEDED"

// WorkRequestRetention is how long a finished work request stays readable.
const WorkRequestRetention = 30 * 24 * time.Hour

const prefixWorkRequest = "identity/workrequest/"

// WorkRequest is the record of one operation OCI runs asynchronously.
type WorkRequest struct {
	ID            string `json:"id"`
	OperationType string `json:"operationType"`
	Status        string `json:"status"`
	// CompartmentID is where the work request lives: the compartment that
	// holds the affected compartment once the work is done (its parent; for
	// a move, the new parent).
	CompartmentID string                `json:"compartmentId"`
	Resources     []WorkRequestResource `json:"resources"`
	TimeAccepted  time.Time             `json:"timeAccepted"`
	TimeStarted   time.Time             `json:"timeStarted"`
	TimeFinished  time.Time             `json:"timeFinished"`
}

// WorkRequestResource is a resource a work request acted on.
type WorkRequestResource struct {
	Identifier string `json:"identifier"`
	EntityType string `json:"entityType"`
	// ActionType is the SDK's WorkRequestResourceActionTypeEnum value
	// (UPDATED for a move, DELETED for a deletion).
	ActionType string `json:"actionType"`
	EntityURI  string `json:"entityUri"`
}

// compartmentWork writes, in tx, the record of an operation on compartment
// c that finished now.
func (s *Service) compartmentWork(tx store.Tx, op, action string, c Compartment) (WorkRequest, error) {
	now := s.now().UTC()
	w := WorkRequest{ID: ocid.New(ocid.WorkRequest, s.region), OperationType: op, Status: WorkRequestSucceeded,
		CompartmentID: c.ParentID, TimeAccepted: now, TimeStarted: now, TimeFinished: now,
		Resources: []WorkRequestResource{{Identifier: c.ID, EntityType: "compartment", ActionType: action,
			EntityURI: "/20160918/compartments/" + c.ID}}}
	return w, record.Put(tx, prefixWorkRequest+w.ID, w)
}

// GetWorkRequest returns a work request.
func (s *Service) GetWorkRequest(ctx context.Context, id string) (WorkRequest, error) {
	return viewOne[WorkRequest](ctx, s, prefixWorkRequest, "work request", id)
}

// ListWorkRequestsInput is a ListWorkRequests request.
type ListWorkRequestsInput struct {
	CompartmentID string
	// ResourceIdentifier keeps the work requests that acted on this
	// resource.
	ResourceIdentifier string
	Limit              int
	Page               string
}

// ListWorkRequests lists the work requests of a compartment, newest first.
func (s *Service) ListWorkRequests(ctx context.Context, in ListWorkRequestsInput) ([]WorkRequest, string, error) {
	if in.CompartmentID == "" {
		return nil, "", errs.E(errs.Missing, "query parameter compartmentId is required")
	}
	var all []WorkRequest
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		all, err = record.List[WorkRequest](r, prefixWorkRequest)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("identity: list work requests: %w", err)
	}
	all = slices.DeleteFunc(all, func(w WorkRequest) bool {
		return w.CompartmentID != in.CompartmentID || in.ResourceIdentifier != "" &&
			!slices.ContainsFunc(w.Resources, func(r WorkRequestResource) bool { return r.Identifier == in.ResourceIdentifier })
	})
	keyOf := func(w WorkRequest) (string, string) {
		return w.TimeAccepted.UTC().Format("20060102T150405.000000000"), w.ID
	}
	page.Sort(all, keyOf, true)
	return page.Slice(all, keyOf, true, in.Page, in.Limit)
}

// ExpireWorkRequests deletes the work requests that finished more than
// WorkRequestRetention before now, and returns how many it deleted.
func (s *Service) ExpireWorkRequests(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.st.Update(ctx, func(tx store.Tx) error {
		n = 0
		all, err := record.List[WorkRequest](tx, prefixWorkRequest)
		if err != nil {
			return err
		}
		for _, w := range all {
			if now.Sub(w.TimeFinished) > WorkRequestRetention {
				if err := tx.Delete(prefixWorkRequest + w.ID); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("identity: expire work requests: %w", err)
	}
	return n, nil
}
