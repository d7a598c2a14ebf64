package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/coffer-vault/coffer/internal/ociapi/usageapi"
	"github.com/coffer-vault/coffer/internal/usage"
)

// usageCommand is `coffer usage`: API calls and secret retrievals by
// principal, operation or secret, with the retrievals priced.
func usageCommand() *cobra.Command {
	var (
		since, until, by, currency string
		price                      float64
	)
	cmd := leaf("usage", "API calls and secret retrievals by principal, operation or secret, with an estimated cost",
		`  coffer usage
  coffer usage --since 7d --by secret
  coffer usage --since 2025-03-01 --until 2025-04-01 --by principal --price 0.05 --output json`,
		hints{}, nil,
		func(cmd *cobra.Command, g *globals) error {
			if !validGroupBy(by) {
				return usageErrorf("--by must be one of %s", strings.Join(usage.GroupBys, ", "))
			}
			if price < 0 || math.IsNaN(price) || math.IsInf(price, 0) {
				return usageErrorf("--price must be a number of at least 0")
			}
			now := time.Now().UTC()
			q := url.Values{"groupBy": {by}}
			end := now
			if until != "" {
				t, err := parseSince("until", until, now)
				if err != nil {
					return err
				}
				end = t
				q.Set("until", t.Format(time.RFC3339))
			}
			if since != "" {
				t, err := parseSince("since", since, now)
				if err != nil {
					return err
				}
				if !t.Before(end) {
					return usageErrorf("--since must be before --until")
				}
				q.Set("since", t.Format(time.RFC3339))
			}
			c, err := g.identityClient()
			if err != nil {
				return err
			}
			var rep usage.Report
			if err := getJSON(cmd, c.Call, usageapi.Path+"?"+q.Encode(), "the usage report", &rep); err != nil {
				return err
			}
			out := pricedReport(rep, price, currency)
			switch {
			case g.query != "":
				return g.print(cmd.OutOrStdout(), response{data: out})
			case cmd.Flag("output").Changed && g.output == "table":
				return g.print(cmd.OutOrStdout(), response{data: append(out.Items, out.Total)})
			case cmd.Flag("output").Changed:
				return g.print(cmd.OutOrStdout(), response{data: out})
			}
			printUsage(cmd.OutOrStdout(), out)
			return nil
		})
	f := cmd.Flags()
	f.StringVar(&since, "since", "24h", "start of the report: a duration before now (90m, 24h, 7d) or a datetime (RFC 3339 or 2025-03-01)")
	f.StringVar(&until, "until", "", "end of the report, as --since; default now")
	f.StringVar(&by, "by", usage.ByPrincipal, "group by principal, operation or secret")
	f.Float64Var(&price, "price", usage.DefaultPricePer10k, "price of 10,000 secret retrievals, for the estimated cost")
	f.StringVar(&currency, "currency", "USD", "the currency of --price, as printed")
	_ = cmd.RegisterFlagCompletionFunc("by", cobra.FixedCompletions(usage.GroupBys, cobra.ShellCompDirectiveNoFileComp))
	cmd.Long = `Reports the API calls the server answered in a time range, grouped by
principal (who called), operation or secret, with the calls refused by
policy (denied), the calls that failed otherwise (errors), and the secret
retrievals: successful GetSecretBundle and GetSecretBundleByName calls, the
unit OCI Vault prices. The estimated cost is retrievals / 10,000 x --price
(default 0.03 USD, OCI's list price); try other prices to see what a
workload would cost elsewhere.

Counts are kept per hour, so the range is widened to whole hours. Every
node of a PostgreSQL cluster adds its counts every minute; the node that
answers includes its own up to now, others' up to their last minute.

It needs 'read usage-report in tenancy'. Without --output or --query the
report is printed for a person; with them, as JSON (or a table of rows).`
	return cmd
}

// getJSON sends a signed GET of path through an SDK client's Call and
// decodes the JSON answer into out; what names the answer in errors.
func getJSON(cmd *cobra.Command, call func(context.Context, *http.Request) (*http.Response, error), path, what string, out any) error {
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	resp, err := call(cmd.Context(), req)
	if resp != nil && resp.Body != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s is not JSON: %w", what, err)
	}
	return nil
}

func validGroupBy(by string) bool {
	for _, g := range usage.GroupBys {
		if by == g {
			return true
		}
	}
	return false
}

