// Package usage counts API calls by principal, operation, secret and
// outcome, keeps the counts per hour in the store, and reports them with
// the secret retrievals a team would pay for (`coffer usage`).
//
// # Counting
//
// A Counter is in memory and cheap: a call takes one of a few sharded
// mutexes, chosen by the nanoseconds of its time stamp so that concurrent
// requests rarely meet, and increments one map entry. Nothing is written to
// the store per request. Each shard holds at most its share of
// Options.MaxKeys distinct keys; a new key beyond that is folded into the
// "other" principal (and "other" secret), keeping its operation and
// outcome, so retrievals are still counted in full.
//
// # Keeping
//
// Service.Flush drains the counter and adds its counts to one record per
// node and hour (usage/<yyyymmddhh>/<node>), through the record codec and
// the barrier like every record. Each node writes only its own records, so
// nodes sharing a PostgreSQL database never overwrite one another; a report
// sums every node's records. Records hold principal OCIDs, operation names
// and secret OCIDs only: never a name chosen by a user, a token or secret
// content. A bucket record holds at most Options.MaxEntries entries, with
// the same folding. Service.Purge deletes records older than the retention.
package usage

import (
	"sync"
	"time"
)

// Outcome is how a call ended.
type Outcome uint8

// The outcomes.
const (
	// OK is a call answered with a status below 400.
	OK Outcome = iota
	// Denied is a call the policy engine refused (404
	// NotAuthorizedOrNotFound).
	Denied
	// Failed is every other error: bad input, not found, unauthenticated,
	// throttled, a server error.
	Failed
)

// String names the outcome as reports do.
func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Denied:
		return "denied"
	}
	return "error"
}

// Other stands for the principals and secrets folded together once a
// shard or a bucket record holds as many distinct keys as it may.
const Other = "other"

// Call is one finished API call. Its fields come from the authenticated
// and authorized request, never from raw input.
type Call struct {
	// Principal is the authenticated principal's OCID; "" when the call
	// failed before authentication succeeded.
	Principal string
	// Operation is the OCI operation name of the route.
	Operation string
	// Secret is the OCID of the secret the call was authorized on; "" for
	// calls on no secret and calls refused before authorization.
	Secret  string
	Outcome Outcome
}

// fold is c with its principal and secret replaced by Other.
func (c Call) fold() Call {
	c.Principal = Other
	if c.Secret != "" {
		c.Secret = Other
	}
	return c
}

// shardCount spreads concurrent calls over this many locks.
const shardCount = 16

// DefaultMaxKeys bounds the distinct keys a Counter holds between flushes.
const DefaultMaxKeys = 16384

type slot struct {
	hour int64 // hours since the Unix epoch
	call Call
}

type shard struct {
	mu sync.Mutex
	m  map[slot]uint64
	_  [48]byte // keep shards on separate cache lines
}

// Counter counts calls in memory. It is safe for concurrent use; the zero
// value is not ready, use NewCounter.
type Counter struct {
	shards   [shardCount]shard
	perShard int
}

// NewCounter returns a counter holding at most maxKeys distinct keys
// (DefaultMaxKeys when maxKeys <= 0) between flushes.
func NewCounter(maxKeys int) *Counter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Counter{perShard: max(1, maxKeys/shardCount)}
}

// Count counts one call made at at.
func (c *Counter) Count(at time.Time, call Call) {
	c.add(&c.shards[uint(at.Nanosecond())%shardCount], slot{hour: at.Unix() / 3600, call: call}, 1)
}

func (c *Counter) add(s *shard, k slot, n uint64) {
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[slot]uint64)
	}
	if len(s.m) >= c.perShard {
		if _, ok := s.m[k]; !ok {
			k.call = k.call.fold()
		}
	}
	s.m[k] += n
	s.mu.Unlock()
}

// Count is the number of calls with one key in one hour.
type Count struct {
	Hour time.Time // the start of the hour, UTC
	Call
	N uint64
}

// Drain returns every count held and empties the counter.
func (c *Counter) Drain() []Count {
	merged := map[slot]uint64{}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		m := s.m
		s.m = nil
		s.mu.Unlock()
		for k, n := range m {
			merged[k] += n
		}
	}
	out := make([]Count, 0, len(merged))
	for k, n := range merged {
		out = append(out, Count{Hour: time.Unix(k.hour*3600, 0).UTC(), Call: k.call, N: n})
	}
	return out
}

// Restore adds counts back, after a flush that could not write them.
func (c *Counter) Restore(counts []Count) {
	for i, n := range counts {
		c.add(&c.shards[i%shardCount], slot{hour: n.Hour.Unix() / 3600, call: n.Call}, n.N)
	}
}
