package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/spf13/cobra"
)

// group returns a command that only holds subcommands. Without a
// subcommand it prints its help; with an unknown one it is a usage error
// (exit 2) rather than cobra's plain error.
func group(use, short, example string, children ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return unknownCommand(cmd, args[0])
		},
	}
	c.Annotations = map[string]string{groupAnnotation: "true"}
	c.AddCommand(children...)
	return c
}

// groupAnnotation marks a command built by group.
const groupAnnotation = "coffer/group"

// noArgs rejects positional arguments with a usage error: every value is
// an option, as in the oci CLI.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return exitError{reportUsage(cmd.ErrOrStderr(), fmt.Sprintf("unexpected argument %q: %s takes options only (see --help)", args[0], cmd.CommandPath()))}
	}
	return nil
}

// leaf builds a runnable command with the common shape.
func leaf(use, short, example string, h hints, required []string, fn func(*cobra.Command, *globals) error) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    noArgs,
		RunE:    runE(h, required, fn),
	}
}

// parseJSONArg decodes a complex option given as JSON or as
// file://path, as the oci CLI accepts them.
func parseJSONArg(name, v string, dst any) error {
	if path, ok := strings.CutPrefix(v, "file://"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return usageErrorf("--%s: %v", name, err)
		}
		v = string(b)
	}
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return usageErrorf("--%s must be valid JSON: %v", name, err)
	}
	if dec.More() {
		return usageErrorf("--%s: trailing data after the JSON value", name)
	}
	return nil
}

// timeLayouts are the forms --time-of-deletion and other datetime options
// accept (the oci CLI accepts RFC 3339 and a few shorter ISO 8601 forms;
// times without a zone are UTC).
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// parseTime parses a datetime option.
func parseTime(name, v string) (*common.SDKTime, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, strings.TrimSpace(v)); err == nil {
			return &common.SDKTime{Time: t.UTC()}, nil
		}
	}
	return nil, usageErrorf("--%s: %q is not a datetime; use RFC 3339, e.g. 2030-01-31T12:00:00Z or 2030-01-31", name, v)
}

// tagFlags are --freeform-tags and --defined-tags.
type tagFlags struct{ freeform, defined string }

func (t *tagFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&t.freeform, "freeform-tags", "", `free-form tags as JSON, e.g. '{"team": "payments"}' (or file://path)`)
	cmd.Flags().StringVar(&t.defined, "defined-tags", "", `defined tags as JSON, e.g. '{"ns": {"key": "value"}}' (or file://path)`)
}

func (t *tagFlags) parse() (map[string]string, map[string]map[string]any, error) {
	var ff map[string]string
	var dt map[string]map[string]any
	if t.freeform != "" {
		if err := parseJSONArg("freeform-tags", t.freeform, &ff); err != nil {
			return nil, nil, err
		}
	}
	if t.defined != "" {
		if err := parseJSONArg("defined-tags", t.defined, &dt); err != nil {
			return nil, nil, err
		}
	}
	return ff, dt, nil
}

// listFlags are the oci CLI's paging and sorting options.
type listFlags struct {
	all               bool
	limit, pageSize   int
	page              string
	sortBy, sortOrder string
}

// add registers the paging options and, when sortFields are given,
// --sort-by (one of them) and --sort-order.
func (l *listFlags) add(cmd *cobra.Command, sortFields ...string) {
	f := cmd.Flags()
	if len(sortFields) > 0 {
		f.StringVar(&l.sortBy, "sort-by", "", "the field to sort by")
		f.StringVar(&l.sortOrder, "sort-order", "", "ASC or DESC")
		_ = cmd.RegisterFlagCompletionFunc("sort-by", cobra.FixedCompletions(sortFields, cobra.ShellCompDirectiveNoFileComp))
		_ = cmd.RegisterFlagCompletionFunc("sort-order", cobra.FixedCompletions([]string{"ASC", "DESC"}, cobra.ShellCompDirectiveNoFileComp))
	}
	f.BoolVar(&l.all, "all", false, "fetch all pages of results")
	f.IntVar(&l.limit, "limit", 0, "the maximum number of items to return in one page")
	f.IntVar(&l.pageSize, "page-size", 0, "with --all, the number of items per request")
	f.StringVar(&l.page, "page", "", "the opc-next-page value from a previous list call")
}

