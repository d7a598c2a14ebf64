// Package store defines Coffer's one transactional storage interface: an
// ordered key-value space with serializable transactions. Domain packages keep
// their records and secondary indexes in it; backends (SQLite, PostgreSQL, the
// in-memory fake) implement it and pass the conformance suite in storetest.
//
// Keys are plain text and visible in the backing database, so they may hold
// identifiers (OCIDs, numbers, fixed names) but never secret material, and
// never a name or other text chosen outside Coffer: such parts go through a
// blind index (internal/blindindex), a keyed hash. Values are opaque bytes;
// in a running server every value passes through the barrier, which seals it
// with AES-256-GCM bound to its key.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Get when no value is stored under the key.
var ErrNotFound = errors.New("store: not found")

// ErrInvalidKey is returned for a key (or List prefix or after bound) that
// no backend may store: empty, longer than MaxKeyLen, not valid UTF-8, or
// holding a NUL byte. Such a key can hold no value, so readers of records
// (package record) take it for a missing one.
var ErrInvalidKey = errors.New("store: invalid key")

// ErrConflict is returned by Update when the transaction lost a race with a
// concurrent writer and could not be retried within the backend's budget.
// Callers map it to 409 Conflict.
var ErrConflict = errors.New("store: transaction conflict")

// MaxKeyLen bounds the length of a key in bytes; longer keys are refused.
const MaxKeyLen = 1024

// Store is a transactional ordered key-value store.
//
// Update runs fn in a serializable read-write transaction and commits it when
// fn returns nil; the commit is durable when Update returns. A backend may run
// fn more than once when it must retry a conflict, so fn must have no effects
// outside the transaction. View runs fn in a read-only snapshot.
type Store interface {
	View(ctx context.Context, fn func(Reader) error) error
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Reader reads inside a transaction.
type Reader interface {
	// Get returns the value stored under key, or ErrNotFound.
	Get(key string) ([]byte, error)
	// List returns, in ascending byte order of key, the entries whose key has
	// the given prefix and sorts strictly after `after` (when after is not
	// empty). limit <= 0 means no limit.
	List(prefix, after string, limit int) ([]Entry, error)
}

// Tx reads and writes inside a read-write transaction.
type Tx interface {
	Reader
	// Put stores value under key, replacing any previous value.
	Put(key string, value []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key string) error
}

// Entry is one key and its value.
type Entry struct {
	Key   string
	Value []byte
}

// Compacter is the optional capability of a store whose files may keep the
// bytes of deleted keys and values (free pages, a write-ahead log, dead
// tuples). Compact rewrites them so that what was deleted is gone from the
// store's own files; copies outside them (backups, replicas, a database
// server's archived log) are beyond its reach. It may take long and block
// writers, so it is for one-off moments such as after a migration.
type Compacter interface {
	Compact(ctx context.Context) error
}

// ChangeFeed is the optional capability of a store that several server
// nodes share: it tells each node which keys the others wrote, so that
// caches of decoded records stay true. A store used by one process only
// (SQLite) has no feed and needs none: every write passes through the node's
// own cache wrapper.
type ChangeFeed interface {
	// Follow reports committed writes to w until ctx ends, reconnecting as
	// needed. Before the feed is listening, and whenever it may have missed
	// a change (a broken connection, a ping that did not come back within
	// its bound, a burst too large to name its keys), it calls w.Lost; once
	// it listens again it calls w.Live, after which every commit is reported
	// through w.Changed. A write committed by this node is reported too.
	Follow(ctx context.Context, w ChangeWatcher) error
}

// ChangeWatcher receives what a ChangeFeed learns. Calls come from one
// goroutine, in order.
type ChangeWatcher interface {
	// Changed names the keys one committed transaction put or deleted.
	Changed(keys []string)
	// Lost says changes may have been missed and may keep being missed
	// until Live: nothing cached may be trusted.
	Lost()
	// Live says the feed is listening again and every later commit will be
	// reported.
	Live()
}

// ErrLedgerFull is returned by ReplayLedger.Claim when the ledger holds as
// many live entries as it may; the request is refused (503) rather than the
// ledger grown without bound or an entry forgotten early.
var ErrLedgerFull = errors.New("store: replay ledger full")

// ReplayLedger records the signed requests a server accepted, so that an
// exact copy of one is refused while its signature is still within the
// clock-skew window. A store that several nodes share implements it, so a
// copy accepted by one node is refused by every other; a single-process
// server keeps the ledger in memory (memledger).
//
// Entries are keyed by a hash of the request's signature, never the
// signature itself; times come from the caller's clock.
type ReplayLedger interface {
	// Claim records id until expires and reports true, or reports false
	// when id is recorded already, unless Release reopened it and now is
	// before the time Release gave. Of concurrent claims of one id at most
	// one reports true.
	Claim(ctx context.Context, id [32]byte, expires, now time.Time) (bool, error)
	// Release lets id be claimed once more until retryUntil: the request
	// failed without effect and its sender may retry it with the very same
	// signature. The entry is kept until the expiry Claim gave it.
	Release(ctx context.Context, id [32]byte, retryUntil time.Time) error
	// Purge forgets the entries whose expiry is before now and returns how
	// many it forgot.
	Purge(ctx context.Context, now time.Time) (int, error)
}
