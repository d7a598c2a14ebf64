// Package vaultsapi serves the OCI VaultsClient operations (secret
// management, base path /20180608/secrets on the regional endpoint) over the
// secrets domain.
//
// Every operation on an existing secret loads it first and authorizes with
// the secret, its vault and its master key (AuthorizeSecret), so that the
// policy engine can apply Coffer's rule that content writes also need "use
// keys" on the secret's key. opc-retry-token is handled by the secrets
// domain (scoped by operation and vault or secret), so no route here sets
// ociapi.Route.RetryToken.
package vaultsapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	"net/http"
	"time"

	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/secrets"
)

// Handlers serves the VaultsClient operations.
type Handlers struct {
	Secrets      *secrets.Service
	Targets      Targets
	Compartments ociapi.CompartmentChecker // nil skips the existence check
}

const base = "/20180608/secrets"

// Routes returns the VaultsClient routes. Operation names are OCI's: the
// policy engine's catalogue is keyed by them.
func (h *Handlers) Routes() []ociapi.Route {
	return []ociapi.Route{
		{Pattern: "POST " + base, Operation: "CreateSecret", Handler: h.create},
		{Pattern: "GET " + base, Operation: "ListSecrets", Handler: h.list},
		{Pattern: "GET " + base + "/{secretId}", Operation: "GetSecret", Handler: h.get},
		{Pattern: "PUT " + base + "/{secretId}", Operation: "UpdateSecret", Handler: h.update},
		{Pattern: "POST " + base + "/{secretId}/actions/changeCompartment", Operation: "ChangeSecretCompartment", Handler: h.changeCompartment},
		{Pattern: "POST " + base + "/{secretId}/actions/scheduleDeletion", Operation: "ScheduleSecretDeletion", Handler: h.scheduleDeletion},
		{Pattern: "POST " + base + "/{secretId}/actions/cancelDeletion", Operation: "CancelSecretDeletion", Handler: h.cancelDeletion},
		{Pattern: "POST " + base + "/{secretId}/actions/rotate", Operation: "RotateSecret", Handler: h.rotate},
		{Pattern: "POST " + base + "/{secretId}/actions/cancelRotation", Operation: "CancelSecretRotation", Handler: h.cancelRotation},
		{Pattern: "GET " + base + "/{secretId}/versions", Operation: "ListSecretVersions", Handler: h.listVersions},
		{Pattern: "GET " + base + "/{secretId}/version/{secretVersionNumber}", Operation: "GetSecretVersion", Handler: h.getVersion},
		{Pattern: "POST " + base + "/{secretId}/version/{secretVersionNumber}/actions/scheduleDeletion", Operation: "ScheduleSecretVersionDeletion", Handler: h.scheduleVersionDeletion},
		{Pattern: "POST " + base + "/{secretId}/version/{secretVersionNumber}/actions/cancelDeletion", Operation: "CancelSecretVersionDeletion", Handler: h.cancelVersionDeletion},
	}
}

func retryToken(c *ociapi.Call) string { return c.R.Header.Get("opc-retry-token") }

// load reads the secret named in the path with its vault and key, and
// authorizes the operation on that one snapshot. vars may be nil.
func (h *Handlers) load(c *ociapi.Call, vars map[string]string) (*secrets.Secret, error) {
	id, err := c.PathID("secretId", ocid.Secret)
	if err != nil {
		return nil, err
	}
	return h.Secrets.ReadSecret(c.Context(), id, func(t secrets.ReadTargets) error {
		req := t.Request()
		req.Vars = vars
		return c.Authorize(req)
	})
}

func (h *Handlers) compartmentExists(ctx context.Context, id string) error {
	if h.Compartments == nil {
		return nil
	}
	return ociapi.RequireCompartment(ctx, h.Compartments, id, errs.NotFound)
}

func versionNumber(c *ociapi.Call) (int64, error) {
	return ociapi.ParseInt64("secretVersionNumber", c.PathValue("secretVersionNumber"), 1, math.MaxInt64)
}

