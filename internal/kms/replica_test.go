package kms_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/coffer-vault/coffer/internal/barrier"
	"github.com/coffer-vault/coffer/internal/clocktest"
	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/keyprotect/protecttest"
	"github.com/coffer-vault/coffer/internal/keyprotect/software"
	"github.com/coffer-vault/coffer/internal/kms"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
	"github.com/coffer-vault/coffer/internal/store/memstore"
)

// region is a KMS service with its store, as one region's deployment.
type region struct {
	name string
	s    *kms.Service
	st   store.Store
}

func newRegion(t testing.TB, name string, peers ...string) region {
	t.Helper()
	raw := memstore.New()
	root, _ := barrier.GenerateRootKey()
	b, err := barrier.Unseal(ctx, raw, root)
	if err != nil {
		t.Fatal(err)
	}
	st := b.Wrap(raw)
	s := kms.New(st, name, clocktest.New(time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)).Now)
	seal := protecttest.NewSealer()
	s.SetProtections(kms.Protections{Software: software.New(seal), HSM: software.NewEmulatedHSM(seal)})
	s.SetPeers(peers)
	return region{name: name, s: s, st: st}
}

// replicate carries what src exports for dst to dst, as one pull would.
func replicate(t *testing.T, src, dst region, generation uint64, ids ...string) kms.VaultApplyResult {
	t.Helper()
	items, err := src.s.ExportVaultReplicas(ctx, dst.name, ids)
	if err != nil {
		t.Fatal(err)
	}
	defer kms.WipeVaults(items)
	// Through JSON, as the envelope carries them.
	raw, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	var got []kms.ReplicaVault
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	defer kms.WipeVaults(got)
	b, err := dst.s.PrepareVaultReplicas(ctx, src.name, got)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Failed) > 0 {
		t.Fatalf("failed: %v", b.Failed)
	}
	var res kms.VaultApplyResult
	err = dst.st.Update(ctx, func(tx store.Tx) (err error) {
		res, err = dst.s.ApplyVaultReplicas(tx, b, "ocid1.tenancy.oc1..replica", generation)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.s.Committed(ctx, b); err != nil {
		t.Fatal(err)
	}
	return res
}

func wantKind(t *testing.T, err error, kind errs.Kind, msg string) {
	t.Helper()
	if !errs.Is(err, kind) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("got %v, want kind %v with %q", err, kind, msg)
	}
}

