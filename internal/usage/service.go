package usage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Defaults of Options.
const (
	DefaultMaxEntries = 4096
	DefaultRetention  = 400 * 24 * time.Hour
	// DefaultPricePer10k is the price of 10,000 secret retrievals in USD
	// that `coffer usage` assumes unless told otherwise: OCI's list price
	// for Vault secret retrievals beyond the free tier.
	DefaultPricePer10k = 0.03
)

// RetrievalOperations are the operations a report counts as secret
// retrievals, the unit of price.
var RetrievalOperations = []string{"GetSecretBundle", "GetSecretBundleByName"}

func isRetrieval(op string) bool { return slices.Contains(RetrievalOperations, op) }

// keyPrefix is where bucket records live: usage/<yyyymmddhh>/<node>.
const keyPrefix = "usage/"

const hourLayout = "2006010215"

func bucketKey(hour time.Time, node string) string {
	return keyPrefix + hour.UTC().Format(hourLayout) + "/" + node
}

// hourOf parses the hour of a bucket key.
func hourOf(key string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok {
		return time.Time{}, false
	}
	h, _, ok := strings.Cut(rest, "/")
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(hourLayout, h)
	return t, err == nil
}

// bucket is one node's counts in one hour.
type bucket struct {
	Entries []entry `json:"entries"`
}

// entry counts one (principal, operation, secret) by outcome.
type entry struct {
	Principal string `json:"principal,omitempty"`
	Operation string `json:"operation"`
	Secret    string `json:"secret,omitempty"`
	OK        uint64 `json:"ok,omitempty"`
	Denied    uint64 `json:"denied,omitempty"`
	Errors    uint64 `json:"errors,omitempty"`
}

type entryKey struct{ principal, operation, secret string }

func (e *entry) add(o Outcome, n uint64) {
	switch o {
	case OK:
		e.OK += n
	case Denied:
		e.Denied += n
	default:
		e.Errors += n
	}
}

// Options configure a Service.
type Options struct {
	// Node names this server among those sharing the store; each node
	// writes only records under its own name.
	Node string
	// MaxEntries bounds the distinct keys of one bucket record
	// (DefaultMaxEntries when 0); beyond it calls are folded into one
	// Other entry per operation.
	MaxEntries int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service keeps a Counter's counts in the store and reports on them.
type Service struct {
	st      store.Store
	counter *Counter
	opts    Options
	flushMu sync.Mutex
}

// New returns a service that flushes counter into st.
func New(st store.Store, counter *Counter, opts Options) *Service {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{st: st, counter: counter, opts: opts}
}

// Flush adds what the counter holds to this node's bucket records, one
// transaction per hour. Counts it could not write go back to the counter
// for the next flush.
func (s *Service) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	counts := s.counter.Drain()
	if len(counts) == 0 {
		return nil
	}
	byHour := map[time.Time][]Count{}
	for _, c := range counts {
		byHour[c.Hour] = append(byHour[c.Hour], c)
	}
	var failed []error
	for hour, cs := range byHour {
		key := bucketKey(hour, s.opts.Node)
		err := s.st.Update(ctx, func(tx store.Tx) error {
			b, err := record.Get[bucket](tx, key)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			b.Entries = merge(b.Entries, cs, s.opts.MaxEntries)
			return record.Put(tx, key, b)
		})
		if err != nil {
			s.counter.Restore(cs)
			failed = append(failed, fmt.Errorf("flush usage of %s: %w", hour.Format(time.RFC3339), err))
		}
	}
	return errors.Join(failed...)
}

// merge adds counts to entries, folding keys beyond max into Other.
func merge(entries []entry, counts []Count, maxEntries int) []entry {
	index := make(map[entryKey]int, len(entries)+len(counts))
	for i, e := range entries {
		index[entryKey{e.Principal, e.Operation, e.Secret}] = i
	}
	for _, c := range counts {
		k := entryKey{c.Principal, c.Operation, c.Secret}
		i, ok := index[k]
		if !ok && len(entries) >= maxEntries {
			f := c.Call.fold()
			k = entryKey{f.Principal, f.Operation, f.Secret}
			i, ok = index[k]
		}
		if !ok {
			i = len(entries)
			entries = append(entries, entry{Principal: k.principal, Operation: k.operation, Secret: k.secret})
			index[k] = i
		}
		entries[i].add(c.Outcome, c.N)
	}
	return entries
}

// purgeBatch is how many of the oldest records Purge looks at a time.
const purgeBatch = 16

// Purge deletes the bucket records of hours that began before before and
// returns how many it deleted. It reads from the oldest record on and
// stops at the first one still kept, so a run with nothing to purge reads
// one small batch.
func (s *Service) Purge(ctx context.Context, before time.Time) (int, error) {
	deleted := 0
	for {
		n, more, err := s.purgeBatch(ctx, before)
		deleted += n
		if err != nil || !more {
			return deleted, err
		}
	}
}

