package secrets

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/coffer-vault/coffer/internal/blindindex"
	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/recordcache"
	"github.com/coffer-vault/coffer/internal/secrets/generate"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Config wires a Service.
type Config struct {
	// Store persists records; required. When it is a *recordcache.Cache
	// (as in the server), reads are served from it; otherwise every read
	// runs in a store snapshot.
	Store store.Store
	// Keys wraps data keys with master keys; required.
	Keys KeyUser
	// Names keys the blind index of secret names and retry tokens in
	// storage keys (the barrier's, in a server); required, and the same for
	// every Service sharing Store.
	Names *blindindex.Index
	// Region is written into new secret OCIDs; required.
	Region string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// UpdateLease bounds how long a content update may hold a secret in
	// UPDATING before another request may take over; 0 means 2 minutes.
	UpdateLease time.Duration
	// Log receives operator messages (never content); nil discards them.
	Log *slog.Logger
	// MaxVersionsInUse and MaxVersionsPendingDeletion bound a secret's
	// versions (docs/oci-behaviours.md#secrets); 0 means OCI's paid-tenancy limits,
	// DefaultMaxVersionsInUse and DefaultMaxVersionsPendingDeletion.
	MaxVersionsInUse           int
	MaxVersionsPendingDeletion int
	// PeerRegions are the regions secrets may be replicated to (the
	// server's peers); none means replicationConfig is refused.
	PeerRegions []string
}

// OCI's per-secret version limits for paid tenancies
// (docs/oci-behaviours.md#secrets): 60
// versions, of which 30 in use and 30 pending deletion. Deleted versions do
// not count.
const (
	DefaultMaxVersionsInUse           = 30
	DefaultMaxVersionsPendingDeletion = 30
)

