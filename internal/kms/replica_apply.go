package kms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/keyprotect"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/record"
)

// The replica region's side of vault replicas: what a source sent is
// checked, its material imported under this region's protections
// (PrepareVaultReplicas, before the transaction, as restore does), then
// written in the replicator's transaction (ApplyVaultReplicas).

// VaultBatch is a batch of vault replicas ready to apply.
type VaultBatch struct {
	source string
	items  []preparedVault
	// Failed names the vaults that cannot be applied, with why; the rest
	// of the batch is.
	Failed map[string]error
	// stale is material to destroy once the batch is committed.
	stale []material
	// written are the vaults the commit wrote, for their endpoints.
	written []Vault
	// unusable are keys no longer ENABLED, whose cached data keys go.
	unusable []string
}

type preparedVault struct {
	item ReplicaVault
	// blobs holds, per key version id, this region's blob of it.
	blobs map[string][]byte
}

// checkReplicaVault checks what a source sent: its ids are of the right
// types and agree with each other. The peer is authenticated, but its
// answer is outside input all the same.
func checkReplicaVault(it *ReplicaVault) error {
	bad := func(why string, args ...any) error {
		return errs.E(errs.Invalid, "the replica of vault %s is malformed: %s", strconv.QuoteToASCII(it.Vault.ID), fmt.Sprintf(why, args...))
	}
	v := &it.Vault
	if !ocid.Valid(v.ID) || ocid.TypeOf(v.ID) != ocid.Vault {
		return bad("not a vault OCID")
	}
	if !ocid.Valid(it.ReplicationID) || ocid.TypeOf(it.ReplicationID) != ocid.VaultReplication {
		return bad("replicationId is not a vault replication OCID")
	}
	if it.Dropped {
		if len(it.Keys) > 0 {
			return bad("a dropped replica carries keys")
		}
		return nil
	}
	switch v.VaultType {
	case VaultTypeDefault, VaultTypeVirtualPrivate:
	default:
		return bad("vault type %s", strconv.QuoteToASCII(v.VaultType))
	}
	switch v.State {
	case VaultActive, VaultPendingDeletion, VaultDeleted:
	default:
		return bad("state %s", strconv.QuoteToASCII(v.State))
	}
	if err := checkDisplayName(v.DisplayName); err != nil {
		return bad("display name: %v", err)
	}
	if v.WrappingKeyID != "" && (!ocid.Valid(v.WrappingKeyID) || ocid.TypeOf(v.WrappingKeyID) != ocid.WrappingKey) {
		return bad("wrapping key id")
	}
	seen := map[string]bool{}
	for _, k := range it.Keys {
		if ocid.TypeOf(k.Key.ID) != ocid.Key || k.Key.VaultID != v.ID || seen[k.Key.ID] {
			return bad("key %s", strconv.QuoteToASCII(k.Key.ID))
		}
		seen[k.Key.ID] = true
		if err := k.Key.Shape.Validate(); err != nil {
			return bad("key %s shape", k.Key.ID)
		}
		switch k.Key.State {
		case KeyEnabled, KeyDisabled, KeyPendingDeletion, KeyDeleted:
		default:
			return bad("key %s state", k.Key.ID)
		}
		current := false
		for _, ver := range k.Versions {
			kv := ver.Version
			if ocid.TypeOf(kv.ID) != ocid.KeyVersion || kv.KeyID != k.Key.ID || kv.VaultID != v.ID || seen[kv.ID] {
				return bad("key version %s", strconv.QuoteToASCII(kv.ID))
			}
			if kv.Flavour == flavourHSM && len(ver.Material) > 0 {
				return bad("key version %s is kept in a PKCS#11 token", kv.ID)
			}
			seen[kv.ID] = true
			current = current || kv.ID == k.Key.CurrentVersion
		}
		if !current {
			return bad("key %s has no current version", k.Key.ID)
		}
	}
	return nil
}

