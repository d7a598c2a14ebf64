package kms

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/etag"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
)

// Vault replicas (OCI's CreateVaultReplica, DeleteVaultReplica,
// ListVaultReplicas, GetReplicationStatus; docs/replication.md#vault-replicas).
//
// A vault of this region may have a replica in one peer region. The source
// vault records it (Vault.Replication) with the replicationId of the last
// create or delete; package replication carries the vault, its keys, every
// version and its material to the replica region (ExportVaultReplicas is the
// backup code's serialisation), which writes them with the same OCIDs and
// the material imported again under its own barrier (PrepareVaultReplicas,
// ApplyVaultReplicas), in the transaction of its replication position. The
// replica region acknowledges what it applied in its next pull
// (AckVaultReplicas), which turns the operation's status from REPLICATING
// to REPLICATED. A replica vault and its keys refuse every management write
// (notReplicaVault) and serve the crypto operations, so ciphertext made at
// the source opens at the replica.

// Statuses of a replication operation (GetReplicationStatus).
const (
	ReplicationReplicating = "REPLICATING"
	ReplicationReplicated  = "REPLICATED"
)

// Statuses of a vault replica (ListVaultReplicas).
const (
	ReplicaCreating = "CREATING"
	ReplicaCreated  = "CREATED"
	ReplicaDeleting = "DELETING"
	ReplicaDeleted  = "DELETED"
)

// maxReplicationOps bounds the operations a vault remembers for
// GetReplicationStatus.
const maxReplicationOps = 16

// VaultReplication is a source vault's replica: one region at most.
type VaultReplication struct {
	Region string `json:"region"`
	// ReplicationID names the last create or delete of the replica.
	ReplicationID string `json:"replicationId"`
	// Deleted says the last operation deletes the replica.
	Deleted bool `json:"deleted,omitempty"`
	// Status is the last operation's: REPLICATING until the replica
	// region acknowledges it, then REPLICATED.
	Status string `json:"status"`
	// The replica's endpoints in its region, as it reported them.
	ManagementEndpoint string `json:"managementEndpoint,omitempty"`
	CryptoEndpoint     string `json:"cryptoEndpoint,omitempty"`
	// Ops are the recent operations, oldest first.
	Ops []ReplicationOp `json:"ops,omitempty"`
}

// ReplicationOp is one create or delete of a vault replica.
type ReplicationOp struct {
	ID          string    `json:"id"`
	Region      string    `json:"region"`
	Delete      bool      `json:"delete,omitempty"`
	Status      string    `json:"status"`
	TimeCreated time.Time `json:"timeCreated"`
}

// ReplicaStatus is the replica's status as ListVaultReplicas reports it.
func (r *VaultReplication) ReplicaStatus() string {
	switch {
	case r.Deleted && r.Status == ReplicationReplicated:
		return ReplicaDeleted
	case r.Deleted:
		return ReplicaDeleting
	case r.Status == ReplicationReplicated:
		return ReplicaCreated
	}
	return ReplicaCreating
}

// IsPrimary reports whether v is a vault of this region (the source of any
// replica), not a replica of another region's vault.
func (v *Vault) IsPrimary() bool { return v.SourceRegion == "" }

// ReplicationID is the replicationId the vault, its keys and versions
// report: at the source, the last operation on its replica; at a replica,
// the operation it last applied; "" for a vault never replicated.
func (v *Vault) ReplicationID() string {
	if v.Replication != nil {
		return v.Replication.ReplicationID
	}
	return v.ReplicaOpID
}

// notReplicaVault refuses a management write in a replica vault: it follows
// its source only. The message is the one secrets give for their replicas.
func notReplicaVault(v *Vault) error {
	if v.SourceRegion == "" {
		return nil
	}
	return errs.E(errs.Invalid, "vault %s is a read-only replica of a vault in region %s; change it there and the change reaches this replica", v.ID, v.SourceRegion)
}

// notReplicaKeyVault is notReplicaVault for a key write: it reads the key's
// vault in r.
func notReplicaKeyVault(r store.Reader, vaultID string) error {
	v, err := loadVault(r, vaultID)
	if err != nil {
		return err
	}
	return notReplicaVault(v)
}