// list calls fetch once, or, with --all, until there is no next page.
func list[T any](l *listFlags, fetch func(limit *int, page *string) ([]T, *string, error)) ([]T, *string, error) {
	if l.all && l.limit > 0 {
		return nil, nil, usageErrorf("--all and --limit cannot be used together (use --page-size with --all)")
	}
	if l.limit < 0 || l.pageSize < 0 {
		return nil, nil, usageErrorf("--limit and --page-size must be positive")
	}
	var page *string
	if l.page != "" {
		page = common.String(l.page)
	}
	if !l.all {
		var limit *int
		if l.limit > 0 {
			limit = common.Int(l.limit)
		}
		items, next, err := fetch(limit, page)
		if items == nil {
			items = []T{}
		}
		return items, next, err
	}
	var size *int
	if l.pageSize > 0 {
		size = common.Int(l.pageSize)
	}
	all := []T{}
	for range maxPages {
		items, next, err := fetch(size, page)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, items...)
		if next == nil || *next == "" {
			return all, nil, nil
		}
		page = next
	}
	return nil, nil, fmt.Errorf("list did not end after %d pages", maxPages)
}

// maxPages stops --all on a server whose pagination never ends.
const maxPages = 100000

// waitFlags are --wait-for-state and its bounds.
type waitFlags struct {
	states     []string
	maxWait    int
	intervalMx int
}

func (w *waitFlags) add(cmd *cobra.Command, states ...string) {
	cmd.Flags().StringSliceVar(&w.states, "wait-for-state", nil, "wait until the resource reaches this lifecycle state (repeatable): "+strings.Join(states, ", "))
	cmd.Flags().IntVar(&w.maxWait, "max-wait-seconds", 1200, "the longest --wait-for-state waits")
	cmd.Flags().IntVar(&w.intervalMx, "wait-interval-seconds", 30, "the longest pause between two checks while waiting (checks back off from 1 second up to it)")
	_ = cmd.RegisterFlagCompletionFunc("wait-for-state", cobra.FixedCompletions(states, cobra.ShellCompDirectiveNoFileComp))
}

// waitError is a --wait-for-state that ran out of time.
type waitError struct{ msg string }

func (e *waitError) Error() string { return e.msg }

// wait polls get until state(resource) is one of the wanted states, with
// backoff from 1 s doubling up to --wait-interval-seconds, for at most
// --max-wait-seconds, showing its progress on a terminal. It returns the
// last resource seen; on timeout it returns it with a waitError, so the
// caller prints the last state as the oci CLI does.
func wait[T any](ctx context.Context, g *globals, w *waitFlags, first T, state func(T) string, get func(context.Context) (T, error)) (T, error) {
	cur := first
	if len(w.states) == 0 {
		return cur, nil
	}
	want := make([]string, len(w.states))
	for i, s := range w.states {
		want[i] = strings.ToUpper(s)
	}
	deadline := g.now().Add(time.Duration(w.maxWait) * time.Second)
	delay := time.Second
	maxDelay := time.Duration(max(1, w.intervalMx)) * time.Second
	p := g.newProgress(want)
	defer p.done()
	for {
		if slices.Contains(want, state(cur)) {
			return cur, nil
		}
		p.show(state(cur))
		left := deadline.Sub(g.now())
		if left <= 0 {
			return cur, &waitError{fmt.Sprintf("failed to wait until the resource entered %s within %d seconds; it is %s. The last known state is printed.",
				strings.Join(want, " or "), w.maxWait, state(cur))}
		}
		if err := p.sleep(ctx, g, min(delay, left), state(cur)); err != nil {
			return cur, err
		}
		delay = min(delay*2, maxDelay)
		next, err := get(ctx)
		if err != nil {
			return cur, err
		}
		cur = next
	}
}

// confirm asks before a delete unless --force, as the oci CLI does. A
// closed or non-answering stdin means no.
func confirm(cmd *cobra.Command, force bool, what string) error {
	if force {
		return nil
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Are you sure you want to delete %s? [y/N]: ", what)
	line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a == "y" || a == "yes" {
		return nil
	}
	return usageErrorf("not confirmed; pass --force to delete without a prompt")
}
