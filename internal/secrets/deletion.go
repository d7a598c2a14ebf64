package secrets

import (
	"context"
	"encoding/json"
	"time"

	"github.com/coffer-vault/coffer/internal/store"
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
		ids = nil
		ents, err := r.List(prefixSecret, "", 0)
		if err != nil {
			return err
		}
		for _, e := range ents {
			ids = append(ids, e.Key[len(prefixSecret):])
		}
		return nil
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
			rec, err := loadSecret(tx, id)
			if err != nil {
				return err
			}
			if rec.LifecycleState == StateDeleted {
				return nil
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
				v.ETag = newETag()
				if err := putJSON(tx, versionKey(id, v.Number), v); err != nil {
					return err
				}
				versions++
			}
			if whole {
				rec.LifecycleState = StateDeleted
				rec.MACKey = wrappedKey{}
				rec.ETag = newETag()
				if err := putJSON(tx, secretKey(id), rec); err != nil {
					return err
				}
				if err := tx.Delete(nameKey(rec.VaultID, rec.Name)); err != nil {
					return err
				}
				secrets++
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
			var rec retryRecord
			if json.Unmarshal(e.Value, &rec) == nil && now.Before(rec.Expires) {
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
