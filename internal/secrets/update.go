package secrets

import (
	"context"
	"crypto/hmac"
	"time"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// UpdateSecret changes a secret. Content creates a new version (CURRENT by
// default, or PENDING); CurrentVersionNumber promotes or rolls back; and
// secretContent, currentVersionNumber and secretRules are mutually
// exclusive: a request that sets any two of them is refused (the SDK says
// they "can't be specified at the same time").
func (s *Service) UpdateSecret(ctx context.Context, req UpdateSecretRequest) (*Secret, error) {
	now := s.clock()
	n := 0
	for _, set := range []bool{req.Content != nil, req.CurrentVersionNumber != nil, req.Rules != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, errs.E(errs.Invalid, "secretContent, currentVersionNumber and secretRules cannot be changed in the same request")
	}
	desc := ""
	if req.Description != nil {
		desc = *req.Description
	}
	var rules []Rule
	if req.Rules != nil {
		rules = *req.Rules
	}
	if err := checkCommon(desc, req.Metadata, rules, req.RotationConfig, req.GenerationContext, now); err != nil {
		return nil, err
	}
	if err := s.checkReplication(req.ReplicationConfig); err != nil {
		return nil, err
	}
	if req.CurrentVersionNumber != nil && *req.CurrentVersionNumber < 1 {
		return nil, errs.E(errs.Invalid, "currentVersionNumber must be at least 1")
	}
	rs, err := s.newRetryScope("UpdateSecret", req.SecretID, req.RetryToken,
		withoutToken(req, func(r *UpdateSecretRequest) { r.RetryToken, r.IfMatch = "", "" }))
	if err != nil {
		return nil, err
	}
	if req.Content == nil {
		return s.updateInPlace(ctx, req, rs, now)
	}
	plaintext, err := decodeContent(req.Content, false)
	if err != nil {
		return nil, err
	}
	defer clear(plaintext)
	stage := req.Content.Stage
	if stage == "" {
		stage = StageCurrent
	}
	return s.writeVersion(ctx, versionWrite{
		secretID: req.SecretID, ifMatch: req.IfMatch, rs: rs, plaintext: plaintext,
		name: req.Content.Name, stage: stage,
		apply: func(r store.Reader, rec *secretRecord, now time.Time) error {
			if err := applyUpdate(r, rec, &req, now); err != nil {
				return err
			}
			if rec.IsAutoGenerationEnabled {
				return errs.E(errs.Invalid, "secretContent must be absent while automatic generation is enabled; use RotateSecret to generate a new version")
			}
			return nil
		},
	})
}

// applyUpdate applies the non-content fields of req to rec, checking them
// against rec's versions.
func applyUpdate(r store.Reader, rec *secretRecord, req *UpdateSecretRequest, now time.Time) error {
	if req.Description != nil {
		rec.Description = *req.Description
	}
	if req.Metadata != nil {
		rec.Metadata = req.Metadata
	}
	if req.FreeformTags != nil {
		rec.FreeformTags = req.FreeformTags
	}
	if req.DefinedTags != nil {
		rec.DefinedTags = req.DefinedTags
	}
	if req.Rules != nil {
		rec.Rules = *req.Rules
	}
	if req.GenerationContext != nil {
		rec.GenerationContext = req.GenerationContext
	}
	if req.EnableAutoGeneration != nil {
		rec.IsAutoGenerationEnabled = *req.EnableAutoGeneration
	}
	if rec.IsAutoGenerationEnabled && rec.GenerationContext == nil {
		return errs.E(errs.Missing, "secretGenerationContext is required when automatic generation is enabled")
	}
	if req.RotationConfig != nil {
		rec.RotationConfig = req.RotationConfig
		setRotationSchedule(rec, now)
	}
	if req.ReplicationConfig != nil {
		rec.ReplicationConfig = req.ReplicationConfig
		if len(rec.ReplicationConfig.Targets) == 0 {
			rec.ReplicationConfig = nil
		}
	}
	if req.CurrentVersionNumber != nil {
		n := *req.CurrentVersionNumber
		if n > rec.Versions {
			return errs.E(errs.Invalid, "currentVersionNumber %d does not exist; the latest version is %d", n, rec.Versions)
		}
		v, err := loadVersion(r, rec.ID, n)
		if err != nil {
			return err
		}
		if v.Deleted || v.TimeOfDeletion != nil {
			return errs.E(errs.Invalid, "secret version %d is deleted or pending deletion and cannot become CURRENT", n)
		}
		rec.Stages.promote(n)
	}
	return nil
}

func (s *Service) updateInPlace(ctx context.Context, req UpdateSecretRequest, rs *retryScope, now time.Time) (*Secret, error) {
	var out *Secret
	err := s.update(ctx, func(tx store.Tx) error {
		out = nil
		rec, err := loadSecret(tx, req.SecretID)
		if err != nil {
			return err
		}
		if _, ok, err := rs.check(tx, now); err != nil || ok {
			if ok {
				out, err = present(tx, rec, now)
			}
			return err
		}
		if err := writable(rec, req.IfMatch, now); err != nil {
			return err
		}
		before := rec.Stages
		if err := applyUpdate(tx, rec, &req, now); err != nil {
			return err
		}
		rec.LifecycleState, rec.Lease, rec.LeaseUntil = StateActive, "", time.Time{}
		if err := noteStages(tx, rec, before, now); err != nil {
			return err
		}
		out, err = commitSecret(tx, rec, rs, now)
		return err
	})
	return out, err
}

// versionWrite describes one new version: its content (nil to generate from
// the secret's generation context), name and stage, and the other changes
// made with it.
type versionWrite struct {
	secretID, ifMatch string
	rs                *retryScope
	plaintext         []byte
	name              string
	stage             Stage
	// apply makes the request's other changes and checks the request
	// against the record; it runs on a copy when the update begins and on
	// the record when it finishes.
	apply func(r store.Reader, rec *secretRecord, now time.Time) error
}

// writeVersion adds a version in three steps: take the UPDATING lease,
// seal the content outside the store, write the version and release the
// lease. See the package comment.
func (s *Service) writeVersion(ctx context.Context, w versionWrite) (*Secret, error) {
	now := s.clock()
	lease := etag.New()
	var (
		snap     secretRecord
		vers     []*versionRecord
		replayID string
	)
	err := s.update(ctx, func(tx store.Tx) error {
		replayID, vers = "", nil
		if id, ok, err := w.rs.check(tx, now); err != nil || ok {
			replayID = id
			return err
		}
		rec, err := loadSecret(tx, w.secretID)
		if err != nil {
			return err
		}
		if err := writable(rec, w.ifMatch, now); err != nil {
			return err
		}
		cp := *rec
		if err := w.apply(tx, &cp, now); err != nil {
			return err
		}
		vers, err = loadVersions(tx, rec.ID)
		if err != nil {
			return err
		}
		if err := s.checkRoomForVersion(rec, vers); err != nil {
			return err
		}
		if w.name != "" {
			for _, v := range vers {
				if v.Name == w.name {
					return errs.E(errs.Invalid, "a version named %q already exists for this secret", w.name)
				}
			}
		}
		rec.LifecycleState, rec.Lease, rec.LeaseUntil = StateUpdating, lease, now.Add(s.lease)
		rec.ETag = etag.New()
		snap = cp
		return record.Put(tx, secretKey(rec.ID), rec)
	})
	if err != nil {
		return nil, err
	}
	if replayID != "" {
		return s.GetSecret(ctx, replayID)
	}
	out, err := s.sealAndFinish(ctx, w, &snap, vers, lease)
	if err != nil {
		s.releaseLease(ctx, w.secretID, lease)
		return nil, err
	}
	return out, nil
}

func (s *Service) sealAndFinish(ctx context.Context, w versionWrite, snap *secretRecord, vers []*versionRecord, lease string) (*Secret, error) {
	plaintext, autoGenerated := w.plaintext, false
	if plaintext == nil {
		if snap.GenerationContext == nil {
			return nil, errs.E(errs.Invalid, "secret has no secretGenerationContext")
		}
		var err error
		if plaintext, err = generateContent(*snap.GenerationContext); err != nil {
			return nil, err
		}
		defer clear(plaintext)
		autoGenerated = true
	}
	macKey, err := s.keys.UnwrapDataKey(ctx, snap.KeyID, snap.MACKey.KeyVersionID, snap.MACKey.Wrapped, macKeyAAD(snap.ID))
	if err != nil {
		return nil, passKeyErr(err, "unwrapping the secret's MAC key")
	}
	mac := contentMAC(macKey, plaintext)
	clear(macKey)
	if rule, ok := reuseRule(snap.Rules); ok {
		for _, v := range vers {
			if v.Deleted && !rule.IsEnforcedOnDeletedSecretVersions {
				continue
			}
			if hmac.Equal(v.MAC, mac) {
				return nil, errs.E(errs.Invalid, "the secret reuse rule does not allow content used by an earlier version of this secret")
			}
		}
	}
	n := snap.Versions + 1
	sv, err := seal(ctx, s.keys, snap.VaultID, snap.KeyID, versionAAD(snap.ID, n), plaintext)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	var out *Secret
	err = s.update(ctx, func(tx store.Tx) error {
		out = nil
		rec, err := loadSecret(tx, w.secretID)
		if err != nil {
			return err
		}
		if rec.Lease != lease || rec.LifecycleState != StateUpdating {
			return errs.E(errs.IncorrectState, "secret is being updated by another request; try again")
		}
		if rec.Versions+1 != n {
			return errs.E(errs.Internal, "secret version count changed while the secret was locked")
		}
		if err := w.apply(tx, rec, now); err != nil {
			return err
		}
		ver := &versionRecord{SecretID: rec.ID, Number: n, Name: w.name, TimeCreated: now, Content: &sv, MAC: mac,
			AutoGenerated: autoGenerated, ETag: etag.New()}
		if err := record.Put(tx, versionKey(rec.ID, n), ver); err != nil {
			return err
		}
		rec.Versions = n
		rec.Stages.newVersion(n, w.stage)
		rec.LifecycleState, rec.Lease, rec.LeaseUntil = StateActive, "", time.Time{}
		if err := noteChange(tx, rec, changefeed.VersionCreated, now, n); err != nil {
			return err
		}
		out, err = commitSecret(tx, rec, w.rs, now)
		return err
	})
	return out, err
}

// releaseLease returns a secret to ACTIVE after a failed content update,
// if this request still holds the lease. It runs even when ctx is done.
func (s *Service) releaseLease(ctx context.Context, id, lease string) {
	ctx = context.WithoutCancel(ctx)
	err := s.update(ctx, func(tx store.Tx) error {
		rec, err := loadSecret(tx, id)
		if err != nil || rec.Lease != lease {
			return err
		}
		rec.LifecycleState, rec.Lease, rec.LeaseUntil = StateActive, "", time.Time{}
		rec.ETag = etag.New()
		return record.Put(tx, secretKey(id), rec)
	})
	if err != nil {
		s.log.Warn("secrets: releasing an update lease failed; it expires on its own", "secret", id, "err", err)
	}
}

// RotateSecret rotates a secret now. Coffer can rotate only secrets it can
// generate content for: automatic generation enabled and no target system.
// The new version becomes CURRENT at once (there is no target system to
// update first). A secret whose rotation config names an ADB or FUNCTION
// target is refused with errs.Invalid, because Coffer cannot reach those
// systems and rotating only the stored value would break them.
func (s *Service) RotateSecret(ctx context.Context, secretID, ifMatch, retryToken string) (*Secret, error) {
	rs, err := s.newRetryScope("RotateSecret", secretID, retryToken, secretID)
	if err != nil {
		return nil, err
	}
	return s.writeVersion(ctx, versionWrite{
		secretID: secretID, ifMatch: ifMatch, rs: rs, stage: StageCurrent,
		apply: func(_ store.Reader, rec *secretRecord, now time.Time) error {
			if rc := rec.RotationConfig; rc != nil && rc.TargetSystemType != "" {
				return errs.E(errs.Invalid, "Coffer cannot rotate secrets on %s target systems; rotate the target yourself and upload the new content with UpdateSecret (stage PENDING, then currentVersionNumber)", rc.TargetSystemType)
			}
			if !rec.IsAutoGenerationEnabled || rec.GenerationContext == nil {
				return errs.E(errs.Invalid, "secret cannot be rotated: it has neither automatic generation enabled nor a rotation target Coffer can serve")
			}
			t := now
			rec.LastRotationTime = &t
			setRotationSchedule(rec, now)
			return nil
		},
	})
}

// CancelSecretRotation disables future scheduled rotations, as OCI's does.
// Coffer rotations are synchronous, so none is ever in progress to cancel.
func (s *Service) CancelSecretRotation(ctx context.Context, secretID, ifMatch string) (*Secret, error) {
	now := s.clock()
	var out *Secret
	err := s.update(ctx, func(tx store.Tx) error {
		rec, err := loadSecret(tx, secretID)
		if err != nil {
			return err
		}
		if err := writable(rec, ifMatch, now); err != nil {
			return err
		}
		if rec.RotationConfig != nil {
			rc := *rec.RotationConfig
			rc.IsScheduledRotationEnabled = false
			rec.RotationConfig = &rc
		}
		setRotationSchedule(rec, now)
		rec.ETag = etag.New()
		if err := record.Put(tx, secretKey(rec.ID), rec); err != nil {
			return err
		}
		if err := noteChange(tx, rec, changefeed.Updated, now); err != nil {
			return err
		}
		out, err = present(tx, rec, now)
		return err
	})
	return out, err
}
