// Package changefeed records which secrets and keys changed, as numbered
// entries written in the same store transaction as the change, and serves
// them to long-polling readers (the change feed, docs/oci-behaviours.md
// "Change feed").
//
// Entries hold ids, kinds and version numbers only, never content or names.
// Their sequence comes from one counter record that every appending
// transaction reads and writes: on PostgreSQL (SERIALIZABLE) two concurrent
// appends conflict and the store retries one, so sequences commit in order
// and a reader that saw N never later finds a smaller one appear. A
// store-native sequence would hand out numbers in an order other than the
// commit order, and a cursor could skip an entry that committed late.
package changefeed

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Kind says what changed.
type Kind string

// Kinds of resources the feed reports.
const (
	KindSecret Kind = "SECRET"
	KindKey    Kind = "KEY"
	// KindVault entries are vault changes, for replication between
	// regions; the public change feed does not show them.
	KindVault Kind = "VAULT"
)

// Change says how it changed.
type Change string

// Changes the feed reports.
const (
	Created           Change = "CREATED"
	Updated           Change = "UPDATED"
	VersionCreated    Change = "VERSION_CREATED"
	StageChanged      Change = "STAGE_CHANGED"
	DeletionScheduled Change = "DELETION_SCHEDULED"
	DeletionCancelled Change = "DELETION_CANCELLED"
	Deleted           Change = "DELETED"
	Enabled           Change = "ENABLED"
	Disabled          Change = "DISABLED"
)

// Entry is one change.
type Entry struct {
	Sequence      uint64 `json:"sequence"`
	Kind          Kind   `json:"kind"`
	ID            string `json:"id"`
	CompartmentID string `json:"compartmentId"`
	VaultID       string `json:"vaultId"`
	Change        Change `json:"change"`
	// CurrentVersion is a secret's CURRENT version after the change, or a
	// key's current version ordinal when known; 0 when none.
	CurrentVersion int64     `json:"currentVersionNumber,omitempty"`
	Versions       []int64   `json:"versionNumbers"`
	Time           time.Time `json:"time"`
}

// Storage keys: the counter and the entries by zero-padded sequence.
const (
	CounterKey  = "changes/seq"
	entryPrefix = "changes/e/"
)

func entryKey(seq uint64) string { return fmt.Sprintf("%s%020d", entryPrefix, seq) }

// counter is the feed's head: the last sequence written, the last one
// purged (entries at or below Floor are gone) and the epoch, a random id
// fixed when the feed was first written, which cursors carry so that a
// cursor of another deployment (or of a store restored from a backup that
// predates it) is recognised.
type counter struct {
	Last  uint64 `json:"last"`
	Floor uint64 `json:"floor"`
	Epoch string `json:"epoch"`
}

func newEpoch() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("changefeed: epoch: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func loadCounter(r store.Reader) (counter, error) {
	c, err := record.Get[counter](r, CounterKey)
	if errors.Is(err, store.ErrNotFound) {
		return counter{}, nil
	}
	if err != nil {
		return counter{}, fmt.Errorf("changefeed: read counter: %w", err)
	}
	return c, nil
}

// Append writes e as the next entry inside tx and returns its sequence.
// It must run in the transaction that makes the change.
func Append(tx store.Tx, e Entry) (uint64, error) {
	c, err := loadCounter(tx)
	if err != nil {
		return 0, err
	}
	if c.Epoch == "" {
		if c.Epoch, err = newEpoch(); err != nil {
			return 0, err
		}
	}
	c.Last++
	e.Sequence = c.Last
	e.Time = e.Time.UTC()
	if e.Versions == nil {
		e.Versions = []int64{}
	}
	if err := record.Put(tx, entryKey(e.Sequence), e); err != nil {
		return 0, fmt.Errorf("changefeed: write entry: %w", err)
	}
	if err := record.Put(tx, CounterKey, c); err != nil {
		return 0, fmt.Errorf("changefeed: write counter: %w", err)
	}
	return e.Sequence, nil
}

// Head is the feed's state as a reader sees it.
type Head struct {
	Last, Floor uint64
	Epoch       string
}

// ReadHead returns the feed's head.
func ReadHead(r store.Reader) (Head, error) {
	c, err := loadCounter(r)
	return Head(c), err
}

// Read returns up to limit entries after sequence after, in order.
func Read(r store.Reader, after uint64, limit int) ([]Entry, error) {
	es, err := r.List(entryPrefix, entryKey(after), limit)
	if err != nil {
		return nil, fmt.Errorf("changefeed: list entries: %w", err)
	}
	out := make([]Entry, 0, len(es))
	for _, e := range es {
		v, err := record.Decode[Entry](e)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Retention bounds the feed.
type Retention struct {
	// MaxAge drops entries older than this; 0 means DefaultMaxAge.
	MaxAge time.Duration
	// MaxEntries keeps at most this many; 0 means DefaultMaxEntries.
	MaxEntries uint64
}

// Default retention: a day, or 100,000 entries.
const (
	DefaultMaxAge     = 24 * time.Hour
	DefaultMaxEntries = 100_000
)

// purgeBatch bounds the entries one purge transaction deletes.
const purgeBatch = 1000

// PurgeStep deletes, in tx, up to purgeBatch of the oldest entries that are
// older than the retention allows at now, raising the floor past them, and
// reports how many it deleted. Callers repeat it until it returns 0.
func PurgeStep(tx store.Tx, ret Retention, now time.Time) (int, error) {
	if ret.MaxAge == 0 {
		ret.MaxAge = DefaultMaxAge
	}
	if ret.MaxEntries == 0 {
		ret.MaxEntries = DefaultMaxEntries
	}
	c, err := loadCounter(tx)
	if err != nil || c.Last == c.Floor {
		return 0, err
	}
	es, err := Read(tx, c.Floor, purgeBatch)
	if err != nil {
		return 0, err
	}
	cutoff := now.Add(-ret.MaxAge)
	n := 0
	for _, e := range es {
		if c.Last-e.Sequence < ret.MaxEntries && !e.Time.Before(cutoff) {
			break
		}
		if err := tx.Delete(entryKey(e.Sequence)); err != nil {
			return n, fmt.Errorf("changefeed: purge: %w", err)
		}
		c.Floor = e.Sequence
		n++
	}
	if n == 0 {
		return 0, nil
	}
	if err := record.Put(tx, CounterKey, c); err != nil {
		return n, fmt.Errorf("changefeed: write counter: %w", err)
	}
	return n, nil
}
