// Package kms is Coffer's key management domain: vaults, master encryption
// keys and their versions, and the cryptographic operations on them. It knows
// nothing of HTTP: the wire layer (internal/ociapi) calls it with plain
// request structs and maps its errs kinds to OCI errors.
//
// A vault owns an endpoint slot. The server turns the slot into the vault's
// managementEndpoint and cryptoEndpoint (a loopback address per vault in dev
// mode, host names under a domain in production), so a request's endpoint
// alone names its vault.
package kms

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/page"
	"github.com/coffer-vault/coffer/internal/recordcache"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Vault lifecycle states, as OCI names them.
const (
	VaultCreating        = "CREATING"
	VaultActive          = "ACTIVE"
	VaultPendingDeletion = "PENDING_DELETION"
	VaultDeleted         = "DELETED"
)

// Vault types.
const (
	VaultTypeDefault        = "DEFAULT"
	VaultTypeVirtualPrivate = "VIRTUAL_PRIVATE"
	VaultTypeExternal       = "EXTERNAL"
)

// Deletion windows, as OCI enforces them for vaults and keys.
const (
	MinDeletionWindow     = 7 * 24 * time.Hour
	MaxDeletionWindow     = 30 * 24 * time.Hour
	DefaultDeletionWindow = 30 * 24 * time.Hour
)

const (
	prefixVault    = "kms/vault/"
	prefixSlot     = "kms/slot/" // <slot> -> vault id
	keyNextSlot    = "kms/meta/nextslot"
	maxDisplayName = 255
)

// Vault is a container of keys with its own endpoints.
type Vault struct {
	ID             string                    `json:"id"`
	CompartmentID  string                    `json:"compartmentId"`
	DisplayName    string                    `json:"displayName"`
	VaultType      string                    `json:"vaultType"`
	State          string                    `json:"lifecycleState"`
	TimeCreated    time.Time                 `json:"timeCreated"`
	TimeOfDeletion *time.Time                `json:"timeOfDeletion,omitempty"`
	FreeformTags   map[string]string         `json:"freeformTags,omitempty"`
	DefinedTags    map[string]map[string]any `json:"definedTags,omitempty"`
	// Slot numbers the vault's endpoints; it never changes.
	Slot          int    `json:"slot"`
	WrappingKeyID string `json:"wrappingKeyId"`
	// RestoredFromVaultID is the vault a restore made this one from (its
	// own OCID: a restore keeps it).
	RestoredFromVaultID string `json:"restoredFromVaultId,omitempty"`
	// Replication is, at the source, the vault's replica (replica.go).
	Replication *VaultReplication `json:"replication,omitempty"`
	// SourceRegion is, at a replica, the region of the source vault;
	// ReplicaOpID the replication operation last applied, ReplicaGeneration
	// the resynchronisation that wrote it and ReplicaApplied when.
	SourceRegion      string    `json:"sourceRegion,omitempty"`
	ReplicaOpID       string    `json:"replicaOpId,omitempty"`
	ReplicaGeneration uint64    `json:"replicaGeneration,omitempty"`
	ReplicaApplied    time.Time `json:"replicaApplied,omitzero"`
	ETag              string    `json:"etag"`
}

// Service manages vaults and keys.
type Service struct {
	st     store.Store
	cache  *recordcache.Cache
	region string
	now    func() time.Time

	protMu  sync.RWMutex
	prot    *Protections
	handles handleCache
	// dataKeys caches unwrapped secret data keys; nil when off.
	dataKeys atomic.Pointer[dataKeys]
	limits   atomic.Pointer[Limits] // nil: DefaultLimits
	backup   atomic.Pointer[backupSealerBox]
	peers    []string // guarded by protMu
}

// New returns a Service over st. now may be nil (time.Now).
func New(st store.Store, region string, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, cache: recordcache.Of(st), region: region, now: now}
}

// CreateVaultInput is a CreateVault request.
type CreateVaultInput struct {
	CompartmentID string
	DisplayName   string
	VaultType     string
	FreeformTags  map[string]string
	DefinedTags   map[string]map[string]any
}

