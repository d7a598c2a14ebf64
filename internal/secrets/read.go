package secrets

import (
	"context"
	"errors"
	"slices"

	"github.com/coffer-vault/coffer/internal/authz"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/recordcache"
	"github.com/coffer-vault/coffer/internal/store"
)

// Reads that serve secrets (GetSecretBundle, GetSecretBundleByName,
// ListSecretBundleVersions, GetSecret) load the secret, its version, the
// vault, the master key and the key version together in one Read of the
// record cache (one consistent snapshot, and no store transaction at all
// when the records are cached), hand the authorization targets of that
// snapshot to the caller's Authorizer, and only then open content. No
// second read follows, so nothing can change between the decision and the
// answer.

// Resource is the secret as the authorizer sees it.
func (s *Secret) Resource() *authz.Resource {
	return &authz.Resource{ID: s.ID, Name: s.Name, CompartmentID: s.CompartmentID, VaultID: s.VaultID, KeyID: s.KeyID}
}

// ReadTargets are the resources a read is authorized against, from the same
// snapshot as what it returns.
type ReadTargets struct {
	Secret, Vault, Key *authz.Resource
}

// Request is the authorization request for these targets (Principal and
// Operation are the caller's to fill in).
func (t ReadTargets) Request() authz.Request {
	return authz.Request{CompartmentID: t.Secret.CompartmentID, Vault: t.Vault, Key: t.Key, Secret: t.Secret}
}

// Authorizer decides whether a read may go on. It runs once per read, after
// the snapshot is loaded and before anything that depends on the caller's
// rights (which version exists, content, key state) is revealed. A nil
// Authorizer allows everything (for callers inside the server).
type Authorizer func(ReadTargets) error

func (a Authorizer) check(t ReadTargets) error {
	if a == nil {
		return nil
	}
	return a(t)
}

// SecretRef names a secret by OCID, or by vault and name.
type SecretRef struct {
	ID            string
	VaultID, Name string
}

// loadRef resolves ref inside a read: a name goes through the name index of
// the same snapshot.
func (s *Service) loadRef(r store.Reader, ref SecretRef) (*secretRecord, error) {
	id := ref.ID
	if ref.Name != "" || ref.VaultID != "" {
		if ref.VaultID == "" {
			return nil, errs.E(errs.Missing, "vaultId is required")
		}
		if ref.Name == "" {
			return nil, errs.E(errs.Missing, "secretName is required")
		}
		if !ocid.Valid(ref.VaultID) {
			return nil, errs.E(errs.Invalid, "vaultId is not a valid OCID")
		}
		if !validName(ref.Name) {
			return nil, errSecretNotFound()
		}
		p, err := load[string](r, s.nameKey(ref.VaultID, ref.Name), errSecretNotFound)
		if err != nil {
			return nil, err
		}
		id = *p
	}
	return loadSecret(r, id)
}

// snapshot is what one read loaded.
type snapshot struct {
	rec     *secretRecord
	targets ReadTargets
	// later is the answer owed once the caller is authorized: "no such
	// version", "key disabled" and the like say something about the
	// secret, so an unauthorized caller must not see them.
	later error
}

// load reads ref's secret and its authorization targets from r.
func (s *Service) load(r store.Reader, ref SecretRef) (snapshot, error) {
	rec, err := s.loadRef(r, ref)
	if err != nil {
		return snapshot{}, err
	}
	vault, key, err := s.keys.Resources(r, rec.VaultID, rec.KeyID)
	if err != nil {
		return snapshot{}, err
	}
	return snapshot{rec: rec, targets: ReadTargets{Secret: rec.Secret.Resource(), Vault: vault, Key: key}}, nil
}

// defer records err as the answer owed after authorization, unless it is
// the cache asking for the store, which must reach Read.
func (sn *snapshot) postpone(err error) error {
	if err == nil || recordcache.Missed(err) {
		return err
	}
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind == errs.Internal {
		return err
	}
	sn.later = err
	return nil
}

// authorized asks a about the snapshot, then gives the postponed answer.
func (sn *snapshot) authorized(a Authorizer) error {
	if err := a.check(sn.targets); err != nil {
		return err
	}
	return sn.later
}

