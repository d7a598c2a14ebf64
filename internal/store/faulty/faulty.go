// Package faulty wraps a store.Store and makes chosen operations fail, so
// that other packages can test that a failure part-way through their work
// leaves nothing half written, and how they report it.
//
// Faults are armed per operation kind and counted from the moment they are
// armed: FailOn(Put, 3, err) makes the third Put after the call fail with err
// (once). A failed Commit rolls the transaction back: Update returns the
// error and nothing fn wrote is stored. AfterCommit is the opposite, the
// ambiguous outcome callers must also survive: the writes are committed, but
// Update still returns an error, as when a connection drops after COMMIT.
//
//	fs := faulty.New(memstore.New())
//	fs.FailOn(faulty.Put, 2, nil) // the second Put fails with ErrInjected
//	err := secrets.New(fs, ...).CreateSecret(ctx, ...)
//	// check err, and that the store holds no trace of the secret
package faulty

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/coffer-vault/coffer/internal/store"
)

// ErrInjected is the error a fault returns when FailOn was given a nil error.
var ErrInjected = errors.New("faulty: injected fault")

// Op is a kind of operation a fault can be armed on.
type Op int

// The operations that can fail. Commit is counted once per Update whose fn
// returned nil; AfterCommit likewise, but fails after the commit succeeded.
const (
	Get Op = iota
	List
	Put
	Delete
	Commit
	AfterCommit
	numOps
)

var opNames = [numOps]string{"Get", "List", "Put", "Delete", "Commit", "AfterCommit"}

func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", int(o))
}

type fault struct {
	at  int // fail when count reaches at
	err error
}

// Store is the fault-injecting wrapper. It is safe for concurrent use.
type Store struct {
	inner store.Store

	mu     sync.Mutex
	counts [numOps]int
	faults [numOps][]fault
}

var _ store.Store = (*Store)(nil)

// New wraps s. With no fault armed, the wrapper behaves exactly like s.
func New(s store.Store) *Store { return &Store{inner: s} }

// FailOn arms a one-shot fault: the n-th (n >= 1) call of op from now
// returns err, or ErrInjected when err is nil. A failed Get, List, Put or
// Delete does not reach the wrapped store. Several faults may be armed.
func (s *Store) FailOn(op Op, n int, err error) {
	if n < 1 {
		panic("faulty: FailOn needs n >= 1")
	}
	if err == nil {
		err = ErrInjected
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[op] = append(s.faults[op], fault{at: s.counts[op] + n, err: err})
}

// Count reports how many calls of op the wrapper has seen, so a test can
// find out how many faults points a code path has (and then try each).
func (s *Store) Count(op Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[op]
}

// Reset disarms every fault and zeroes the counts.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = [numOps]int{}
	s.faults = [numOps][]fault{}
}

// hit counts one call of op and returns the armed fault's error, if any.
func (s *Store) hit(op Op) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[op]++
	fs := s.faults[op]
	for i, f := range fs {
		if f.at == s.counts[op] {
			s.faults[op] = append(fs[:i:i], fs[i+1:]...)
			return fmt.Errorf("%v: %w", op, f.err)
		}
	}
	return nil
}

// View runs fn on the wrapped store, with faults on Get and List.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	return s.inner.View(ctx, func(r store.Reader) error {
		return fn(&tx{s: s, r: r})
	})
}

// Update runs fn on the wrapped store, with faults on every Tx operation and
// on the commit.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	err := s.inner.Update(ctx, func(t store.Tx) error {
		if err := fn(&tx{s: s, r: t, w: t}); err != nil {
			return err
		}
		// Failing here makes the wrapped store roll back: a commit that
		// did not happen.
		return s.hit(Commit)
	})
	if err != nil {
		return err
	}
	return s.hit(AfterCommit)
}

// Close closes the wrapped store.
func (s *Store) Close() error { return s.inner.Close() }

type tx struct {
	s *Store
	r store.Reader
	w store.Tx // nil in a View
}

func (t *tx) Get(key string) ([]byte, error) {
	if err := t.s.hit(Get); err != nil {
		return nil, err
	}
	return t.r.Get(key)
}

func (t *tx) List(prefix, after string, limit int) ([]store.Entry, error) {
	if err := t.s.hit(List); err != nil {
		return nil, err
	}
	return t.r.List(prefix, after, limit)
}

func (t *tx) Put(key string, value []byte) error {
	if err := t.s.hit(Put); err != nil {
		return err
	}
	return t.w.Put(key, value)
}

func (t *tx) Delete(key string) error {
	if err := t.s.hit(Delete); err != nil {
		return err
	}
	return t.w.Delete(key)
}
