package kms

import (
	"crypto/sha256"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultDataKeyCache bounds the unwrapped data keys kept in memory when
// data-key caching is on and no bound is given.
const DefaultDataKeyCache = 10_000

// dataKeys keeps data keys that secret reads unwrapped, so a repeated read
// of a version costs no master-key operation. Entries are keyed by a hash of
// the key version, the wrapped key and its associated data (so a cached key
// opens only what the master key itself would open), are zeroed when evicted
// or dropped, and are used only after the read has checked, in its own
// snapshot, that the master key may be used: a disabled key or one pending
// deletion stops reads at once whatever is cached. The service also drops
// a key's entries when this node disables or schedules it, and everything on
// Forget (seal).
type dataKeys struct {
	// mu serializes every use, so an eviction never clears a key that a
	// reader is copying.
	mu  sync.Mutex
	lru *lru.Cache[[32]byte, dataKey]
	hsm bool // HSM-protected keys too (an operator's choice)
}

type dataKey struct {
	keyID string
	dek   []byte
}

func newDataKeys(max int, hsm bool) *dataKeys {
	if max <= 0 {
		max = DefaultDataKeyCache
	}
	c, _ := lru.NewWithEvict(max, func(_ [32]byte, v dataKey) { clear(v.dek) })
	return &dataKeys{lru: c, hsm: hsm}
}

// caches says whether data keys of a version with this protection flavour
// may be kept: SOFTWARE always, HSM (real or emulated) only when the
// operator opted in, so that what an HSM promises stays true by default.
func (d *dataKeys) caches(flavour string) bool {
	return d != nil && (flavour == flavourSoftware || d.hsm)
}

func dataKeyID(keyVersionID string, wrapped, aad []byte) [32]byte {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(keyVersionID), wrapped, aad} {
		var n [8]byte
		for i, l := 0, uint64(len(part)); i < 8; i++ {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write(part)
	}
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// get returns a copy of the cached key, which the caller clears.
func (d *dataKeys) get(id [32]byte) ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.lru.Get(id)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), v.dek...), true
}

func (d *dataKeys) put(id [32]byte, keyID string, dek []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lru.Add(id, dataKey{keyID: keyID, dek: append([]byte(nil), dek...)})
}

// drop removes (and zeroes) every cached key of keyID.
func (d *dataKeys) drop(keyID string) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range d.lru.Keys() {
		if v, ok := d.lru.Peek(id); ok && v.keyID == keyID {
			d.lru.Remove(id)
		}
	}
}

// purge removes and zeroes everything.
func (d *dataKeys) purge() {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lru.Purge()
}

// CacheDataKeys turns on the cache of unwrapped secret data keys, holding
// at most max (0: DefaultDataKeyCache), for SOFTWARE keys and, when hsm is
// set, for HSM keys too. Call it before serving.
func (s *Service) CacheDataKeys(max int, hsm bool) {
	s.dataKeys.Store(newDataKeys(max, hsm))
}

// Forget zeroes and drops every cached data key and opened key version; the
// server calls it when it seals.
func (s *Service) Forget() {
	s.dataKeys.Load().purge()
	s.handles.mu.Lock()
	s.handles.m = nil
	s.handles.mu.Unlock()
}