// ReadSecret returns a secret's metadata (GetSecret) once authorize allows.
func (s *Service) ReadSecret(ctx context.Context, id string, authorize Authorizer) (*Secret, error) {
	now := s.clock()
	var (
		sn  snapshot
		out *Secret
	)
	err := s.cache.Read(ctx, func(r store.Reader) (err error) {
		if sn, err = s.load(r, SecretRef{ID: id}); err != nil {
			return err
		}
		out, err = present(r, sn.rec, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := sn.authorized(authorize); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadBundle returns a version with its content (GetSecretBundle and
// GetSecretBundleByName): CURRENT by default, or the one sel selects, once
// authorize allows. A secret pending deletion or deleted, a version pending
// deletion or deleted, and a selector that matches nothing answer
// errs.NotFound; content whose expiry rule blocks retrieval answers
// errs.Invalid (OCI does not document its error here); a disabled or
// deleted master key fails with the KeyUser's error.
func (s *Service) ReadBundle(ctx context.Context, ref SecretRef, sel BundleSelector, authorize Authorizer) (*Bundle, error) {
	if err := sel.check(); err != nil {
		return nil, err
	}
	now := s.clock()
	var (
		sn     snapshot
		ver    *versionRecord
		unwrap UnwrapFunc
	)
	err := s.cache.Read(ctx, func(r store.Reader) (err error) {
		ver, unwrap = nil, nil
		if sn, err = s.load(r, ref); err != nil {
			return err
		}
		rec := sn.rec
		if rec.LifecycleState == StatePendingDeletion || rec.LifecycleState == StateDeleted {
			return sn.postpone(errSecretNotFound())
		}
		if ver, err = selectVersion(r, rec, sel); err != nil {
			return sn.postpone(err)
		}
		if ver.Deleted || ver.TimeOfDeletion != nil || ver.Content == nil {
			return sn.postpone(errs.E(errs.NotFound, "secret version %d is deleted or pending deletion", ver.Number))
		}
		if exp, blocked := expiryOf(rec.Rules, ver.TimeCreated); blocked && exp != nil && !now.Before(*exp) {
			return sn.postpone(errs.E(errs.Invalid, "secret version %d expired and the secret's expiry rule blocks retrieval of expired content; change the rule or update the content", ver.Number))
		}
		unwrap, err = s.keys.Opener(r, rec.KeyID, ver.Content.DEK.KeyVersionID)
		return sn.postpone(passKeyErr(err, "loading the master key"))
	})
	if err != nil {
		return nil, err
	}
	if err := sn.authorized(authorize); err != nil {
		return nil, err
	}
	rec := sn.rec
	pt, err := open(ctx, unwrap, versionAAD(rec.ID, ver.Number), *ver.Content)
	if err != nil {
		return nil, err
	}
	exp, _ := expiryOf(rec.Rules, ver.TimeCreated)
	return &Bundle{
		SecretID: rec.ID, VersionNumber: ver.Number, VersionName: ver.Name, Content: NewContent(pt),
		TimeCreated: ver.TimeCreated, TimeOfDeletion: ver.TimeOfDeletion, TimeOfExpiry: exp,
		Stages: rec.Stages.stagesOf(ver.Number), Metadata: rec.Metadata, ETag: ver.ETag,
	}, nil
}

// ReadBundleVersions lists a secret's versions for the retrieval API
// (ListSecretBundleVersions) once authorize allows; a secret pending
// deletion or deleted answers errs.NotFound, as bundle reads do.
func (s *Service) ReadBundleVersions(ctx context.Context, req ListVersionsRequest, authorize Authorizer) ([]SecretVersion, string, error) {
	q, err := parseVersionQuery(req)
	if err != nil {
		return nil, "", err
	}
	var (
		sn   snapshot
		vers []*versionRecord
	)
	err = s.cache.Read(ctx, func(r store.Reader) (err error) {
		if sn, err = s.load(r, SecretRef{ID: req.SecretID}); err != nil {
			return err
		}
		if sn.rec.LifecycleState == StatePendingDeletion || sn.rec.LifecycleState == StateDeleted {
			return sn.postpone(errSecretNotFound())
		}
		// Versions by key, not by listing, so the cache can serve them.
		vers = vers[:0]
		for n := int64(1); n <= sn.rec.Versions; n++ {
			v, err := loadVersion(r, sn.rec.ID, n)
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			vers = append(vers, v)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if err := sn.authorized(authorize); err != nil {
		return nil, "", err
	}
	out, next := q.page(sn.rec, vers)
	return out, next, nil
}

// versionQuery is a checked ListVersionsRequest.
type versionQuery struct {
	limit int
	order string
	cur   *versionCursor
}

func parseVersionQuery(req ListVersionsRequest) (versionQuery, error) {
	limit, err := checkLimit(req.Limit)
	if err != nil {
		return versionQuery{}, err
	}
	if req.SortBy != "" && req.SortBy != SortByVersionNumber {
		return versionQuery{}, errs.E(errs.Invalid, "sortBy must be VERSION_NUMBER")
	}
	order := req.SortOrder
	if order == "" {
		order = SortDesc
	}
	if order != SortAsc && order != SortDesc {
		return versionQuery{}, errs.E(errs.Invalid, "sortOrder must be ASC or DESC")
	}
	cur, err := decodeVersionCursor(req.Page, order)
	if err != nil {
		return versionQuery{}, err
	}
	return versionQuery{limit: limit, order: order, cur: cur}, nil
}

// page presents vers (ascending by number) as one page and the next page's
// token, empty on the last page.
func (q versionQuery) page(rec *secretRecord, vers []*versionRecord) ([]SecretVersion, string) {
	var out []SecretVersion
	for _, v := range vers {
		if q.cur != nil && (q.order == SortAsc && v.Number <= q.cur.Number || q.order == SortDesc && v.Number >= q.cur.Number) {
			continue
		}
		out = append(out, presentVersion(rec, v))
	}
	if q.order == SortDesc {
		slices.Reverse(out)
	}
	next := ""
	if len(out) > q.limit {
		out = out[:q.limit]
		next = encodeToken(versionTokenPrefix, versionCursor{Order: q.order, Number: out[q.limit-1].VersionNumber})
	}
	return out, next
}

// check refuses selectors that name more than one version or an unknown
// stage.
func (sel BundleSelector) check() error {
	n := 0
	for _, set := range []bool{sel.VersionNumber != 0, sel.VersionName != "", sel.Stage != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return errs.E(errs.Invalid, "give at most one of versionNumber, secretVersionName and stage")
	}
	switch sel.Stage {
	case "", StageCurrent, StagePending, StageLatest, StagePrevious, StageDeprecated:
		return nil
	}
	return errs.E(errs.Invalid, "stage must be CURRENT, PENDING, LATEST, PREVIOUS or DEPRECATED")
}