func TestVaultReplicaExportApply(t *testing.T) {
	a, b := newRegion(t, "eu-a-1", "eu-b-1"), newRegion(t, "eu-b-1", "eu-a-1")
	v, err := a.s.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: "ocid1.tenancy.oc1..t", DisplayName: "v", VaultType: kms.VaultTypeDefault})
	if err != nil {
		t.Fatal(err)
	}
	k, err := a.s.CreateKey(ctx, v.ID, kms.CreateKeyInput{CompartmentID: v.CompartmentID, DisplayName: "k", Shape: aes256, ProtectionMode: kms.ModeSoftware})
	if err != nil {
		t.Fatal(err)
	}

	_, err = a.s.CreateVaultReplica(ctx, v.ID, "eu-c-1", "")
	wantKind(t, err, errs.Invalid, "not a peer")
	_, err = a.s.CreateVaultReplica(ctx, v.ID, "eu-a-1", "")
	wantKind(t, err, errs.Invalid, "this region")
	op, err := a.s.CreateVaultReplica(ctx, v.ID, "eu-b-1", "")
	if err != nil || ocid.TypeOf(op) != ocid.VaultReplication {
		t.Fatalf("CreateVaultReplica = %q, %v", op, err)
	}
	again, err := a.s.CreateVaultReplica(ctx, v.ID, "eu-b-1", "")
	if err != nil || again != op {
		t.Fatalf("the same region again = %q, %v; want the no-op %q", again, err, op)
	}
	a.s.SetPeers([]string{"eu-b-1", "eu-c-1"})
	_, err = a.s.CreateVaultReplica(ctx, v.ID, "eu-c-1", "")
	wantKind(t, err, errs.Conflict, "replicated to region eu-b-1 already")

	src, _ := a.s.GetVault(ctx, v.ID)
	if st, _ := a.s.GetReplicationStatus(src, op); st.Status != kms.ReplicationReplicating {
		t.Fatalf("status before the replica applied = %+v", st)
	}
	if ok, _ := a.s.VaultsReplicatedTo(ctx, "eu-b-1", []string{v.ID, "ocid1.vault.oc1..none"}); !ok[v.ID] || len(ok) != 1 {
		t.Fatalf("VaultsReplicatedTo = %v", ok)
	}

	tgt, err := a.s.LoadCryptoTarget(ctx, v.ID, k.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	ct, _, err := a.s.Encrypt(ctx, tgt, "", []byte("canary-vault-replica"), nil)
	if err != nil {
		t.Fatal(err)
	}

	if res := replicate(t, a, b, 1, v.ID); res.Applied != 1 {
		t.Fatalf("applied %+v", res)
	}
	rv, err := b.s.GetVault(ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rv.IsPrimary() || rv.SourceRegion != "eu-a-1" || rv.ReplicationID() != op || rv.CompartmentID != "ocid1.tenancy.oc1..replica" || rv.State != kms.VaultActive {
		t.Fatalf("replica vault = %+v", rv)
	}
	rt, err := b.s.LoadCryptoTarget(ctx, v.ID, k.ID, kms.DecryptVersion("", ct))
	if err != nil {
		t.Fatal(err)
	}
	pt, _, err := b.s.Decrypt(ctx, rt, "", ct, nil)
	if err != nil || string(pt.Bytes()) != "canary-vault-replica" {
		t.Fatalf("decrypt at the replica: %v", err)
	}
	pt.Wipe()

	// Read-only for management.
	name := "x"
	_, err = b.s.UpdateVault(ctx, v.ID, kms.UpdateVaultInput{DisplayName: &name}, "")
	wantKind(t, err, errs.Invalid, "read-only replica of a vault in region eu-a-1")
	_, err = b.s.CreateKey(ctx, v.ID, kms.CreateKeyInput{CompartmentID: rv.CompartmentID, DisplayName: "k2", Shape: aes256, ProtectionMode: kms.ModeSoftware})
	wantKind(t, err, errs.Invalid, "read-only replica")
	_, err = b.s.DisableKey(ctx, v.ID, k.ID, "")
	wantKind(t, err, errs.Invalid, "read-only replica")
	_, err = b.s.CreateKeyVersion(ctx, v.ID, k.ID)
	wantKind(t, err, errs.Invalid, "read-only replica")
	_, err = b.s.ScheduleVaultDeletion(ctx, v.ID, nil, "")
	wantKind(t, err, errs.Invalid, "read-only replica")
	_, err = b.s.CreateVaultReplica(ctx, v.ID, "eu-a-1", "")
	wantKind(t, err, errs.Invalid, "read-only replica")

	// The replica's acknowledgement makes the operation REPLICATED.
	acks, err := b.s.ReplicaAcks(ctx, "eu-a-1", 16, func(kms.Vault) (string, string) { return "http://m", "http://c" })
	if err != nil || len(acks) != 1 || acks[0].ReplicationID != op {
		t.Fatalf("acks = %+v, %v", acks, err)
	}
	if err := a.s.AckVaultReplicas(ctx, "eu-b-1", acks); err != nil {
		t.Fatal(err)
	}
	src, _ = a.s.GetVault(ctx, v.ID)
	if st, _ := a.s.GetReplicationStatus(src, op); st.Status != kms.ReplicationReplicated || st.Region != "eu-b-1" {
		t.Fatalf("status after the ack = %+v", st)
	}
	if reps := a.s.ListVaultReplicas(src); len(reps) != 1 || reps[0].Status != kms.ReplicaCreated || reps[0].ManagementEndpoint != "http://m" {
		t.Fatalf("replicas = %+v", reps)
	}
	// An ack from another region changes nothing.
	if err := a.s.AckVaultReplicas(ctx, "eu-c-1", acks); err != nil {
		t.Fatal(err)
	}

	// A rotation reaches the replica; applying the same again is a no-op.
	kv, err := a.s.CreateKeyVersion(ctx, v.ID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	replicate(t, a, b, 1, v.ID)
	replicate(t, a, b, 1, v.ID)
	rk, err := b.s.GetKey(ctx, v.ID, k.ID)
	if err != nil || rk.CurrentVersion != kv.ID || rk.SourceRegion != "eu-a-1" {
		t.Fatalf("replica key = %+v, %v", rk, err)
	}

	// Deleting the replica.
	del, err := a.s.DeleteVaultReplica(ctx, v.ID, "eu-b-1", "")
	if err != nil || del == op {
		t.Fatalf("DeleteVaultReplica = %q, %v", del, err)
	}
	if again, _ := a.s.DeleteVaultReplica(ctx, v.ID, "eu-b-1", ""); again != del {
		t.Fatalf("a second delete = %q, want the no-op %q", again, del)
	}
	_, err = a.s.DeleteVaultReplica(ctx, v.ID, "eu-c-1", "")
	wantKind(t, err, errs.Invalid, "no replica in region")
	_, err = a.s.CreateVaultReplica(ctx, v.ID, "eu-c-1", "")
	wantKind(t, err, errs.Conflict, "still deleting")
	if res := replicate(t, a, b, 1, v.ID); res.Deleted != 1 {
		t.Fatalf("delete applied %+v", res)
	}
	rv, _ = b.s.GetVault(ctx, v.ID)
	rk, _ = b.s.GetKey(ctx, v.ID, k.ID)
	if rv.State != kms.VaultDeleted || rk.State != kms.KeyDeleted || rv.ReplicationID() != del {
		t.Fatalf("after delete: vault %s key %s op %s", rv.State, rk.State, rv.ReplicationID())
	}
	if _, err := b.s.LoadCryptoTarget(ctx, v.ID, k.ID, ""); err == nil {
		rt, _ := b.s.LoadCryptoTarget(ctx, v.ID, k.ID, "")
		if _, _, err := b.s.Decrypt(ctx, rt, "", ct, nil); err == nil {
			t.Fatal("a deleted replica still decrypts")
		}
	}
}

// TestVaultReplicaRefusals: what the replica region refuses to apply.
func TestVaultReplicaRefusals(t *testing.T) {
	a, b := newRegion(t, "eu-a-1", "eu-b-1"), newRegion(t, "eu-b-1", "eu-a-1")
	v, _ := a.s.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: "ocid1.tenancy.oc1..t", DisplayName: "v", VaultType: kms.VaultTypeVirtualPrivate})
	if _, err := a.s.CreateKey(ctx, v.ID, kms.CreateKeyInput{CompartmentID: v.CompartmentID, DisplayName: "k", Shape: aes256, ProtectionMode: kms.ModeHSM}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.s.CreateVaultReplica(ctx, v.ID, "eu-b-1", ""); err != nil {
		t.Fatal(err)
	}
	items, err := a.s.ExportVaultReplicas(ctx, "eu-b-1", []string{v.ID})
	if err != nil || len(items) != 1 {
		t.Fatalf("export: %d, %v", len(items), err)
	}
	defer kms.WipeVaults(items)
	// Never printed with its material.
	if s := fmt.Sprintf("%v %+v", items[0], items); strings.Contains(s, "Material") || !strings.Contains(s, v.ID) {
		t.Fatalf("printed %q", s)
	}
	if s := slog.AnyValue(items[0]).String(); strings.Contains(s, "material") {
		t.Fatalf("logged %q", s)
	}

	// A vault of the replica region with the same OCID is not overwritten.
	raw, _ := json.Marshal(items)
	var forged []kms.ReplicaVault
	_ = json.Unmarshal(raw, &forged)
	own, _ := b.s.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: "ocid1.tenancy.oc1..b", DisplayName: "own", VaultType: kms.VaultTypeDefault})
	forged[0].Vault.ID = own.ID
	forged[0].Keys = nil
	batch, err := b.s.PrepareVaultReplicas(ctx, "eu-a-1", forged)
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, batch.Failed[own.ID], errs.Conflict, "a vault of this region")

	// Malformed: a key of another vault.
	_ = json.Unmarshal(raw, &forged)
	forged[0].Keys[0].Key.VaultID = own.ID
	batch, err = b.s.PrepareVaultReplicas(ctx, "eu-a-1", forged)
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, batch.Failed[v.ID], errs.Invalid, "malformed")
}

