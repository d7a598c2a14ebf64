package ociapi

import (
	"errors"
	"strconv"
	"strings"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
)

// Every id, number and enum from a request's path and query is checked here,
// once, before a handler looks anything up: a malformed value is a 400 that
// names the parameter (it reveals nothing about what exists, so every
// caller may see it), a well-formed OCID of the wrong resource type is the
// same 404 a missing resource gets, and no value of either kind reaches the
// store. Messages name the parameter and the rule, never the value: it may
// hold control characters, invalid UTF-8 or kilobytes.

// Bounds of list paging, as OCI documents them for the List operations of
// the Vault, KMS, Secrets and Identity APIs.
const (
	// MaxListLimit is the largest page a List operation returns.
	MaxListLimit = 1000
	// MaxPageToken bounds a page token; Coffer's own tokens are far
	// shorter (a sort key and an OCID, base64url-encoded).
	MaxPageToken = 4096
)

// notFoundMessage is the body of a 404 for an id that cannot name the
// resource: the same words a missing or forbidden resource gets.
const notFoundMessage = "Authorization failed or requested resource not found."

// NotAuthorizedOrNotFound is the 404 a denial and a missing resource both
// get, so that neither tells whether the resource exists.
func NotAuthorizedOrNotFound() error { return errs.E(errs.NotFound, notFoundMessage) }

// CheckID checks an OCID given as parameter or field name: it must be well
// formed (else 400 InvalidParameter naming it) and, when types are given, of
// one of those resource types (else 404 NotAuthorizedOrNotFound). Empty is
// 400 MissingParameter.
func CheckID(name, id string, types ...string) (string, error) {
	if id == "" {
		return "", errs.E(errs.Missing, "%s is required", name)
	}
	parsed, err := ocid.Parse(id, types...)
	switch {
	case errors.Is(err, ocid.ErrWrongType):
		return "", errs.E(errs.NotFound, notFoundMessage)
	case err != nil:
		return "", errs.E(errs.Invalid, "%s is not a valid OCID: ocid1.<type>.<realm>.<region>.<unique> of lowercase letters, digits, '-' and '_', at most 255 characters", name)
	}
	return parsed.String(), nil
}

// OptionalID is CheckID for an id that may be absent: empty is returned as
// is.
func OptionalID(name, id string, types ...string) (string, error) {
	if id == "" {
		return "", nil
	}
	return CheckID(name, id, types...)
}

// PathID returns the path parameter name, checked as an OCID of one of
// types.
func (c *Call) PathID(name string, types ...string) (string, error) {
	return CheckID(name, c.PathValue(name), types...)
}

// QueryID returns the query parameter name, required, checked as an OCID
// of one of types.
func (c *Call) QueryID(name string, types ...string) (string, error) {
	return CheckID("query parameter "+name, c.Query(name), types...)
}

// OptionalQueryID is QueryID for an optional parameter; absent is "".
func (c *Call) OptionalQueryID(name string, types ...string) (string, error) {
	return OptionalID("query parameter "+name, c.Query(name), types...)
}

// Compartments are the types a compartmentId may have: the tenancy is the
// root compartment.
var Compartments = []string{ocid.Compartment, ocid.Tenancy}

// QueryEnum returns the query parameter name when it is one of allowed,
// compared without regard to case and returned as allowed spells it;
// absent is "".
func (c *Call) QueryEnum(name string, allowed ...string) (string, error) {
	return Enum("query parameter "+name, c.Query(name), allowed...)
}

// Enum checks v, given as name, against allowed (case-insensitive) and
// returns allowed's spelling; "" is returned as is.
func Enum(name, v string, allowed ...string) (string, error) {
	if v == "" {
		return "", nil
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, nil
		}
	}
	return "", errs.E(errs.Invalid, "%s is not valid: allowed values are %s", name, strings.Join(allowed, ", "))
}

// QueryInt64 returns an integer query parameter that must lie in
// [min, max]; absent is 0 and ok false.
func (c *Call) QueryInt64(name string, min, max int64) (n int64, ok bool, err error) {
	s := c.Query(name)
	if s == "" {
		return 0, false, nil
	}
	n, err = ParseInt64("query parameter "+name, s, min, max)
	return n, err == nil, err
}

// ParseInt64 parses s, given as name, as a decimal integer in [min, max].
func ParseInt64(name, s string, min, max int64) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min || n > max {
		return 0, errs.E(errs.Invalid, "%s must be an integer from %d to %d", name, min, max)
	}
	return n, nil
}

// ListSpec is what one List operation accepts besides limit and page:
// its sortBy values and lifecycleState values (nil: the operation has no
// such parameter, and a value sent is ignored, as OCI ignores query
// parameters an operation does not define).
type ListSpec struct {
	SortBy          []string
	LifecycleStates []string
}

// ListParams are a List operation's checked paging, sort and filter
// parameters. Limit is 0 when absent (the domain's default applies); the
// enums are in their canonical spelling or "".
type ListParams struct {
	Limit          int
	Page           string
	SortBy         string
	SortOrder      string
	LifecycleState string
}

// SortOrders are OCI's sortOrder values.
var SortOrders = []string{"ASC", "DESC"}

// List reads and checks a List operation's limit, page, sortBy, sortOrder
// and lifecycleState.
func (c *Call) List(spec ListSpec) (ListParams, error) {
	var p ListParams
	if s := c.Query("limit"); s != "" {
		n, err := ParseInt64("query parameter limit", s, 1, MaxListLimit)
		if err != nil {
			return p, err
		}
		p.Limit = int(n)
	}
	page, err := PageToken(c.Query("page"))
	if err != nil {
		return p, err
	}
	p.Page = page
	if p.SortOrder, err = c.QueryEnum("sortOrder", SortOrders...); err != nil {
		return p, err
	}
	if spec.SortBy != nil {
		if p.SortBy, err = c.QueryEnum("sortBy", spec.SortBy...); err != nil {
			return p, err
		}
	}
	if spec.LifecycleStates != nil {
		if p.LifecycleState, err = c.QueryEnum("lifecycleState", spec.LifecycleStates...); err != nil {
			return p, err
		}
	}
	return p, nil
}

// PageToken checks the shape of a page token: the opc-next-page value of
// an earlier response, which is base64url text with dots. Whether it
// resumes anything is the domain's question; this keeps garbage (control
// characters, kilobytes) away from it.
func PageToken(s string) (string, error) {
	if len(s) > MaxPageToken {
		return "", errs.E(errs.Invalid, "query parameter page is longer than %d characters: pass the opc-next-page value of the previous response unchanged", MaxPageToken)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '=') {
			return "", errs.E(errs.Invalid, "query parameter page is not a valid page token: pass the opc-next-page value of the previous response unchanged")
		}
	}
	return s, nil
}
