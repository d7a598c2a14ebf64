package secrets

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/coffer-vault/coffer/internal/errs"
	"github.com/coffer-vault/coffer/internal/ocid"
	"github.com/coffer-vault/coffer/internal/store"
)

// replicaPair is a source region "test" replicating to region "b".
type replicaPair struct {
	src, dst         *env
	dstVault, dstKey string
}

func newReplicaPair(t *testing.T) *replicaPair {
	t.Helper()
	p := &replicaPair{src: newEnvWith(t, func(c *Config) { c.PeerRegions = []string{"b"} })}
	p.dst = newEnvWith(t, func(c *Config) { c.Region = "b"; c.PeerRegions = []string{"test"} })
	p.dst.ku.Compartment = p.dst.comp
	p.dstVault, p.dstKey = p.dst.vault, p.dst.key
	return p
}

func (p *replicaPair) target() *ReplicationConfig {
	return &ReplicationConfig{Targets: []ReplicationTarget{{TargetRegion: "b", TargetVaultID: p.dstVault, TargetKeyID: p.dstKey}}}
}

// sync exports ids from the source and applies them at the replica.
func (p *replicaPair) sync(t *testing.T, ids ...string) ApplyResult {
	t.Helper()
	items, err := p.src.s.ExportReplicas(p.src.ctx, "b", ids, nil)
	if err != nil {
		t.Fatalf("ExportReplicas: %v", err)
	}
	defer Zero(items)
	res, err := p.dst.s.ApplyReplicas(p.dst.ctx, "test", items, 1, func(store.Tx) error { return nil })
	if err != nil {
		t.Fatalf("ApplyReplicas: %v", err)
	}
	for id, err := range res.Failed {
		t.Fatalf("replica of %s failed: %v", id, err)
	}
	return res
}