func (h *Handlers) create(c *ociapi.Call) error {
	var d createJSON
	if err := c.Decode(&d); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"compartmentId", d.CompartmentID}, {"vaultId", d.VaultID}, {"keyId", d.KeyID}, {"secretName", d.SecretName}} {
		if ociapi.Deref(f.v) == "" {
			return errs.E(errs.Missing, "%s is required", f.name)
		}
	}
	for _, f := range []struct {
		name, id string
		types    []string
	}{{"compartmentId", *d.CompartmentID, ociapi.Compartments}, {"vaultId", *d.VaultID, []string{ocid.Vault}}, {"keyId", *d.KeyID, []string{ocid.Key}}} {
		if _, err := ociapi.CheckID(f.name, f.id, f.types...); err != nil {
			return err
		}
	}
	ctx := c.Context()
	// The secret does not exist yet: the authorizer sees the one the
	// request would create.
	want := &secrets.Secret{Name: *d.SecretName, CompartmentID: *d.CompartmentID, VaultID: *d.VaultID, KeyID: *d.KeyID}
	if err := AuthorizeSecret(c, h.Targets, want, nil); err != nil {
		return err
	}
	if err := h.compartmentExists(ctx, *d.CompartmentID); err != nil {
		return err
	}
	s, err := h.Secrets.CreateSecret(ctx, secrets.CreateSecretRequest{
		CompartmentID: *d.CompartmentID, VaultID: *d.VaultID, KeyID: *d.KeyID, Name: *d.SecretName,
		Description: ociapi.Deref(d.Description), Metadata: d.Metadata, FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags,
		Content: d.SecretContent.domain(), Rules: rulesToDomain(d.SecretRules), RotationConfig: d.RotationConfig.domain(),
		ReplicationConfig: d.ReplicationConfig.domain(), GenerationContext: d.SecretGenerationContext.domain(),
		EnableAutoGeneration: d.EnableAutoGeneration != nil && *d.EnableAutoGeneration, RetryToken: retryToken(c),
	})
	if err != nil {
		return err
	}
	return c.Reply(s.ETag, SecretModel(s))
}

func (h *Handlers) get(c *ociapi.Call) error {
	s, err := h.load(c, nil)
	if err != nil {
		return err
	}
	return c.Reply(s.ETag, SecretModel(s))
}

func (h *Handlers) list(c *ociapi.Call) error {
	compartment, err := c.QueryID("compartmentId", ociapi.Compartments...)
	if err != nil {
		return err
	}
	vaultID, err := c.OptionalQueryID("vaultId", ocid.Vault)
	if err != nil {
		return err
	}
	if err := ociapi.CheckText("query parameter name", c.Query("name"), secrets.MaxNameLen); err != nil {
		return err
	}
	p, err := c.List(ociapi.ListSpec{SortBy: vault.GetListSecretsSortByEnumStringValues(),
		LifecycleStates: vault.GetSecretLifecycleStateEnumStringValues()})
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: compartment}); err != nil {
		return err
	}
	list, next, err := h.Secrets.ListSecrets(c.Context(), secrets.ListSecretsRequest{
		CompartmentID: compartment, Name: c.Query("name"), VaultID: vaultID,
		LifecycleState: secrets.LifecycleState(p.LifecycleState), SortBy: p.SortBy, SortOrder: p.SortOrder,
		Limit: p.Limit, Page: p.Page,
	})
	if err != nil {
		return err
	}
	return c.ReplyList(ociapi.Models(list, func(s secrets.Secret) vault.SecretSummary { return summaryModel(&s) }), next)
}

func (h *Handlers) update(c *ociapi.Call) error {
	var d updateJSON
	if err := c.Decode(&d); err != nil {
		return err
	}
	var vars map[string]string
	if d.SecretContent != nil {
		vars = map[string]string{iam.VarUpdatesContent: "true"}
	}
	s, err := h.load(c, vars)
	if err != nil {
		return err
	}
	req := secrets.UpdateSecretRequest{
		SecretID: s.ID, CurrentVersionNumber: d.CurrentVersionNumber, Description: d.Description,
		Metadata: d.Metadata, FreeformTags: d.FreeformTags, DefinedTags: d.DefinedTags,
		Content: d.SecretContent.domain(), RotationConfig: d.RotationConfig.domain(),
		ReplicationConfig: d.ReplicationConfig.domain(), GenerationContext: d.SecretGenerationContext.domain(),
		EnableAutoGeneration: d.EnableAutoGeneration, IfMatch: c.IfMatch(), RetryToken: retryToken(c),
	}
	if d.SecretRules != nil {
		rules := rulesToDomain(*d.SecretRules)
		if rules == nil {
			rules = []secrets.Rule{}
		}
		req.Rules = &rules
	}
	s, err = h.Secrets.UpdateSecret(c.Context(), req)
	if err != nil {
		return err
	}
	return c.Reply(s.ETag, SecretModel(s))
}

func (h *Handlers) changeCompartment(c *ociapi.Call) error {
	var d vault.ChangeSecretCompartmentDetails
	if err := c.Decode(&d); err != nil {
		return err
	}
	if _, err := ociapi.CheckID("compartmentId", ociapi.Deref(d.CompartmentId), ociapi.Compartments...); err != nil {
		return err
	}
	s, err := h.load(c, nil)
	if err != nil {
		return err
	}
	// Moving needs the permission in the destination too: the caller must be
	// able to act on the secret where it lands.
	moved := *s
	moved.CompartmentID = *d.CompartmentId
	if err := AuthorizeSecret(c, h.Targets, &moved, nil); err != nil {
		return err
	}
	if err := h.compartmentExists(c.Context(), *d.CompartmentId); err != nil {
		return err
	}
	s, err = h.Secrets.ChangeSecretCompartment(c.Context(), secrets.ChangeCompartmentRequest{
		SecretID: s.ID, CompartmentID: *d.CompartmentId, IfMatch: c.IfMatch(), RetryToken: retryToken(c),
	})
	if err != nil {
		return err
	}
	return c.ReplyEmpty(http.StatusOK, s.ETag)
}

