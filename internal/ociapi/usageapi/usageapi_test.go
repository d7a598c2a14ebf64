package usageapi_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ociapi/usageapi"
	"github.com/coffer-vault/coffer/internal/usage"
)

var now = time.Date(2025, 3, 1, 10, 20, 0, 0, time.UTC)

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  usage.Query
	}{
		{"", usage.Query{Since: now.Add(-24 * time.Hour), Until: now, By: usage.ByPrincipal}},
		{"groupBy=secret&since=2025-02-01T00:00:00Z", usage.Query{Since: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), Until: now, By: usage.BySecret}},
		{"until=2025-02-01T02:00:00%2B02:00&groupBy=operation", usage.Query{Since: time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC), Until: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), By: usage.ByOperation}},
		{"limit=5&page=x", usage.Query{Since: now.Add(-24 * time.Hour), Until: now, By: usage.ByPrincipal}},
	} {
		v, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := usageapi.ParseQuery(v, now)
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v, %v; want %+v", tc.query, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"since=yesterday", "until=2025-13-01T00:00:00Z", "groupBy=team", "groupBy=PRINCIPAL",
		"since=2025-03-02T00:00:00Z", "since=0001-01-01T00:00:00Z", "until=9999-12-31T23:59:59Z",
		"since=2025-03-01T10:20:00Z",
	} {
		v, _ := url.ParseQuery(bad)
		_, err := usageapi.ParseQuery(v, now)
		if !errs.Is(err, errs.Invalid) {
			t.Errorf("%q: %v, want InvalidParameter", bad, err)
		}
	}
}

// FuzzParseQuery: any query string parses or is refused as a caller error;
// what parses can be answered.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "since=2025-02-01T00:00:00Z", "groupBy=secret", "until=2025-02-01T02:00:00%2B02:00", "since=%00", "since=99999-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := usageapi.ParseQuery(v, now)
		if err != nil {
			if k := errs.KindOf(err); k != errs.Invalid && k != errs.Missing {
				t.Fatalf("%q: %v is not a caller error", raw, err)
			}
			return
		}
		if err := q.Check(); err != nil || !q.Since.Before(q.Until) {
			t.Fatalf("%q parsed to %+v, which cannot be answered: %v", raw, q, err)
		}
	})
}
