package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
	"github.com/coffer-vault/coffer/internal/peer"
	"github.com/coffer-vault/coffer/internal/server"
)

// regionPair is two regions that know each other: a source on SQLite
// (dev) and a replica region on PostgreSQL, each with its own identity.
type regionPair struct {
	t            *testing.T
	srcRegion    string
	dstRegion    string
	srcAddr      string
	dstAddr      string
	srcID, dstID string // peer identity files
	srcKey       peer.PublicKey
	dstKey       peer.PublicKey
	srcDir       string
	dstDir       string
	dstDSN       string
	dstUnseal    string
	src, dst     *vaultstest.Fixture
	// srcExtra are more peers of the source (regions that need not run).
	srcExtra []peer.Peer
}

func newRegionPair(t *testing.T, srcExtra ...peer.Peer) *regionPair {
	t.Helper()
	p := &regionPair{t: t, srcRegion: "eu-src-1", dstRegion: "eu-dst-1", srcExtra: srcExtra,
		srcAddr: "127.0.0.1:" + freePort(t), dstAddr: "127.0.0.1:" + freePort(t),
		srcDir: coffertest.DataDir(t), dstDir: coffertest.DataDir(t), dstDSN: postgresDSN(t), dstUnseal: unsealKey(t)}
	keys := coffertest.DataDir(t)
	p.srcID, p.dstID = filepath.Join(keys, "src.pem"), filepath.Join(keys, "dst.pem")
	for _, f := range []struct {
		path string
		key  *peer.PublicKey
	}{{p.srcID, &p.srcKey}, {p.dstID, &p.dstKey}} {
		id, err := peer.CreateIdentity(f.path)
		if err != nil {
			t.Fatal(err)
		}
		*f.key = id.PublicKey()
	}
	p.startSource()
	p.startReplica()
	return p
}

func mustURL(t *testing.T, s string) *peer.Peer {
	t.Helper()
	region, u, err := peer.ParsePeerFlag(s)
	if err != nil {
		t.Fatal(err)
	}
	return &peer.Peer{Region: region, URL: u}
}

func (p *regionPair) startSource() {
	dst := mustURL(p.t, p.dstRegion+"=http://"+p.dstAddr)
	dst.Key = p.dstKey
	env := coffertest.Start(p.t, coffertest.Options{DataDir: p.srcDir, Listen: p.srcAddr, Config: func(c *server.Config) {
		c.Region = p.srcRegion
		c.Peers = append([]peer.Peer{*dst}, p.srcExtra...)
		c.PeerIdentityFile = p.srcID
		c.PeerPollWait = 5 * time.Second
	}})
	if p.src == nil {
		p.src = vaultstest.On(p.t, env)
		return
	}
	p.src.Env = env
}

func (p *regionPair) startReplica() {
	src := mustURL(p.t, p.srcRegion+"=http://"+p.srcAddr)
	src.Key = p.srcKey
	env := coffertest.Start(p.t, coffertest.Options{DataDir: p.dstDir, Listen: p.dstAddr, Config: func(c *server.Config) {
		c.Dev = false
		c.UnsealKey = p.dstUnseal
		c.DatabaseURL = p.dstDSN
		c.Region = p.dstRegion
		c.Peers = []peer.Peer{*src}
		c.PeerIdentityFile = p.dstID
		c.PeerPollWait = 5 * time.Second
		c.MetricsListen = "127.0.0.1:0"
	}})
	if p.dst == nil {
		p.dst = vaultstest.On(p.t, env)
		return
	}
	p.dst.Env = env
	coffertest.Configure(&p.dst.Vaults.BaseClient, env.URL)
	coffertest.Configure(&p.dst.Secrets.BaseClient, env.URL)
}

func (p *regionPair) target() *vault.ReplicationConfig {
	return &vault.ReplicationConfig{ReplicationTargets: []vault.ReplicationTarget{{
		TargetRegion: common.String(p.dstRegion), TargetVaultId: p.dst.Vault.Id, TargetKeyId: common.String(p.dst.KeyID),
	}}}
}

// awaitReplica polls the replica until ok accepts what it serves, and
// returns how long that took.
func awaitReplica(t *testing.T, f *vaultstest.Fixture, what string, ok func(context.Context) (bool, error)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		done, err := ok(context.Background())
		if done {
			return time.Since(start)
		}
		last = err
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("replica never showed %s (last error %v)", what, last)
	return 0
}