func TestReplicaFollowsSource(t *testing.T) {
	p := newReplicaPair(t)
	req := p.src.createReq("db-password", "v1")
	req.ReplicationConfig = p.target()
	sec, err := p.src.s.CreateSecret(p.src.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if sec.ReplicationConfig == nil || sec.IsReplica {
		t.Fatalf("source secret: replicationConfig %+v isReplica %v", sec.ReplicationConfig, sec.IsReplica)
	}
	p.sync(t, sec.ID)
	rep, err := p.dst.s.GetSecret(p.dst.ctx, sec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.IsReplica || rep.VaultID != p.dstVault || rep.KeyID != p.dstKey || rep.CompartmentID != p.dst.comp || rep.Name != "db-password" {
		t.Fatalf("replica = %+v", rep)
	}
	if si := rep.SourceRegionInformation; si == nil || si.SourceRegion != "test" || si.SourceVaultID != p.src.vault || si.SourceKeyID != p.src.key {
		t.Fatalf("sourceRegionInformation = %+v", rep.SourceRegionInformation)
	}
	if got := p.dst.read(t, sec.ID, BundleSelector{}); got != "v1" {
		t.Fatalf("replica content %q", got)
	}

	// A new version, a pending one, a promotion: the replica follows, and
	// re-seals only what is new.
	p.src.put(t, sec.ID, "v2", StageCurrent)
	p.src.put(t, sec.ID, "v3", StagePending)
	wraps := p.dst.ku.Wraps.Load()
	p.sync(t, sec.ID)
	if n := p.dst.ku.Wraps.Load() - wraps; n != 2 {
		t.Fatalf("replica sealed %d versions, want the 2 new ones", n)
	}
	if got := p.dst.read(t, sec.ID, BundleSelector{Stage: StagePending}); got != "v3" {
		t.Fatalf("PENDING = %q", got)
	}
	p.src.promote(t, sec.ID, 3)
	p.sync(t, sec.ID)
	for stage, want := range map[Stage]string{StageCurrent: "v3", StagePrevious: "v2"} {
		if got := p.dst.read(t, sec.ID, BundleSelector{Stage: stage}); got != want {
			t.Fatalf("%s = %q, want %q", stage, got, want)
		}
	}

	// The replica refuses every change.
	_, err = p.dst.s.UpdateSecret(p.dst.ctx, UpdateSecretRequest{SecretID: sec.ID, Content: content("x")})
	wantKind(t, err, errs.Invalid)
	_, err = p.dst.s.ScheduleSecretDeletion(p.dst.ctx, ScheduleDeletionRequest{SecretID: sec.ID})
	wantKind(t, err, errs.Invalid)
	_, err = p.dst.s.CancelSecretDeletion(p.dst.ctx, sec.ID, "")
	wantKind(t, err, errs.Invalid)
	_, err = p.dst.s.ScheduleSecretVersionDeletion(p.dst.ctx, ScheduleDeletionRequest{SecretID: sec.ID, VersionNumber: 1})
	wantKind(t, err, errs.Invalid)
	_, err = p.dst.s.ChangeSecretCompartment(p.dst.ctx, ChangeCompartmentRequest{SecretID: sec.ID, CompartmentID: ocid.New(ocid.Compartment, "b")})
	wantKind(t, err, errs.Invalid)
	if got := p.dst.read(t, sec.ID, BundleSelector{}); got != "v3" {
		t.Fatalf("after refused writes CURRENT = %q", got)
	}

	// Deletion scheduled, then completed at the source.
	if _, err := p.src.s.ScheduleSecretDeletion(p.src.ctx, ScheduleDeletionRequest{SecretID: sec.ID}); err != nil {
		t.Fatal(err)
	}
	p.sync(t, sec.ID)
	if rep, _ := p.dst.s.GetSecret(p.dst.ctx, sec.ID); rep.LifecycleState != StatePendingDeletion || rep.TimeOfDeletion == nil {
		t.Fatalf("replica after scheduled deletion: %+v", rep)
	}
	p.dst.clock.Advance(31 * day)
	if _, err := p.dst.s.CompleteDueDeletions(p.dst.ctx); err != nil {
		t.Fatal(err)
	}
	if rep, _ := p.dst.s.GetSecret(p.dst.ctx, sec.ID); rep.LifecycleState != StatePendingDeletion {
		t.Fatalf("the replica's own deletion job deleted it: %s", rep.LifecycleState)
	}
	p.src.clock.Advance(31 * day)
	if _, err := p.src.s.CompleteDueDeletions(p.src.ctx); err != nil {
		t.Fatal(err)
	}
	if res := p.sync(t, sec.ID); res.Deleted != 1 {
		t.Fatalf("sync after deletion: %+v", res)
	}
	if rep, _ := p.dst.s.GetSecret(p.dst.ctx, sec.ID); rep.LifecycleState != StateDeleted {
		t.Fatalf("replica after deletion: %s", rep.LifecycleState)
	}
	_, err = p.dst.s.GetSecretBundle(p.dst.ctx, sec.ID, BundleSelector{})
	if err == nil {
		t.Fatal("deleted replica still serves content")
	}
}

func TestReplicationDisabledDeletesReplica(t *testing.T) {
	p := newReplicaPair(t)
	req := p.src.createReq("api-key", "v1")
	req.ReplicationConfig = p.target()
	sec, err := p.src.s.CreateSecret(p.src.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	p.sync(t, sec.ID)
	if ids, _ := p.src.s.ReplicatedIDs(p.src.ctx, "b", "", 10); !slices.Equal(ids, []string{sec.ID}) {
		t.Fatalf("ReplicatedIDs = %v", ids)
	}
	if _, err := p.src.s.UpdateSecret(p.src.ctx, UpdateSecretRequest{SecretID: sec.ID, ReplicationConfig: &ReplicationConfig{}}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := p.src.s.ReplicatedIDs(p.src.ctx, "b", "", 10); len(ids) != 0 {
		t.Fatalf("ReplicatedIDs after disabling = %v", ids)
	}
	if m, _ := p.src.s.ReplicatedTo(p.src.ctx, "b", []string{sec.ID}); !m[sec.ID] {
		t.Fatal("region b must still hear of the secret so that it deletes its replica")
	}
	if res := p.sync(t, sec.ID); res.Deleted != 1 {
		t.Fatalf("sync = %+v", res)
	}
	rep, err := p.dst.s.GetSecret(p.dst.ctx, sec.ID)
	if err != nil || rep.LifecycleState != StateDeleted {
		t.Fatalf("replica = %+v, %v", rep, err)
	}
	// The name is free again in the target vault.
	p.dst.create(t, "api-key", "local")
}

func TestReplicationConfigChecked(t *testing.T) {
	p := newReplicaPair(t)
	vault, key := ocid.New(ocid.Vault, "b"), ocid.New(ocid.Key, "b")
	for name, c := range map[string]ReplicationConfig{
		"not a peer":    {Targets: []ReplicationTarget{{TargetRegion: "c", TargetVaultID: vault, TargetKeyID: key}}},
		"own region":    {Targets: []ReplicationTarget{{TargetRegion: "test", TargetVaultID: vault, TargetKeyID: key}}},
		"twice":         {Targets: []ReplicationTarget{{TargetRegion: "b", TargetVaultID: vault, TargetKeyID: key}, {TargetRegion: "b", TargetVaultID: vault, TargetKeyID: key}}},
		"bad vault":     {Targets: []ReplicationTarget{{TargetRegion: "b", TargetVaultID: key, TargetKeyID: key}}},
		"bad key":       {Targets: []ReplicationTarget{{TargetRegion: "b", TargetVaultID: vault, TargetKeyID: "x"}}},
		"no region":     {Targets: []ReplicationTarget{{TargetVaultID: vault, TargetKeyID: key}}},
		"write forward": {Targets: []ReplicationTarget{{TargetRegion: "b", TargetVaultID: vault, TargetKeyID: key}}, IsWriteForwardEnabled: true},
		"four targets":  {Targets: make([]ReplicationTarget, 4)},
	} {
		req := p.src.createReq("s-"+name, "v")
		req.ReplicationConfig = &c
		_, err := p.src.s.CreateSecret(p.src.ctx, req)
		if err == nil || errs.KindOf(err) == errs.Internal {
			t.Errorf("%s: CreateSecret = %v, want a refusal", name, err)
		}
	}
}

func TestReplicaNameTakenFailsThatSecretOnly(t *testing.T) {
	p := newReplicaPair(t)
	p.dst.create(t, "taken", "local")
	var ids []string
	for _, name := range []string{"taken", "free"} {
		req := p.src.createReq(name, "v1")
		req.ReplicationConfig = p.target()
		sec, err := p.src.s.CreateSecret(p.src.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sec.ID)
	}
	items, err := p.src.s.ExportReplicas(p.src.ctx, "b", ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.dst.s.ApplyReplicas(p.dst.ctx, "test", items, 1, func(store.Tx) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 1 || len(res.Failed) != 1 || res.Failed[ids[0]] == nil {
		t.Fatalf("result %+v", res)
	}
	if got := p.dst.read(t, ids[1], BundleSelector{}); got != "v1" {
		t.Fatalf("free = %q", got)
	}
}

func TestFinishResyncDeletesUnseenReplicas(t *testing.T) {
	p := newReplicaPair(t)
	var ids []string
	for i := range 2 {
		req := p.src.createReq(fmt.Sprint("s", i), "v1")
		req.ReplicationConfig = p.target()
		sec, err := p.src.s.CreateSecret(p.src.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sec.ID)
	}
	p.sync(t, ids...)
	// Generation 2 sees only the first.
	items, err := p.src.s.ExportReplicas(p.src.ctx, "b", ids[:1], nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if _, err := p.dst.s.ApplyReplicas(p.dst.ctx, "test", items, 2, func(tx store.Tx) (err error) {
		n, err = p.dst.s.FinishResync(tx, "test", 2, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("FinishResync deleted %d", n)
	}
	if rep, _ := p.dst.s.GetSecret(p.dst.ctx, ids[1]); rep.LifecycleState != StateDeleted {
		t.Fatalf("unseen replica %s", rep.LifecycleState)
	}
	if got := p.dst.read(t, ids[0], BundleSelector{}); got != "v1" {
		t.Fatalf("seen replica = %q", got)
	}
}

func TestReplicaContentNeverPrints(t *testing.T) {
	c := ReplicaContent("canary-9f3a")
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %x %q", c, c, c, c, c, c), fmt.Sprint(ReplicaVersion{Content: c})} {
		if bytes.Contains([]byte(s), []byte("canary")) {
			t.Fatalf("printed %q", s)
		}
	}
}

func TestReplicaAsksAgainForVersionsItLacks(t *testing.T) {
	p := newReplicaPair(t)
	sec := p.src.create(t, "late", "v1")
	p.src.put(t, sec.ID, "v2", StageCurrent)
	// Replication is turned on after two versions: the change carries no
	// content, so the replica cannot be written yet.
	if _, err := p.src.s.UpdateSecret(p.src.ctx, UpdateSecretRequest{SecretID: sec.ID, ReplicationConfig: p.target()}); err != nil {
		t.Fatal(err)
	}
	items, err := p.src.s.ExportReplicas(p.src.ctx, "b", []string{sec.ID}, map[string][]int64{sec.ID: {}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range items[0].Versions {
		if v.Content != nil {
			t.Fatalf("version %d carried content though none was asked for", v.Number)
		}
	}
	res, err := p.dst.s.ApplyReplicas(p.dst.ctx, "test", items, 1, func(store.Tx) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Incomplete, []string{sec.ID}) || res.Applied != 0 || len(res.Failed) != 0 {
		t.Fatalf("result %+v", res)
	}
	if _, err := p.dst.s.GetSecret(p.dst.ctx, sec.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("an incomplete replica was written: %v", err)
	}
	p.sync(t, sec.ID) // whole
	if got := p.dst.read(t, sec.ID, BundleSelector{Stage: StagePrevious}); got != "v1" {
		t.Fatalf("PREVIOUS = %q", got)
	}
	// A new version alone now carries just its own content.
	p.src.put(t, sec.ID, "v3", StageCurrent)
	items, err = p.src.s.ExportReplicas(p.src.ctx, "b", []string{sec.ID}, map[string][]int64{sec.ID: {3}})
	if err != nil {
		t.Fatal(err)
	}
	res, err = p.dst.s.ApplyReplicas(p.dst.ctx, "test", items, 1, func(store.Tx) error { return nil })
	if err != nil || res.Applied != 1 || len(res.Incomplete) != 0 {
		t.Fatalf("result %+v, %v", res, err)
	}
	if got := p.dst.read(t, sec.ID, BundleSelector{}); got != "v3" {
		t.Fatalf("CURRENT = %q", got)
	}
}

func TestReplicaFromPeerChecked(t *testing.T) {
	p := newReplicaPair(t)
	req := p.src.createReq("good", "v1")
	req.ReplicationConfig = p.target()
	sec, err := p.src.s.CreateSecret(p.src.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	items, err := p.src.s.ExportReplicas(p.src.ctx, "b", []string{sec.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	badID, badName, badVersion := items[0], items[0], items[0]
	badID.Secret.ID = "secrets/../x"
	badName.Secret.Name = "no/slash"
	badVersion.Versions = []ReplicaVersion{{Number: 0, Content: ReplicaContent("x")}}
	res, err := p.dst.s.ApplyReplicas(p.dst.ctx, "test", []ReplicaSecret{badID, badName, badVersion}, 1, func(store.Tx) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 0 || len(res.Failed) != 2 { // badName and badVersion share the good OCID
		t.Fatalf("result %+v", res)
	}
	if _, err := p.dst.s.GetSecret(p.dst.ctx, sec.ID); !errs.Is(err, errs.NotFound) {
		t.Fatalf("a refused replica was stored: %v", err)
	}
}