// FuzzReplicaVault: whatever a peer's answer holds, preparing it fails
// cleanly or yields a batch; it never panics.
func FuzzReplicaVault(f *testing.F) {
	a := newRegion(f, "eu-a-1", "eu-b-1")
	v, _ := a.s.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: "ocid1.tenancy.oc1..t", DisplayName: "v", VaultType: kms.VaultTypeDefault})
	_, _ = a.s.CreateKey(ctx, v.ID, kms.CreateKeyInput{CompartmentID: v.CompartmentID, DisplayName: "k", Shape: aes256, ProtectionMode: kms.ModeSoftware})
	_, _ = a.s.CreateVaultReplica(ctx, v.ID, "eu-b-1", "")
	items, _ := a.s.ExportVaultReplicas(ctx, "eu-b-1", []string{v.ID})
	seed, _ := json.Marshal(items)
	f.Add(seed)
	f.Add([]byte(`[{"vault":{"id":"x"},"replicationId":"y","dropped":true}]`))
	f.Add([]byte(`[{"vault":{},"keys":[{"key":{},"versions":[{}]}]}]`))
	b := newRegion(f, "eu-b-1", "eu-a-1")
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []kms.ReplicaVault
		if json.Unmarshal(data, &got) != nil {
			return
		}
		defer kms.WipeVaults(got)
		batch, err := b.s.PrepareVaultReplicas(ctx, "eu-a-1", got)
		if err != nil {
			return
		}
		_ = b.st.Update(ctx, func(tx store.Tx) error {
			_, err := b.s.ApplyVaultReplicas(tx, batch, "ocid1.tenancy.oc1..b", 1)
			return err
		})
	})
}

