package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/peer"
)

// thirdPeer is a peer region that never runs: enough to be named as a
// replica region and refused with 409.
func thirdPeer(t *testing.T) peer.Peer {
	t.Helper()
	id, err := peer.CreateIdentity(filepath.Join(coffertest.DataDir(t), "third.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pr := mustURL(t, "eu-third-1=http://127.0.0.1:1")
	pr.Key = id.PublicKey()
	return *pr
}

// TestVaultReplicaAcrossRegions: a vault replicated to the peer region is
// served there with the same OCIDs, read-only, and decrypts what the
// source encrypted; rotations and keys made while the replica region was
// down reach it; deleting the replica deletes it there.
func TestVaultReplicaAcrossRegions(t *testing.T) {
	p := newRegionPair(t, thirdPeer(t))
	ctx := context.Background()
	const canary = "canary-vault-replica-5c2b"
	srcKMS := keystest.VaultClient(t, p.src.Env, p.src.Env.Provider)
	dstKMS := func() keymanagement.KmsVaultClient { return keystest.VaultClient(t, p.dst.Env, p.dst.Env.Provider) }

	v := keystest.NewVault(t, p.src.Env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	aesKey := v.CreateKey(t, "aes", keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, ""), keymanagement.CreateKeyDetailsProtectionModeSoftware)
	rsaKey := v.CreateKey(t, "rsa", keystest.Shape(keymanagement.KeyShapeAlgorithmRsa, 256, ""), keymanagement.CreateKeyDetailsProtectionModeHsm)
	if !*v.IsVaultReplicable || !*v.IsPrimary {
		t.Fatalf("a new vault: replicable %v primary %v", *v.IsVaultReplicable, *v.IsPrimary)
	}

	replica := func(region string) keymanagement.CreateVaultReplicaRequest {
		return keymanagement.CreateVaultReplicaRequest{VaultId: v.Id, CreateVaultReplicaDetails: keymanagement.CreateVaultReplicaDetails{ReplicaRegion: common.String(region)}}
	}
	// Refusals before anything is stored.
	_, err := srcKMS.CreateVaultReplica(ctx, replica("eu-nowhere-1"))
	wantStatus(t, err, http.StatusBadRequest, "not a peer of this region")
	_, err = srcKMS.CreateVaultReplica(ctx, replica(p.srcRegion))
	wantStatus(t, err, http.StatusBadRequest, "is this region")
	nobody := keystest.VaultClient(t, p.src.Env, p.src.Env.NewUser(t, "nobody"))
	_, err = nobody.CreateVaultReplica(ctx, replica(p.dstRegion))
	wantStatus(t, err, http.StatusNotFound, "")
	_, err = nobody.ListVaultReplicas(ctx, keymanagement.ListVaultReplicasRequest{VaultId: v.Id})
	wantStatus(t, err, http.StatusNotFound, "")

	// Ciphertext made before the replica exists.
	enc := func(key keymanagement.Key, text string) string {
		t.Helper()
		r, err := v.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
			KeyId: key.Id, Plaintext: common.String(base64.StdEncoding.EncodeToString([]byte(text)))}})
		if err != nil {
			t.Fatal(err)
		}
		return *r.Ciphertext
	}
	ctAES := enc(aesKey, canary+"-aes")
	ctRSA, err := v.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
		KeyId: rsaKey.Id, Plaintext: common.String(base64.StdEncoding.EncodeToString([]byte(canary + "-rsa"))),
		EncryptionAlgorithm: keymanagement.EncryptDataDetailsEncryptionAlgorithmRsaOaepSha256}})
	if err != nil {
		t.Fatal(err)
	}

	// The replica region is down: the replication stays REPLICATING.
	p.dst.Env.Stop()
	created, err := srcKMS.CreateVaultReplica(ctx, replica(p.dstRegion))
	if err != nil || created.OpcWorkRequestId == nil {
		t.Fatalf("CreateVaultReplica: %v", err)
	}
	opID := *created.OpcWorkRequestId
	status := func(id string) keymanagement.ReplicaDetailsStatusEnum {
		t.Helper()
		r, err := v.Mgmt.GetReplicationStatus(ctx, keymanagement.GetReplicationStatusRequest{ReplicationId: common.String(id)})
		if err != nil || len(r.ReplicaDetails) != 1 || *r.ReplicaDetails[0].Region != p.dstRegion {
			t.Fatalf("GetReplicationStatus %s = %+v, %v", id, r.ReplicationStatusDetails, err)
		}
		return r.ReplicaDetails[0].Status
	}
	if st := status(opID); st != keymanagement.ReplicaDetailsStatusReplicating {
		t.Fatalf("status while the replica region is down = %s", st)
	}
	list, err := srcKMS.ListVaultReplicas(ctx, keymanagement.ListVaultReplicasRequest{VaultId: v.Id})
	if err != nil || len(list.Items) != 1 || list.Items[0].Status != keymanagement.VaultReplicaSummaryStatusCreating || *list.Items[0].Region != p.dstRegion {
		t.Fatalf("ListVaultReplicas = %+v, %v", list.Items, err)
	}
	// The same region again is a no-op; another region is a conflict.
	coffertest.NextSecond()
	again, err := srcKMS.CreateVaultReplica(ctx, replica(p.dstRegion))
	if err != nil || *again.OpcWorkRequestId != opID {
		t.Fatalf("CreateVaultReplica again = %v, %v; want the no-op %s", again.OpcWorkRequestId, err, opID)
	}
	_, err = srcKMS.CreateVaultReplica(ctx, replica("eu-third-1"))
	wantStatus(t, err, http.StatusConflict, "replicated to region eu-dst-1 already")
	src, err := srcKMS.GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
	if err != nil || src.ReplicaDetails == nil || *src.ReplicaDetails.ReplicationId != opID || !*src.IsPrimary {
		t.Fatalf("source vault = %+v, %v", src.Vault, err)
	}

	// The replica region comes back and catches up.
	p.startReplica()
	lag := awaitReplica(t, p.dst, "REPLICATED", func(context.Context) (bool, error) {
		return status(opID) == keymanagement.ReplicaDetailsStatusReplicated, nil
	})
	t.Logf("CreateVaultReplica → REPLICATED after the replica region's restart: %v", lag)
	// The replica region's status and metrics count the vault replica it
	// applied.
	st := p.dst.Env.Server.ReplicationStatus()
	if len(st) != 1 || st[0].VaultsApplied < 1 {
		t.Errorf("replication status after the vault replica: %+v", st)
	}
	metrics, err := http.Get(p.dst.Env.Server.MetricsURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	if want := fmt.Sprintf("coffer_replication_vaults_applied_total{source_region=%q} %d\n", p.srcRegion, st[0].VaultsApplied); !bytes.Contains(body, []byte(want)) {
		t.Errorf("metrics lack %s", want)
	}
	rv, err := dstKMS().GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
	if err != nil {
		t.Fatal(err)
	}
	if *rv.IsPrimary || rv.LifecycleState != keymanagement.VaultLifecycleStateActive || *rv.DisplayName != *v.DisplayName ||
		rv.ReplicaDetails == nil || *rv.ReplicaDetails.ReplicationId != opID || *rv.CompartmentId != p.dst.Tenancy {
		t.Fatalf("replica vault = %+v", rv.Vault)
	}
	r := keystest.Clients(t, p.dst.Env, rv.Vault)
	list, err = srcKMS.ListVaultReplicas(ctx, keymanagement.ListVaultReplicasRequest{VaultId: v.Id})
	if err != nil || len(list.Items) != 1 || list.Items[0].Status != keymanagement.VaultReplicaSummaryStatusCreated ||
		*list.Items[0].ManagementEndpoint != *rv.ManagementEndpoint || *list.Items[0].CryptoEndpoint != *rv.CryptoEndpoint {
		t.Fatalf("ListVaultReplicas after = %+v, %v", list.Items, err)
	}
	rk, err := r.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: aesKey.Id})
	if err != nil || *rk.IsPrimary || *rk.CurrentKeyVersion != *aesKey.CurrentKeyVersion || rk.ReplicaDetails == nil || *rk.ReplicaDetails.ReplicationId != opID {
		t.Fatalf("replica key = %+v, %v", rk.Key, err)
	}

	dec := func(key keymanagement.Key, ct string, alg keymanagement.DecryptDataDetailsEncryptionAlgorithmEnum) (string, error) {
		d, err := r.Crypto.Decrypt(ctx, keymanagement.DecryptRequest{DecryptDataDetails: keymanagement.DecryptDataDetails{
			KeyId: key.Id, Ciphertext: common.String(ct), EncryptionAlgorithm: alg}})
		if err != nil {
			return "", err
		}
		b, _ := base64.StdEncoding.DecodeString(*d.Plaintext)
		return string(b), nil
	}
	if got, err := dec(aesKey, ctAES, ""); err != nil || got != canary+"-aes" {
		t.Fatalf("AES decrypt at the replica = %q, %v", got, err)
	}
	if got, err := dec(rsaKey, *ctRSA.Ciphertext, keymanagement.DecryptDataDetailsEncryptionAlgorithmRsaOaepSha256); err != nil || got != canary+"-rsa" {
		t.Fatalf("RSA decrypt at the replica = %q, %v", got, err)
	}

	// Management writes at the replica are refused.
	readOnly := "read-only replica of a vault in region " + p.srcRegion
	_, err = dstKMS().UpdateVault(ctx, keymanagement.UpdateVaultRequest{VaultId: v.Id, UpdateVaultDetails: keymanagement.UpdateVaultDetails{DisplayName: common.String("x")}})
	wantStatus(t, err, http.StatusBadRequest, readOnly)
	_, err = dstKMS().ScheduleVaultDeletion(ctx, keymanagement.ScheduleVaultDeletionRequest{VaultId: v.Id})
	wantStatus(t, err, http.StatusBadRequest, readOnly)
	_, err = r.Mgmt.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{CompartmentId: rv.CompartmentId,
		DisplayName: common.String("new"), KeyShape: keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, ""), ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeSoftware}})
	wantStatus(t, err, http.StatusBadRequest, readOnly)
	_, err = r.Mgmt.DisableKey(ctx, keymanagement.DisableKeyRequest{KeyId: aesKey.Id})
	wantStatus(t, err, http.StatusBadRequest, readOnly)
	_, err = r.Mgmt.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: aesKey.Id})
	wantStatus(t, err, http.StatusBadRequest, readOnly)
	_, err = r.Mgmt.ScheduleKeyDeletion(ctx, keymanagement.ScheduleKeyDeletionRequest{KeyId: aesKey.Id})
	wantStatus(t, err, http.StatusBadRequest, readOnly)

	// A rotation at the source reaches the replica.
	kv, err := v.Mgmt.CreateKeyVersion(ctx, keymanagement.CreateKeyVersionRequest{KeyId: aesKey.Id})
	if err != nil {
		t.Fatal(err)
	}
	awaitReplica(t, p.dst, "the rotation", func(ctx context.Context) (bool, error) {
		k, err := r.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: aesKey.Id})
		return err == nil && *k.CurrentKeyVersion == *kv.Id, err
	})
	if got, err := dec(aesKey, enc(aesKey, canary+"-v2"), ""); err != nil || got != canary+"-v2" {
		t.Fatalf("the rotated version at the replica = %q, %v", got, err)
	}
	// Disabling at the source reaches the replica's crypto.
	if _, err := v.Mgmt.DisableKey(ctx, keymanagement.DisableKeyRequest{KeyId: rsaKey.Id}); err != nil {
		t.Fatal(err)
	}
	awaitReplica(t, p.dst, "the disabled key", func(ctx context.Context) (bool, error) {
		k, err := r.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: rsaKey.Id})
		return err == nil && k.LifecycleState == keymanagement.KeyLifecycleStateDisabled, err
	})
	_, err = dec(rsaKey, *ctRSA.Ciphertext, keymanagement.DecryptDataDetailsEncryptionAlgorithmRsaOaepSha256)
	wantStatus(t, err, http.StatusConflict, "DISABLED")
	// Deletion scheduled and cancelled at the source.
	keyState := func(want keymanagement.KeyLifecycleStateEnum) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			k, err := r.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: rsaKey.Id})
			return err == nil && k.LifecycleState == want, err
		}
	}
	if _, err := v.Mgmt.ScheduleKeyDeletion(ctx, keymanagement.ScheduleKeyDeletionRequest{KeyId: rsaKey.Id}); err != nil {
		t.Fatal(err)
	}
	awaitReplica(t, p.dst, "the key's deletion scheduled", keyState(keymanagement.KeyLifecycleStatePendingDeletion))
	if _, err := v.Mgmt.CancelKeyDeletion(ctx, keymanagement.CancelKeyDeletionRequest{KeyId: rsaKey.Id}); err != nil {
		t.Fatal(err)
	}
	awaitReplica(t, p.dst, "the key's deletion cancelled", keyState(keymanagement.KeyLifecycleStateDisabled))
	// The vault's deletion scheduled and cancelled at the source.
	vaultState := func(want keymanagement.VaultLifecycleStateEnum) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			g, err := dstKMS().GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
			return err == nil && g.LifecycleState == want, err
		}
	}
	if _, err := srcKMS.ScheduleVaultDeletion(ctx, keymanagement.ScheduleVaultDeletionRequest{VaultId: v.Id}); err != nil {
		t.Fatal(err)
	}
	awaitReplica(t, p.dst, "the vault's deletion scheduled", vaultState(keymanagement.VaultLifecycleStatePendingDeletion))
	if _, err := srcKMS.CancelVaultDeletion(ctx, keymanagement.CancelVaultDeletionRequest{VaultId: v.Id}); err != nil {
		t.Fatal(err)
	}
	awaitReplica(t, p.dst, "the vault's deletion cancelled", vaultState(keymanagement.VaultLifecycleStateActive))
	// The replica region reports the replication it applied.
	rs, err := r.Mgmt.GetReplicationStatus(ctx, keymanagement.GetReplicationStatusRequest{ReplicationId: common.String(opID)})
	if err != nil || len(rs.ReplicaDetails) != 1 || *rs.ReplicaDetails[0].Region != p.dstRegion || rs.ReplicaDetails[0].Status != keymanagement.ReplicaDetailsStatusReplicated {
		t.Fatalf("GetReplicationStatus at the replica = %+v, %v", rs.ReplicationStatusDetails, err)
	}

	// The replica region stops; a key made meanwhile is there after it
	// restarts.
	p.dst.Env.Stop()
	late := v.CreateKey(t, "late", keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 16, ""), keymanagement.CreateKeyDetailsProtectionModeSoftware)
	ctLate := enc(late, canary+"-late")
	p.startReplica()
	r = keystest.Clients(t, p.dst.Env, rv.Vault)
	awaitReplica(t, p.dst, "the key made while it was down", func(ctx context.Context) (bool, error) {
		_, err := r.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: late.Id})
		return err == nil, err
	})
	if got, err := dec(late, ctLate, ""); err != nil || got != canary+"-late" {
		t.Fatalf("the late key at the replica = %q, %v", got, err)
	}

	// Deleting the replica.
	deleted, err := srcKMS.DeleteVaultReplica(ctx, keymanagement.DeleteVaultReplicaRequest{VaultId: v.Id,
		DeleteVaultReplicaDetails: keymanagement.DeleteVaultReplicaDetails{ReplicaRegion: common.String(p.dstRegion)}})
	if err != nil || deleted.OpcWorkRequestId == nil || *deleted.OpcWorkRequestId == opID {
		t.Fatalf("DeleteVaultReplica = %v, %v", deleted.OpcWorkRequestId, err)
	}
	awaitReplica(t, p.dst, "the replica deleted", func(ctx context.Context) (bool, error) {
		g, err := dstKMS().GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
		return err == nil && g.LifecycleState == keymanagement.VaultLifecycleStateDeleted, err
	})
	awaitReplica(t, p.dst, "the deletion REPLICATED", func(context.Context) (bool, error) {
		return status(*deleted.OpcWorkRequestId) == keymanagement.ReplicaDetailsStatusReplicated, nil
	})
	if _, err := dec(aesKey, ctAES, ""); err == nil {
		t.Fatal("a deleted replica still decrypts")
	}
	list, err = srcKMS.ListVaultReplicas(ctx, keymanagement.ListVaultReplicasRequest{VaultId: v.Id})
	if err != nil || len(list.Items) != 1 || list.Items[0].Status != keymanagement.VaultReplicaSummaryStatusDeleted {
		t.Fatalf("ListVaultReplicas after the deletion = %+v, %v", list.Items, err)
	}
	// The source vault is untouched.
	if _, err := v.Mgmt.GetKey(ctx, keymanagement.GetKeyRequest{KeyId: aesKey.Id}); err != nil {
		t.Fatal(err)
	}

	// A fresh replica region (first contact: a full resynchronisation)
	// receives every vault replicated to it, and nothing of the replica
	// deleted before.
	v2 := keystest.NewVault(t, p.src.Env, keymanagement.CreateVaultDetailsVaultTypeVirtualPrivate)
	k2 := v2.CreateKey(t, "k2", keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, ""), keymanagement.CreateKeyDetailsProtectionModeSoftware)
	e2, err := v2.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{
		KeyId: k2.Id, Plaintext: common.String(base64.StdEncoding.EncodeToString([]byte(canary + "-resync")))}})
	if err != nil {
		t.Fatal(err)
	}
	p.dst.Env.Stop()
	second, err := srcKMS.CreateVaultReplica(ctx, keymanagement.CreateVaultReplicaRequest{VaultId: v2.Id,
		CreateVaultReplicaDetails: keymanagement.CreateVaultReplicaDetails{ReplicaRegion: common.String(p.dstRegion)}})
	if err != nil {
		t.Fatal(err)
	}
	p.dstDSN, p.dstDir, p.dst = postgresDSN(t), coffertest.DataDir(t), nil
	p.startReplica()
	awaitReplica(t, p.dst, "the second vault after a resynchronisation", func(ctx context.Context) (bool, error) {
		g, err := dstKMS().GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v2.Id})
		return err == nil && g.LifecycleState == keymanagement.VaultLifecycleStateActive, err
	})
	g, err := dstKMS().GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v2.Id})
	if err != nil {
		t.Fatal(err)
	}
	r2 := keystest.Clients(t, p.dst.Env, g.Vault)
	d2, err := r2.Crypto.Decrypt(ctx, keymanagement.DecryptRequest{DecryptDataDetails: keymanagement.DecryptDataDetails{KeyId: k2.Id, Ciphertext: e2.Ciphertext}})
	if err != nil || *d2.Plaintext != base64.StdEncoding.EncodeToString([]byte(canary+"-resync")) {
		t.Fatalf("decrypt after the resynchronisation: %v", err)
	}
	_, err = dstKMS().GetVault(ctx, keymanagement.GetVaultRequest{VaultId: v.Id})
	wantStatus(t, err, http.StatusNotFound, "")
	awaitReplica(t, p.dst, "the second replication REPLICATED", func(context.Context) (bool, error) {
		r, err := v2.Mgmt.GetReplicationStatus(ctx, keymanagement.GetReplicationStatusRequest{ReplicationId: second.OpcWorkRequestId})
		return err == nil && r.ReplicaDetails[0].Status == keymanagement.ReplicaDetailsStatusReplicated, err
	})

	for name, logs := range map[string]string{"source": p.src.Env.Logs.String(), "replica": p.dst.Env.Logs.String()} {
		if strings.Contains(logs, canary) || strings.Contains(logs, base64.StdEncoding.EncodeToString([]byte(canary))[:16]) {
			t.Fatalf("the %s region logged plaintext", name)
		}
	}
}

