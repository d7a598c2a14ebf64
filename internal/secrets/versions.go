package secrets

import (
	"context"
	"time"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// GetSecretVersion returns one version's metadata.
func (s *Service) GetSecretVersion(ctx context.Context, secretID string, n int64) (*SecretVersion, error) {
	var out SecretVersion
	err := s.view(ctx, func(r store.Reader) error {
		rec, v, err := loadSecretVersion(r, secretID, n)
		if err != nil {
			return err
		}
		out = presentVersion(rec, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSecretVersions lists a secret's versions, deleted ones included,
// sorted by version number (DESC by default).
func (s *Service) ListSecretVersions(ctx context.Context, req ListVersionsRequest) ([]SecretVersion, string, error) {
	q, err := parseVersionQuery(req)
	if err != nil {
		return nil, "", err
	}
	var out []SecretVersion
	var next string
	err = s.view(ctx, func(r store.Reader) error {
		rec, err := loadSecret(r, req.SecretID)
		if err != nil {
			return err
		}
		vers, err := loadVersions(r, req.SecretID)
		if err != nil {
			return err
		}
		out, next = q.page(rec, vers)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// ScheduleSecretDeletion moves an ACTIVE secret to PENDING_DELETION; it is
// deleted at TimeOfDeletion (default 30 days, 1–30 days ahead). Readers lose
// access at once; the name stays taken until the deletion completes.
func (s *Service) ScheduleSecretDeletion(ctx context.Context, req ScheduleDeletionRequest) (*Secret, error) {
	now := s.clock()
	at, err := deletionTime(req.TimeOfDeletion, now)
	if err != nil {
		return nil, err
	}
	return s.mutateSecret(ctx, req.SecretID, req.IfMatch, changefeed.DeletionScheduled, func(rec *secretRecord) error {
		if err := mutable(rec, now); err != nil {
			return err
		}
		rec.LifecycleState, rec.Lease, rec.LeaseUntil = StatePendingDeletion, "", time.Time{}
		rec.TimeOfDeletion = &at
		return nil
	})
}

// CancelSecretDeletion returns a PENDING_DELETION secret to ACTIVE.
func (s *Service) CancelSecretDeletion(ctx context.Context, secretID, ifMatch string) (*Secret, error) {
	return s.mutateSecret(ctx, secretID, ifMatch, changefeed.DeletionCancelled, func(rec *secretRecord) error {
		if rec.LifecycleState != StatePendingDeletion {
			return errs.E(errs.IncorrectState, "secret is %s, not PENDING_DELETION", rec.LifecycleState)
		}
		rec.LifecycleState = StateActive
		rec.TimeOfDeletion = nil
		return nil
	})
}

func (s *Service) mutateSecret(ctx context.Context, id, ifMatch string, ch changefeed.Change, fn func(*secretRecord) error) (*Secret, error) {
	now := s.clock()
	var out *Secret
	err := s.update(ctx, func(tx store.Tx) error {
		rec, err := loadSecret(tx, id)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, rec.ETag); err != nil {
			return err
		}
		if err := notReplica(rec); err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
		rec.ETag = etag.New()
		if err := record.Put(tx, secretKey(id), rec); err != nil {
			return err
		}
		if err := noteChange(tx, rec, ch, now); err != nil {
			return err
		}
		out, err = present(tx, rec, now)
		return err
	})
	return out, err
}

// ScheduleSecretVersionDeletion schedules a DEPRECATED version for deletion
// (default 30 days, 1–30 days ahead); it is unreadable at once. IfMatch is
// compared with the version's ETag.
func (s *Service) ScheduleSecretVersionDeletion(ctx context.Context, req ScheduleDeletionRequest) (*SecretVersion, error) {
	now := s.clock()
	at, err := deletionTime(req.TimeOfDeletion, now)
	if err != nil {
		return nil, err
	}
	return s.mutateVersion(ctx, req.SecretID, req.VersionNumber, req.IfMatch, changefeed.DeletionScheduled, func(r store.Reader, rec *secretRecord, v *versionRecord) error {
		if err := mutable(rec, now); err != nil {
			return err
		}
		if v.TimeOfDeletion != nil {
			return errs.E(errs.IncorrectState, "secret version %d is already scheduled for deletion", v.Number)
		}
		if !rec.Stages.deprecated(v.Number) {
			return errs.E(errs.Invalid, "only DEPRECATED versions can be scheduled for deletion; version %d is %v", v.Number, rec.Stages.stagesOf(v.Number))
		}
		c, err := countVersions(r, rec.ID)
		if err != nil {
			return err
		}
		if c.pending >= s.maxPending {
			return errs.E(errs.LimitExceeded, "secret %s already has %d versions pending deletion, the most allowed: wait for a scheduled deletion to complete (or schedule it sooner) before scheduling another", rec.ID, c.pending)
		}
		v.TimeOfDeletion = &at
		return nil
	})
}

// CancelSecretVersionDeletion cancels a version's scheduled deletion.
func (s *Service) CancelSecretVersionDeletion(ctx context.Context, secretID string, n int64, ifMatch string) (*SecretVersion, error) {
	now := s.clock()
	return s.mutateVersion(ctx, secretID, n, ifMatch, changefeed.DeletionCancelled, func(r store.Reader, rec *secretRecord, v *versionRecord) error {
		if err := mutable(rec, now); err != nil {
			return err
		}
		if v.TimeOfDeletion == nil {
			return errs.E(errs.IncorrectState, "secret version %d is not scheduled for deletion", v.Number)
		}
		c, err := countVersions(r, rec.ID)
		if err != nil {
			return err
		}
		if c.inUse >= s.maxInUse {
			return errs.E(errs.LimitExceeded, "secret %s already has %d versions in use, the most allowed: schedule deletion of another DEPRECATED version before cancelling this one's", rec.ID, c.inUse)
		}
		v.TimeOfDeletion = nil
		return nil
	})
}

func (s *Service) mutateVersion(ctx context.Context, id string, n int64, ifMatch string, ch changefeed.Change, fn func(store.Reader, *secretRecord, *versionRecord) error) (*SecretVersion, error) {
	var out SecretVersion
	err := s.update(ctx, func(tx store.Tx) error {
		rec, v, err := loadSecretVersion(tx, id, n)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, v.ETag); err != nil {
			return err
		}
		if err := notReplica(rec); err != nil {
			return err
		}
		if v.Deleted {
			return errs.E(errs.IncorrectState, "secret version %d is deleted", n)
		}
		if err := fn(tx, rec, v); err != nil {
			return err
		}
		v.ETag = etag.New()
		if err := record.Put(tx, versionKey(id, n), v); err != nil {
			return err
		}
		if err := noteChange(tx, rec, ch, s.clock(), n); err != nil {
			return err
		}
		out = presentVersion(rec, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// versionCount is how a secret's versions stand against the limits.
type versionCount struct {
	inUse   int // neither deleted nor scheduled for deletion
	pending int // scheduled for deletion, not yet deleted
}

func countOf(vers []*versionRecord) versionCount {
	var c versionCount
	for _, v := range vers {
		switch {
		case v.Deleted:
		case v.TimeOfDeletion != nil:
			c.pending++
		default:
			c.inUse++
		}
	}
	return c
}

func countVersions(r store.Reader, secretID string) (versionCount, error) {
	vers, err := loadVersions(r, secretID)
	if err != nil {
		return versionCount{}, err
	}
	return countOf(vers), nil
}

// checkRoomForVersion refuses a new version when the secret already has as
// many versions in use as allowed, saying how to make room.
func (s *Service) checkRoomForVersion(rec *secretRecord, vers []*versionRecord) error {
	if c := countOf(vers); c.inUse >= s.maxInUse {
		return errs.E(errs.LimitExceeded, "secret %s has %d versions in use, the most allowed: schedule deletion of DEPRECATED versions (ScheduleSecretVersionDeletion) before adding new content", rec.ID, c.inUse)
	}
	return nil
}