// parseSince reads a --since or --until value: a duration before now (Go
// syntax, plus a number of days such as 7d) or a datetime.
func parseSince(name, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 && days <= 36500 {
			return now.Add(-time.Duration(days) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, usageErrorf("--%s: %q: give how long ago, without a sign", name, v)
		}
		return now.Add(-d), nil
	}
	t, err := parseTime(name, v)
	if err != nil {
		return time.Time{}, usageErrorf("--%s: %q is neither a duration (90m, 24h, 7d) nor a datetime (RFC 3339, e.g. 2025-03-01T00:00:00Z or 2025-03-01)", name, v)
	}
	return t.Time, nil
}

// pricedUsage is the report as `coffer usage` prints it.
type pricedUsage struct {
	Since       time.Time   `json:"since"`
	Until       time.Time   `json:"until"`
	GroupBy     string      `json:"groupBy"`
	PricePer10k float64     `json:"pricePerTenThousand"`
	Currency    string      `json:"currency"`
	Items       []pricedRow `json:"items"`
	Total       pricedRow   `json:"total"`
}

type pricedRow struct {
	Key        string  `json:"key"`
	Calls      uint64  `json:"calls"`
	Denied     uint64  `json:"denied"`
	Errors     uint64  `json:"errors"`
	Retrievals uint64  `json:"retrievals"`
	Cost       float64 `json:"estimatedCost"`
}

func pricedReport(r usage.Report, price float64, currency string) pricedUsage {
	row := func(u usage.Row) pricedRow {
		return pricedRow{Key: u.Key, Calls: u.Calls, Denied: u.Denied, Errors: u.Errors, Retrievals: u.Retrievals,
			Cost: usage.Cost(u.Retrievals, price)}
	}
	out := pricedUsage{Since: r.Since, Until: r.Until, GroupBy: r.GroupBy, PricePer10k: price, Currency: currency,
		Items: make([]pricedRow, 0, len(r.Items)), Total: row(r.Total)}
	for _, it := range r.Items {
		out.Items = append(out.Items, row(it))
	}
	out.Total.Key = "TOTAL"
	return out
}

// keyLabel names a row's key for a person.
func keyLabel(by, key string) string {
	switch {
	case key == "" && by == usage.ByPrincipal:
		return "(unauthenticated)"
	case key == "" && by == usage.BySecret:
		return "(no secret)"
	case key == usage.Other:
		return "(other: beyond the distinct keys kept)"
	}
	return key
}

// money prints an amount to the millionth, without trailing zeros: a few
// retrievals cost millionths of a dollar.
func money(v float64) string { return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64) }

// printUsage prints the report for a person: the key column left, the
// numbers right-aligned.
func printUsage(w io.Writer, r pricedUsage) {
	fmt.Fprintf(w, "Usage %s to %s by %s; price %s %s per 10,000 secret retrievals\n\n",
		r.Since.Format(time.RFC3339), r.Until.Format(time.RFC3339), r.GroupBy, strconv.FormatFloat(r.PricePer10k, 'f', -1, 64), r.Currency)
	rows := append(r.Items, r.Total)
	head := []string{strings.ToUpper(r.GroupBy), "CALLS", "DENIED", "ERRORS", "RETRIEVALS", "EST. COST (" + r.Currency + ")"}
	cells := [][]string{head}
	for _, it := range rows {
		cells = append(cells, []string{keyLabel(r.GroupBy, it.Key), strconv.FormatUint(it.Calls, 10), strconv.FormatUint(it.Denied, 10),
			strconv.FormatUint(it.Errors, 10), strconv.FormatUint(it.Retrievals, 10), money(it.Cost)})
	}
	width := make([]int, len(head))
	for _, c := range cells {
		for i, v := range c {
			width[i] = max(width[i], len(v))
		}
	}
	for _, c := range cells {
		fmt.Fprintf(w, "%-*s", width[0], c[0])
		for i := 1; i < len(c); i++ {
			fmt.Fprintf(w, "  %*s", width[i], c[i])
		}
		fmt.Fprintln(w)
	}
	if r.Total.Retrievals == 0 {
		fmt.Fprintln(w, "\nNo secret retrievals in this range.")
		return
	}
	top := r.Items[0] // sorted by retrievals, most first
	fmt.Fprintf(w, "\n%s made %d of the %d retrievals (%.0f%%, est. %s %s).\n",
		keyLabel(r.GroupBy, top.Key), top.Retrievals, r.Total.Retrievals, 100*float64(top.Retrievals)/float64(r.Total.Retrievals), money(top.Cost), r.Currency)
	fmt.Fprintln(w, "Each retrieval is billed: a reader that caches (pkg/secretcache, coffer agent) reads each secret")
	fmt.Fprintln(w, "once per refresh instead of once per use.")
}
