// Package sysapi is Coffer's operator API under /coffer/v1/sys, over the
// seal state machine (internal/seal). Seal status, init and unseal are
// public routes, served while the server is sealed: the shares are the
// credential. Seal, rotate, rekey and the backup key's export and import
// are signed and authorized in the tenancy, like any OCI operation.
package sysapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/seal"
)

// Paths of the operator API.
const (
	Prefix         = "/coffer/v1/sys/"
	SealStatusPath = Prefix + "seal-status"
	InitPath       = Prefix + "init"
	UnsealPath     = Prefix + "unseal"
	SealPath       = Prefix + "seal"
	RotatePath     = Prefix + "rotate"
	// RekeyPath is the Shamir rekey (seal.RekeyRequest).
	RekeyPath = Prefix + "rekey"
)

// Operation names of the public routes, for logs and metrics; the signed
// ones are iam's.
const (
	OperationGetSealStatus = "GetSealStatus"
	OperationInitServer    = "InitServer"
	OperationUnsealServer  = "UnsealServer"
)

// IsPublicPath reports whether p is served by a public route, whether or
// not the server is sealed.
func IsPublicPath(p string) bool {
	return p == SealStatusPath || p == InitPath || p == UnsealPath
}

// SealResponse is the answer of POST SealPath.
type SealResponse struct {
	Sealed bool `json:"sealed"`
}

// Handlers serves the operator API.
type Handlers struct {
	Seal *seal.Machine
	// TenancyID names the tenancy, where the signed operations are
	// authorized; the public routes do not use it.
	TenancyID func(context.Context) (string, error)
	// BackupKeys exports and imports the keyring's backup key; nil
	// refuses both.
	BackupKeys BackupKeyring
	// Replication reports this region's replication; nil reports a region
	// without peers.
	Replication Replication
}

// PublicRoutes are the routes served without a signature.
func (h *Handlers) PublicRoutes() []ociapi.Route {
	return []ociapi.Route{
		{Pattern: "GET " + SealStatusPath, Operation: OperationGetSealStatus, Public: true, Handler: h.sealStatus},
		{Pattern: "POST " + InitPath, Operation: OperationInitServer, Public: true, Handler: h.init},
		{Pattern: "POST " + UnsealPath, Operation: OperationUnsealServer, Public: true, Handler: h.unseal},
	}
}

// Routes are the signed routes, served by the unsealed server.
func (h *Handlers) Routes() []ociapi.Route {
	return append([]ociapi.Route{
		{Pattern: "POST " + SealPath, Operation: iam.OperationSealServer, Handler: h.seal},
		{Pattern: "POST " + RotatePath, Operation: iam.OperationRotateKeyring, Handler: h.rotate},
		{Pattern: "POST " + RekeyPath, Operation: iam.OperationRekeyRootKey, Handler: h.rekey},
		{Pattern: "POST " + ExportBackupKeyPath, Operation: iam.OperationExportBackupKey, Handler: h.exportBackupKey},
		{Pattern: "POST " + ImportBackupKeyPath, Operation: iam.OperationImportBackupKey, Handler: h.importBackupKey},
	}, h.replicationRoutes()...)
}

// decode decodes the body into v and clears the body, which may hold a
// share.
func decode(c *ociapi.Call, v any) error {
	err := c.Decode(v)
	clear(c.Body)
	return err
}

// reply writes v, which may carry shares, uncached, and clears its
// encoding.
func reply(c *ociapi.Call, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s response: %w", c.Operation, err)
	}
	defer clear(b)
	c.W.Header().Set("Cache-Control", "no-store")
	c.ReplyJSON(http.StatusOK, "", b)
	return nil
}

func (h *Handlers) sealStatus(c *ociapi.Call) error {
	st, err := h.Seal.Status(c.Context())
	if err != nil {
		return err
	}
	return reply(c, st)
}

// serve decodes the body as a Q, runs op on it and replies with its
// answer.
func serve[Q, A any](c *ociapi.Call, op func(context.Context, Q) (A, error)) error {
	var req Q
	if err := decode(c, &req); err != nil {
		return err
	}
	resp, err := op(c.Context(), req)
	if err != nil {
		return err
	}
	return reply(c, resp)
}

func (h *Handlers) init(c *ociapi.Call) error { return serve(c, h.Seal.Init) }

func (h *Handlers) unseal(c *ociapi.Call) error { return serve(c, h.Seal.Unseal) }

// authorize asks whether the caller may do c's operation in the tenancy.
func (h *Handlers) authorize(c *ociapi.Call) error {
	tenancy, err := h.TenancyID(c.Context())
	if err != nil {
		return err
	}
	return c.Authorize(authz.Request{CompartmentID: tenancy})
}

func principalID(c *ociapi.Call) string {
	if c.Principal != nil {
		return c.Principal.ID
	}
	return ""
}

func (h *Handlers) seal(c *ociapi.Call) error {
	if err := h.authorize(c); err != nil {
		return err
	}
	if err := h.Seal.Seal(context.WithoutCancel(c.Context()), principalID(c)); err != nil {
		return err
	}
	return reply(c, SealResponse{Sealed: true})
}

func (h *Handlers) rotate(c *ociapi.Call) error {
	if err := h.authorize(c); err != nil {
		return err
	}
	rot, err := h.Seal.Rotate(c.Context())
	if err != nil {
		return err
	}
	return reply(c, rot)
}

func (h *Handlers) rekey(c *ociapi.Call) error {
	if err := h.authorize(c); err != nil {
		return err
	}
	return serve(c, func(ctx context.Context, req seal.RekeyRequest) (seal.RekeyResponse, error) {
		return h.Seal.Rekey(ctx, req, principalID(c))
	})
}