// SetPeers names the regions a vault may be replicated to (the server's
// peers); none means CreateVaultReplica is refused.
func (s *Service) SetPeers(regions []string) {
	s.protMu.Lock()
	defer s.protMu.Unlock()
	s.peers = slices.Clone(regions)
}

func (s *Service) peerRegions() []string {
	s.protMu.RLock()
	defer s.protMu.RUnlock()
	return s.peers
}

func (s *Service) checkReplicaRegion(region string) error {
	peers := s.peerRegions()
	switch {
	case region == "":
		return errs.E(errs.Missing, "replicaRegion is required")
	case region == s.region:
		return errs.E(errs.Invalid, "replicaRegion %s is this region; a replica must be in another region", region)
	case len(peers) == 0:
		return errs.E(errs.Invalid, "replicaRegion %s is not a peer of this region: this server has no peers (--peer REGION=URL)", strconv.QuoteToASCII(region))
	case !slices.Contains(peers, region):
		return errs.E(errs.Invalid, "replicaRegion %s is not a peer of this region (peers: %v)", strconv.QuoteToASCII(region), peers)
	}
	return nil
}

// CreateVaultReplica replicates an ACTIVE vault to region, a peer, and
// returns the operation's replicationId. A vault replicated to region
// already is a no-op (its current replicationId); one replicated to another
// region is a 409. A vault with a key kept in a PKCS#11 token is refused:
// that material cannot leave the token.
func (s *Service) CreateVaultReplica(ctx context.Context, vaultID, region, ifMatch string) (string, error) {
	if err := s.checkReplicaRegion(region); err != nil {
		return "", err
	}
	return s.replicaOp(ctx, "create replica", vaultID, region, ifMatch, false, func(tx store.Tx, v *Vault) (string, error) {
		if r := v.Replication; r != nil {
			switch {
			case !r.Deleted && r.Region == region:
				return r.ReplicationID, nil
			case !r.Deleted:
				return "", errs.E(errs.Conflict, "vault %s is replicated to region %s already; a vault has one replica (delete it first)", v.ID, r.Region)
			case r.Region != region && r.Status != ReplicationReplicated:
				return "", errs.E(errs.Conflict, "vault %s is still deleting its replica in region %s; try again when that replication is REPLICATED", v.ID, r.Region)
			}
		}
		if v.State != VaultActive {
			return "", errs.E(errs.IncorrectState, "vault %s is %s; only an ACTIVE vault can be replicated", v.ID, v.State)
		}
		return "", checkReplicable(tx, v.ID)
	})
}

// replicaOp runs one replica operation on vaultID in a transaction: the
// vault is loaded and refused at a replica or on a stale if-match; plan
// refuses the operation or names the one that stands already (a no-op);
// otherwise a new operation is recorded, the vault stored and its change
// noted in the feed. It returns the operation's replicationId.
func (s *Service) replicaOp(ctx context.Context, what, vaultID, region, ifMatch string, del bool,
	plan func(tx store.Tx, v *Vault) (existing string, err error)) (string, error) {
	var id string
	err := s.st.Update(ctx, func(tx store.Tx) error {
		v, err := getVault(tx, vaultID)
		if err != nil {
			return err
		}
		if err := notReplicaVault(&v); err != nil {
			return err
		}
		if !etag.Matches(ifMatch, v.ETag) {
			return errs.E(errs.PreconditionFailed, "the if-match etag does not match vault %s", vaultID)
		}
		if id, err = plan(tx, &v); err != nil || id != "" {
			return err
		}
		id = s.newReplicationOp(&v, region, del)
		v.ETag = etag.New()
		if err := putVault(tx, v); err != nil {
			return err
		}
		return noteVault(tx, v, changefeed.Updated)
	})
	if err != nil {
		return "", fmt.Errorf("kms: %s of vault %s: %w", what, vaultID, err)
	}
	return id, nil
}