// CreateVault creates an ACTIVE vault with a fresh endpoint slot.
func (s *Service) CreateVault(ctx context.Context, in CreateVaultInput) (Vault, error) {
	if err := checkDisplayName(in.DisplayName); err != nil {
		return Vault{}, err
	}
	switch in.VaultType {
	case VaultTypeDefault, VaultTypeVirtualPrivate:
	case VaultTypeExternal:
		return Vault{}, errs.E(errs.Invalid, "vaultType EXTERNAL is not supported by Coffer: use DEFAULT or VIRTUAL_PRIVATE")
	case "":
		return Vault{}, errs.E(errs.Missing, "vaultType is required: DEFAULT or VIRTUAL_PRIVATE")
	default:
		return Vault{}, errs.E(errs.Invalid, "vaultType %q is not valid: allowed values are DEFAULT, VIRTUAL_PRIVATE", in.VaultType)
	}
	v := Vault{
		ID:            ocid.New(ocid.Vault, s.region),
		CompartmentID: in.CompartmentID,
		DisplayName:   in.DisplayName,
		VaultType:     in.VaultType,
		State:         VaultActive,
		TimeCreated:   s.now().UTC(),
		FreeformTags:  in.FreeformTags,
		DefinedTags:   in.DefinedTags,
		WrappingKeyID: ocid.New(ocid.WrappingKey, s.region),
		ETag:          etag.New(),
	}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		slot, err := nextSlot(tx)
		if err != nil {
			return err
		}
		v.Slot = slot
		if err := tx.Put(prefixSlot+strconv.Itoa(slot), []byte(v.ID)); err != nil {
			return err
		}
		return putVault(tx, v)
	})
	if err != nil {
		return Vault{}, fmt.Errorf("kms: create vault: %w", err)
	}
	return v, nil
}

func checkDisplayName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errs.E(errs.Missing, "displayName is required")
	}
	if len(name) > maxDisplayName {
		return errs.E(errs.Invalid, "displayName is longer than %d characters", maxDisplayName)
	}
	if !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return errs.E(errs.Invalid, "displayName must be valid UTF-8 without control characters")
	}
	return nil
}

// Resource is the vault as the authorizer sees it.
func (v *Vault) Resource() *authz.Resource {
	return &authz.Resource{ID: v.ID, Name: v.DisplayName, CompartmentID: v.CompartmentID, VaultID: v.ID}
}

// GetVault returns a vault.
func (s *Service) GetVault(ctx context.Context, id string) (Vault, error) {
	var v Vault
	err := s.cache.Read(ctx, func(r store.Reader) (err error) { v, err = getVault(r, id); return err })
	return v, err
}

// VaultBySlot returns the vault that owns an endpoint slot.
func (s *Service) VaultBySlot(ctx context.Context, slot int) (Vault, error) {
	var v Vault
	err := s.st.View(ctx, func(r store.Reader) error {
		id, err := r.Get(prefixSlot + strconv.Itoa(slot))
		if errors.Is(err, store.ErrNotFound) {
			return errs.E(errs.NotFound, "no vault at this endpoint")
		}
		if err != nil {
			return err
		}
		v, err = getVault(r, string(id))
		return err
	})
	return v, err
}

// AllVaults returns every vault, in any order. The server uses it at start
// to open endpoints.
func (s *Service) AllVaults(ctx context.Context) ([]Vault, error) {
	var out []Vault
	err := s.st.View(ctx, func(r store.Reader) (err error) {
		out, err = record.List[Vault](r, prefixVault)
		return err
	})
	return out, err
}

// ListOptions are the sorting and paging options OCI list calls share.
type ListOptions struct {
	Limit     int
	Page      string
	SortBy    string // TIMECREATED (default) or DISPLAYNAME
	SortOrder string // ASC or DESC; default DESC for TIMECREATED, ASC for DISPLAYNAME
}

func (o ListOptions) descending() (bool, error) {
	switch strings.ToUpper(o.SortOrder) {
	case "ASC":
		return false, nil
	case "DESC":
		return true, nil
	case "":
		return !strings.EqualFold(o.SortBy, "DISPLAYNAME"), nil
	}
	return false, errs.E(errs.Invalid, "sortOrder %q is not valid: allowed values are ASC, DESC", o.SortOrder)
}

