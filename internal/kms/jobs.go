package kms

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// KeyJobResult counts what one RunKeyJobs pass did.
type KeyJobResult struct {
	KeysDeleted     int
	VersionsDeleted int
	Rotated         int
	RotationsFailed int
}

// RunKeyJobs runs the key background work that is due at the service's
// clock: keys and key versions whose deletion time has passed become
// DELETED and their material is destroyed; keys whose automatic rotation is
// due get a new version. The server's job loop calls it; errors of one key
// do not stop the others and are returned joined.
func (s *Service) RunKeyJobs(ctx context.Context) (KeyJobResult, error) {
	var res KeyJobResult
	now := s.now().UTC()
	var keys []Key
	err := s.st.View(ctx, func(r store.Reader) (err error) {
		keys, err = record.List[Key](r, prefixKey)
		return err
	})
	if err != nil {
		return res, err
	}
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, k := range keys {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if k.SourceRegion != "" {
			// A replica key follows its source: deletions and
			// rotations reach it from there.
			continue
		}
		if k.State == KeyPendingDeletion && k.TimeOfDeletion != nil && !k.TimeOfDeletion.After(now) {
			done, err := s.completeKeyDeletion(ctx, k.ID, now)
			note(err)
			if done {
				res.KeysDeleted++
			}
			continue
		}
		if k.State == KeyDeleted {
			continue
		}
		n, err := s.completeVersionDeletions(ctx, k, now)
		note(err)
		res.VersionsDeleted += n
		r := k.AutoRotation
		if k.State == KeyEnabled && r.Enabled && r.TimeOfNextRotation != nil && !sameDayOrAfter(r.TimeOfNextRotation, now) {
			if _, err := s.rotate(ctx, k.VaultID, k.ID, OriginInternal, true, func(p keyprotect.Protection, id string, sh keyprotect.Shape) (keyprotect.Material, error) {
				return p.Generate(ctx, id, sh)
			}); err != nil {
				res.RotationsFailed++
				note(err)
				s.noteRotationFailure(ctx, k, now)
				continue
			}
			res.Rotated++
		}
	}
	return res, firstErr
}

// sameDayOrAfter reports whether the rotation time is still ahead: OCI
// ignores the time of day and rotates on the day.
func sameDayOrAfter(next *time.Time, now time.Time) bool {
	y1, m1, d1 := next.UTC().Date()
	y2, m2, d2 := now.UTC().Date()
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	return day(y1, m1, d1).After(day(y2, m2, d2))
}

func (s *Service) noteRotationFailure(ctx context.Context, k Key, now time.Time) {
	_, _ = s.mutateKey(ctx, k.VaultID, k.ID, "", func(_ store.Tx, k *Key) error {
		next := now.Add(24 * time.Hour) // try again tomorrow
		k.AutoRotation.LastStatus = RotationFailed
		k.AutoRotation.LastMessage = "automatic rotation failed; it will be retried"
		k.AutoRotation.TimeOfNextRotation = &next
		return nil
	})
}

// completeKeyDeletion marks a due key DELETED (for good) and then destroys
// the material of all its versions.
func (s *Service) completeKeyDeletion(ctx context.Context, keyID string, now time.Time) (bool, error) {
	var k Key
	var vs []KeyVersion
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if k, err = getKey(tx, keyID); err != nil {
			return err
		}
		if k.State != KeyPendingDeletion || k.TimeOfDeletion == nil || k.TimeOfDeletion.After(now) {
			return errNothingToDo
		}
		k.State, k.ETag = KeyDeleted, etag.New()
		if vs, err = listVersions(tx, keyID); err != nil {
			return err
		}
		for _, v := range vs {
			if v.State != KeyDeleted {
				v.State, v.ETag = KeyDeleted, etag.New()
				if v.TimeOfDeletion == nil {
					v.TimeOfDeletion = k.TimeOfDeletion
				}
				if err := putVersion(tx, v); err != nil {
					return err
				}
			}
		}
		return putKey(tx, k)
	})
	if errors.Is(err, errNothingToDo) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("kms: complete deletion of key %s: %w", keyID, err)
	}
	for _, v := range vs {
		if err := s.destroyVersion(ctx, k, v.ID); err != nil {
			return true, err
		}
	}
	return true, nil
}

// completeVersionDeletions deletes a key's versions that are due.
func (s *Service) completeVersionDeletions(ctx context.Context, k Key, now time.Time) (int, error) {
	var due []string
	err := s.st.Update(ctx, func(tx store.Tx) error {
		due = due[:0]
		vs, err := listVersions(tx, k.ID)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.State == KeyPendingDeletion && v.TimeOfDeletion != nil && !v.TimeOfDeletion.After(now) {
				v.State, v.ETag = KeyDeleted, etag.New()
				if err := putVersion(tx, v); err != nil {
					return err
				}
				due = append(due, v.ID)
			}
		}
		if len(due) > 0 {
			return noteKey(tx, k, changefeed.Deleted)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("kms: complete version deletions of key %s: %w", k.ID, err)
	}
	for _, id := range due {
		if err := s.destroyVersion(ctx, k, id); err != nil {
			return len(due), err
		}
	}
	return len(due), nil
}

// destroyVersion destroys a DELETED version's material and forgets its blob.
func (s *Service) destroyVersion(ctx context.Context, k Key, versionID string) error {
	var v KeyVersion
	err := s.st.View(ctx, func(r store.Reader) (err error) { v, err = getVersion(r, k.ID, versionID); return err })
	if err != nil {
		return err
	}
	if err := s.destroy(ctx, v.material(k.Shape)); err != nil {
		return fmt.Errorf("kms: destroy key version %s: %w", v.ID, err)
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		v, err := getVersion(tx, k.ID, versionID)
		if err != nil {
			return err
		}
		v.Blob = nil
		return putVersion(tx, v)
	})
}
