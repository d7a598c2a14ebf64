package replication

import (
	"context"
	"fmt"
	"net/url"
	"slices"

	"github.com/coffer-vault/coffer/internal/changefeed"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
)

// Vault replicas ride the same pulls as secrets (docs/replication.md#vault-replicas):
// the source's feed has KEY and VAULT entries for the vaults replicated to
// the puller, each answer carries those vaults whole (kms.ReplicaVault),
// the last page of a resynchronisation carries every one, and the replica
// applies them in the transaction of its position, with the secrets of
// the same answer. Each pull acknowledges the replication operations the
// replica applied (kms.VaultAck), so the source can report them REPLICATED.

// MaxVaultAcks bounds the acknowledgements of one pull: the replica names
// its most recently applied vault replicas.
const MaxVaultAcks = 16

// maxEndpoint bounds an endpoint URL in an acknowledgement.
const maxEndpoint = 255

// VaultReplicas is what the replica side needs of this region for vault
// replicas.
type VaultReplicas struct {
	KMS *kms.Service
	// Compartment is the compartment replica vaults go into: this
	// region's tenancy (the source's compartments are not this region's).
	Compartment func(ctx context.Context) (string, error)
	// Endpoints gives a vault's endpoints in this region.
	Endpoints func(kms.Vault) (management, crypto string)
	// Opened is told about each vault replica written, after the commit,
	// so its endpoints serve.
	Opened func(ctx context.Context, v kms.Vault) error
}

// checkAcks validates a pull's acknowledgements.
func checkAcks(acks []kms.VaultAck) error {
	if len(acks) > MaxVaultAcks {
		return errs.E(errs.Invalid, "vaults names more than %d acknowledgements", MaxVaultAcks)
	}
	for _, a := range acks {
		if !ocid.Valid(a.VaultID) || ocid.TypeOf(a.VaultID) != ocid.Vault {
			return errs.E(errs.Invalid, "vaults[].vaultId must be vault OCIDs")
		}
		if !ocid.Valid(a.ReplicationID) || ocid.TypeOf(a.ReplicationID) != ocid.VaultReplication {
			return errs.E(errs.Invalid, "vaults[].replicationId must be vault replication OCIDs")
		}
		for _, e := range []string{a.ManagementEndpoint, a.CryptoEndpoint} {
			if e == "" {
				continue
			}
			u, err := url.Parse(e)
			if len(e) > maxEndpoint || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errs.E(errs.Invalid, "vaults[] endpoints must be http or https URLs of at most %d bytes", maxEndpoint)
			}
		}
	}
	return nil
}

// replicatedVaults reports, of the vaults named by the KEY and VAULT
// entries of es, those replicated (or whose replica was deleted) to
// replica, in one read.
func (s *Source) replicatedVaults(ctx context.Context, replica string, es []changefeed.Entry) (map[string]bool, error) {
	if s.KMS == nil {
		return nil, nil
	}
	var ids []string
	for _, e := range es {
		if (e.Kind == changefeed.KindKey || e.Kind == changefeed.KindVault) && !slices.Contains(ids, e.VaultID) {
			ids = append(ids, e.VaultID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return s.KMS.VaultsReplicatedTo(ctx, replica, ids)
}

// ackVaults records the replica's acknowledgements, before the pull
// waits for changes.
func (s *Source) ackVaults(ctx context.Context, replica string, req PullRequest) error {
	if s.KMS == nil || len(req.Vaults) == 0 {
		return nil
	}
	if err := s.KMS.AckVaultReplicas(ctx, replica, req.Vaults); err != nil {
		return fmt.Errorf("replication: recording the acknowledgements of %s: %w", replica, err)
	}
	return nil
}

// pullVaults returns the vaults an answer carries: those of entries, and
// for the last page of a resynchronisation (the one that ends it, so the
// replica deletes what it did not name in the same transaction) every
// vault replicated to replica.
func (s *Source) pullVaults(ctx context.Context, replica string, req PullRequest, resp *PullResponse, entries []changefeed.Entry) ([]string, error) {
	if s.KMS == nil {
		return nil, nil
	}
	if req.Resync && resp.Next == "" {
		return s.KMS.ReplicatedVaultIDs(ctx, replica)
	}
	var ids []string
	for _, e := range entries {
		if e.Kind != changefeed.KindSecret && !slices.Contains(ids, e.VaultID) {
			ids = append(ids, e.VaultID)
		}
	}
	return ids, nil
}

// vaultAcks are the acknowledgements a pull from src carries.
func (r *Replicator) vaultAcks(ctx context.Context, src string) ([]kms.VaultAck, error) {
	if r.Vaults == nil {
		return nil, nil
	}
	return r.Vaults.KMS.ReplicaAcks(ctx, src, MaxVaultAcks, r.Vaults.Endpoints)
}

// vaultApply is an answer's vault replicas on their way into the store.
type vaultApply struct {
	r           *Replicator
	src         string
	batch       *kms.VaultBatch
	compartment string
	// applied counts the vault replicas the transaction wrote or deleted.
	applied int
}

// count is the number of vault replicas written or deleted (0 for none).
func (a *vaultApply) count() int {
	if a == nil {
		return 0
	}
	return a.applied
}

// prepareVaults checks and imports an answer's vault replicas before the
// transaction.
func (r *Replicator) prepareVaults(ctx context.Context, src string, vaults []kms.ReplicaVault, finish bool) (*vaultApply, error) {
	if r.Vaults == nil || (len(vaults) == 0 && !finish) {
		return nil, nil
	}
	b, err := r.Vaults.KMS.PrepareVaultReplicas(ctx, src, vaults)
	if err != nil {
		return nil, fmt.Errorf("replication: preparing the vault replicas of %s: %w", src, err)
	}
	for id, why := range b.Failed {
		r.log().Warn("replication: a vault replica could not be applied; it is applied again with its next change or resynchronisation", "source", src, "vault", id, "err", why)
	}
	comp, err := r.Vaults.Compartment(ctx)
	if err != nil {
		return nil, fmt.Errorf("replication: the compartment of vault replicas: %w", err)
	}
	return &vaultApply{r: r, src: src, batch: b, compartment: comp}, nil
}

// apply writes the vault replicas in tx and, at the end of a
// resynchronisation, deletes those the source no longer names.
func (a *vaultApply) apply(tx store.Tx, generation uint64, finish bool) error {
	if a == nil {
		return nil
	}
	res, err := a.r.Vaults.KMS.ApplyVaultReplicas(tx, a.batch, a.compartment, generation)
	if err != nil {
		return err
	}
	a.applied = res.Applied + res.Deleted
	if finish {
		n, err := a.r.Vaults.KMS.FinishVaultResync(tx, a.batch, generation)
		if err != nil {
			return err
		}
		a.applied += n
	}
	return nil
}

// committed destroys replaced material and opens the endpoints of the
// vaults written.
func (a *vaultApply) committed(ctx context.Context) {
	if a == nil {
		return
	}
	written, err := a.r.Vaults.KMS.Committed(ctx, a.batch)
	if err != nil {
		a.r.log().Warn("replication: replaced vault replica material was not destroyed", "source", a.src, "err", err)
	}
	for _, v := range written {
		if a.r.Vaults.Opened == nil {
			break
		}
		if err := a.r.Vaults.Opened(ctx, v); err != nil {
			a.r.log().Warn("replication: the endpoints of a vault replica did not open", "source", a.src, "vault", v.ID, "err", err)
		}
	}
}