// checkReplicable refuses a vault that holds material which cannot leave
// this region's protection (a PKCS#11 token).
func checkReplicable(r store.Reader, vaultID string) error {
	keys, err := vaultKeys(r, vaultID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.State == KeyDeleted {
			continue
		}
		vs, err := listVersions(r, k.ID)
		if err != nil {
			return err
		}
		for _, ver := range vs {
			if ver.Flavour == flavourHSM && len(ver.Blob) > 0 {
				return errs.E(errs.Invalid, "key %s of vault %s is kept in the PKCS#11 HSM, whose material cannot leave the token: the vault cannot be replicated (schedule the key's deletion first)", k.ID, vaultID)
			}
		}
	}
	return nil
}

func (s *Service) newReplicationOp(v *Vault, region string, del bool) string {
	id := ocid.New(ocid.VaultReplication, s.region)
	r := v.Replication
	if r == nil {
		r = &VaultReplication{}
		v.Replication = r
	}
	if r.Region != region {
		r.ManagementEndpoint, r.CryptoEndpoint = "", ""
	}
	r.Region, r.ReplicationID, r.Deleted, r.Status = region, id, del, ReplicationReplicating
	r.Ops = append(r.Ops, ReplicationOp{ID: id, Region: region, Delete: del, Status: ReplicationReplicating, TimeCreated: s.now().UTC()})
	if len(r.Ops) > maxReplicationOps {
		r.Ops = slices.Clone(r.Ops[len(r.Ops)-maxReplicationOps:])
	}
	return id
}

// DeleteVaultReplica deletes the vault's replica in region and returns the
// operation's replicationId; a replica deleted already is a no-op.
func (s *Service) DeleteVaultReplica(ctx context.Context, vaultID, region, ifMatch string) (string, error) {
	if region == "" {
		return "", errs.E(errs.Missing, "replicaRegion is required")
	}
	return s.replicaOp(ctx, "delete replica", vaultID, region, ifMatch, true, func(_ store.Tx, v *Vault) (string, error) {
		switch r := v.Replication; {
		case r == nil || r.Region != region:
			return "", errs.E(errs.Invalid, "vault %s has no replica in region %s", v.ID, strconv.QuoteToASCII(region))
		case r.Deleted:
			return r.ReplicationID, nil
		}
		return "", nil
	})
}

// VaultReplica is one replica as ListVaultReplicas reports it. Endpoints
// are empty until the replica region reports them.
type VaultReplica struct {
	Region             string
	Status             string
	ManagementEndpoint string
	CryptoEndpoint     string
}

// ListVaultReplicas lists the replicas of v: at the source, its replica (if
// it has or had one); at a replica, the replica itself, whose endpoints the
// caller fills in.
func (s *Service) ListVaultReplicas(v Vault) []VaultReplica {
	if !v.IsPrimary() {
		st := ReplicaCreated
		if v.State == VaultDeleted {
			st = ReplicaDeleted
		}
		return []VaultReplica{{Region: s.region, Status: st}}
	}
	r := v.Replication
	if r == nil {
		return []VaultReplica{}
	}
	return []VaultReplica{{Region: r.Region, Status: r.ReplicaStatus(), ManagementEndpoint: r.ManagementEndpoint, CryptoEndpoint: r.CryptoEndpoint}}
}

// ReplicationStatus is the status of one replication operation in one region.
type ReplicationStatus struct {
	Region string
	Status string
}

// GetReplicationStatus reports the replication operation id of v. At a
// replica, the operation it applied last is REPLICATED in this region.
func (s *Service) GetReplicationStatus(v Vault, id string) (ReplicationStatus, error) {
	if !v.IsPrimary() && v.ReplicaOpID == id {
		return ReplicationStatus{Region: s.region, Status: ReplicationReplicated}, nil
	}
	if r := v.Replication; r != nil {
		for _, op := range r.Ops {
			if op.ID == id {
				return ReplicationStatus{Region: op.Region, Status: op.Status}, nil
			}
		}
	}
	return ReplicationStatus{}, errs.E(errs.NotFound, "replication %s of vault %s not found or not authorized", id, v.ID)
}

// VaultsReplicatedTo reports which of the vaults ids are, or were until
// their replica's deletion there, replicated to region: whether region must
// hear of their changes and of their keys'. One read.
func (s *Service) VaultsReplicatedTo(ctx context.Context, region string, ids []string) (map[string]bool, error) {
	ok := map[string]bool{}
	err := s.cache.Read(ctx, func(r store.Reader) error {
		clear(ok)
		for _, id := range ids {
			v, err := loadVault(r, id)
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if v.Replication != nil && v.Replication.Region == region {
				ok[id] = true
			}
		}
		return nil
	})
	return ok, err
}