func sortKeyFunc(sortBy string) (func(created time.Time, name string) string, error) {
	switch strings.ToUpper(sortBy) {
	case "", "TIMECREATED":
		return func(t time.Time, _ string) string { return t.UTC().Format("20060102T150405.000000000") }, nil
	case "DISPLAYNAME":
		return func(_ time.Time, name string) string { return strings.ToLower(name) }, nil
	}
	return nil, errs.E(errs.Invalid, "sortBy %q is not valid: allowed values are TIMECREATED, DISPLAYNAME", sortBy)
}

// ListVaults lists the vaults of a compartment.
func (s *Service) ListVaults(ctx context.Context, compartmentID string, opts ListOptions) ([]Vault, string, error) {
	if compartmentID == "" {
		return nil, "", errs.E(errs.Missing, "compartmentId is required")
	}
	desc, err := opts.descending()
	if err != nil {
		return nil, "", err
	}
	keyFn, err := sortKeyFunc(opts.SortBy)
	if err != nil {
		return nil, "", err
	}
	all, err := s.AllVaults(ctx)
	if err != nil {
		return nil, "", err
	}
	vaults := slices.DeleteFunc(all, func(v Vault) bool { return v.CompartmentID != compartmentID })
	keyOf := func(v Vault) (string, string) { return keyFn(v.TimeCreated, v.DisplayName), v.ID }
	page.Sort(vaults, keyOf, desc)
	return page.Slice(vaults, keyOf, desc, opts.Page, opts.Limit)
}

// UpdateVaultInput is an UpdateVault request; nil fields are unchanged.
type UpdateVaultInput struct {
	DisplayName  *string
	FreeformTags map[string]string
	DefinedTags  map[string]map[string]any
}

// UpdateVault changes a vault's name and tags. The vault must be ACTIVE.
func (s *Service) UpdateVault(ctx context.Context, id string, in UpdateVaultInput, ifMatch string) (Vault, error) {
	if in.DisplayName != nil {
		if err := checkDisplayName(*in.DisplayName); err != nil {
			return Vault{}, err
		}
	}
	return s.mutateVault(ctx, id, ifMatch, func(v *Vault) error {
		if v.State != VaultActive && v.State != VaultCreating {
			return errs.E(errs.IncorrectState, "vault %s is %s; only an ACTIVE vault can be updated", v.ID, v.State)
		}
		if in.DisplayName != nil {
			v.DisplayName = *in.DisplayName
		}
		if in.FreeformTags != nil {
			v.FreeformTags = in.FreeformTags
		}
		if in.DefinedTags != nil {
			v.DefinedTags = in.DefinedTags
		}
		return nil
	})
}

// ScheduleVaultDeletion puts an ACTIVE vault in PENDING_DELETION until
// timeOfDeletion, which must be 7 to 30 days ahead (nil: 30 days).
func (s *Service) ScheduleVaultDeletion(ctx context.Context, id string, timeOfDeletion *time.Time, ifMatch string) (Vault, error) {
	now := s.now().UTC()
	when, err := DeletionTime(now, timeOfDeletion)
	if err != nil {
		return Vault{}, err
	}
	return s.mutateVaultTx(ctx, id, ifMatch, func(tx store.Tx, v *Vault) error {
		if v.State != VaultActive {
			return errs.E(errs.IncorrectState, "vault %s is %s; only an ACTIVE vault can be scheduled for deletion", v.ID, v.State)
		}
		v.State = VaultPendingDeletion
		v.TimeOfDeletion = &when
		// OCI: the vault's keys go with it.
		return scheduleVaultKeys(tx, v.ID, when)
	})
}

// DeletionTime checks a requested deletion time against OCI's window of 7
// to 30 days from now; nil means 30 days from now.
func DeletionTime(now time.Time, requested *time.Time) (time.Time, error) {
	if requested == nil || requested.IsZero() {
		return now.Add(DefaultDeletionWindow), nil
	}
	when := requested.UTC()
	d := when.Sub(now)
	// Allow a minute of slack: a client computes "now + 7 days" before
	// the request reaches us.
	if d < MinDeletionWindow-time.Minute || d > MaxDeletionWindow+time.Minute {
		return time.Time{}, errs.E(errs.Invalid,
			"timeOfDeletion %s is not between 7 and 30 days from now (%s to %s)",
			when.Format(time.RFC3339), now.Add(MinDeletionWindow).Format(time.RFC3339), now.Add(MaxDeletionWindow).Format(time.RFC3339))
	}
	return when, nil
}

