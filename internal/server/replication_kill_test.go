package server_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/devmode"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
	"github.com/coffer-vault/coffer/internal/peer"
)

// regionProcess is a `coffer server --dev` of one region, run as its own
// process so that the test can kill -9 it.
type regionProcess struct {
	t       *testing.T
	bin     string
	region  string
	addr    string
	dataDir string
	args    []string
	cmd     *exec.Cmd
	logs    *coffertest.SyncBuffer
}

func (p *regionProcess) start() {
	p.t.Helper()
	p.cmd = exec.Command(p.bin, append([]string{"server", "--dev", "--data-dir", p.dataDir, "--listen", p.addr, "--region", p.region}, p.args...)...)
	p.cmd.Env = append(os.Environ(), "HOME="+p.t.TempDir())
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + p.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("%s did not become healthy:\n%s", p.region, p.logs.String())
}

// kill sends SIGKILL and reaps the process.
func (p *regionProcess) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

func (p *regionProcess) fixture() *vaultstest.Fixture {
	provider := common.CustomProfileConfigProvider(filepath.Join(p.dataDir, devmode.OCIDir, devmode.ConfigFile), "DEFAULT")
	return vaultstest.On(p.t, &coffertest.Env{T: p.t, URL: "http://" + p.addr, DataDir: p.dataDir, Provider: provider})
}

// TestReplicationSurvivesKill9 kills the source, then the replica region,
// with kill -9 while a stream of new versions is being replicated, restarts
// them, and checks that the replica region ends up with every version of
// the source, each with the source's content: nothing applied by half,
// nothing lost.
func TestReplicationSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the coffer binary")
	}
	bin := filepath.Join(t.TempDir(), "coffer")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/coffer").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	keys := coffertest.DataDir(t)
	ids := map[string]peer.PublicKey{}
	for _, region := range []string{"eu-src-1", "eu-dst-1"} {
		id, err := peer.CreateIdentity(filepath.Join(keys, region+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		ids[region] = id.PublicKey()
	}
	src := &regionProcess{t: t, bin: bin, region: "eu-src-1", addr: "127.0.0.1:" + freePort(t), dataDir: coffertest.DataDir(t), logs: &coffertest.SyncBuffer{}}
	dst := &regionProcess{t: t, bin: bin, region: "eu-dst-1", addr: "127.0.0.1:" + freePort(t), dataDir: coffertest.DataDir(t), logs: &coffertest.SyncBuffer{}}
	for _, pair := range [][2]*regionProcess{{src, dst}, {dst, src}} {
		self, other := pair[0], pair[1]
		self.args = []string{"--peer-identity", filepath.Join(keys, self.region+".pem"),
			"--peer", other.region + "=http://" + other.addr, "--peer-key", other.region + "=" + ids[other.region].String()}
	}
	src.start()
	dst.start()
	t.Cleanup(func() { src.kill(); dst.kill() })
	a, b := src.fixture(), dst.fixture()
	ctx := context.Background()

	target := &vault.ReplicationConfig{ReplicationTargets: []vault.ReplicationTarget{{
		TargetRegion: common.String(dst.region), TargetVaultId: b.Vault.Id, TargetKeyId: common.String(b.KeyID)}}}
	var secrets []string
	for i := range 12 {
		d := a.Details(fmt.Sprint("app-", i), fmt.Sprint("s", i, "-v1"))
		d.ReplicationConfig = target
		s, err := a.Vaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: d})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, *s.Id)
	}

	// burst writes new versions round-robin until it is stopped or the
	// source goes away.
	// burst writes new versions round-robin and kills victim after the
	// 80th, while versions are still being written and replicated. Each
	// secret holds at most 30 versions in use: two bursts of at most 140
	// writes stay within 12 secrets' room.
	burst := func(victim *regionProcess) {
		var wg sync.WaitGroup
		stop, midway := make(chan struct{}), make(chan struct{})
		writes := 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if writes < 80 {
					close(midway)
				}
			}()
			for n := 0; n < 140; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := secrets[n%len(secrets)]
				_, err := a.Vaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: common.String(id),
					UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: vaultstest.Content(fmt.Sprint(id, "#", n))}})
				if err != nil && victim != src {
					t.Errorf("update at the source: %v", err)
					return
				}
				if err != nil {
					return // the source is gone
				}
				if writes++; writes == 80 {
					close(midway)
				}
			}
		}()
		<-midway
		victim.kill()
		close(stop)
		wg.Wait()
		t.Logf("kill -9 of %s after %d writes at the source", victim.region, writes)
		if writes < 80 {
			t.Fatalf("only %d writes before the kill", writes)
		}
		victim.start()
	}
	burst(src)
	burst(dst)

	// The replica region converges on exactly the source's versions.
	converged := func() (bool, error) {
		for _, id := range secrets {
			want, err := versions(ctx, a, id)
			if err != nil {
				return false, err
			}
			got, err := versions(ctx, b, id)
			if err != nil || len(got) != len(want) {
				return false, err
			}
			for n, w := range want {
				if got[n] != w {
					return false, fmt.Errorf("version %d of %s: replica %q, source %q", n, id, got[n], w)
				}
			}
		}
		return true, nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, err := converged()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica region did not converge: %v\nreplica log:\n%s", err, dst.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	total := 0
	for _, id := range secrets {
		vs, _ := versions(ctx, a, id)
		total += len(vs)
	}
	t.Logf("%d versions of %d secrets replicated across a kill -9 of each region", total, len(secrets))
}

// versions reads every version of a secret (number → content) and its
// CURRENT number (key 0).
func versions(ctx context.Context, f *vaultstest.Fixture, id string) (map[int64]string, error) {
	out := map[int64]string{}
	sec, err := f.Vaults.GetSecret(ctx, vault.GetSecretRequest{SecretId: common.String(id)})
	if err != nil {
		return nil, err
	}
	for n := int64(1); n <= *sec.CurrentVersionNumber; n++ {
		resp, err := f.Secrets.GetSecretBundle(ctx, sdksecrets.GetSecretBundleRequest{SecretId: common.String(id), VersionNumber: common.Int64(n)})
		if err != nil {
			return nil, fmt.Errorf("version %d: %w", n, err)
		}
		out[n] = *resp.SecretBundle.SecretBundleContent.(sdksecrets.Base64SecretBundleContentDetails).Content
	}
	out[0] = fmt.Sprint(*sec.CurrentVersionNumber)
	return out, nil
}
