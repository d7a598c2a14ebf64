// Package memledger is the in-memory store.ReplayLedger of a server that
// runs as one process (the SQLite store holds an exclusive lock on its
// database, so no other process serves the same data).
//
// Memory is bounded twice: an entry lives only until the expiry its Claim
// gave (the request's date plus the clock-skew window), and the ledger holds
// at most a fixed number of entries. When it is full of live entries Claim
// fails with store.ErrLedgerFull instead of growing or forgetting an entry
// early, which would let a copy of that request through: the server answers
// 503 and the SDK retries later.
//
// A restarted process starts with an empty ledger, so a request accepted
// just before the restart may be replayed once after it while its date is
// still within the skew window.
package memledger

import (
	"context"
	"sync"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
)

// DefaultMaxEntries bounds the ledger when New is given 0. An entry costs
// about 100 bytes (the 32-byte id twice, in the map and in its expiry
// bucket, plus two times and the map's overhead), so the default is about
// 50 MB at most, and it holds every mutating request of a server that
// accepts some 1,500 of them a second for the default 5-minute window.
const DefaultMaxEntries = 500_000

// Ledger is an in-memory store.ReplayLedger, safe for concurrent use.
type Ledger struct {
	max int

	mu      sync.Mutex
	entries map[[32]byte]entry
	// byExpiry lists the ids by the second (Unix time) their entry expires,
	// so Purge visits only what it forgets. An id may be listed in a second
	// its entry no longer has (re-claimed after expiry); Purge checks.
	byExpiry map[int64][][32]byte
	purged   time.Time // when Claim last purged
}

type entry struct {
	expires    time.Time
	retryUntil time.Time // zero: not released
}

var _ store.ReplayLedger = (*Ledger)(nil)

// New returns an empty ledger that holds at most maxEntries entries
// (DefaultMaxEntries when 0 or less).
func New(maxEntries int) *Ledger {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Ledger{max: maxEntries, entries: map[[32]byte]entry{}, byExpiry: map[int64][][32]byte{}}
}

// Claim implements store.ReplayLedger.
func (l *Ledger) Claim(_ context.Context, id [32]byte, expires, now time.Time) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[id]; ok {
		switch {
		case now.Before(e.retryUntil):
			e.retryUntil = time.Time{}
			l.entries[id] = e
			return true, nil
		case e.expires.Before(now):
			// Expired but not yet purged: as good as absent.
		default:
			return false, nil
		}
	}
	// Purging is amortised: at most once a second, or when full.
	if len(l.entries) >= l.max || now.Sub(l.purged) >= time.Second || now.Before(l.purged) {
		l.purge(now)
		l.purged = now
	}
	if _, ok := l.entries[id]; !ok && len(l.entries) >= l.max {
		return false, store.ErrLedgerFull
	}
	l.entries[id] = entry{expires: expires}
	sec := expires.Unix()
	l.byExpiry[sec] = append(l.byExpiry[sec], id)
	return true, nil
}

// Release implements store.ReplayLedger.
func (l *Ledger) Release(_ context.Context, id [32]byte, retryUntil time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[id]; ok {
		e.retryUntil = retryUntil
		l.entries[id] = e
	}
	return nil
}

// Purge implements store.ReplayLedger.
func (l *Ledger) Purge(_ context.Context, now time.Time) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.purge(now), nil
}

// Len returns the number of entries held, expired ones not yet purged
// included.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

func (l *Ledger) purge(now time.Time) int {
	n := 0
	nowSec := now.Unix()
	for sec, ids := range l.byExpiry {
		if sec > nowSec {
			continue
		}
		keep := ids[:0]
		for _, id := range ids {
			e, ok := l.entries[id]
			switch {
			case !ok || e.expires.Unix() != sec:
				// Forgotten already, or listed again under its new expiry.
			case e.expires.Before(now):
				delete(l.entries, id)
				n++
			default:
				keep = append(keep, id) // expires later within this second
			}
		}
		if len(keep) == 0 {
			delete(l.byExpiry, sec)
		} else {
			l.byExpiry[sec] = keep
		}
	}
	return n
}
