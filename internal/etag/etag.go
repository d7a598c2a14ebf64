// Package etag makes the entity tags that Coffer's records carry for
// OCI's optimistic concurrency (the etag header and if-match).
package etag

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns a fresh random etag: 32 hex digits. Every write of a record
// takes a new one, so an if-match naming an older etag no longer matches.
func New() string {
	var b [16]byte
	// crypto/rand.Read never fails (it crashes the program instead).
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Matches reports whether a write with the if-match header ifMatch may
// replace a record whose etag is current: OCI treats a missing if-match as
// matching anything.
func Matches(ifMatch, current string) bool {
	return ifMatch == "" || ifMatch == current
}
