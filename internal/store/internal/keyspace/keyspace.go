// Package keyspace holds the key rules every store backend enforces the same
// way: which keys are valid, and how a List (prefix, after) request becomes a
// half-open key range that a backend can hand to an ordered index.
//
// Keys must be non-empty, at most store.MaxKeyLen bytes, valid UTF-8 and free
// of NUL bytes. The last two rules exist because PostgreSQL TEXT refuses
// invalid UTF-8 and NUL; enforcing them everywhere keeps a database portable
// between backends. For valid UTF-8, byte order equals code point order, so
// every backend sorts keys the same way.
package keyspace

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/store"
)

// ErrInvalidKey is returned for a key (or List prefix/after) that breaks the
// rules above: store.ErrInvalidKey, which backends also re-export.
var ErrInvalidKey = store.ErrInvalidKey

// CheckKey reports whether key may be stored.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	if len(key) > store.MaxKeyLen {
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidKey, len(key), store.MaxKeyLen)
	}
	return CheckText(key)
}

// CheckText reports whether s may appear as a List prefix or after bound:
// valid UTF-8 without NUL bytes. Length is not limited: a long prefix simply
// matches nothing.
func CheckText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidKey)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%w: contains NUL", ErrInvalidKey)
	}
	return nil
}

// Range is the key range selected by a List request: keys k with
// lo <= k (or lo < k when !LoInclusive) and, when HasHi, k < Hi.
type Range struct {
	Lo          string
	LoInclusive bool
	Hi          string
	HasHi       bool
}

// Contains reports whether key lies in r.
func (r Range) Contains(key string) bool {
	if r.LoInclusive {
		if key < r.Lo {
			return false
		}
	} else if key <= r.Lo {
		return false
	}
	return !r.HasHi || key < r.Hi
}

// Bounds turns List's (prefix, after) into a Range. prefix and after must
// pass CheckText.
func Bounds(prefix, after string) Range {
	r := Range{Lo: prefix, LoInclusive: true}
	if after != "" && after >= prefix {
		r = Range{Lo: after}
	}
	r.Hi, r.HasHi = PrefixEnd(prefix)
	return r
}

// ListRange checks List's prefix and after and turns them into a Range.
func ListRange(prefix, after string) (Range, error) {
	if err := CheckText(prefix); err != nil {
		return Range{}, fmt.Errorf("prefix: %w", err)
	}
	if err := CheckText(after); err != nil {
		return Range{}, fmt.Errorf("after: %w", err)
	}
	return Bounds(prefix, after), nil
}

// PrefixEnd returns the smallest valid UTF-8 string greater than every string
// that starts with prefix, or false when there is none (prefix is empty or
// made only of U+10FFFF). The bound is itself valid UTF-8, so PostgreSQL
// accepts it as a TEXT parameter. prefix must be valid UTF-8.
func PrefixEnd(prefix string) (string, bool) {
	p := prefix
	for p != "" {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		if r >= utf8.MaxRune {
			continue
		}
		r++
		if r >= 0xD800 && r <= 0xDFFF { // surrogates are not valid in UTF-8
			r = 0xE000
		}
		return p + string(r), true
	}
	return "", false
}