// Service implements the Vaults (secret management) and Secrets (retrieval)
// APIs over a store and a KeyUser. It is safe for concurrent use, including
// by several server nodes sharing one store.
type Service struct {
	st     store.Store
	names  *blindindex.Index
	cache  *recordcache.Cache
	keys   KeyUser
	region string
	now    func() time.Time
	lease  time.Duration
	log    *slog.Logger

	maxInUse, maxPending int
	peers                []string
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.Names == nil || cfg.Region == "" {
		return nil, errs.E(errs.Internal, "secrets: Store, Keys, Names and Region are required")
	}
	s := &Service{st: cfg.Store, names: cfg.Names, cache: recordcache.Of(cfg.Store), keys: cfg.Keys, region: cfg.Region, now: cfg.Now, lease: cfg.UpdateLease, log: cfg.Log}
	if s.now == nil {
		s.now = time.Now
	}
	if s.lease == 0 {
		s.lease = 2 * time.Minute
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.peers = slices.Clone(cfg.PeerRegions)
	s.maxInUse, s.maxPending = cmp.Or(cfg.MaxVersionsInUse, DefaultMaxVersionsInUse), cmp.Or(cfg.MaxVersionsPendingDeletion, DefaultMaxVersionsPendingDeletion)
	return s, nil
}

func (s *Service) clock() time.Time { return s.now().UTC() }

func (s *Service) view(ctx context.Context, fn func(store.Reader) error) error {
	return storeErr(s.st.View(ctx, fn))
}

func (s *Service) update(ctx context.Context, fn func(store.Tx) error) error {
	return storeErr(s.st.Update(ctx, fn))
}

// effectiveState reports UPDATING only while the lease is live.
func effectiveState(rec *secretRecord, now time.Time) LifecycleState {
	if rec.LifecycleState == StateUpdating && !now.Before(rec.LeaseUntil) {
		return StateActive
	}
	return rec.LifecycleState
}

// mutable refuses changes unless the secret is ACTIVE.
func mutable(rec *secretRecord, now time.Time) error {
	if err := notReplica(rec); err != nil {
		return err
	}
	switch effectiveState(rec, now) {
	case StateActive:
		return nil
	case StateUpdating:
		return errs.E(errs.IncorrectState, "secret is being updated by another request; try again")
	case StatePendingDeletion:
		return errs.E(errs.IncorrectState, "secret is pending deletion; cancel the deletion before changing it")
	}
	return errs.E(errs.IncorrectState, "secret is %s and cannot be changed", rec.LifecycleState)
}

// writable checks, for a write to rec, the caller's if-match and then that
// the secret's state allows changes.
func writable(rec *secretRecord, ifMatch string, now time.Time) error {
	if err := checkIfMatch(ifMatch, rec.ETag); err != nil {
		return err
	}
	return mutable(rec, now)
}

func checkIfMatch(ifMatch, current string) error {
	if !etag.Matches(ifMatch, current) {
		return errs.E(errs.PreconditionFailed, "the if-match etag does not match the resource's current etag")
	}
	return nil
}

// expiryOf is a version's expiry under the secret's rules, or nil.
func expiryOf(rules []Rule, created time.Time) (*time.Time, bool) {
	for _, r := range rules {
		if r.Type != RuleExpiry {
			continue
		}
		var exp *time.Time
		if r.SecretVersionExpiryInterval != "" {
			if n, err := ParseDays(r.SecretVersionExpiryInterval, 1, 90); err == nil {
				t := created.Add(time.Duration(n) * day)
				exp = &t
			}
		}
		if a := r.TimeOfAbsoluteExpiry; a != nil && (exp == nil || a.Before(*exp)) {
			t := a.UTC()
			exp = &t
		}
		return exp, r.IsSecretContentRetrievalBlockedOnExpiry
	}
	return nil, false
}

func reuseRule(rules []Rule) (Rule, bool) {
	for _, r := range rules {
		if r.Type == RuleReuse {
			return r, true
		}
	}
	return Rule{}, false
}

// commitSecret ends a write of rec: it stores rec with a fresh etag,
// records the result for the request's retry token and returns the secret
// as the caller sees it.
func commitSecret(tx store.Tx, rec *secretRecord, rs *retryScope, now time.Time) (*Secret, error) {
	rec.ETag = etag.New()
	if err := syncReplicaIndex(tx, rec); err != nil {
		return nil, err
	}
	if err := record.Put(tx, secretKey(rec.ID), rec); err != nil {
		return nil, err
	}
	if err := rs.put(tx, rec.ID, now); err != nil {
		return nil, err
	}
	return present(tx, rec, now)
}

// present turns a record into the reported Secret.
func present(r store.Reader, rec *secretRecord, now time.Time) (*Secret, error) {
	out := rec.Secret
	out.LifecycleState = effectiveState(rec, now)
	out.CurrentVersionNumber = rec.Stages.Current
	out.TimeOfCurrentVersionExpiry = nil
	if rec.Stages.Current > 0 {
		v, err := loadVersion(r, rec.ID, rec.Stages.Current)
		if err != nil {
			return nil, err
		}
		out.TimeOfCurrentVersionExpiry, _ = expiryOf(rec.Rules, v.TimeCreated)
	}
	return &out, nil
}

func presentVersion(rec *secretRecord, v *versionRecord) SecretVersion {
	exp, _ := expiryOf(rec.Rules, v.TimeCreated)
	return SecretVersion{
		SecretID: v.SecretID, VersionNumber: v.Number, Name: v.Name, ContentType: ContentTypeBase64,
		Stages: rec.Stages.stagesOf(v.Number), TimeCreated: v.TimeCreated, TimeOfDeletion: v.TimeOfDeletion,
		TimeOfExpiry: exp, IsContentAutoGenerated: v.AutoGenerated, ETag: v.ETag,
	}
}

// withoutToken returns a copy of req with the headers that must not count
// in a retry fingerprint cleared.
func withoutToken[T any](req T, clearFn func(*T)) T {
	clearFn(&req)
	return req
}

// CreateSecret creates a secret and its version 1 (CURRENT, LATEST), with
// supplied content or, when EnableAutoGeneration is set, generated content.
func (s *Service) CreateSecret(ctx context.Context, req CreateSecretRequest) (*Secret, error) {
	now := s.clock()
	if err := checkOCID("compartmentId", req.CompartmentID, ocid.Compartment, ocid.Tenancy); err != nil {
		return nil, err
	}
	if err := checkOCID("vaultId", req.VaultID, ocid.Vault); err != nil {
		return nil, err
	}
	if err := checkOCID("keyId", req.KeyID, ocid.Key); err != nil {
		return nil, err
	}
	if err := checkName(req.Name); err != nil {
		return nil, err
	}
	if err := checkCommon(req.Description, req.Metadata, req.Rules, req.RotationConfig, req.GenerationContext, now); err != nil {
		return nil, err
	}
	if err := s.checkReplication(req.ReplicationConfig); err != nil {
		return nil, err
	}
	if req.ReplicationConfig != nil && len(req.ReplicationConfig.Targets) == 0 {
		req.ReplicationConfig = nil
	}
	var plaintext []byte
	var autoGenerated bool
	switch {
	case req.EnableAutoGeneration:
		if req.Content != nil {
			return nil, errs.E(errs.Invalid, "secretContent must be absent when enableAutoGeneration is true")
		}
		if req.GenerationContext == nil {
			return nil, errs.E(errs.Missing, "secretGenerationContext is required when enableAutoGeneration is true")
		}
		var err error
		if plaintext, err = generateContent(*req.GenerationContext); err != nil {
			return nil, err
		}
		autoGenerated = true
	case req.Content == nil:
		return nil, errs.E(errs.Missing, "secretContent is required unless enableAutoGeneration is true")
	default:
		var err error
		if plaintext, err = decodeContent(req.Content, true); err != nil {
			return nil, err
		}
	}
	defer clear(plaintext)
	rs, err := s.newRetryScope("CreateSecret", req.VaultID, req.RetryToken,
		withoutToken(req, func(r *CreateSecretRequest) { r.RetryToken = "" }))
	if err != nil {
		return nil, err
	}

	// Cheap checks first, so a replay or a taken name costs no key operation.
	var replayID string
	err = s.view(ctx, func(r store.Reader) error {
		id, ok, err := rs.check(r, now)
		if err != nil || ok {
			replayID = id
			return err
		}
		return s.nameFree(r, req.VaultID, req.Name)
	})
	if err != nil {
		return nil, err
	}
	if replayID != "" {
		return s.GetSecret(ctx, replayID)
	}

	id := ocid.New(ocid.Secret, s.region)
	macKey, err := randomKey(macKeyLen)
	if err != nil {
		return nil, err
	}
	defer clear(macKey)
	wrappedMAC, macKV, err := s.keys.WrapDataKey(ctx, req.VaultID, req.KeyID, macKey, macKeyAAD(id))
	if err != nil {
		return nil, passKeyErr(err, "wrapping the secret's MAC key")
	}
	sv, err := seal(ctx, s.keys, req.VaultID, req.KeyID, versionAAD(id, 1), plaintext)
	if err != nil {
		return nil, err
	}
	rec := &secretRecord{
		Secret: Secret{
			ID: id, CompartmentID: req.CompartmentID, VaultID: req.VaultID, KeyID: req.KeyID, Name: req.Name,
			Description: req.Description, Metadata: req.Metadata, FreeformTags: req.FreeformTags, DefinedTags: req.DefinedTags,
			LifecycleState: StateActive, TimeCreated: now, Rules: req.Rules, RotationConfig: req.RotationConfig,
			GenerationContext: req.GenerationContext, IsAutoGenerationEnabled: req.EnableAutoGeneration,
			ReplicationConfig: req.ReplicationConfig, ETag: etag.New(),
		},
		Versions: 1,
		MACKey:   wrappedKey{KeyVersionID: macKV, Wrapped: wrappedMAC},
	}
	setRotationSchedule(rec, now)
	rec.Stages.created(1)
	ver := &versionRecord{
		SecretID: id, Number: 1, TimeCreated: now, Content: &sv, MAC: contentMAC(macKey, plaintext),
		AutoGenerated: autoGenerated, ETag: etag.New(),
	}
	if req.Content != nil {
		ver.Name = req.Content.Name
	}
	var out *Secret
	err = s.update(ctx, func(tx store.Tx) error {
		replayID, out = "", nil
		if id, ok, err := rs.check(tx, now); err != nil || ok {
			replayID = id
			return err
		}
		if err := s.nameFree(tx, req.VaultID, req.Name); err != nil {
			return err
		}
		if err := syncReplicaIndex(tx, rec); err != nil {
			return err
		}
		for _, p := range []struct {
			k string
			v any
		}{{secretKey(id), rec}, {versionKey(id, 1), ver}, {s.nameKey(req.VaultID, req.Name), id}, {compKey(req.CompartmentID, id), id}} {
			if err := record.Put(tx, p.k, p.v); err != nil {
				return err
			}
		}
		if err := rs.put(tx, id, now); err != nil {
			return err
		}
		if err := noteChange(tx, rec, changefeed.Created, now, 1); err != nil {
			return err
		}
		var err error
		out, err = present(tx, rec, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if replayID != "" {
		return s.GetSecret(ctx, replayID)
	}
	return out, nil
}

func (s *Service) nameFree(r store.Reader, vaultID, name string) error {
	taken, err := record.Exists(r, s.nameKey(vaultID, name))
	if err != nil {
		return err
	}
	if taken {
		return errs.E(errs.Invalid, "a secret named %q already exists in this vault (names stay taken until a deleted secret's deletion completes)", name)
	}
	return nil
}

func checkCommon(desc string, metadata map[string]any, rules []Rule, rc *RotationConfig, gc *GenerationContext, now time.Time) error {
	if len(desc) > MaxDescriptionLen {
		return errs.E(errs.Invalid, "description is longer than %d characters", MaxDescriptionLen)
	}
	if !validText(desc) {
		return errs.E(errs.Invalid, "description must be valid UTF-8 without control characters other than newline and tab")
	}
	if err := checkMetadata(metadata); err != nil {
		return err
	}
	if err := checkRules(rules, now); err != nil {
		return err
	}
	if err := checkRotation(rc); err != nil {
		return err
	}
	if gc != nil {
		return gc.Validate()
	}
	return nil
}

func generateContent(gc GenerationContext) ([]byte, error) {
	b, err := generate.Generate(gc)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxContentBytes {
		clear(b)
		return nil, errs.E(errs.Invalid, "generated content exceeds the limit of %d bytes (25 KB); shorten secretTemplate", MaxContentBytes)
	}
	return b, nil
}

func setRotationSchedule(rec *secretRecord, now time.Time) {
	rec.RotationStatus = RotationNotEnabled
	rec.NextRotationTime = nil
	rc := rec.RotationConfig
	if rc == nil || !rc.IsScheduledRotationEnabled {
		return
	}
	rec.RotationStatus = RotationScheduled
	if n, err := ParseDays(rc.RotationInterval, 1, 360); err == nil {
		from := now
		if rec.LastRotationTime != nil {
			from = *rec.LastRotationTime
		}
		t := from.Add(time.Duration(n) * day)
		rec.NextRotationTime = &t
	}
}

// GetSecret is ReadSecret for callers inside the server, with no
// authorization.
func (s *Service) GetSecret(ctx context.Context, id string) (*Secret, error) {
	return s.ReadSecret(ctx, id, nil)
}

// ListSecrets lists the secrets of one compartment (not its children) and
// returns the next page token, empty on the last page.
func (s *Service) ListSecrets(ctx context.Context, req ListSecretsRequest) ([]Secret, string, error) {
	now := s.clock()
	if err := checkOCID("compartmentId", req.CompartmentID, ocid.Compartment, ocid.Tenancy); err != nil {
		return nil, "", err
	}
	limit, err := checkLimit(req.Limit)
	if err != nil {
		return nil, "", err
	}
	sortBy, order := req.SortBy, req.SortOrder
	switch sortBy {
	case "", SortByTimeCreated:
		sortBy = SortByTimeCreated
		if order == "" {
			order = SortDesc
		}
	case SortByName:
		if order == "" {
			order = SortAsc
		}
	default:
		return nil, "", errs.E(errs.Invalid, "sortBy must be TIMECREATED or NAME")
	}
	if order != SortAsc && order != SortDesc {
		return nil, "", errs.E(errs.Invalid, "sortOrder must be ASC or DESC")
	}
	cur, err := decodeSecretCursor(req.Page, sortBy, order)
	if err != nil {
		return nil, "", err
	}
	keyOf := func(x *Secret) string {
		if sortBy == SortByName {
			return x.Name
		}
		return x.TimeCreated.UTC().Format("2006-01-02T15:04:05.000000000Z")
	}
	compare := func(ak, aid, bk, bid string) int {
		c := cmp.Or(cmp.Compare(ak, bk), cmp.Compare(aid, bid))
		if order == SortDesc {
			return -c
		}
		return c
	}
	var all []*Secret
	err = s.view(ctx, func(r store.Reader) error {
		all = nil
		ents, err := r.List(compPrefix(req.CompartmentID), "", 0)
		if err != nil {
			return err
		}
		for _, e := range ents {
			id := e.Key[len(compPrefix(req.CompartmentID)):]
			rec, err := loadSecret(r, id)
			if err != nil {
				return err
			}
			if req.VaultID != "" && rec.VaultID != req.VaultID || req.Name != "" && rec.Name != req.Name {
				continue
			}
			x, err := present(r, rec, now)
			if err != nil {
				return err
			}
			if req.LifecycleState != "" && x.LifecycleState != req.LifecycleState {
				continue
			}
			if cur != nil && compare(keyOf(x), x.ID, cur.Key, cur.ID) <= 0 {
				continue
			}
			all = append(all, x)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	slices.SortFunc(all, func(a, b *Secret) int { return compare(keyOf(a), a.ID, keyOf(b), b.ID) })
	next := ""
	if len(all) > limit {
		all = all[:limit]
		last := all[limit-1]
		next = encodeToken(secretTokenPrefix, secretCursor{SortBy: sortBy, Order: order, Key: keyOf(last), ID: last.ID})
	}
	out := make([]Secret, len(all))
	for i, x := range all {
		out[i] = *x
	}
	return out, next, nil
}

// ChangeSecretCompartment moves a secret to another compartment.
func (s *Service) ChangeSecretCompartment(ctx context.Context, req ChangeCompartmentRequest) (*Secret, error) {
	now := s.clock()
	if err := checkOCID("compartmentId", req.CompartmentID, ocid.Compartment, ocid.Tenancy); err != nil {
		return nil, err
	}
	rs, err := s.newRetryScope("ChangeSecretCompartment", req.SecretID, req.RetryToken,
		withoutToken(req, func(r *ChangeCompartmentRequest) { r.RetryToken, r.IfMatch = "", "" }))
	if err != nil {
		return nil, err
	}
	var out *Secret
	err = s.update(ctx, func(tx store.Tx) error {
		out = nil
		if _, ok, err := rs.check(tx, now); err != nil || ok {
			if ok {
				rec, err := loadSecret(tx, req.SecretID)
				if err != nil {
					return err
				}
				out, err = present(tx, rec, now)
				return err
			}
			return err
		}
		rec, err := loadSecret(tx, req.SecretID)
		if err != nil {
			return err
		}
		if err := writable(rec, req.IfMatch, now); err != nil {
			return err
		}
		if rec.CompartmentID != req.CompartmentID {
			if err := tx.Delete(compKey(rec.CompartmentID, rec.ID)); err != nil {
				return err
			}
			rec.CompartmentID = req.CompartmentID
			if err := record.Put(tx, compKey(rec.CompartmentID, rec.ID), rec.ID); err != nil {
				return err
			}
			if err := noteChange(tx, rec, changefeed.Updated, now); err != nil {
				return err
			}
		}
		out, err = commitSecret(tx, rec, rs, now)
		return err
	})
	return out, err
}
