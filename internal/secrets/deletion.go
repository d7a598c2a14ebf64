package secrets

import (
	"context"
	"time"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// DeletionReport counts what CompleteDueDeletions finished.
type DeletionReport struct {
	Secrets     int
	Versions    int
	RetryTokens int
}

// CompleteDueDeletions finishes every deletion whose time has come: a
// secret becomes DELETED, its versions' content and wrapped keys are
// destroyed and its name is freed; a version scheduled for deletion loses
// its content and wrapped key (its MAC stays, for the reuse rule). Expired
// retry tokens are purged. The server's scheduler calls it periodically, on
// one node at a time; each secret is finished in its own transaction, so a
// failure part-way leaves the rest for the next run.
func (s *Service) CompleteDueDeletions(ctx context.Context) (DeletionReport, error) {
	now := s.clock()
	var rep DeletionReport
	var ids []string
	err := s.view(ctx, func(r store.Reader) error {
		var err error
		ids, err = record.Names(r, prefixSecret)
		return err
	})
	if err != nil {
		return rep, err
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		var secrets, versions int
		err := s.update(ctx, func(tx store.Tx) error {
			secrets, versions = 0, 0
			var gone []int64
			rec, err := loadSecret(tx, id)
			if err != nil {
				return err
			}
			if rec.LifecycleState == StateDeleted || rec.IsReplica {
				return nil // a replica follows its source's deletions
			}
			whole := rec.LifecycleState == StatePendingDeletion && rec.TimeOfDeletion != nil && !now.Before(*rec.TimeOfDeletion)
			vers, err := loadVersions(tx, id)
			if err != nil {
				return err
			}
			for _, v := range vers {
				due := v.TimeOfDeletion != nil && !now.Before(*v.TimeOfDeletion)
				if v.Deleted || !(whole || due) {
					continue
				}
				v.Deleted, v.Content = true, nil
				if whole {
					v.MAC = nil // the MAC key is destroyed with the secret
				}
				if v.TimeOfDeletion == nil || whole {
					t := now
					v.TimeOfDeletion = &t
				}
				v.ETag = etag.New()
				if err := record.Put(tx, versionKey(id, v.Number), v); err != nil {
					return err
				}
				versions++
				gone = append(gone, v.Number)
			}
			if whole {
				rec.LifecycleState = StateDeleted
				rec.MACKey = wrappedKey{}
				rec.ETag = etag.New()
				if err := record.Put(tx, secretKey(id), rec); err != nil {
					return err
				}
				if err := tx.Delete(s.nameKey(rec.VaultID, rec.Name)); err != nil {
					return err
				}
				secrets++
				return noteChange(tx, rec, changefeed.Deleted, now, gone...)
			}
			if len(gone) > 0 {
				return noteChange(tx, rec, changefeed.Deleted, now, gone...)
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
		rep.Secrets += secrets
		rep.Versions += versions
	}
	n, err := s.purgeRetryTokens(ctx, now)
	rep.RetryTokens = n
	return rep, err
}

func (s *Service) purgeRetryTokens(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.update(ctx, func(tx store.Tx) error {
		n = 0
		ents, err := tx.List(prefixRetry, "", 0)
		if err != nil {
			return err
		}
		for _, e := range ents {
			// A record that does not decode is purged too.
			if rec, err := record.Decode[retryRecord](e); err == nil && now.Before(rec.Expires) {
				continue
			}
			if err := tx.Delete(e.Key); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// RotateDue rotates every secret whose scheduled rotation is due and that
// Coffer can rotate (automatic generation, no target system). The server's
// scheduler calls it with CompleteDueDeletions. A secret that cannot be
// rotated now (updating, key disabled) is skipped and retried on the next
// run; the first such error is returned after the others are tried.
func (s *Service) RotateDue(ctx context.Context) (int, error) {
	now := s.clock()
	var due []string
	err := s.view(ctx, func(r store.Reader) error {
		due = nil
		recs, err := record.List[secretRecord](r, prefixSecret)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			rc := rec.RotationConfig
			if rec.IsReplica || rec.LifecycleState == StateDeleted || rec.LifecycleState == StatePendingDeletion ||
				rc == nil || !rc.IsScheduledRotationEnabled || rc.TargetSystemType != "" || !rec.IsAutoGenerationEnabled ||
				rec.NextRotationTime == nil || now.Before(*rec.NextRotationTime) {
				continue
			}
			due = append(due, rec.ID)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	var first error
	for _, id := range due {
		if _, err := s.RotateSecret(ctx, id, "", ""); err != nil {
			s.log.Warn("secrets: scheduled rotation failed", "secret", id, "err", err)
			if first == nil {
				first = err
			}
			continue
		}
		n++
	}
	return n, first
}
