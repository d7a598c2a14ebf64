// Package blindindex turns names and other outside-chosen text into the
// parts of storage keys that index them, so that the database shows no name.
//
// Storage keys are not encrypted (the barrier seals values, and a store must
// order and look up keys). A key such as secrets/name/<vault>/db-password
// would show a secret's name to whoever reads the database file, its WAL or
// a dump. An [Index] replaces the name by HMAC-SHA256 under a key kept in the
// barrier's keyring: lookups by name still work (the same name gives the same
// MAC), equality is all they need, and without the keyring the MAC cannot be
// tested against guessed names.
//
// The key is never rotated: every index key would have to be rewritten.
package blindindex

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"log/slog"
)

// KeySize is the size of an index key in bytes.
const KeySize = 32

// domain separates these MACs from any other use of the key.
const domain = "coffer/blindindex/v1"

// Index computes blind index entries. It is safe for concurrent use.
type Index struct {
	key [KeySize]byte
}

// New returns an Index keyed by key, which must be KeySize bytes; it keeps
// a copy.
func New(key []byte) (*Index, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("blindindex: key must be %d bytes, got %d", KeySize, len(key))
	}
	ix := &Index{}
	copy(ix.key[:], key)
	return ix, nil
}

// Of returns the index entry of parts: unpadded base64url of HMAC-SHA256 over
// their length-prefixed encoding, so that ("a/b", "c") and ("a", "b/c") give
// different entries. The first part should name what is indexed (for example
// "secrets/name"), so that equal text indexed for different purposes gives
// different entries. The result has 43 characters and no '/'.
func (ix *Index) Of(parts ...string) string {
	m := hmac.New(sha256.New, ix.key[:])
	writePart(m, domain)
	for _, p := range parts {
		writePart(m, p)
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func writePart(h hash.Hash, p string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
	h.Write([]byte(p))
}

// String never shows the key.
func (*Index) String() string { return "blindindex.Index(REDACTED)" }

// GoString never shows the key.
func (*Index) GoString() string { return "blindindex.Index(REDACTED)" }

// LogValue never shows the key.
func (*Index) LogValue() slog.Value { return slog.StringValue("REDACTED") }
