package secrets

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/coffer-vault/coffer/internal/errs"
)

// Page tokens are opaque to clients: a prefix and the base64url of a small
// JSON object naming the sort and the last item returned. A token is only
// valid with the sort it was issued for.

type secretCursor struct {
	SortBy string `json:"b"`
	Order  string `json:"o"`
	Key    string `json:"k"`
	ID     string `json:"i"`
}

type versionCursor struct {
	Order  string `json:"o"`
	Number int64  `json:"n"`
}

const (
	secretTokenPrefix  = "s1."
	versionTokenPrefix = "v1."
	maxPageTokenLen    = 2048
)

func encodeToken(prefix string, v any) string {
	b, _ := json.Marshal(v)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(prefix, tok string, v any) error {
	bad := errs.E(errs.Invalid, "page token is not valid")
	if len(tok) > maxPageTokenLen || !strings.HasPrefix(tok, prefix) {
		return bad
	}
	b, err := base64.RawURLEncoding.DecodeString(tok[len(prefix):])
	if err != nil {
		return bad
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		return bad
	}
	return nil
}

func decodeSecretCursor(tok, sortBy, order string) (*secretCursor, error) {
	if tok == "" {
		return nil, nil
	}
	var c secretCursor
	if err := decodeToken(secretTokenPrefix, tok, &c); err != nil {
		return nil, err
	}
	if c.SortBy != sortBy || c.Order != order || c.ID == "" {
		return nil, errs.E(errs.Invalid, "page token does not match sortBy and sortOrder")
	}
	return &c, nil
}

func decodeVersionCursor(tok, order string) (*versionCursor, error) {
	if tok == "" {
		return nil, nil
	}
	var c versionCursor
	if err := decodeToken(versionTokenPrefix, tok, &c); err != nil {
		return nil, err
	}
	if c.Order != order || c.Number < 0 {
		return nil, errs.E(errs.Invalid, "page token does not match sortOrder")
	}
	return &c, nil
}