// ChangeVaultCompartment moves an ACTIVE vault to another compartment. The
// caller checks that the compartment exists and that the caller may move
// the vault out of the old compartment and into the new one.
func (s *Service) ChangeVaultCompartment(ctx context.Context, id, compartmentID, ifMatch string) (Vault, error) {
	if compartmentID == "" {
		return Vault{}, errs.E(errs.Missing, "compartmentId is required")
	}
	return s.mutateVault(ctx, id, ifMatch, func(v *Vault) error {
		if v.State != VaultActive {
			return errs.E(errs.IncorrectState, "vault %s is %s; only an ACTIVE vault can change compartment", v.ID, v.State)
		}
		v.CompartmentID = compartmentID
		return nil
	})
}

// CancelVaultDeletion returns a PENDING_DELETION vault to ACTIVE.
func (s *Service) CancelVaultDeletion(ctx context.Context, id string, ifMatch string) (Vault, error) {
	return s.mutateVaultTx(ctx, id, ifMatch, func(tx store.Tx, v *Vault) error {
		if v.State != VaultPendingDeletion {
			return errs.E(errs.IncorrectState, "vault %s is %s; only a vault pending deletion can have its deletion cancelled", v.ID, v.State)
		}
		v.State = VaultActive
		v.TimeOfDeletion = nil
		// OCI: keys scheduled with the vault return to their states.
		return cancelVaultKeys(tx, v.ID)
	})
}

func (s *Service) mutateVault(ctx context.Context, id, ifMatch string, fn func(*Vault) error) (Vault, error) {
	return s.mutateVaultTx(ctx, id, ifMatch, func(_ store.Tx, v *Vault) error { return fn(v) })
}

func (s *Service) mutateVaultTx(ctx context.Context, id, ifMatch string, fn func(store.Tx, *Vault) error) (Vault, error) {
	var v Vault
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if v, err = getVault(tx, id); err != nil {
			return err
		}
		if err := notReplicaVault(&v); err != nil {
			return err
		}
		if !etag.Matches(ifMatch, v.ETag) {
			return errs.E(errs.PreconditionFailed, "the if-match etag does not match vault %s", id)
		}
		from := v.State
		if err := fn(tx, &v); err != nil {
			return err
		}
		v.ETag = etag.New()
		if err := putVault(tx, v); err != nil {
			return err
		}
		return noteVault(tx, v, vaultStateChange(from, v.State))
	})
	return v, err
}

// VaultUsage counts a vault's keys and key versions.
type VaultUsage struct {
	KeyCount, KeyVersionCount                 int
	SoftwareKeyCount, SoftwareKeyVersionCount int
}

// GetVaultUsage counts the keys and key versions of a vault that are not
// deleted.
func (s *Service) GetVaultUsage(ctx context.Context, id string) (VaultUsage, error) {
	var u VaultUsage
	err := s.st.View(ctx, func(r store.Reader) error {
		if _, err := getVault(r, id); err != nil {
			return err
		}
		var err error
		u, err = countUsage(r, id)
		return err
	})
	return u, err
}

// CompleteDueDeletions moves vaults whose deletion time has passed to
// DELETED. It returns how many it deleted.
func (s *Service) CompleteDueDeletions(ctx context.Context) (int, error) {
	now := s.now()
	all, err := s.AllVaults(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range all {
		if v.State != VaultPendingDeletion || v.TimeOfDeletion == nil || v.TimeOfDeletion.After(now) || !v.IsPrimary() {
			// A replica's deletion completes when its source's does.
			continue
		}
		_, err := s.mutateVault(ctx, v.ID, "", func(v *Vault) error {
			if v.State != VaultPendingDeletion || v.TimeOfDeletion == nil || v.TimeOfDeletion.After(now) {
				return errNothingToDo
			}
			v.State = VaultDeleted
			return nil
		})
		if errors.Is(err, errNothingToDo) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("kms: complete deletion of vault %s: %w", v.ID, err)
		}
		n++
	}
	return n, nil
}

var errNothingToDo = errors.New("nothing to do")
