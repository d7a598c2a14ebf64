package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// Cross-region replication of secrets (docs/replication.md). The source
// region keeps, next to each replicated secret, an index entry per target
// region; a replica region pulls the source's changes and writes what
// ExportReplicas gives it with ApplyReplicas, each batch in one
// transaction with the caller's cursor. Replicas keep the source's OCIDs
// and version numbers, their content is sealed anew under the target key,
// and they are read-only.

// MaxReplicationTargets is OCI's default bound on a secret's targets.
const MaxReplicationTargets = 3

// prefixReplTarget indexes the secrets replicated to a region:
// <region>/<secret id> -> "".
const prefixReplTarget = "secrets/repl/"

func replTargetKey(region, id string) string { return prefixReplTarget + region + "/" + id }

// notReplica refuses a change of a replica: it follows its source only.
func notReplica(rec *secretRecord) error {
	if !rec.IsReplica {
		return nil
	}
	src := rec.SourceRegionInformation
	return errs.E(errs.Invalid, "secret %s is a read-only replica of a secret in region %s; change it there and the change reaches this replica", rec.ID, src.SourceRegion)
}

// checkReplication validates a replication config against the peers this
// deployment knows.
func (s *Service) checkReplication(c *ReplicationConfig) error {
	if c == nil {
		return nil
	}
	if c.IsWriteForwardEnabled {
		return errs.E(errs.Invalid, "replicationConfig.isWriteForwardEnabled is not supported: each Coffer region authorizes writes with its own identities, so a replica cannot forward them (docs/replication.md)")
	}
	if len(c.Targets) > MaxReplicationTargets {
		return errs.E(errs.LimitExceeded, "replicationConfig has %d targets; at most %d are allowed", len(c.Targets), MaxReplicationTargets)
	}
	var seen []string
	for i, t := range c.Targets {
		switch {
		case t.TargetRegion == "":
			return errs.E(errs.Missing, "replicationConfig.replicationTargets[%d].targetRegion is required", i)
		case t.TargetRegion == s.region:
			return errs.E(errs.Invalid, "replicationConfig.replicationTargets[%d].targetRegion is this region; a replica must be in another region", i)
		case !slices.Contains(s.peers, t.TargetRegion):
			if len(s.peers) == 0 {
				return errs.E(errs.Invalid, "replicationConfig.replicationTargets[%d].targetRegion is not a peer of this region: this server has no peers (--peer REGION=URL)", i)
			}
			return errs.E(errs.Invalid, "replicationConfig.replicationTargets[%d].targetRegion is not a peer of this region (peers: %v)", i, s.peers)
		case slices.Contains(seen, t.TargetRegion):
			return errs.E(errs.Invalid, "replicationConfig names region %s twice; a secret has at most one replica per region", t.TargetRegion)
		}
		seen = append(seen, t.TargetRegion)
		if err := checkOCID(fmt.Sprintf("replicationConfig.replicationTargets[%d].targetVaultId", i), t.TargetVaultID, ocid.Vault); err != nil {
			return err
		}
		if err := checkOCID(fmt.Sprintf("replicationConfig.replicationTargets[%d].targetKeyId", i), t.TargetKeyID, ocid.Key); err != nil {
			return err
		}
	}
	return nil
}

// targetFor returns the target of rec in region, if it has one.
func targetFor(rec *secretRecord, region string) (ReplicationTarget, bool) {
	if rec.ReplicationConfig == nil {
		return ReplicationTarget{}, false
	}
	for _, t := range rec.ReplicationConfig.Targets {
		if t.TargetRegion == region {
			return t, true
		}
	}
	return ReplicationTarget{}, false
}

