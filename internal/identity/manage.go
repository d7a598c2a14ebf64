package identity

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/page"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Limits Coffer enforces, from OCI's documented IAM limits
// (docs/oci-behaviours.md#policy-language) and the API key rule of the
// console.
const (
	MaxAPIKeysPerUser      = 3
	MaxStatementsPerPolicy = 50
	MaxCompartments        = 1000
	MaxNameLength          = 100
	MaxDescriptionLength   = 400
)

// nameKind groups the kinds of names that must be unique together. Groups
// and dynamic groups share one namespace (docs/oci-behaviours.md#dynamic-groups).
const (
	nameUser        = "user"
	nameGroup       = "group" // groups and dynamic groups
	namePolicy      = "policy"
	nameCompartment = "compartment"
)

// nameKey is the index key of a unique name: a blind index entry, so the
// store never shows the name. Names are compared without case: the policy
// engine resolves group and compartment names that way, so two names
// differing only by case would be ambiguous.
func (s *Service) nameKey(kind, parent, name string) string {
	return prefixName + kind + "/" + s.names.Of("identity/name", kind, parent, strings.ToLower(name))
}

// apiKeyKey is the storage key of a user's API key: the fingerprint, which
// identifies the key outside Coffer, is a blind index entry.
func (s *Service) apiKeyKey(userID, fingerprint string) string {
	return apiKeyPrefix(userID) + s.names.Of("identity/apikey", userID, fingerprint)
}

func apiKeyPrefix(userID string) string { return prefixAPIKey + userID + "/" }

// claimName writes a unique-name index entry, or fails with AlreadyExists.
func claimName(tx store.Tx, key, id, what, name string) error {
	if taken, err := record.Exists(tx, key); err != nil {
		return err
	} else if taken {
		return errs.E(errs.AlreadyExists, "%s with name %q already exists", what, name)
	}
	return record.Put(tx, key, id)
}

// nameRule says which characters a kind of name may hold besides letters
// and digits.
type nameRule struct {
	what  string
	extra string
}

var (
	compartmentNames = nameRule{"compartment", "._-"}
	userNames        = nameRule{"user", "._-@+"}
	groupNames       = nameRule{"group", "._-"}
	policyNames      = nameRule{"policy", "._- "}
)

func (r nameRule) check(name string) error {
	if name == "" {
		return errs.E(errs.Missing, "name is required")
	}
	if len(name) > MaxNameLength {
		return errs.E(errs.Invalid, "%s name is longer than %d characters", r.what, MaxNameLength)
	}
	for i, c := range name {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(r.extra, c) {
			continue
		}
		return errs.E(errs.Invalid, "%s name has a character that is not allowed at position %d: use letters, digits and %q", r.what, i+1, r.extra)
	}
	return nil
}

func checkDescription(d *string, required bool) error {
	if d == nil {
		if required {
			return errs.E(errs.Missing, "description is required")
		}
		return nil
	}
	if len(*d) > MaxDescriptionLength {
		return errs.E(errs.Invalid, "description is longer than %d characters", MaxDescriptionLength)
	}
	return nil
}

// ListOptions are the filters, sorting and paging OCI identity list calls
// share.
type ListOptions struct {
	Limit     int
	Page      string
	Name      string // exact name filter
	SortBy    string // TIMECREATED (default) or NAME
	SortOrder string // ASC or DESC; default ASC for NAME, DESC for TIMECREATED
	// LifecycleState filters by state; empty lists everything but DELETED.
	LifecycleState string
}

// listed is what sorting and paging need from a record.
type listed interface {
	sortFields() (name, id, state string, created time.Time)
}

func (c Compartment) sortFields() (string, string, string, time.Time) {
	return c.Name, c.ID, c.State, c.TimeCreated
}
func (u User) sortFields() (string, string, string, time.Time) {
	return u.Name, u.ID, u.State, u.TimeCreated
}
func (g Group) sortFields() (string, string, string, time.Time) {
	return g.Name, g.ID, g.State, g.TimeCreated
}
func (d DynamicGroup) sortFields() (string, string, string, time.Time) {
	return d.Name, d.ID, d.State, d.TimeCreated
}
func (p Policy) sortFields() (string, string, string, time.Time) {
	return p.Name, p.ID, p.State, p.TimeCreated
}
func (m Membership) sortFields() (string, string, string, time.Time) {
	return m.ID, m.ID, m.State, m.TimeCreated
}

