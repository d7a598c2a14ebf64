// Package identity keeps Coffer's identity records: the tenancy, its
// compartment tree, users with their API keys and console passwords
// (uipassword.go: argon2id hashes, console logins), groups and memberships,
// dynamic groups, policies and work requests; it also derives the region's
// availability and fault domains (region.go). It resolves API keys to principals for
// authentication and hands the policy engine a snapshot of what it needs.
//
// Records are JSON in the store under identity/...; unique names are kept
// as index keys written in the same transaction as the record. Names and
// API key fingerprints appear in storage keys only as blind index entries
// (internal/blindindex); MigrateIndexes rewrites stores from before.
//
// [PolicyEngine] is the server's authorizer: the iam engine compiled from a
// [Snapshot], recompiled when [Service.Generation] moves (every write made
// through this Service) and swapped atomically, so a write applies to the
// next request. It is also the Service's statement resolver: CreatePolicy and
// UpdatePolicy refuse statements that do not parse or name unknown groups or
// compartments, with the statement index and position in the message.
//
// Decisions:
//   - names are unique without regard to case (the policy engine resolves
//     names that way): users, and groups together with dynamic groups,
//     tenancy-wide; compartments and policies per parent;
//   - deleted compartments stay, DELETED, and leave the policy tree; deleted
//     users, groups, dynamic groups, memberships and policies are removed;
//   - a user must leave every group before it is deleted, and a group must be
//     empty; a user's API keys go with it;
//   - renaming a group, dynamic group or compartment keeps every policy
//     working: in the transaction that renames, each statement whose subject
//     names the group (groups and dynamic groups, by name in the Default
//     domain, without regard to case) or whose location path resolves to the
//     compartment (relative to the policy's compartment, as the engine
//     resolves it) is rewritten to the new name, and the policy gets a new
//     etag. OCI keeps the old text and holds the OCID in the compiled
//     policy (docs/oci-behaviours.md#policy-language); Coffer compiles from text, so it rewrites the
//     text instead: the effect on access is the same, and GetPolicy shows
//     names that exist. Statements are parsed with the policy engine's
//     parser and only name tokens that resolve to the renamed resource
//     change (quotes and everything else stay as written). Conditions that
//     compare names (target.group.name = '...') are values, not references,
//     and are not rewritten, as in OCI. OCI's IdentityClient cannot rename
//     groups (UpdateGroupDetails has no name); Coffer's UpdateGroup and
//     UpdateDynamicGroup accept one, as identity domains do. The
//     Administrators group cannot be renamed: Coffer recognises it by name;
//   - moving a compartment (move.go) rewrites, in the transaction that
//     moves, the statements naming it by a path in policies attached to a
//     shared ancestor of its old and new parent, as OCI documents; other
//     statements naming it by path stop resolving, as in OCI. Moves and
//     deletions leave a work request (workrequests.go), kept 30 days;
//   - OCI's documented limits are enforced where they shape behaviour: 3 API
//     keys per user, 50 statements per policy, 1000 compartments nested at
//     most 6 deep, 50 dynamic groups, 250 groups per user.
package identity

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer-vault/coffer/internal/authn"
	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/blindindex"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Lifecycle states of identity resources.
const (
	StateActive   = "ACTIVE"
	StateInactive = "INACTIVE"
	StateDeleted  = "DELETED"
)

// Storage keys.
const (
	keyTenancy     = "identity/tenancy"
	prefixUser     = "identity/user/"
	prefixAPIKey   = "identity/apikey-mac/" // <user>/<MAC of fingerprint>
	prefixGroup    = "identity/group/"
	prefixMember   = "identity/membership/"
	prefixUserGrp  = "identity/usergroup/" // <user>/<group> -> membership id
	prefixPolicy   = "identity/policy/"
	prefixCompart  = "identity/compartment/"
	prefixDynGroup = "identity/dynamicgroup/"
	prefixName     = "identity/name-mac/" // <kind>/<MAC of parent and name> -> id

	// Index keys before names were blind index entries (see MigrateIndexes).
	legacyPrefixAPIKey = "identity/apikey/" // <user>/<fingerprint>
	legacyPrefixName   = "identity/name/"   // <kind>/[<parent>/]<lower(name)>
)

// ErrNotBootstrapped means the store holds no tenancy yet.
var ErrNotBootstrapped = errors.New("identity: no tenancy")

// Tenancy is the root of everything.
type Tenancy struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	HomeRegion  string    `json:"homeRegion"`
	TimeCreated time.Time `json:"timeCreated"`
}

// Compartment is a node of the tree under the tenancy.
type Compartment struct {
	ID           string                    `json:"id"`
	ParentID     string                    `json:"compartmentId"`
	Name         string                    `json:"name"`
	Description  string                    `json:"description"`
	State        string                    `json:"lifecycleState"`
	TimeCreated  time.Time                 `json:"timeCreated"`
	FreeformTags map[string]string         `json:"freeformTags,omitempty"`
	DefinedTags  map[string]map[string]any `json:"definedTags,omitempty"`
	ETag         string                    `json:"etag"`
}