func (s *Service) purgeBatch(ctx context.Context, before time.Time) (n int, more bool, err error) {
	err = s.st.Update(ctx, func(tx store.Tx) error {
		n, more = 0, false
		entries, err := tx.List(keyPrefix, "", purgeBatch)
		if err != nil {
			return err
		}
		for _, e := range entries {
			hour, ok := hourOf(e.Key)
			if ok && !hour.Before(before) {
				return nil
			}
			// A key that does not parse is not one Flush wrote: drop it
			// too, it can never be reported nor purged otherwise.
			if err := tx.Delete(e.Key); err != nil {
				return err
			}
			n++
		}
		more = len(entries) == purgeBatch
		return nil
	})
	return n, more, err
}

// Group-by dimensions of a report.
const (
	ByPrincipal = "principal"
	ByOperation = "operation"
	BySecret    = "secret"
)

// GroupBys lists the dimensions a report may be grouped by.
var GroupBys = []string{ByPrincipal, ByOperation, BySecret}

// Query asks for a report.
type Query struct {
	// Since and Until bound the report; both are widened to whole hours
	// (Since down, Until up), the granularity counts are kept at.
	Since, Until time.Time
	// By is ByPrincipal, ByOperation or BySecret.
	By string
}

// Report is the usage in a time range, grouped.
type Report struct {
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	GroupBy string    `json:"groupBy"`
	// Items are sorted by retrievals, then calls, most first.
	Items []Row `json:"items"`
	Total Row   `json:"total"`
}

// Row is the usage of one principal, operation or secret.
type Row struct {
	// Key is the principal OCID, operation name or secret OCID; "" for
	// calls without an authenticated principal (by principal) or without
	// a secret (by secret); Other for keys folded together.
	Key string `json:"key"`
	// Calls counts every call; Denied and Errors count those refused by
	// policy and those that failed otherwise.
	Calls  uint64 `json:"calls"`
	Denied uint64 `json:"denied"`
	Errors uint64 `json:"errors"`
	// Retrievals counts the successful GetSecretBundle and
	// GetSecretBundleByName calls: the unit of price.
	Retrievals uint64 `json:"retrievals"`
}

func (r *Row) add(e entry) {
	r.Calls += e.OK + e.Denied + e.Errors
	r.Denied += e.Denied
	r.Errors += e.Errors
	if isRetrieval(e.Operation) {
		r.Retrievals += e.OK
	}
}

// Check reports whether q can be answered: an errs.Invalid or
// errs.Missing error naming what is wrong, or nil.
func (q Query) Check() error {
	if !slices.Contains(GroupBys, q.By) {
		return errs.E(errs.Invalid, "groupBy must be one of %s", strings.Join(GroupBys, ", "))
	}
	if q.Since.IsZero() || q.Until.IsZero() {
		return errs.E(errs.Missing, "since and until are required")
	}
	if !q.Since.Before(q.Until) {
		return errs.E(errs.Invalid, "since (%s) must be before until (%s)", q.Since.Format(time.RFC3339), q.Until.Format(time.RFC3339))
	}
	return nil
}

// Report sums every node's records of the hours in q's range. It first
// flushes this node's counter, so the report includes this node's calls up
// to now; other nodes' calls appear once they flush.
func (s *Service) Report(ctx context.Context, q Query) (Report, error) {
	if err := q.Check(); err != nil {
		return Report{}, err
	}
	if err := s.Flush(ctx); err != nil {
		return Report{}, err
	}
	since := q.Since.UTC().Truncate(time.Hour)
	until := q.Until.UTC().Truncate(time.Hour)
	if until.Before(q.Until) {
		until = until.Add(time.Hour)
	}
	rep := Report{Since: since, Until: until, GroupBy: q.By, Items: []Row{}}
	rows := map[string]*Row{}
	// Keys sort by hour: start after every key of the hour before since.
	after := keyPrefix + since.Add(-time.Hour).Format(hourLayout) + "/\U0010FFFF"
	err := s.st.View(ctx, func(r store.Reader) error {
		clear(rows)
		rep.Total = Row{}
		for {
			entries, err := r.List(keyPrefix, after, 64)
			if err != nil {
				return err
			}
			for _, e := range entries {
				hour, ok := hourOf(e.Key)
				if !ok {
					continue
				}
				if !hour.Before(until) {
					return nil
				}
				b, err := record.Decode[bucket](e)
				if err != nil {
					return err
				}
				for _, en := range b.Entries {
					k := groupKey(q.By, en)
					row := rows[k]
					if row == nil {
						row = &Row{Key: k}
						rows[k] = row
					}
					row.add(en)
					rep.Total.add(en)
				}
			}
			if len(entries) < 64 {
				return nil
			}
			after = entries[len(entries)-1].Key
		}
	})
	if err != nil {
		return Report{}, fmt.Errorf("usage report: %w", err)
	}
	for _, r := range rows {
		rep.Items = append(rep.Items, *r)
	}
	slices.SortFunc(rep.Items, func(a, b Row) int {
		if c := cmp.Compare(b.Retrievals, a.Retrievals); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Calls, a.Calls); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return rep, nil
}

func groupKey(by string, e entry) string {
	switch by {
	case ByOperation:
		return e.Operation
	case BySecret:
		return e.Secret
	}
	return e.Principal
}

// Cost is the estimated price of retrievals at pricePer10k per 10,000.
func Cost(retrievals uint64, pricePer10k float64) float64 {
	return float64(retrievals) * pricePer10k / 10000
}