// sortAndPage filters by name and state, sorts and returns one page.
func sortAndPage[T listed](items []T, o ListOptions) ([]T, string, error) {
	var byName bool
	switch strings.ToUpper(o.SortBy) {
	case "", "TIMECREATED":
	case "NAME":
		byName = true
	default:
		return nil, "", errs.E(errs.Invalid, "sortBy %q is not valid: allowed values are TIMECREATED, NAME", o.SortBy)
	}
	desc := !byName
	switch strings.ToUpper(o.SortOrder) {
	case "":
	case "ASC":
		desc = false
	case "DESC":
		desc = true
	default:
		return nil, "", errs.E(errs.Invalid, "sortOrder %q is not valid: allowed values are ASC, DESC", o.SortOrder)
	}
	items = slices.DeleteFunc(items, func(it T) bool {
		name, _, state, _ := it.sortFields()
		if o.Name != "" && name != o.Name {
			return true
		}
		if o.LifecycleState != "" {
			return !strings.EqualFold(state, o.LifecycleState)
		}
		return state == StateDeleted
	})
	keyOf := func(it T) (string, string) {
		name, id, _, created := it.sortFields()
		if byName {
			return strings.ToLower(name), id
		}
		return created.UTC().Format("20060102T150405.000000000"), id
	}
	page.Sort(items, keyOf, desc)
	return page.Slice(items, keyOf, desc, o.Page, o.Limit)
}

// viewOne reads one record in its own read transaction (see get).
func viewOne[T any](ctx context.Context, s *Service, prefix, what, id string) (T, error) {
	var v T
	err := s.st.View(ctx, func(r store.Reader) (err error) {
		v, err = get[T](r, prefix+id, what, id)
		return err
	})
	return v, err
}

// listInTenancy lists a tenancy-level kind (users, groups, dynamic
// groups) after checking that compartmentID is the tenancy, then filters,
// sorts and pages.
func listInTenancy[T listed](ctx context.Context, s *Service, compartmentID, prefix string, o ListOptions) ([]T, string, error) {
	var all []T
	err := s.st.View(ctx, func(r store.Reader) error {
		if _, err := checkTenancy(r, compartmentID); err != nil {
			return err
		}
		var err error
		all, err = record.List[T](r, prefix)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return sortAndPage(all, o)
}

// mergeTags applies an update's tags: a nil map leaves the tags as they
// are, any other replaces them, as OCI's Update operations do.
func mergeTags(ff *map[string]string, def *map[string]map[string]any, newFF map[string]string, newDef map[string]map[string]any) {
	if newFF != nil {
		*ff = newFF
	}
	if newDef != nil {
		*def = newDef
	}
}

// get reads one record or returns NotFound naming what was missing. An id
// that cannot be part of a storage key is missing too (record.Get's rule),
// so callers need not check ids before reading.
func get[T any](r store.Reader, key, what, id string) (T, error) {
	v, err := record.Get[T](r, key)
	if errors.Is(err, store.ErrNotFound) {
		return v, errs.E(errs.NotFound, "%s %s not found or not authorized", what, id)
	}
	return v, err
}

func checkETag(ifMatch, current, what, id string) error {
	if !etag.Matches(ifMatch, current) {
		return errs.E(errs.PreconditionFailed, "the if-match etag does not match %s %s", what, id)
	}
	return nil
}

// update runs fn in a write transaction, bumps the stored generation in the
// same transaction (so other nodes notice, see Sync) and announces the
// change.
func (s *Service) update(ctx context.Context, fn func(tx store.Tx) error) error {
	var stored uint64
	err := s.st.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		var err error
		stored, err = bumpStoredGeneration(tx)
		return err
	})
	if err != nil {
		return err
	}
	s.seenStored.Store(stored)
	s.Changed()
	return nil
}

// tenancyOf reads the tenancy inside a transaction.
func tenancyOf(r store.Reader) (Tenancy, error) {
	t, err := record.Get[Tenancy](r, keyTenancy)
	if errors.Is(err, store.ErrNotFound) {
		return t, ErrNotBootstrapped
	}
	return t, err
}

// checkTenancy refuses a compartmentId that is not the tenancy, for the
// resources OCI keeps only in the root compartment (users, groups, dynamic
// groups, memberships).
func checkTenancy(r store.Reader, compartmentID string) (Tenancy, error) {
	t, err := tenancyOf(r)
	if err != nil {
		return t, err
	}
	if compartmentID == "" {
		return t, errs.E(errs.Missing, "compartmentId is required: the tenancy OCID")
	}
	if compartmentID != t.ID {
		return t, errs.E(errs.Invalid, "compartmentId must be the tenancy OCID: users, groups and dynamic groups live in the root compartment")
	}
	return t, nil
}

func strOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}