// TestVaultReplicaOtherVault: the replica region's own vault and the
// status of an unknown replication.
func TestVaultReplicaUnknownStatus(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeVirtualPrivate)
	_, err := v.Mgmt.GetReplicationStatus(context.Background(), keymanagement.GetReplicationStatusRequest{ReplicationId: common.String("ocid1.vaultreplication.oc1.dev.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")})
	wantStatus(t, err, http.StatusNotFound, "")
	list, err := keystest.VaultClient(t, env, env.Provider).ListVaultReplicas(context.Background(), keymanagement.ListVaultReplicasRequest{VaultId: v.Id})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("ListVaultReplicas of a vault never replicated = %+v, %v", list.Items, err)
	}
	_, err = keystest.VaultClient(t, env, env.Provider).CreateVaultReplica(context.Background(), keymanagement.CreateVaultReplicaRequest{VaultId: v.Id,
		CreateVaultReplicaDetails: keymanagement.CreateVaultReplicaDetails{ReplicaRegion: common.String("eu-other-1")}})
	wantStatus(t, err, http.StatusBadRequest, "no peers")
}

// TestChangeFeedHidesVaultEntries: the feed holds VAULT entries for
// replication, and ListChanges shows none of them, even to the
// administrator; the key change between them is shown.
func TestChangeFeedHidesVaultEntries(t *testing.T) {
	env := coffertest.Start(t, coffertest.Options{})
	ctx := context.Background()
	v := keystest.NewVault(t, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	start := mustChanges(t, env, env.Provider, feedQuery("", 0)).Cursor
	v.CreateKey(t, "before", keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, ""), keymanagement.CreateKeyDetailsProtectionModeSoftware)
	vc := keystest.VaultClient(t, env, env.Provider)
	if _, err := vc.UpdateVault(ctx, keymanagement.UpdateVaultRequest{VaultId: v.Id, UpdateVaultDetails: keymanagement.UpdateVaultDetails{DisplayName: common.String("renamed")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := vc.ScheduleVaultDeletion(ctx, keymanagement.ScheduleVaultDeletionRequest{VaultId: v.Id}); err != nil {
		t.Fatal(err)
	}
	if _, err := vc.CancelVaultDeletion(ctx, keymanagement.CancelVaultDeletionRequest{VaultId: v.Id}); err != nil {
		t.Fatal(err)
	}
	k := v.CreateKey(t, "after", keystest.Shape(keymanagement.KeyShapeAlgorithmAes, 32, ""), keymanagement.CreateKeyDetailsProtectionModeSoftware)
	pg := mustChanges(t, env, env.Provider, feedQuery(start, 0))
	keys := 0
	for _, it := range pg.Items {
		if it.Kind != "KEY" && it.Kind != "SECRET" {
			t.Fatalf("ListChanges showed %s", pg.raw)
		}
		if it.ID == *k.Id {
			keys++
		}
	}
	if keys == 0 {
		t.Fatalf("the key's change is missing: %s", pg.raw)
	}
	// before CREATED, UpdateVault, the schedule (key, vault), the cancel
	// (key, vault), after CREATED: seven entries, four shown.
	if n := len(pg.Items); n != 4 || pg.Items[n-1].Sequence-pg.Items[0].Sequence != 6 {
		t.Fatalf("want 4 of 7 entries shown: %s", pg.raw)
	}
}