// syncReplicaIndex keeps the per-region index and the list of regions that
// ever held a replica (ReplicaRegions) true to rec's config. A region that
// is dropped keeps its place in ReplicaRegions, so the next change of the
// secret tells it to delete its replica.
func syncReplicaIndex(tx store.Tx, rec *secretRecord) error {
	for _, region := range rec.ReplicaRegions {
		if _, ok := targetFor(rec, region); !ok {
			if err := tx.Delete(replTargetKey(region, rec.ID)); err != nil {
				return err
			}
		}
	}
	if rec.ReplicationConfig == nil {
		return nil
	}
	for _, t := range rec.ReplicationConfig.Targets {
		if slices.Contains(rec.ReplicaRegions, t.TargetRegion) {
			continue
		}
		rec.ReplicaRegions = append(rec.ReplicaRegions, t.TargetRegion)
		if err := record.Put(tx, replTargetKey(t.TargetRegion, rec.ID), ""); err != nil {
			return err
		}
	}
	return nil
}

// ReplicaSecret is a source secret as its replica region receives it.
type ReplicaSecret struct {
	// Secret is the source's metadata (its vault, key and compartment).
	Secret Secret `json:"secret"`
	// Target is where the replica lives in the receiving region.
	Target ReplicationTarget `json:"target"`
	// Dropped says the secret is no longer replicated to the receiving
	// region: its replica is to be deleted. Only Secret.ID is set.
	Dropped  bool             `json:"dropped,omitempty"`
	Stages   ReplicaStages    `json:"stages"`
	Versions []ReplicaVersion `json:"versions"`
}

// ReplicaStages are the version numbers holding each stage.
type ReplicaStages struct {
	Current  int64 `json:"current"`
	Pending  int64 `json:"pending"`
	Latest   int64 `json:"latest"`
	Previous int64 `json:"previous"`
}

// ReplicaVersion is one version of a source secret; Content is its
// plaintext while the version is not deleted.
type ReplicaVersion struct {
	Number         int64          `json:"versionNumber"`
	Name           string         `json:"name,omitempty"`
	TimeCreated    time.Time      `json:"timeCreated"`
	TimeOfDeletion *time.Time     `json:"timeOfDeletion,omitempty"`
	Deleted        bool           `json:"deleted,omitempty"`
	AutoGenerated  bool           `json:"autoGenerated,omitempty"`
	Content        ReplicaContent `json:"content,omitempty"`
}

// ReplicaContent is plaintext in transit between regions, inside the peer
// envelope only. It marshals to JSON (base64) for that envelope but never
// prints.
type ReplicaContent []byte

// LogValue redacts the content.
func (ReplicaContent) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// Format redacts the content for every fmt verb.
func (ReplicaContent) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[REDACTED]")) }

// Zero overwrites the plaintext of every version in rs.
func Zero(rs []ReplicaSecret) {
	for i := range rs {
		for j := range rs[i].Versions {
			clear(rs[i].Versions[j].Content)
		}
	}
}

// ReplicatedTo returns those of ids that are, or were, replicated to
// region: whose changes region must hear of. One read serves them all.
func (s *Service) ReplicatedTo(ctx context.Context, region string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := s.cache.Read(ctx, func(r store.Reader) error {
		clear(out)
		for _, id := range ids {
			rec, err := loadSecret(r, id)
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if slices.Contains(rec.ReplicaRegions, region) {
				out[id] = true
			}
		}
		return nil
	})
	return out, err
}

// ReplicatedIDs lists, in OCID order after after, up to limit secrets
// replicated to region now: the pages of a full resynchronisation.
func (s *Service) ReplicatedIDs(ctx context.Context, region, after string, limit int) ([]string, error) {
	var ids []string
	err := s.view(ctx, func(r store.Reader) error {
		start := ""
		if after != "" {
			start = replTargetKey(region, after)
		}
		es, err := r.List(prefixReplTarget+region+"/", start, limit)
		if err != nil {
			return err
		}
		ids = ids[:0]
		for _, e := range es {
			ids = append(ids, e.Key[len(prefixReplTarget)+len(region)+1:])
		}
		return nil
	})
	return ids, err
}

