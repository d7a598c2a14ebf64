// Package usageapi serves Coffer's usage report, `GET /20160918/coffer/usage`
// (`coffer usage`): API calls, denials, errors and secret retrievals of the
// whole tenancy in a time range, grouped by principal, operation or secret.
// It is authorized as OCI authorizes its cost reports, `read usage-report
// in tenancy` (iam.OperationGetUsageReport). Prices are the client's
// business: the report carries counts, and the CLI prices retrievals.
package usageapi

import (
	"context"
	"net/url"
	"time"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/iam"
	"github.com/coffer-vault/coffer/internal/ociapi"
	"github.com/coffer-vault/coffer/internal/usage"
)

// Path is the report's path. Like the explain API it lives under the
// identity version prefix in a "coffer" segment no OCI resource uses, so
// the CLI reaches it through the identity endpoint.
const Path = "/20160918/coffer/usage"

// DefaultWindow is the range of a report asked without since.
const DefaultWindow = 24 * time.Hour

// Reporter answers a usage query (usage.Service).
type Reporter interface {
	Report(ctx context.Context, q usage.Query) (usage.Report, error)
}

// Handlers serve the usage report.
type Handlers struct {
	Usage Reporter
	// TenancyID names the tenancy the report is authorized in.
	TenancyID func(ctx context.Context) (string, error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Routes returns the report's route.
func (h *Handlers) Routes() []ociapi.Route {
	return []ociapi.Route{{Pattern: "GET " + Path, Operation: iam.OperationGetUsageReport, Handler: h.get}}
}

func (h *Handlers) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

func (h *Handlers) get(c *ociapi.Call) error {
	q, err := ParseQuery(c.R.URL.Query(), h.now())
	if err != nil {
		return err
	}
	tenancy, err := h.TenancyID(c.Context())
	if err != nil {
		return err
	}
	if err := c.Authorize(authz.Request{CompartmentID: tenancy}); err != nil {
		return err
	}
	rep, err := h.Usage.Report(c.Context(), q)
	if err != nil {
		return err
	}
	return c.Reply("", rep)
}

// ParseQuery reads the report's query parameters: since and until
// (RFC 3339; until defaults to now, since to DefaultWindow before until)
// and groupBy (principal, operation or secret; default principal). Other
// parameters are ignored, as OCI ignores them.
func ParseQuery(v url.Values, now time.Time) (usage.Query, error) {
	q := usage.Query{Until: now, By: usage.ByPrincipal}
	var err error
	if s := v.Get("until"); s != "" {
		if q.Until, err = parseTime("until", s); err != nil {
			return q, err
		}
	}
	q.Since = q.Until.Add(-DefaultWindow)
	if s := v.Get("since"); s != "" {
		if q.Since, err = parseTime("since", s); err != nil {
			return q, err
		}
	}
	if s := v.Get("groupBy"); s != "" {
		q.By = s
	}
	return q, q.Check()
}

// earliest and latest bound the times a query may name: the store keeps
// hours as four-digit years.
var (
	earliest = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	latest   = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
)

func parseTime(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errs.E(errs.Invalid, "%s must be an RFC 3339 time, e.g. 2025-03-01T00:00:00Z", name)
	}
	if t.Before(earliest) || t.After(latest) {
		return time.Time{}, errs.E(errs.Invalid, "%s must be between 1970 and 9999", name)
	}
	return t.UTC(), nil
}