// PrepareVaultReplicas checks the vault replicas a source region sent and
// imports the material this region does not hold yet. A vault that cannot
// be applied (malformed, a vault of this region or of another source has
// its OCID, material that does not import) is in Failed; the rest is ready
// for ApplyVaultReplicas.
func (s *Service) PrepareVaultReplicas(ctx context.Context, sourceRegion string, items []ReplicaVault) (*VaultBatch, error) {
	b := &VaultBatch{source: sourceRegion, Failed: map[string]error{}}
	held := map[string]map[string]KeyVersion{} // vault -> version id -> held version
	err := s.st.View(ctx, func(r store.Reader) error {
		clear(held)
		for i := range items {
			it := &items[i]
			if err := checkReplicaVault(it); err != nil {
				b.Failed[it.Vault.ID] = err
				continue
			}
			old, err := getVault(r, it.Vault.ID)
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := replicaOf(&old, sourceRegion); err != nil {
				b.Failed[it.Vault.ID] = err
				continue
			}
			m := map[string]KeyVersion{}
			for _, k := range it.Keys {
				vs, err := listVersions(r, k.Key.ID)
				if err != nil {
					return err
				}
				for _, v := range vs {
					m[v.ID] = v
				}
			}
			held[it.Vault.ID] = m
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if b.Failed[it.Vault.ID] != nil {
			continue
		}
		p := preparedVault{item: it, blobs: map[string][]byte{}}
		if err := s.importReplica(ctx, &p, held[it.Vault.ID]); err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind == errs.Internal {
				return nil, err
			}
			b.Failed[it.Vault.ID] = err
			continue
		}
		b.items = append(b.items, p)
	}
	return b, nil
}

// replicaOf refuses to overwrite a vault that is not a replica from source.
func replicaOf(old *Vault, source string) error {
	switch {
	case old.IsPrimary():
		return errs.E(errs.Conflict, "a vault of this region has the OCID %s", old.ID)
	case old.SourceRegion != source:
		return errs.E(errs.Conflict, "vault %s is a replica from region %s, not %s", old.ID, old.SourceRegion, source)
	}
	return nil
}

// importReplica finds, for every live version, the blob this region holds
// or imports the material sent; the public key must be the source's.
func (s *Service) importReplica(ctx context.Context, p *preparedVault, held map[string]KeyVersion) error {
	for _, k := range p.item.Keys {
		for _, bv := range k.Versions {
			v := bv.Version
			if v.State == KeyDeleted || len(bv.Material) == 0 {
				continue
			}
			if h, ok := held[v.ID]; ok && len(h.Blob) > 0 && h.Flavour == v.Flavour {
				p.blobs[v.ID] = h.Blob
				continue
			}
			prot, err := s.forFlavour(v.Flavour)
			if err != nil {
				return err
			}
			m, err := prot.Import(ctx, v.ID, k.Key.Shape, keyprotect.NewSecretMaterial(bytes.Clone(bv.Material)))
			if err != nil {
				return fmt.Errorf("kms: import the replica of key version %s: %w", v.ID, err)
			}
			if !bytes.Equal(m.PublicKey, v.PublicKey) {
				return errs.E(errs.Invalid, "the replica of key version %s does not match its public key", v.ID)
			}
			p.blobs[v.ID] = m.Blob
		}
	}
	return nil
}

// VaultApplyResult counts what ApplyVaultReplicas wrote.
type VaultApplyResult struct {
	Applied, Deleted int
}

// ApplyVaultReplicas writes a prepared batch in tx: each vault with the
// source's OCID in compartmentID (this region's, as the source's
// compartments are not this region's), its keys and versions, marked with
// generation for FinishVaultResync. A dropped vault is deleted (DELETED,
// material gone).
func (s *Service) ApplyVaultReplicas(tx store.Tx, b *VaultBatch, compartmentID string, generation uint64) (VaultApplyResult, error) {
	var res VaultApplyResult
	b.stale, b.written, b.unusable = b.stale[:0], b.written[:0], b.unusable[:0]
	now := s.now().UTC()
	for _, p := range b.items {
		it := p.item
		old, err := getVault(tx, it.Vault.ID)
		exists := err == nil
		if err != nil && !errs.Is(err, errs.NotFound) {
			return res, err
		}
		if exists {
			if err := replicaOf(&old, b.source); err != nil {
				return res, err
			}
		}
		if it.Dropped {
			if exists && old.State != VaultDeleted {
				if err := s.deleteVaultReplica(tx, b, old, it.ReplicationID, generation, now); err != nil {
					return res, err
				}
			}
			res.Deleted++
			continue
		}
		v := it.Vault
		v.Replication, v.SourceRegion, v.ReplicaOpID = nil, b.source, it.ReplicationID
		v.ReplicaGeneration, v.ReplicaApplied = generation, now
		v.CompartmentID = compartmentID
		if exists {
			v.Slot = old.Slot
		} else {
			if v.Slot, err = nextSlot(tx); err != nil {
				return res, err
			}
			if err := tx.Put(prefixSlot+strconv.Itoa(v.Slot), []byte(v.ID)); err != nil {
				return res, err
			}
		}
		v.ETag = etag.New()
		if err := putVault(tx, v); err != nil {
			return res, err
		}
		ch := changefeed.Created
		if exists {
			ch = vaultStateChange(old.State, v.State)
		}
		if err := noteVault(tx, v, ch); err != nil {
			return res, err
		}
		for _, bk := range it.Keys {
			if err := s.applyReplicaKey(tx, b, v, bk, p.blobs); err != nil {
				return res, err
			}
		}
		b.written = append(b.written, v)
		res.Applied++
	}
	return res, nil
}

func (s *Service) applyReplicaKey(tx store.Tx, b *VaultBatch, v Vault, bk backupKey, blobs map[string][]byte) error {
	k := bk.Key
	k.CompartmentID, k.SourceRegion = v.CompartmentID, b.source
	if k.State != KeyEnabled {
		b.unusable = append(b.unusable, k.ID)
	}
	old, err := getKey(tx, k.ID)
	switch {
	case err == nil && old.VaultID != v.ID:
		return errs.E(errs.Conflict, "key %s exists in another vault of this region", k.ID)
	case err == nil:
		k.ETag = old.ETag
		if !reflect.DeepEqual(old, k) {
			k.ETag = etag.New()
			if err := putKey(tx, k); err != nil {
				return err
			}
		}
	case errs.Is(err, errs.NotFound):
		if err := tx.Put(prefixVaultKey+v.ID+"/"+k.ID, nil); err != nil {
			return err
		}
		k.ETag = etag.New()
		if err := putKey(tx, k); err != nil {
			return err
		}
	default:
		return err
	}
	for _, bv := range bk.Versions {
		ver := bv.Version
		ver.Blob = blobs[ver.ID]
		if ver.State == KeyDeleted {
			ver.Blob = nil
		}
		held, err := getVersion(tx, k.ID, ver.ID)
		if err != nil && !errs.Is(err, errs.NotFound) {
			return err
		}
		if err == nil {
			if len(held.Blob) > 0 && !bytes.Equal(held.Blob, ver.Blob) {
				b.stale = append(b.stale, held.material(k.Shape))
			}
			ver.ETag = held.ETag
			if reflect.DeepEqual(held, ver) {
				continue
			}
		}
		ver.ETag = etag.New()
		if err := putVersion(tx, ver); err != nil {
			return err
		}
	}
	return nil
}

// deleteVaultReplica ends a replica vault: it, its keys and their versions
// are DELETED and the material is destroyed once the batch commits.
func (s *Service) deleteVaultReplica(tx store.Tx, b *VaultBatch, v Vault, opID string, generation uint64, now time.Time) error {
	keys, err := vaultKeys(tx, v.ID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		b.unusable = append(b.unusable, k.ID)
		vs, err := listVersions(tx, k.ID)
		if err != nil {
			return err
		}
		for _, ver := range vs {
			if ver.State == KeyDeleted && len(ver.Blob) == 0 {
				continue
			}
			if len(ver.Blob) > 0 {
				b.stale = append(b.stale, ver.material(k.Shape))
			}
			ver.State, ver.Blob, ver.ETag = KeyDeleted, nil, etag.New()
			if ver.TimeOfDeletion == nil {
				ver.TimeOfDeletion = &now
			}
			if err := putVersion(tx, ver); err != nil {
				return err
			}
		}
		if k.State != KeyDeleted {
			k.State, k.ETag = KeyDeleted, etag.New()
			if k.TimeOfDeletion == nil {
				k.TimeOfDeletion = &now
			}
			if err := putKey(tx, k); err != nil {
				return err
			}
		}
	}
	from := v.State
	v.State, v.ReplicaOpID, v.ReplicaGeneration, v.ReplicaApplied = VaultDeleted, opID, generation, now
	if v.TimeOfDeletion == nil {
		v.TimeOfDeletion = &now
	}
	v.ETag = etag.New()
	if err := putVault(tx, v); err != nil {
		return err
	}
	b.written = append(b.written, v)
	return noteVault(tx, v, vaultStateChange(from, v.State))
}

// FinishVaultResync deletes, in tx, the replica vaults from b's source
// that a full resynchronisation of generation did not write: the source
// no longer replicates them here. Vaults b failed to apply are kept. The
// material goes with b's.
func (s *Service) FinishVaultResync(tx store.Tx, b *VaultBatch, generation uint64) (int, error) {
	all, err := record.List[Vault](tx, prefixVault)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range all {
		if v.SourceRegion != b.source || v.State == VaultDeleted || v.ReplicaGeneration >= generation || b.Failed[v.ID] != nil {
			// A vault that failed to apply is kept as it was: the source
			// named it.
			continue
		}
		if err := s.deleteVaultReplica(tx, b, v, v.ReplicaOpID, generation, s.now().UTC()); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Committed finishes a batch once its transaction committed: material no
// longer used is destroyed and cached handles of it dropped. It returns the
// vaults written, whose endpoints the server opens.
func (s *Service) Committed(ctx context.Context, b *VaultBatch) ([]Vault, error) {
	var first error
	for _, m := range b.stale {
		if err := s.destroy(ctx, m); err != nil && first == nil {
			first = fmt.Errorf("kms: destroy replaced replica material of key version %s: %w", m.id, err)
		}
	}
	for _, id := range b.unusable {
		s.dataKeys.Load().drop(id)
	}
	return b.written, first
}