// ExportReplicas returns what region needs of each secret in ids: the
// metadata, the versions and the plaintext of every version not deleted,
// opened with this region's keys; a secret no longer replicated there comes
// back Dropped, and one that never was is left out. When only names a
// secret, the plaintext of just those of its versions is included: a
// replica that lacks another asks again (ApplyResult.Failed), and is then
// sent everything. Call Zero when done.
func (s *Service) ExportReplicas(ctx context.Context, region string, ids []string, only map[string][]int64) ([]ReplicaSecret, error) {
	var out []ReplicaSecret
	type sealedVersion struct {
		item, version int
		content       *sealed
	}
	var pending []sealedVersion
	err := s.view(ctx, func(r store.Reader) error {
		out, pending = out[:0], pending[:0]
		for _, id := range ids {
			rec, err := loadSecret(r, id)
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			t, ok := targetFor(rec, region)
			if !ok {
				if slices.Contains(rec.ReplicaRegions, region) {
					out = append(out, ReplicaSecret{Secret: Secret{ID: rec.ID}, Dropped: true})
				}
				continue
			}
			vers, err := loadVersions(r, id)
			if err != nil {
				return err
			}
			meta := rec.Secret
			meta.LifecycleState = effectiveState(rec, s.clock())
			if meta.LifecycleState == StateUpdating {
				meta.LifecycleState = StateActive
			}
			meta.ReplicationConfig = nil
			item := ReplicaSecret{Secret: meta, Target: t, Stages: ReplicaStages(rec.Stages)}
			for _, v := range vers {
				rv := ReplicaVersion{Number: v.Number, Name: v.Name, TimeCreated: v.TimeCreated, TimeOfDeletion: v.TimeOfDeletion,
					Deleted: v.Deleted, AutoGenerated: v.AutoGenerated}
				if want, limited := only[id]; !v.Deleted && v.Content != nil && (!limited || slices.Contains(want, v.Number)) {
					c := *v.Content
					pending = append(pending, sealedVersion{item: len(out), version: len(item.Versions), content: &c})
				}
				item.Versions = append(item.Versions, rv)
			}
			out = append(out, item)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, p := range pending {
		item := &out[p.item]
		v := &item.Versions[p.version]
		unwrap := func(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
			return s.keys.UnwrapDataKey(ctx, item.Secret.KeyID, p.content.DEK.KeyVersionID, wrapped, aad)
		}
		pt, err := open(ctx, unwrap, versionAAD(item.Secret.ID, v.Number), *p.content)
		if err != nil {
			Zero(out)
			return nil, fmt.Errorf("opening version %d of secret %s for region %s: %w", v.Number, item.Secret.ID, region, err)
		}
		v.Content = pt
	}
	return out, nil
}

// errIncomplete marks a replica whose answer lacked content it needs.
var errIncomplete = errs.E(errs.Conflict, "the replica lacks versions the answer did not carry")

// ApplyResult counts what ApplyReplicas wrote.
type ApplyResult struct {
	Applied, Deleted int
	// Incomplete names the secrets whose answer lacked the content of a
	// version the replica does not hold (only new versions' content is
	// sent with a change): the caller asks for them again, whole.
	Incomplete []string
	// Failed names the secrets that could not be applied, with why: the
	// target vault or key is missing or unusable, or the name is taken by
	// another secret of the target vault. The rest of the batch is applied.
	Failed map[string]error
}

// ApplyReplicas writes the replicas of items, received from sourceRegion,
// in one transaction that also runs commit (the caller's cursor write, which
// may refuse the batch, for example because another node applied it first).
// Content is sealed under each target key before the transaction; versions
// already held under the same key are kept as they are. generation marks
// every replica written, for FinishResync.
func (s *Service) ApplyReplicas(ctx context.Context, sourceRegion string, items []ReplicaSecret, generation uint64, commit func(store.Tx) error) (ApplyResult, error) {
	res := ApplyResult{Failed: map[string]error{}}
	now := s.clock()
	// What the replicas hold now, to seal only what is new.
	held := map[string]*secretRecord{}
	heldVersions := map[string][]*versionRecord{}
	err := s.view(ctx, func(r store.Reader) error {
		for _, it := range items {
			rec, err := loadSecret(r, it.Secret.ID)
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			cp := *rec
			held[it.Secret.ID] = &cp
			vs, err := loadVersions(r, it.Secret.ID)
			if err != nil {
				return err
			}
			heldVersions[it.Secret.ID] = vs
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	sealedNew := map[string]map[int64]sealed{}
	for _, it := range items {
		if it.Dropped || it.Secret.LifecycleState == StateDeleted {
			continue
		}
		// The peer is authenticated, but what it sends is still checked
		// before it becomes a storage key or a record.
		if err := checkReplicaItem(it); err != nil {
			res.Failed[it.Secret.ID] = err
			continue
		}
		if rec := held[it.Secret.ID]; rec != nil && !rec.IsReplica {
			res.Failed[it.Secret.ID] = errs.E(errs.Invalid, "a secret of this region has the OCID %s", it.Secret.ID)
			continue
		}
		if err := checkOCID("targetVaultId", it.Target.TargetVaultID, ocid.Vault); err != nil {
			res.Failed[it.Secret.ID] = err
			continue
		}
		if err := checkOCID("targetKeyId", it.Target.TargetKeyID, ocid.Key); err != nil {
			res.Failed[it.Secret.ID] = err
			continue
		}
		have := map[int64]bool{}
		if rec := held[it.Secret.ID]; rec != nil && rec.KeyID == it.Target.TargetKeyID && rec.VaultID == it.Target.TargetVaultID {
			for _, v := range heldVersions[it.Secret.ID] {
				if v.Content != nil {
					have[v.Number] = true
				}
			}
		}
		m := map[int64]sealed{}
		for _, v := range it.Versions {
			if v.Deleted || v.Content == nil || have[v.Number] {
				continue
			}
			sv, err := seal(ctx, s.keys, it.Target.TargetVaultID, it.Target.TargetKeyID, versionAAD(it.Secret.ID, v.Number), v.Content)
			if err != nil {
				res.Failed[it.Secret.ID] = err
				break
			}
			m[v.Number] = sv
		}
		if res.Failed[it.Secret.ID] == nil {
			sealedNew[it.Secret.ID] = m
		}
	}
	err = s.update(ctx, func(tx store.Tx) error {
		res.Applied, res.Deleted, res.Incomplete = 0, 0, nil
		for _, it := range items {
			if res.Failed[it.Secret.ID] != nil {
				continue
			}
			deleted, err := s.applyReplica(tx, sourceRegion, it, sealedNew[it.Secret.ID], generation, now)
			if errors.Is(err, errIncomplete) {
				res.Incomplete = append(res.Incomplete, it.Secret.ID)
				continue
			}
			var e *errs.Error
			if errors.As(err, &e) && e.Kind != errs.Internal {
				res.Failed[it.Secret.ID] = err
				continue
			}
			if err != nil {
				return err
			}
			if deleted {
				res.Deleted++
			} else {
				res.Applied++
			}
		}
		return commit(tx)
	})
	return res, err
}

// applyReplica writes one replica in tx and reports whether it deleted it.
// A refusal that concerns this secret alone is a non-internal errs error.
func (s *Service) applyReplica(tx store.Tx, sourceRegion string, it ReplicaSecret, fresh map[int64]sealed, generation uint64, now time.Time) (bool, error) {
	old, err := loadSecret(tx, it.Secret.ID)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return false, err
	}
	if old != nil {
		cp := *old
		old = &cp
		if !old.IsReplica {
			return false, errs.E(errs.Invalid, "a secret of this region has the OCID %s", it.Secret.ID)
		}
		if old.SourceRegionInformation.SourceRegion != sourceRegion {
			return false, errs.E(errs.Invalid, "secret %s is a replica from region %s, not %s", it.Secret.ID, old.SourceRegionInformation.SourceRegion, sourceRegion)
		}
	}
	if it.Dropped || it.Secret.LifecycleState == StateDeleted {
		if old == nil || old.LifecycleState == StateDeleted {
			return true, nil
		}
		return true, s.deleteReplica(tx, old, generation, now)
	}
	src := it.Secret
	rec := &secretRecord{}
	if old != nil {
		*rec = *old
	}
	rec.Secret = Secret{
		ID: src.ID, VaultID: it.Target.TargetVaultID, KeyID: it.Target.TargetKeyID, Name: src.Name,
		Description: src.Description, Metadata: src.Metadata, FreeformTags: src.FreeformTags, DefinedTags: src.DefinedTags,
		LifecycleState: src.LifecycleState, LifecycleDetails: src.LifecycleDetails, TimeCreated: src.TimeCreated,
		TimeOfDeletion: src.TimeOfDeletion, Rules: src.Rules, RotationConfig: src.RotationConfig, RotationStatus: src.RotationStatus,
		LastRotationTime: src.LastRotationTime, NextRotationTime: src.NextRotationTime, GenerationContext: src.GenerationContext,
		IsAutoGenerationEnabled: src.IsAutoGenerationEnabled, IsReplica: true,
		SourceRegionInformation: &SourceRegionInformation{SourceRegion: sourceRegion, SourceVaultID: src.VaultID, SourceKeyID: src.KeyID},
	}
	// The replica lives in its target vault's compartment.
	vault, key, err := s.keys.Resources(tx, it.Target.TargetVaultID, it.Target.TargetKeyID)
	if err != nil {
		return false, err
	}
	if vault.CompartmentID == "" || key.CompartmentID == "" {
		return false, errs.E(errs.RelatedNotFound, "the target vault or key of secret %s does not exist in this region", it.Secret.ID)
	}
	rec.CompartmentID = vault.CompartmentID
	rec.Stages = stagePointers(it.Stages)
	rec.Versions = 0
	rec.ReplicaGeneration = generation
	rec.Lease, rec.LeaseUntil, rec.MACKey = "", time.Time{}, wrappedKey{}
	if old == nil || old.VaultID != rec.VaultID || old.Name != rec.Name {
		if old != nil {
			if err := tx.Delete(s.nameKey(old.VaultID, old.Name)); err != nil {
				return false, err
			}
		}
		owner, err := record.GetPtr[string](tx, s.nameKey(rec.VaultID, rec.Name))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
		if owner != nil && *owner != rec.ID {
			return false, errs.E(errs.Invalid, "the target vault has another secret named %q", rec.Name)
		}
	}
	if rec.LifecycleState != StateDeleted {
		if err := record.Put(tx, s.nameKey(rec.VaultID, rec.Name), rec.ID); err != nil {
			return false, err
		}
	}
	if old != nil && old.CompartmentID != rec.CompartmentID {
		if err := tx.Delete(compKey(old.CompartmentID, rec.ID)); err != nil {
			return false, err
		}
	}
	if err := record.Put(tx, compKey(rec.CompartmentID, rec.ID), rec.ID); err != nil {
		return false, err
	}
	held := map[int64]*versionRecord{}
	if old != nil {
		vs, err := loadVersions(tx, rec.ID)
		if err != nil {
			return false, err
		}
		for _, v := range vs {
			held[v.Number] = v
		}
	}
	var changed []int64
	for _, v := range it.Versions {
		rec.Versions = max(rec.Versions, v.Number)
		vr := held[v.Number]
		if vr == nil {
			vr = &versionRecord{SecretID: rec.ID, Number: v.Number}
		}
		before := *vr
		vr.Name, vr.TimeCreated, vr.TimeOfDeletion, vr.AutoGenerated = v.Name, v.TimeCreated, v.TimeOfDeletion, v.AutoGenerated
		switch {
		case v.Deleted:
			vr.Deleted, vr.Content = true, nil
		case fresh[v.Number].Sealed != nil:
			sv := fresh[v.Number]
			vr.Content = &sv
		case vr.Content == nil || old.KeyID != rec.KeyID:
			// The answer carried no content for a version this replica
			// lacks (or holds under another key): ask for all of it.
			return false, errIncomplete
		}
		if vr.ETag != "" && sameVersion(&before, vr) {
			continue
		}
		vr.ETag = etag.New()
		if err := record.Put(tx, versionKey(rec.ID, v.Number), vr); err != nil {
			return false, err
		}
		changed = append(changed, v.Number)
	}
	rec.ETag = etag.New()
	if err := record.Put(tx, secretKey(rec.ID), rec); err != nil {
		return false, err
	}
	ch := changefeed.Updated
	switch {
	case old == nil:
		ch = changefeed.Created
	case old.LifecycleState != rec.LifecycleState && rec.LifecycleState == StatePendingDeletion:
		ch = changefeed.DeletionScheduled
	case old.LifecycleState == StatePendingDeletion && rec.LifecycleState == StateActive:
		ch = changefeed.DeletionCancelled
	case old.Stages != rec.Stages:
		ch = changefeed.StageChanged
	case len(changed) > 0:
		ch = changefeed.VersionCreated
	}
	return false, noteChange(tx, rec, ch, now, changed...)
}

func sameVersion(a, b *versionRecord) bool {
	return a.Name == b.Name && a.TimeCreated.Equal(b.TimeCreated) && a.Deleted == b.Deleted && a.AutoGenerated == b.AutoGenerated &&
		a.Content == b.Content && ((a.TimeOfDeletion == nil) == (b.TimeOfDeletion == nil)) &&
		(a.TimeOfDeletion == nil || a.TimeOfDeletion.Equal(*b.TimeOfDeletion))
}

// deleteReplica ends a replica as a completed deletion ends a secret: DELETED,
// content gone, name freed.
func (s *Service) deleteReplica(tx store.Tx, rec *secretRecord, generation uint64, now time.Time) error {
	vers, err := loadVersions(tx, rec.ID)
	if err != nil {
		return err
	}
	var gone []int64
	for _, v := range vers {
		if v.Deleted {
			continue
		}
		v.Deleted, v.Content, v.MAC = true, nil, nil
		if v.TimeOfDeletion == nil {
			t := now
			v.TimeOfDeletion = &t
		}
		v.ETag = etag.New()
		if err := record.Put(tx, versionKey(rec.ID, v.Number), v); err != nil {
			return err
		}
		gone = append(gone, v.Number)
	}
	if err := tx.Delete(s.nameKey(rec.VaultID, rec.Name)); err != nil {
		return err
	}
	rec.LifecycleState = StateDeleted
	if rec.TimeOfDeletion == nil {
		t := now
		rec.TimeOfDeletion = &t
	}
	rec.ReplicaGeneration = generation
	rec.ETag = etag.New()
	if err := record.Put(tx, secretKey(rec.ID), rec); err != nil {
		return err
	}
	return noteChange(tx, rec, changefeed.Deleted, now, gone...)
}

// FinishResync deletes, in tx, the replicas from sourceRegion that a full
// resynchronisation of the given generation did not write: their source
// no longer replicates them here (or no longer exists). Replicas in keep
// (whose last apply failed and is being retried) are left.
func (s *Service) FinishResync(tx store.Tx, sourceRegion string, generation uint64, keep []string) (int, error) {
	recs, err := record.List[secretRecord](tx, prefixSecret)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range recs {
		rec := &recs[i]
		if !rec.IsReplica || rec.LifecycleState == StateDeleted || rec.SourceRegionInformation.SourceRegion != sourceRegion || rec.ReplicaGeneration >= generation ||
			slices.Contains(keep, rec.ID) {
			continue
		}
		if err := s.deleteReplica(tx, rec, generation, s.clock()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// checkReplicaItem applies to a received replica the checks a created
// secret passes: its OCID, its name and its version numbers.
func checkReplicaItem(it ReplicaSecret) error {
	if err := checkOCID("secret id", it.Secret.ID, ocid.Secret); err != nil {
		return err
	}
	if err := checkName(it.Secret.Name); err != nil {
		return err
	}
	for _, v := range it.Versions {
		if v.Number < 1 {
			return errs.E(errs.Invalid, "version number %d is not a version number", v.Number)
		}
	}
	return nil
}
