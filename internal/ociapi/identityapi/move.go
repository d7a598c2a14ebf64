package identityapi

import (
	"net/http"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/identity"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	idn "github.com/coffer-vault/coffer/internal/identity"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// The operations here are what OCI programs call besides the records:
// MoveCompartment and the work requests it and DeleteCompartment answer
// with, and the region's layout (regions, availability and fault domains)
// that SDK examples read at start-up.

// moveRoutes returns the routes of this file.
func (h *Handlers) moveRoutes() []ociapi.Route {
	return []ociapi.Route{
		{Pattern: "POST " + base + "/compartments/{compartmentId}/actions/moveCompartment", Operation: "MoveCompartment", RetryToken: true, Handler: h.moveCompartment},
		{Pattern: "GET " + base + "/workRequests/{workRequestId}", Operation: "GetWorkRequest", Handler: h.getWorkRequest},
		{Pattern: "GET " + base + "/workRequests", Operation: "ListWorkRequests", Handler: h.listWorkRequests},
		{Pattern: "GET " + base + "/regions", Operation: "ListRegions", Handler: h.listAllRegions},
		{Pattern: "GET " + base + "/availabilityDomains", Operation: "ListAvailabilityDomains", Handler: h.listAvailabilityDomains},
		{Pattern: "GET " + base + "/faultDomains", Operation: "ListFaultDomains", Handler: h.listFaultDomains},
	}
}

// moveCompartment authorizes on the lowest shared parent of the current
// and the target parent (Oracle's rule: manage all-resources there), then
// moves in one transaction that checks the parent is still the one
// authorized. The work is done when the 202 leaves; its work request says
// SUCCEEDED.
func (h *Handlers) moveCompartment(c *ociapi.Call) error {
	id, err := c.PathID("compartmentId", ociapi.Compartments...)
	if err != nil {
		return err
	}
	var d identity.MoveCompartmentDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	target, err := ociapi.CheckID("targetCompartmentId", ociapi.Deref(d.TargetCompartmentId), ociapi.Compartments...)
	if err != nil {
		return err
	}
	scope, err := h.Identity.MoveScope(c.Context(), id, target)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: scope}); err != nil {
		return err
	}
	w, err := h.Identity.MoveCompartment(c.Context(), id, target, scope, c.IfMatch())
	if err != nil {
		return err
	}
	c.W.Header().Set("opc-work-request-id", w.ID)
	return c.ReplyEmpty(http.StatusAccepted, "")
}

// deleteCompartment deletes and answers with the work request, as OCI's
// DeleteCompartment does.
func (h *Handlers) deleteCompartment(c *ociapi.Call) error {
	v, err := h.loadCompartment(c)
	if err != nil {
		return err
	}
	w, err := h.Identity.DeleteCompartment(c.Context(), v.ID, c.IfMatch(), h.Usage...)
	if err != nil {
		return err
	}
	c.W.Header().Set("opc-work-request-id", w.ID)
	return c.ReplyEmpty(http.StatusNoContent, "")
}

// ---- work requests ----

func workRequestResources(w idn.WorkRequest) []identity.WorkRequestResource {
	out := make([]identity.WorkRequestResource, 0, len(w.Resources))
	for _, r := range w.Resources {
		out = append(out, identity.WorkRequestResource{Identifier: common.String(r.Identifier), EntityType: common.String(r.EntityType),
			ActionType: identity.WorkRequestResourceActionTypeEnum(r.ActionType), EntityUri: common.String(r.EntityURI)})
	}
	return out
}

func workRequestModel(w idn.WorkRequest) identity.WorkRequest {
	return identity.WorkRequest{Id: common.String(w.ID), OperationType: identity.WorkRequestOperationTypeEnum(w.OperationType),
		Status: identity.WorkRequestStatusEnum(w.Status), CompartmentId: common.String(w.CompartmentID),
		Resources: workRequestResources(w), Errors: []identity.WorkRequestError{}, Logs: []identity.WorkRequestLogEntry{},
		TimeAccepted: &common.SDKTime{Time: w.TimeAccepted}, TimeStarted: &common.SDKTime{Time: w.TimeStarted},
		TimeFinished: &common.SDKTime{Time: w.TimeFinished}, PercentComplete: common.Float32(100)}
}