// TestFinishVaultResync: a resynchronisation that does not name a replica
// vault deletes it; one it names again is kept.
func TestFinishVaultResync(t *testing.T) {
	a, b := newRegion(t, "eu-a-1", "eu-b-1"), newRegion(t, "eu-b-1", "eu-a-1")
	var ids []string
	for i := range 2 {
		v, _ := a.s.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: "ocid1.tenancy.oc1..t", DisplayName: fmt.Sprint("v", i), VaultType: kms.VaultTypeDefault})
		if _, err := a.s.CreateKey(ctx, v.ID, kms.CreateKeyInput{CompartmentID: v.CompartmentID, DisplayName: "k", Shape: aes256, ProtectionMode: kms.ModeSoftware}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.s.CreateVaultReplica(ctx, v.ID, "eu-b-1", ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	replicate(t, a, b, 1, ids...)
	// Generation 2 names only the first vault, then finishes.
	items, err := a.s.ExportVaultReplicas(ctx, "eu-b-1", ids[:1])
	if err != nil {
		t.Fatal(err)
	}
	defer kms.WipeVaults(items)
	batch, err := b.s.PrepareVaultReplicas(ctx, "eu-a-1", items)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	err = b.st.Update(ctx, func(tx store.Tx) error {
		if _, err := b.s.ApplyVaultReplicas(tx, batch, "ocid1.tenancy.oc1..replica", 2); err != nil {
			return err
		}
		n, err = b.s.FinishVaultResync(tx, batch, 2)
		return err
	})
	if err != nil || n != 1 {
		t.Fatalf("FinishVaultResync = %d, %v", n, err)
	}
	if _, err := b.s.Committed(ctx, batch); err != nil {
		t.Fatal(err)
	}
	kept, _ := b.s.GetVault(ctx, ids[0])
	gone, _ := b.s.GetVault(ctx, ids[1])
	if kept.State != kms.VaultActive || gone.State != kms.VaultDeleted {
		t.Fatalf("after the resync: named %s, not named %s", kept.State, gone.State)
	}
	// This region's own vaults are never touched by a resync.
	own, _ := b.s.CreateVault(ctx, kms.CreateVaultInput{CompartmentID: "ocid1.tenancy.oc1..b", DisplayName: "own", VaultType: kms.VaultTypeDefault})
	_ = b.st.Update(ctx, func(tx store.Tx) error { _, err := b.s.FinishVaultResync(tx, batch, 3); return err })
	if got, _ := b.s.GetVault(ctx, own.ID); got.State != kms.VaultActive {
		t.Fatalf("own vault = %s", got.State)
	}
}
