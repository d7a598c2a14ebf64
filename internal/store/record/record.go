// Package record reads and writes the domain packages' records in a
// store.Store: one value a key, encoded as JSON.
//
// It is the one codec of identity, kms and secrets (and of recordcache, which
// caches what it decodes), so the rules below hold for all of them:
//
//   - A value is encoding/json's Marshal of the record, byte for byte what the
//     domain packages wrote before this package existed, so existing data
//     directories read back unchanged.
//   - Not found is one thing: Get, Exists and List treat a key the store
//     refuses (store.ErrInvalidKey: a non-UTF-8 or NUL-bearing id from a
//     request, say) as a key without a value, because no such key can hold
//     one. Get's error then satisfies errors.Is(err, store.ErrNotFound), so a
//     domain package tests for missing records one way and an odd id answers
//     "not found" rather than a storage failure. Put does not: writing under
//     an invalid key is a bug of the caller, not an absence.
//   - A value that does not decode is ErrCorrupt, wrapped with its key and the
//     decoder's error. Keys hold no secret and no name in the clear (see
//     package store), so they may appear in errors.
//   - Any other error of the store (a conflict, a closed transaction, the
//     record cache asking for the store) is returned unchanged.
//
// Read buffers are not cleared after decoding, as none was before: records
// hold no plaintext secret (secret content, data keys and key material are
// sealed or wrapped before they become records; retry records keep only
// MACs), so the JSON bytes are no more sensitive than the records.
package record

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coffer-vault/coffer/internal/store"
)

// ErrCorrupt is wrapped by the error of a read whose stored value does not
// decode into the record type.
var ErrCorrupt = errors.New("record: stored value does not decode")

// Get decodes the record stored under key. A missing key, or one the store
// refuses, gives an error for which errors.Is(err, store.ErrNotFound) holds.
func Get[T any](r store.Reader, key string) (T, error) {
	p, err := GetPtr[T](r, key)
	if err != nil {
		var zero T
		return zero, err
	}
	return *p, nil
}

// GetPtr is Get returning the record where it was decoded, for callers that
// keep it (the record cache): the decoder needs the record on the heap, and
// a copy would allocate it twice.
func GetPtr[T any](r store.Reader, key string) (*T, error) {
	b, err := r.Get(key)
	if err != nil {
		return nil, notFound(err)
	}
	v := new(T)
	if err := decodeInto(store.Entry{Key: key, Value: b}, v); err != nil {
		return nil, err
	}
	return v, nil
}

// Exists reports whether a value is stored under key, under Get's rule: a
// key the store refuses holds nothing. The value is not decoded, so an index
// entry of any type may be tested.
func Exists(r store.Reader, key string) (bool, error) {
	_, err := r.Get(key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalidKey):
		return false, nil
	}
	return false, err
}

// Put stores v under key as JSON.
func Put(tx store.Tx, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record %s: %w", key, err)
	}
	return tx.Put(key, b)
}

// List decodes every record whose key starts with prefix, in key order; a
// value that does not decode fails the whole read (ErrCorrupt, naming its
// key). A prefix the store refuses matches nothing, as no stored key can
// start with it.
func List[T any](r store.Reader, prefix string) ([]T, error) {
	entries, err := list(r, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(entries))
	for i, e := range entries {
		if err := decodeInto(e, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Decode decodes one entry of a store List, under Get's rule for a value
// that does not decode. It serves callers that need each key with its
// record, or that treat a corrupt record otherwise than List does.
func Decode[T any](e store.Entry) (T, error) {
	var v T
	if err := decodeInto(e, &v); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

func decodeInto[T any](e store.Entry, v *T) error {
	if err := json.Unmarshal(e.Value, v); err != nil {
		return corrupt(e.Key, err)
	}
	return nil
}

// Names returns what follows prefix in each key under it, in key order,
// without reading the values: the ids of an index such as
// "kms/vaultkey/<vault>/<key id>". A prefix the store refuses matches
// nothing. No keys give a nil slice.
func Names(r store.Reader, prefix string) ([]string, error) {
	entries, err := list(r, prefix)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Key[len(prefix):]
	}
	return out, nil
}

func list(r store.Reader, prefix string) ([]store.Entry, error) {
	entries, err := r.List(prefix, "", 0)
	if errors.Is(err, store.ErrInvalidKey) {
		return nil, nil
	}
	return entries, err
}

// notFound applies the one not-found rule to a store error.
func notFound(err error) error {
	if errors.Is(err, store.ErrInvalidKey) && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w (%w)", store.ErrNotFound, err)
	}
	return err
}

func corrupt(key string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, key, err)
}
