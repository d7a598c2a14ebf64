// Package page implements OCI-style pagination over sorted in-memory lists:
// limit, an opaque page token that resumes after the last item returned,
// and the next token (empty on the last page).
//
// A token encodes the sort key and ID of the last item, so a page stays
// correct when items are added or removed between calls.
package page

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/coffer-vault/coffer/internal/errs"
)

// MaxLimit caps a page; larger limits are clamped.
const MaxLimit = 1000

// DefaultLimit is used when the caller gives none.
const DefaultLimit = 100

type cursor struct {
	Key string `json:"k"`
	ID  string `json:"i"`
}

// Token encodes a resume position.
func Token(sortKey, id string) string {
	b, _ := json.Marshal(cursor{Key: sortKey, ID: id})
	return base64.RawURLEncoding.EncodeToString(b)
}

// Parse decodes a token made by Token. An empty token means the first page.
func Parse(token string) (sortKey, id string, ok bool, err error) {
	if token == "" {
		return "", "", false, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) > 4096 {
		return "", "", false, errs.E(errs.Invalid, "page token is not valid")
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil || c.ID == "" {
		return "", "", false, errs.E(errs.Invalid, "page token is not valid")
	}
	return c.Key, c.ID, true, nil
}

// Limit validates a requested limit: 0 means the default.
func Limit(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, errs.E(errs.Invalid, "limit must be a positive integer")
	case limit == 0:
		return DefaultLimit, nil
	case limit > MaxLimit:
		return MaxLimit, nil
	}
	return limit, nil
}

// Sort orders items by (key, id) as keyOf gives them, descending when desc:
// the order Slice expects.
func Sort[T any](items []T, keyOf func(T) (string, string), desc bool) {
	slices.SortFunc(items, func(a, b T) int {
		ak, aid := keyOf(a)
		bk, bid := keyOf(b)
		c := cmp.Or(strings.Compare(ak, bk), strings.Compare(aid, bid))
		if desc {
			return -c
		}
		return c
	})
}

// Slice returns the page of items (already sorted by (key, id) in the
// requested order) that follows token, and the token of the next page.
// desc says the order is descending, so "after" means smaller.
func Slice[T any](items []T, keyOf func(T) (string, string), desc bool, token string, limit int) ([]T, string, error) {
	limit, err := Limit(limit)
	if err != nil {
		return nil, "", err
	}
	start := 0
	if k, id, ok, err := Parse(token); err != nil {
		return nil, "", err
	} else if ok {
		start = len(items)
		for i, it := range items {
			ik, iid := keyOf(it)
			if after(ik, iid, k, id, desc) {
				start = i
				break
			}
		}
	}
	end := min(start+limit, len(items))
	out := items[start:end]
	next := ""
	if end < len(items) && len(out) > 0 {
		k, id := keyOf(out[len(out)-1])
		next = Token(k, id)
	}
	return out, next, nil
}

func after(k, id, ck, cid string, desc bool) bool {
	c := compare(k, id, ck, cid)
	if desc {
		return c < 0
	}
	return c > 0
}

func compare(k, id, ck, cid string) int {
	switch {
	case k < ck:
		return -1
	case k > ck:
		return 1
	case id < cid:
		return -1
	case id > cid:
		return 1
	}
	return 0
}

// String is only for debugging.
func String(token string) string {
	k, id, _, _ := Parse(token)
	return fmt.Sprintf("after(%q,%q)", k, id)
}