func bundleIs(f *vaultstest.Fixture, t *testing.T, id string, stage sdksecrets.GetSecretBundleStageEnum, want string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		got, _, err := f.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: common.String(id), Stage: stage})
		return err == nil && got == want, err
	}
}

// TestSecretReplicationAcrossRegions: create, update, stage changes and
// deletion at the source reach the replica region; the replica refuses
// writes; a replica region that was down catches up.
func TestSecretReplicationAcrossRegions(t *testing.T) {
	p := newRegionPair(t)
	ctx := context.Background()
	const canary = "canary-repl-7d1e"

	details := p.src.Details("db-password", canary+"-v1")
	details.ReplicationConfig = p.target()
	created, err := p.src.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: details})
	if err != nil {
		t.Fatal(err)
	}
	id := *created.Id
	if rc := created.ReplicationConfig; rc == nil || len(rc.ReplicationTargets) != 1 || *rc.ReplicationTargets[0].TargetRegion != p.dstRegion {
		t.Fatalf("source replicationConfig = %+v", created.ReplicationConfig)
	}
	lag := awaitReplica(t, p.dst, "the new secret", bundleIs(p.dst, t, id, "", canary+"-v1"))
	t.Logf("create → readable in the replica region: %v", lag)

	rep, err := p.dst.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: common.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.IsReplica == nil || !*rep.IsReplica || *rep.VaultId != *p.dst.Vault.Id || *rep.KeyId != p.dst.KeyID || *rep.SecretName != "db-password" {
		t.Fatalf("replica = %+v", rep.Secret)
	}
	if si := rep.SourceRegionInformation; si == nil || *si.SourceRegion != p.srcRegion || *si.SourceVaultId != *p.src.Vault.Id || *si.SourceKeyId != p.src.KeyID {
		t.Fatalf("sourceRegionInformation = %+v", rep.SourceRegionInformation)
	}
	// By name in the replica's vault, too.
	byName, err := p.dst.Secrets.GetSecretBundleByName(ctx, sdksecrets.GetSecretBundleByNameRequest{SecretName: common.String("db-password"), VaultId: p.dst.Vault.Id})
	if err != nil || vaultstest.Decode(t, byName.SecretBundle) != canary+"-v1" {
		t.Fatalf("by name: %v", err)
	}

	// Update, pending version, promotion.
	update := func(d vault.UpdateSecretDetails) {
		t.Helper()
		if _, err := p.src.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: common.String(id), UpdateSecretDetails: d}); err != nil {
			t.Fatal(err)
		}
	}
	update(vault.UpdateSecretDetails{SecretContent: vaultstest.Content(canary + "-v2")})
	lag = awaitReplica(t, p.dst, "v2 CURRENT", bundleIs(p.dst, t, id, "", canary+"-v2"))
	t.Logf("update → readable in the replica region: %v", lag)
	update(vault.UpdateSecretDetails{SecretContent: vault.Base64SecretContentDetails{Content: vaultstest.B64(canary + "-v3"), Stage: vault.SecretContentDetailsStagePending}})
	awaitReplica(t, p.dst, "v3 PENDING", bundleIs(p.dst, t, id, sdksecrets.GetSecretBundleStagePending, canary+"-v3"))
	update(vault.UpdateSecretDetails{CurrentVersionNumber: common.Int64(3)})
	awaitReplica(t, p.dst, "v3 promoted", bundleIs(p.dst, t, id, "", canary+"-v3"))
	if got, _, err := p.dst.Bundle(t, sdksecrets.GetSecretBundleRequest{SecretId: common.String(id), Stage: sdksecrets.GetSecretBundleStagePrevious}); err != nil || got != canary+"-v2" {
		t.Fatalf("PREVIOUS at the replica = %q, %v", got, err)
	}

	// The replica is read-only through every write the SDK offers.
	_, err = p.dst.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: common.String(id), UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: vaultstest.Content("x")}})
	wantStatus(t, err, http.StatusBadRequest, "read-only replica")
	_, err = p.dst.Vaults.ScheduleSecretDeletion(ctx, vault.ScheduleSecretDeletionRequest{SecretId: common.String(id)})
	wantStatus(t, err, http.StatusBadRequest, "read-only replica")
	_, err = p.dst.Vaults.ChangeSecretCompartment(ctx, vault.ChangeSecretCompartmentRequest{SecretId: common.String(id),
		ChangeSecretCompartmentDetails: vault.ChangeSecretCompartmentDetails{CompartmentId: common.String(p.dst.Tenancy)}})
	wantStatus(t, err, http.StatusBadRequest, "read-only replica")

	// The replica region stops; the source goes on; the replica catches up.
	p.dst.Env.Stop()
	update(vault.UpdateSecretDetails{SecretContent: vaultstest.Content(canary + "-v4")})
	other := p.src.Details("api-token", canary+"-other")
	other.ReplicationConfig = p.target()
	second, err := p.src.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: other})
	if err != nil {
		t.Fatal(err)
	}
	p.startReplica()
	awaitReplica(t, p.dst, "v4 after the restart", bundleIs(p.dst, t, id, "", canary+"-v4"))
	awaitReplica(t, p.dst, "the secret created while it was down", bundleIs(p.dst, t, *second.Id, "", canary+"-other"))

	// Deletion scheduled at the source.
	if _, err := p.src.Vaults.ScheduleSecretDeletion(ctx, vault.ScheduleSecretDeletionRequest{SecretId: common.String(id)}); err != nil {
		t.Fatal(err)
	}
	awaitReplica(t, p.dst, "PENDING_DELETION", func(ctx context.Context) (bool, error) {
		s, err := p.dst.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: common.String(id)})
		return err == nil && s.LifecycleState == vault.SecretLifecycleStatePendingDeletion, err
	})

	// Replication turned off: the replica is deleted and its name freed.
	if _, err := p.src.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: second.Id,
		UpdateSecretDetails: vault.UpdateSecretDetails{ReplicationConfig: &vault.ReplicationConfig{ReplicationTargets: []vault.ReplicationTarget{}}}}); err != nil {
		t.Fatal(err)
	}
	awaitReplica(t, p.dst, "the dropped replica deleted", func(ctx context.Context) (bool, error) {
		s, err := p.dst.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: second.Id})
		return err == nil && s.LifecycleState == vault.SecretLifecycleStateDeleted, err
	})

	// The status the operator sees: connected, what was applied; then the
	// source goes away and the status says so.
	st := p.dst.Env.Server.ReplicationStatus()
	if len(st) != 1 || st[0].Source != p.srcRegion || !st[0].Connected || st[0].Applied+st[0].Deleted < 2 || len(st[0].Failed) != 0 {
		t.Fatalf("replication status = %+v", st)
	}
	p.src.Env.Stop()
	awaitReplica(t, p.dst, "the source reported unreachable", func(context.Context) (bool, error) {
		st := p.dst.Env.Server.ReplicationStatus()
		return !st[0].Connected && st[0].LastError != "", nil
	})

	for name, logs := range map[string]string{"source": p.src.Env.Logs.String(), "replica": p.dst.Env.Logs.String()} {
		if strings.Contains(logs, canary) {
			t.Fatalf("the %s region logged secret content", name)
		}
	}
}

// TestReplicationConfigRefusedWithoutPeer: a target region that is not a
// peer is refused with 400 before anything is stored.
func TestReplicationConfigRefusedWithoutPeer(t *testing.T) {
	f := vaultstest.Start(t, coffertest.Options{})
	d := f.Details("s", "v")
	d.ReplicationConfig = &vault.ReplicationConfig{ReplicationTargets: []vault.ReplicationTarget{{
		TargetRegion: common.String("eu-other-1"), TargetVaultId: f.Vault.Id, TargetKeyId: common.String(f.KeyID)}}}
	_, err := f.Vaults.CreateSecret(context.Background(), vault.CreateSecretRequest{CreateSecretDetails: d})
	wantStatus(t, err, http.StatusBadRequest, "no peers")
}

func wantStatus(t *testing.T, err error, status int, msg string) {
	t.Helper()
	var se common.ServiceError
	if !errors.As(err, &se) || se.GetHTTPStatusCode() != status || !strings.Contains(se.GetMessage(), msg) {
		t.Fatalf("got %v, want %d with %q", err, status, msg)
	}
}

func unsealKey(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(key)
}