func workRequestSummary(w idn.WorkRequest) identity.WorkRequestSummary {
	return identity.WorkRequestSummary{Id: common.String(w.ID), OperationType: identity.WorkRequestSummaryOperationTypeEnum(w.OperationType),
		Status: identity.WorkRequestSummaryStatusEnum(w.Status), CompartmentId: common.String(w.CompartmentID),
		Resources: workRequestResources(w), Errors: []identity.WorkRequestError{},
		TimeAccepted: &common.SDKTime{Time: w.TimeAccepted}, TimeStarted: &common.SDKTime{Time: w.TimeStarted},
		TimeFinished: &common.SDKTime{Time: w.TimeFinished}, PercentComplete: common.Float32(100)}
}

// getWorkRequest authorizes on the compartment the work request lives in;
// once that compartment is gone, on the tenancy.
func (h *Handlers) getWorkRequest(c *ociapi.Call) error {
	id, err := c.PathID("workRequestId", ocid.WorkRequest)
	if err != nil {
		return err
	}
	w, err := h.Identity.GetWorkRequest(c.Context(), id)
	if err != nil {
		return err
	}
	scope := w.CompartmentID
	if ok, err := h.Identity.CompartmentExists(c.Context(), scope); err != nil {
		return err
	} else if !ok {
		if scope, err = h.Identity.TenancyID(c.Context()); err != nil {
			return err
		}
	}
	if err := c.Authorize(authz.Request{CompartmentID: scope}); err != nil {
		return err
	}
	return c.Reply("", workRequestModel(w))
}

func (h *Handlers) listWorkRequests(c *ociapi.Call) error {
	comp, err := c.QueryID("compartmentId", ociapi.Compartments...)
	if err != nil {
		return err
	}
	res, err := c.OptionalQueryID("resourceIdentifier")
	if err != nil {
		return err
	}
	p, err := c.List(ociapi.ListSpec{})
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: comp}); err != nil {
		return err
	}
	items, next, err := h.Identity.ListWorkRequests(c.Context(), idn.ListWorkRequestsInput{CompartmentID: comp,
		ResourceIdentifier: res, Limit: p.Limit, Page: p.Page})
	if err != nil {
		return err
	}
	return c.ReplyList(ociapi.Models(items, workRequestSummary), next)
}

// ---- the region's layout ----

// listAllRegions answers ListRegions: the regions OCI has are, for a
// Coffer server, the one it serves.
func (h *Handlers) listAllRegions(c *ociapi.Call) error {
	t, err := h.Identity.TenancyID(c.Context())
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: t}); err != nil {
		return err
	}
	return c.ReplyList([]identity.Region{{Key: common.String(regionKey(h.Region)), Name: common.String(h.Region)}}, "")
}

func (h *Handlers) listAvailabilityDomains(c *ociapi.Call) error {
	comp, err := c.QueryID("compartmentId", ociapi.Compartments...)
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: comp}); err != nil {
		return err
	}
	ads, err := h.Identity.AvailabilityDomains(c.Context())
	if err != nil {
		return err
	}
	return c.ReplyList(ociapi.Models(ads, func(a idn.AvailabilityDomain) identity.AvailabilityDomain {
		return identity.AvailabilityDomain{Name: common.String(a.Name), Id: common.String(a.ID), CompartmentId: common.String(a.TenancyID)}
	}), "")
}

// maxADName bounds the availabilityDomain parameter (OCI's names are a few
// dozen characters).
const maxADName = 255

func (h *Handlers) listFaultDomains(c *ociapi.Call) error {
	comp, err := c.QueryID("compartmentId", ociapi.Compartments...)
	if err != nil {
		return err
	}
	ad := c.Query("availabilityDomain")
	if ad == "" {
		return errs.E(errs.Missing, "query parameter availabilityDomain is required")
	}
	if err := ociapi.CheckText("query parameter availabilityDomain", ad, maxADName); err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: comp}); err != nil {
		return err
	}
	fds, err := h.Identity.FaultDomains(c.Context(), ad)
	if err != nil {
		return err
	}
	return c.ReplyList(ociapi.Models(fds, func(f idn.FaultDomain) identity.FaultDomain {
		return identity.FaultDomain{Name: common.String(f.Name), Id: common.String(f.ID), CompartmentId: common.String(f.TenancyID),
			AvailabilityDomain: common.String(f.AvailabilityDomain)}
	}), "")
}
