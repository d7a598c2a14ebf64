// Package rpstapi serves Coffer's administrator API for resource principal
// session tokens (RPST): an administrator mints a token for a workload (a
// function, a job, a container) bound to that workload's session public
// key; the workload then calls Coffer with the SDK's resource principal
// provider (OCI_RESOURCE_PRINCIPAL_VERSION=2.2), signing with `ST$<RPST>`,
// and policies reach it through dynamic groups whose matching rules test
// resource.type, resource.id and resource.compartment.id.
//
// OCI has no such API (its platform injects tokens); this is the local
// stand-in for that platform. Minting needs what creating a dynamic group
// needs (DYNAMIC_GROUP_CREATE in the tenancy, see the iam catalog): whoever
// may create dynamic groups may already give any resource principal their
// permissions.
package rpstapi

import (
	"context"
	"time"

	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ociapi"
)

// Path is the route of CreateResourcePrincipalSessionToken on the main
// endpoint.
const Path = "/20160918/coffer/resourcePrincipalSessionTokens"

// Handlers serves the API.
type Handlers struct {
	Tokens *authn.SessionTokens
	// TenancyID returns the tenancy's OCID.
	TenancyID func(ctx context.Context) (string, error)
	// CompartmentExists reports whether a compartment (or the tenancy)
	// exists and is active.
	CompartmentExists func(ctx context.Context, id string) (bool, error)
}

// Routes returns the route.
func (h *Handlers) Routes() []ociapi.Route {
	return []ociapi.Route{{Pattern: "POST " + Path, Operation: iam.OperationCreateResourcePrincipalSessionToken, Handler: h.create}}
}

// CreateDetails is the request body.
type CreateDetails struct {
	ResourceID    string `json:"resourceId"`
	ResourceType  string `json:"resourceType"`
	CompartmentID string `json:"compartmentId"`
	// PublicKey is the workload's session public key, PEM (PUBLIC KEY).
	PublicKey string `json:"publicKey"`
	// TTLInSeconds is the token's lifetime; 0 means one hour, at most a
	// day.
	TTLInSeconds int64 `json:"ttlInSeconds,omitempty"`
}

// Token is the response body. The token is a credential only together
// with the session private key, which never leaves the workload.
type Token struct {
	Token       string    `json:"token"`
	TimeExpires time.Time `json:"timeExpires"`
}

func (h *Handlers) create(c *ociapi.Call) error {
	var d CreateDetails
	tenancy, err := ociapi.DecodeInTenancy(c, &d, h.TenancyID)
	if err != nil {
		return err
	}
	if d.ResourceID == "" || d.ResourceType == "" || d.CompartmentID == "" || d.PublicKey == "" {
		return errs.E(errs.Missing, "resourceId, resourceType, compartmentId and publicKey are required")
	}
	pub, ttl, err := ociapi.WorkloadBinding{CompartmentID: d.CompartmentID, PublicKey: d.PublicKey,
		LifetimeField: "ttlInSeconds", Lifetime: d.TTLInSeconds, MaxLifetime: authn.MaxSessionTokenTTL,
	}.Check(c.Context(), h.CompartmentExists)
	if err != nil {
		return err
	}
	tok, exp, err := h.Tokens.Mint(authn.ResourceClaims{
		ResourceID: d.ResourceID, ResourceType: d.ResourceType, TenancyID: tenancy, CompartmentID: d.CompartmentID,
	}, pub, ttl)
	if err != nil {
		return errs.E(errs.Invalid, "%v", err)
	}
	return c.ReplyStatus(200, "", Token{Token: tok, TimeExpires: exp.UTC()})
}