// User is a person or program with API keys.
type User struct {
	ID          string `json:"id"`
	TenancyID   string `json:"compartmentId"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Email       string `json:"email,omitempty"`
	State       string `json:"lifecycleState"`
	// InactiveStatus is OCI's bit field for why a user is INACTIVE; 4
	// means blocked (UpdateUserState).
	InactiveStatus int64                     `json:"inactiveStatus,omitempty"`
	TimeCreated    time.Time                 `json:"timeCreated"`
	FreeformTags   map[string]string         `json:"freeformTags,omitempty"`
	DefinedTags    map[string]map[string]any `json:"definedTags,omitempty"`
	ETag           string                    `json:"etag"`
}

// APIKey is a user's RSA public key.
type APIKey struct {
	UserID      string    `json:"userId"`
	Fingerprint string    `json:"fingerprint"`
	PublicPEM   string    `json:"keyValue"`
	State       string    `json:"lifecycleState"`
	TimeCreated time.Time `json:"timeCreated"`
}

// Group gathers users for policies.
type Group struct {
	ID           string                    `json:"id"`
	TenancyID    string                    `json:"compartmentId"`
	Name         string                    `json:"name"`
	Description  string                    `json:"description"`
	State        string                    `json:"lifecycleState"`
	TimeCreated  time.Time                 `json:"timeCreated"`
	FreeformTags map[string]string         `json:"freeformTags,omitempty"`
	DefinedTags  map[string]map[string]any `json:"definedTags,omitempty"`
	ETag         string                    `json:"etag"`
}

// Membership puts a user in a group.
type Membership struct {
	ID          string    `json:"id"`
	TenancyID   string    `json:"compartmentId"`
	UserID      string    `json:"userId"`
	GroupID     string    `json:"groupId"`
	State       string    `json:"lifecycleState"`
	TimeCreated time.Time `json:"timeCreated"`
	ETag        string    `json:"etag,omitempty"`
}

// DynamicGroup matches instance and resource principals by a rule.
type DynamicGroup struct {
	ID           string                    `json:"id"`
	TenancyID    string                    `json:"compartmentId"`
	Name         string                    `json:"name"`
	Description  string                    `json:"description"`
	MatchingRule string                    `json:"matchingRule"`
	State        string                    `json:"lifecycleState"`
	TimeCreated  time.Time                 `json:"timeCreated"`
	FreeformTags map[string]string         `json:"freeformTags,omitempty"`
	DefinedTags  map[string]map[string]any `json:"definedTags,omitempty"`
	ETag         string                    `json:"etag"`
}

// Policy is a named list of statements attached to a compartment.
type Policy struct {
	ID            string                    `json:"id"`
	CompartmentID string                    `json:"compartmentId"`
	Name          string                    `json:"name"`
	Description   string                    `json:"description"`
	Statements    []string                  `json:"statements"`
	VersionDate   string                    `json:"versionDate,omitempty"`
	State         string                    `json:"lifecycleState"`
	TimeCreated   time.Time                 `json:"timeCreated"`
	FreeformTags  map[string]string         `json:"freeformTags,omitempty"`
	DefinedTags   map[string]map[string]any `json:"definedTags,omitempty"`
	ETag          string                    `json:"etag"`
}

// Snapshot is what the policy engine needs to compile policies.
type Snapshot struct {
	TenancyID     string
	TenancyName   string
	Compartments  []Compartment
	Groups        []Group
	DynamicGroups []DynamicGroup
	Policies      []Policy
}

// Service reads and writes identity records.
type Service struct {
	st     store.Store
	names  *blindindex.Index
	now    func() time.Time
	region string

	// generation counts identity writes made through this Service; caches
	// keyed on it are dropped when it moves.
	generation atomic.Uint64
	// seenStored is the stored generation this node has caught up with.
	seenStored atomic.Uint64
	keysMu     sync.RWMutex
	keysGen    uint64
	keys       map[authn.APIKeyID]cachedKey
	onChange   []func()
	// resolver checks statement names on policy writes; set by
	// NewPolicyEngine.
	resolver atomic.Pointer[StatementResolver]

	// PasswordParams are the argon2id parameters of new console password
	// hashes (DefaultPasswordParams); set before use.
	PasswordParams PasswordParams
	hashSem        chan struct{}
	hashes         atomic.Uint64 // argon2id hashes computed (tests)
}

type cachedKey struct {
	pub       *rsa.PublicKey
	principal *authz.Principal
}

// New returns a Service over st. names keys the blind index of names and
// fingerprints in storage keys (the barrier's, in a server); it must be the
// same for every Service sharing st. now may be nil (time.Now).
func New(st store.Store, names *blindindex.Index, region string, now func() time.Time) *Service {
	if names == nil {
		panic("identity: New without a blind index")
	}
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, names: names, now: now, region: region, keys: map[authn.APIKeyID]cachedKey{},
		PasswordParams: DefaultPasswordParams, hashSem: make(chan struct{}, hashSlots)}
}

// OnChange registers fn to run after every identity write (for example to
// recompile policies). fn must be quick.
func (s *Service) OnChange(fn func()) { s.onChange = append(s.onChange, fn) }

// Changed records that identity data changed. Callers that write identity
// records outside this Service's methods must call it.
func (s *Service) Changed() {
	s.generation.Add(1)
	for _, fn := range s.onChange {
		fn()
	}
}

// Generation returns a counter that moves on every identity write.
func (s *Service) Generation() uint64 { return s.generation.Load() }

// Tenancy returns the tenancy, or ErrNotBootstrapped.
func (s *Service) Tenancy(ctx context.Context) (Tenancy, error) {
	var t Tenancy
	err := s.st.View(ctx, func(r store.Reader) (err error) { t, err = tenancyOf(r); return err })
	return t, err
}

// LookupAPIKey implements authn.KeyLookup.
func (s *Service) LookupAPIKey(ctx context.Context, id authn.APIKeyID) (*rsa.PublicKey, *authz.Principal, error) {
	gen := s.generation.Load()
	s.keysMu.RLock()
	if s.keysGen == gen {
		if c, ok := s.keys[id]; ok {
			s.keysMu.RUnlock()
			return c.pub, c.principal, nil
		}
	}
	s.keysMu.RUnlock()

	var (
		tenancy Tenancy
		user    User
		key     APIKey
		groups  []string
	)
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		if tenancy, err = record.Get[Tenancy](r, keyTenancy); err != nil {
			return err
		}
		if tenancy.ID != id.TenancyID {
			return errors.New("unknown tenancy")
		}
		if user, err = record.Get[User](r, prefixUser+id.UserID); err != nil {
			return err
		}
		if user.State != StateActive {
			return errors.New("user is not active")
		}
		if key, err = record.Get[APIKey](r, s.apiKeyKey(id.UserID, id.Fingerprint)); err != nil {
			return err
		}
		if key.State != StateActive {
			return errors.New("api key is not active")
		}
		groups, err = userGroups(r, id.UserID)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("identity: api key: %w", err)
	}
	pub, err := ParseRSAPublicKeyPEM(key.PublicPEM)
	if err != nil {
		return nil, nil, err
	}
	p := &authz.Principal{Type: authz.PrincipalUser, ID: user.ID, TenancyID: tenancy.ID, GroupIDs: groups,
		Attributes: map[string]string{"user.name": user.Name}}
	s.keysMu.Lock()
	if s.keysGen != gen {
		s.keys = map[authn.APIKeyID]cachedKey{}
		s.keysGen = gen
	}
	s.keys[id] = cachedKey{pub: pub, principal: p}
	s.keysMu.Unlock()
	return pub, p, nil
}

// ParseRSAPublicKeyPEM parses an RSA public key in PEM (PKIX or PKCS#1).
func ParseRSAPublicKeyPEM(text string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errs.E(errs.Invalid, "key is not a PEM-encoded public key")
	}
	if pub, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
		if rsaPub, ok := pub.(*rsa.PublicKey); ok {
			return rsaPub, nil
		}
		return nil, errs.E(errs.Invalid, "key is not an RSA public key")
	}
	pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
	if err != nil {
		return nil, errs.E(errs.Invalid, "key is not a valid RSA public key")
	}
	return pub, nil
}

// Snapshot returns the current compartments, groups, dynamic groups and
// policies.
func (s *Service) Snapshot(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	err := s.st.View(ctx, func(r store.Reader) error {
		t, err := tenancyOf(r)
		if err != nil {
			return err
		}
		snap.TenancyID, snap.TenancyName = t.ID, t.Name
		if snap.Compartments, err = record.List[Compartment](r, prefixCompart); err != nil {
			return err
		}
		if snap.Groups, err = record.List[Group](r, prefixGroup); err != nil {
			return err
		}
		if snap.DynamicGroups, err = record.List[DynamicGroup](r, prefixDynGroup); err != nil {
			return err
		}
		snap.Policies, err = record.List[Policy](r, prefixPolicy)
		return err
	})
	return snap, err
}

// CompartmentExists reports whether id names the tenancy or an active
// compartment.
func (s *Service) CompartmentExists(ctx context.Context, id string) (bool, error) {
	found := false
	err := s.st.View(ctx, func(r store.Reader) error {
		t, err := record.Get[Tenancy](r, keyTenancy)
		if err != nil {
			return err
		}
		if t.ID == id {
			found = true
			return nil
		}
		c, err := record.Get[Compartment](r, prefixCompart+id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		found = err == nil && c.State == StateActive
		return err
	})
	return found, err
}