type deletionJSON struct {
	TimeOfDeletion *time.Time `json:"timeOfDeletion"`
}

func (h *Handlers) scheduleDeletion(c *ociapi.Call) error {
	var d deletionJSON
	if err := c.DecodeOptional(&d); err != nil {
		return err
	}
	s, err := h.load(c, nil)
	if err != nil {
		return err
	}
	s, err = h.Secrets.ScheduleSecretDeletion(c.Context(), secrets.ScheduleDeletionRequest{SecretID: s.ID, TimeOfDeletion: d.TimeOfDeletion, IfMatch: c.IfMatch()})
	if err != nil {
		return err
	}
	return c.ReplyEmpty(http.StatusOK, s.ETag)
}

func (h *Handlers) cancelDeletion(c *ociapi.Call) error {
	s, err := h.load(c, nil)
	if err != nil {
		return err
	}
	s, err = h.Secrets.CancelSecretDeletion(c.Context(), s.ID, c.IfMatch())
	if err != nil {
		return err
	}
	return c.ReplyEmpty(http.StatusOK, s.ETag)
}

func (h *Handlers) rotate(c *ociapi.Call) error {
	s, err := h.load(c, nil)
	if err != nil {
		return err
	}
	if _, err := h.Secrets.RotateSecret(c.Context(), s.ID, c.IfMatch(), retryToken(c)); err != nil {
		return err
	}
	// Coffer rotates synchronously; there is no work request to poll, but
	// the SDK's response has the header, so it gets a fresh id.
	c.W.Header().Set("opc-work-request-id", workRequestID())
	return c.ReplyEmpty(http.StatusAccepted, "")
}

func workRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "ocid1.coffersecretrotation.oc1..sync" + hex.EncodeToString(b[:])
}

func (h *Handlers) cancelRotation(c *ociapi.Call) error {
	s, err := h.load(c, nil)
	if err != nil {
		return err
	}
	if _, err := h.Secrets.CancelSecretRotation(c.Context(), s.ID, c.IfMatch()); err != nil {
		return err
	}
	return c.ReplyEmpty(http.StatusOK, "")
}

func (h *Handlers) listVersions(c *ociapi.Call) error {
	p, err := c.List(ociapi.ListSpec{SortBy: vault.GetListSecretVersionsSortByEnumStringValues()})
	if err != nil {
		return err
	}
	s, err := h.load(c, nil)
	if err != nil {
		return err
	}
	list, next, err := h.Secrets.ListSecretVersions(c.Context(), secrets.ListVersionsRequest{
		SecretID: s.ID, SortBy: p.SortBy, SortOrder: p.SortOrder, Limit: p.Limit, Page: p.Page,
	})
	if err != nil {
		return err
	}
	return c.ReplyList(ociapi.Models(list, func(v secrets.SecretVersion) vault.SecretVersionSummary { return versionSummaryModel(&v) }), next)
}

func (h *Handlers) getVersion(c *ociapi.Call) error {
	n, err := versionNumber(c)
	if err != nil {
		return err
	}
	s, err := h.load(c, nil)
	if err != nil {
		return err
	}
	v, err := h.Secrets.GetSecretVersion(c.Context(), s.ID, n)
	if err != nil {
		return err
	}
	return c.Reply(v.ETag, versionModel(v))
}

func (h *Handlers) scheduleVersionDeletion(c *ociapi.Call) error {
	var d deletionJSON
	if err := c.DecodeOptional(&d); err != nil {
		return err
	}
	n, err := versionNumber(c)
	if err != nil {
		return err
	}
	s, err := h.load(c, nil)
	if err != nil {
		return err
	}
	v, err := h.Secrets.ScheduleSecretVersionDeletion(c.Context(), secrets.ScheduleDeletionRequest{
		SecretID: s.ID, VersionNumber: n, TimeOfDeletion: d.TimeOfDeletion, IfMatch: c.IfMatch(),
	})
	if err != nil {
		return err
	}
	return c.ReplyEmpty(http.StatusOK, v.ETag)
}

func (h *Handlers) cancelVersionDeletion(c *ociapi.Call) error {
	n, err := versionNumber(c)
	if err != nil {
		return err
	}
	s, err := h.load(c, nil)
	if err != nil {
		return err
	}
	v, err := h.Secrets.CancelSecretVersionDeletion(c.Context(), s.ID, n, c.IfMatch())
	if err != nil {
		return err
	}
	return c.ReplyEmpty(http.StatusOK, v.ETag)
}
