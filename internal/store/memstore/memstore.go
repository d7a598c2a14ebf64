// Package memstore is an in-memory store.Store for tests and for packages
// that need a store without a database. It passes the storetest conformance
// suite, so code tested against it behaves the same on SQLite or PostgreSQL.
//
// The data is an immutable sorted slice. View takes the current slice as its
// snapshot (no copy, no lock held while fn runs); Update holds a writer
// mutex, copies the slice on its first write and publishes the copy on
// commit. Writes are therefore serial and cost O(n) each: fine for tests,
// not meant for large data.
//
// A panic in fn propagates after the transaction is discarded.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/internal/keyspace"
)

// ErrInvalidKey is returned for keys the store refuses (see storetest).
var ErrInvalidKey = keyspace.ErrInvalidKey

// ErrClosed is returned by View and Update after Close.
var ErrClosed = errors.New("memstore: closed")

// errDone is returned when a Tx or Reader is used after its fn returned.
var errDone = errors.New("memstore: transaction already finished")

// Store is the in-memory store. The zero value is not usable; call New.
type Store struct {
	writer sync.Mutex // serializes Update

	mu     sync.RWMutex // guards data and closed
	data   []store.Entry
	closed bool
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store { return &Store{} }

func (s *Store) snapshot() ([]store.Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	return s.data, nil
}

// View runs fn on a snapshot of the committed data.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := s.snapshot()
	if err != nil {
		return err
	}
	tx := &tx{data: data}
	defer func() { tx.done = true }()
	return fn(tx)
}

// Update runs fn with exclusive write access and publishes its writes when
// fn returns nil and ctx is still live.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.writer.Lock()
	defer s.writer.Unlock()
	data, err := s.snapshot()
	if err != nil {
		return err
	}
	tx := &tx{data: data}
	defer func() { tx.done = true }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: not committed: %w", err)
	}
	if !tx.copied {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.data = tx.data
	return nil
}

// Close makes later View and Update calls fail. It is safe to call twice.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.data = nil
	return nil
}

// tx is both the View Reader and the Update Tx; a View never calls Put.
type tx struct {
	data   []store.Entry
	copied bool // data is private to this tx
	done   bool
}

func (t *tx) find(key string) (int, bool) {
	return slices.BinarySearchFunc(t.data, key, func(e store.Entry, k string) int {
		return strings.Compare(e.Key, k)
	})
}

func (t *tx) Get(key string) ([]byte, error) {
	if t.done {
		return nil, errDone
	}
	if err := keyspace.CheckKey(key); err != nil {
		return nil, err
	}
	i, ok := t.find(key)
	if !ok {
		return nil, store.ErrNotFound
	}
	return slices.Clone(t.data[i].Value), nil
}

func (t *tx) List(prefix, after string, limit int) ([]store.Entry, error) {
	if t.done {
		return nil, errDone
	}
	if err := keyspace.CheckText(prefix); err != nil {
		return nil, fmt.Errorf("prefix: %w", err)
	}
	if err := keyspace.CheckText(after); err != nil {
		return nil, fmt.Errorf("after: %w", err)
	}
	r := keyspace.Bounds(prefix, after)
	i, _ := t.find(r.Lo)
	var out []store.Entry
	for ; i < len(t.data) && (limit <= 0 || len(out) < limit); i++ {
		e := t.data[i]
		if !r.Contains(e.Key) {
			if e.Key == r.Lo { // exclusive lower bound
				continue
			}
			break
		}
		out = append(out, store.Entry{Key: e.Key, Value: slices.Clone(e.Value)})
	}
	return out, nil
}

func (t *tx) own() {
	if !t.copied {
		t.data = slices.Clone(t.data)
		t.copied = true
	}
}

func (t *tx) Put(key string, value []byte) error {
	if t.done {
		return errDone
	}
	if err := keyspace.CheckKey(key); err != nil {
		return err
	}
	t.own()
	v := append([]byte{}, value...)
	i, ok := t.find(key)
	if ok {
		t.data[i].Value = v
		return nil
	}
	t.data = slices.Insert(t.data, i, store.Entry{Key: key, Value: v})
	return nil
}

func (t *tx) Delete(key string) error {
	if t.done {
		return errDone
	}
	if err := keyspace.CheckKey(key); err != nil {
		return err
	}
	i, ok := t.find(key)
	if !ok {
		return nil
	}
	t.own()
	t.data = slices.Delete(t.data, i, i+1)
	return nil
}
