// Package secretsapi serves the OCI SecretsClient operations (secret
// retrieval, base path /20190301/secretbundles on the regional endpoint)
// over the secrets domain.
//
// A bundle's content is written straight from the decrypted bytes into one
// buffer that is cleared after the write, so the plaintext is never held in
// an immutable string or an encoder's pooled buffer; the response always
// carries the "contentType":"BASE64" discriminator without which the SDK
// drops the content.
package secretsapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/secrets"
)

// Handlers serves the SecretsClient operations.
type Handlers struct {
	Secrets *secrets.Service
}

const base = "/20190301/secretbundles"

// Routes returns the SecretsClient routes, named as OCI names them.
func (h *Handlers) Routes() []ociapi.Route {
	return []ociapi.Route{
		{Pattern: "GET " + base + "/{secretId}", Operation: "GetSecretBundle", Handler: h.get},
		{Pattern: "POST " + base + "/actions/getByName", Operation: "GetSecretBundleByName", ReadOnly: true, Handler: h.getByName},
		{Pattern: "GET " + base + "/{secretId}/versions", Operation: "ListSecretBundleVersions", Handler: h.listVersions},
	}
}

// selector reads versionNumber, secretVersionName and stage.
func selector(c *ociapi.Call) (secrets.BundleSelector, error) {
	var sel secrets.BundleSelector
	n, _, err := c.QueryInt64("versionNumber", 1, math.MaxInt64)
	if err != nil {
		return sel, err
	}
	sel.VersionNumber = n
	sel.VersionName = c.Query("secretVersionName")
	if err := ociapi.CheckText("query parameter secretVersionName", sel.VersionName, secrets.MaxNameLen); err != nil {
		return sel, err
	}
	stage, err := c.QueryEnum("stage", sdksecrets.GetGetSecretBundleStageEnumStringValues()...)
	if err != nil {
		return sel, err
	}
	sel.Stage = secrets.Stage(stage)
	return sel, nil
}

// authorize is the Authorizer of every read here: the caller's operation
// on the secret, its vault and its master key, from the read's snapshot.
func authorize(c *ociapi.Call) secrets.Authorizer {
	return func(t secrets.ReadTargets) error { return c.Authorize(t.Request()) }
}

// replyBundle reads the selected version of ref's secret, authorized on the
// same snapshot before anything is opened, and writes it, with the bundle's
// etag when withETag.
func (h *Handlers) replyBundle(c *ociapi.Call, ref secrets.SecretRef, withETag bool) error {
	sel, err := selector(c)
	if err != nil {
		return err
	}
	b, err := h.Secrets.ReadBundle(c.Context(), ref, sel, authorize(c))
	if err != nil {
		return err
	}
	defer b.Content.Zero()
	etag := ""
	if withETag {
		etag = b.ETag
	}
	return writeBundle(c, b, etag)
}

func (h *Handlers) get(c *ociapi.Call) error {
	id, err := c.PathID("secretId", ocid.Secret)
	if err != nil {
		return err
	}
	return h.replyBundle(c, secrets.SecretRef{ID: id}, true)
}

// getByName resolves the name in the read's own snapshot; a caller without
// permission learns nothing beyond "not found".
func (h *Handlers) getByName(c *ociapi.Call) error {
	name := c.Query("secretName")
	if name == "" {
		return errs.E(errs.Missing, "query parameter secretName is required")
	}
	if err := ociapi.CheckText("query parameter secretName", name, secrets.MaxNameLen); err != nil {
		return err
	}
	vaultID, err := c.QueryID("vaultId", ocid.Vault)
	if err != nil {
		return err
	}
	return h.replyBundle(c, secrets.SecretRef{VaultID: vaultID, Name: name}, false)
}

func (h *Handlers) listVersions(c *ociapi.Call) error {
	id, err := c.PathID("secretId", ocid.Secret)
	if err != nil {
		return err
	}
	p, err := c.List(ociapi.ListSpec{SortBy: sdksecrets.GetListSecretBundleVersionsSortByEnumStringValues()})
	if err != nil {
		return err
	}
	list, next, err := h.Secrets.ReadBundleVersions(c.Context(), secrets.ListVersionsRequest{
		SecretID: id, SortBy: p.SortBy, SortOrder: p.SortOrder, Limit: p.Limit, Page: p.Page,
	}, authorize(c))
	if err != nil {
		return err
	}
	return c.ReplyList(ociapi.Models(list, bundleVersionModel), next)
}

func bundleVersionModel(v secrets.SecretVersion) sdksecrets.SecretBundleVersionSummary {
	return sdksecrets.SecretBundleVersionSummary{
		SecretId: common.String(v.SecretID), VersionNumber: common.Int64(v.VersionNumber),
		TimeCreated: &common.SDKTime{Time: v.TimeCreated}, VersionName: ociapi.OptString(v.Name),
		TimeOfDeletion: ociapi.OptTime(v.TimeOfDeletion), TimeOfExpiry: ociapi.OptTime(v.TimeOfExpiry),
		Stages: ociapi.Enums[sdksecrets.SecretBundleVersionSummaryStagesEnum](v.Stages),
	}
}

// writeBundle writes a SecretBundle as the SDK reads it, encoded by hand
// (no reflection: this is the hottest reply) into one buffer that holds the
// base64 content and is cleared once written, so the plaintext is never
// copied into an immutable string or an encoder's pooled buffer. The
// contentType discriminator is always present: without it the SDK drops the
// content.
func writeBundle(c *ociapi.Call, b *secrets.Bundle, etag string) error {
	var meta []byte
	if len(b.Metadata) > 0 {
		var err error
		if meta, err = json.Marshal(b.Metadata); err != nil {
			return fmt.Errorf("encode secret bundle metadata: %w", err)
		}
	}
	pt := b.Content.Bytes()
	buf := make([]byte, 0, 384+len(meta)+base64.StdEncoding.EncodedLen(len(pt)))
	defer func() { clear(buf) }()
	buf = append(buf, `{"secretId":`...)
	buf = ociapi.AppendJSONString(buf, b.SecretID)
	buf = append(buf, `,"versionNumber":`...)
	buf = strconv.AppendInt(buf, b.VersionNumber, 10)
	buf = appendTime(buf, "timeCreated", &b.TimeCreated)
	if b.VersionName != "" {
		buf = append(buf, `,"versionName":`...)
		buf = ociapi.AppendJSONString(buf, b.VersionName)
	}
	buf = appendTime(buf, "timeOfDeletion", b.TimeOfDeletion)
	buf = appendTime(buf, "timeOfExpiry", b.TimeOfExpiry)
	if len(b.Stages) > 0 {
		buf = append(buf, `,"stages":[`...)
		for i, st := range b.Stages {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = ociapi.AppendJSONString(buf, string(st))
		}
		buf = append(buf, ']')
	}
	if meta != nil {
		buf = append(buf, `,"metadata":`...)
		buf = append(buf, meta...)
	}
	buf = append(buf, `,"secretBundleContent":{"contentType":"BASE64","content":"`...)
	buf = base64.StdEncoding.AppendEncode(buf, pt)
	buf = append(buf, `"}}`...)
	c.ReplyJSON(http.StatusOK, etag, buf)
	return nil
}

// appendTime appends `,"name":"<RFC 3339>"` as the SDK's SDKTime encodes
// it, or nothing for a nil time.
func appendTime(buf []byte, name string, t *time.Time) []byte {
	if t == nil {
		return buf
	}
	buf = append(buf, ',', '"')
	buf = append(buf, name...)
	buf = append(buf, '"', ':', '"')
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"')
}