// ReplicatedVaultIDs lists the vaults replicated to region (their replicas
// deleted or not): what a full resynchronisation sends.
func (s *Service) ReplicatedVaultIDs(ctx context.Context, region string) ([]string, error) {
	all, err := s.AllVaults(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, v := range all {
		if v.Replication != nil && v.Replication.Region == region {
			ids = append(ids, v.ID)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// ReplicaVault is a source vault as its replica region receives it: the
// vault record, and every key with every version and its material (the
// backup's serialisation). It never prints its material; call Wipe when
// done.
type ReplicaVault struct {
	Vault         Vault  `json:"vault"`
	ReplicationID string `json:"replicationId"`
	// Dropped says the replica is to be deleted; only Vault.ID is set.
	Dropped bool        `json:"dropped,omitempty"`
	Keys    []backupKey `json:"keys,omitempty"`
}

// LogValue names the vault only.
func (rv ReplicaVault) LogValue() slog.Value {
	return slog.GroupValue(slog.String("vault", rv.Vault.ID), slog.Int("keys", len(rv.Keys)))
}

// Format names the vault only, for every fmt verb.
func (rv ReplicaVault) Format(f fmt.State, _ rune) {
	_, _ = fmt.Fprintf(f, "ReplicaVault{%s, %d keys}", rv.Vault.ID, len(rv.Keys))
}

// WipeVaults clears the material of every vault in vs.
func WipeVaults(vs []ReplicaVault) {
	for i := range vs {
		(&backupContent{Keys: vs[i].Keys}).wipe()
	}
}

// ExportVaultReplicas returns what region needs of each vault in ids: the
// vault, its keys, their versions and material; a vault whose replica there
// was deleted comes back Dropped, one never replicated there is left out.
// Call WipeVaults when done.
func (s *Service) ExportVaultReplicas(ctx context.Context, region string, ids []string) ([]ReplicaVault, error) {
	var out []ReplicaVault
	var versions [][][]KeyVersion
	err := s.st.View(ctx, func(r store.Reader) error {
		out, versions = out[:0], versions[:0]
		for _, id := range ids {
			v, err := getVault(r, id)
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			rep := v.Replication
			if rep == nil || rep.Region != region {
				continue
			}
			if rep.Deleted {
				out = append(out, ReplicaVault{Vault: Vault{ID: v.ID}, ReplicationID: rep.ReplicationID, Dropped: true})
				versions = append(versions, nil)
				continue
			}
			item := ReplicaVault{Vault: v, ReplicationID: rep.ReplicationID}
			item.Vault.Replication = nil
			keys, err := vaultKeys(r, id)
			if err != nil {
				return err
			}
			var vvs [][]KeyVersion
			for _, k := range keys {
				vs, err := listVersions(r, k.ID)
				if err != nil {
					return err
				}
				item.Keys = append(item.Keys, backupKey{Key: k})
				vvs = append(vvs, vs)
			}
			out = append(out, item)
			versions = append(versions, vvs)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		for j := range out[i].Keys {
			k := out[i].Keys[j].Key
			if out[i].Keys[j].Versions, err = s.backupVersions(ctx, k, versions[i][j]); err != nil {
				WipeVaults(out)
				return nil, fmt.Errorf("kms: export vault %s to region %s: %w", out[i].Vault.ID, region, err)
			}
		}
	}
	return out, nil
}

// VaultAck is a replica region's word that it applied a vault's
// replication operation, with the replica's endpoints there.
type VaultAck struct {
	VaultID            string `json:"vaultId"`
	ReplicationID      string `json:"replicationId"`
	ManagementEndpoint string `json:"managementEndpoint,omitempty"`
	CryptoEndpoint     string `json:"cryptoEndpoint,omitempty"`
}

// AckVaultReplicas records what region acknowledged: each named operation
// (and every earlier one of that region) is REPLICATED. Acks of vaults not
// replicated to region are ignored. The acknowledgement changes no etag and
// is no change of the feed.
func (s *Service) AckVaultReplicas(ctx context.Context, region string, acks []VaultAck) error {
	var due []VaultAck
	err := s.cache.Read(ctx, func(r store.Reader) error {
		due = due[:0]
		for _, a := range acks {
			v, err := loadVault(r, a.VaultID)
			if errs.Is(err, errs.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if ackChanges(v, region, a) {
				due = append(due, a)
			}
		}
		return nil
	})
	if err != nil || len(due) == 0 {
		return err
	}
	return s.st.Update(ctx, func(tx store.Tx) error {
		for _, a := range due {
			v, err := getVault(tx, a.VaultID)
			if err != nil {
				return err
			}
			if !ackChanges(&v, region, a) {
				continue
			}
			applyAck(&v, region, a)
			if err := putVault(tx, v); err != nil {
				return err
			}
		}
		return nil
	})
}

func ackChanges(v *Vault, region string, a VaultAck) bool {
	cp := *v
	if cp.Replication == nil {
		return false
	}
	r := *cp.Replication
	r.Ops = slices.Clone(r.Ops)
	cp.Replication = &r
	applyAck(&cp, region, a)
	return !sameReplication(v.Replication, cp.Replication)
}

func sameReplication(a, b *VaultReplication) bool {
	return a.Status == b.Status && a.ManagementEndpoint == b.ManagementEndpoint && a.CryptoEndpoint == b.CryptoEndpoint &&
		slices.Equal(a.Ops, b.Ops)
}

func applyAck(v *Vault, region string, a VaultAck) {
	r := v.Replication
	if r == nil || r.Region != region {
		return
	}
	at := slices.IndexFunc(r.Ops, func(op ReplicationOp) bool { return op.ID == a.ReplicationID })
	if at < 0 {
		return
	}
	for i := range r.Ops[:at+1] {
		if r.Ops[i].Region == region {
			r.Ops[i].Status = ReplicationReplicated
		}
	}
	if a.ReplicationID == r.ReplicationID {
		r.Status = ReplicationReplicated
		if !r.Deleted {
			r.ManagementEndpoint, r.CryptoEndpoint = a.ManagementEndpoint, a.CryptoEndpoint
		}
	}
}

// noteVault appends the change feed's entry for a vault change.
func noteVault(tx store.Tx, v Vault, ch changefeed.Change) error {
	_, err := changefeed.Append(tx, changefeed.Entry{
		Kind: changefeed.KindVault, ID: v.ID, CompartmentID: v.CompartmentID, VaultID: v.ID,
		Change: ch, Time: time.Now(),
	})
	if err != nil {
		return fmt.Errorf("kms: record the change of vault %s: %w", v.ID, err)
	}
	return nil
}

// vaultStateChange tells a vault write's change from its states.
func vaultStateChange(from, to string) changefeed.Change {
	switch {
	case from == to:
		return changefeed.Updated
	case to == VaultDeleted:
		return changefeed.Deleted
	case to == VaultPendingDeletion:
		return changefeed.DeletionScheduled
	case from == VaultPendingDeletion:
		return changefeed.DeletionCancelled
	}
	return changefeed.Updated
}

// ReplicaAcks returns the acknowledgements this region owes sourceRegion:
// its replica vaults from there, the most recently applied first, at most
// limit. endpoints gives a vault's endpoints in this region.
func (s *Service) ReplicaAcks(ctx context.Context, sourceRegion string, limit int, endpoints func(Vault) (string, string)) ([]VaultAck, error) {
	all, err := s.AllVaults(ctx)
	if err != nil {
		return nil, err
	}
	all = slices.DeleteFunc(all, func(v Vault) bool { return v.SourceRegion != sourceRegion || v.ReplicaOpID == "" })
	slices.SortFunc(all, func(a, b Vault) int { return b.ReplicaApplied.Compare(a.ReplicaApplied) })
	out := []VaultAck{}
	for _, v := range all[:min(limit, len(all))] {
		a := VaultAck{VaultID: v.ID, ReplicationID: v.ReplicaOpID}
		if v.State != VaultDeleted && endpoints != nil {
			a.ManagementEndpoint, a.CryptoEndpoint = endpoints(v)
		}
		out = append(out, a)
	}
	return out, nil
}
