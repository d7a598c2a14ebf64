package bench

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/keymanagement"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"
	"github.com/oracle/oci-go-sdk/v65/vault"

	"github.com/coffer-vault/coffer/bench/loadgen"
	"github.com/coffer-vault/coffer/internal/peer"
)

// regionServer is a `coffer server --dev` of one region with a peer.
type regionServer struct {
	*proc
	url, metrics, config string
}

// replicationSecrets is how many secrets the burst spreads its writes
// over: each holds at most 30 versions in use, and two concurrent writes
// to one secret would make the second wait for the first's lease.
const replicationSecrets = 400

// TestReplicationLag measures cross-region replication between two
// `coffer server --dev` processes on loopback (source and replica region,
// SQLite each): the time from UpdateSecret returning at the source to the
// new content being served in the replica region, at rest; and, under a
// burst of UpdateSecret at the most the source accepts (signed beforehand,
// sent by loadgen), the replica's lag gauge during the burst and the time
// after the burst until every secret's replica holds its last version.
//
//	COFFER_BENCH=1 go test ./bench -run TestReplicationLag -v
func TestReplicationLag(t *testing.T) {
	if os.Getenv("COFFER_BENCH") == "" {
		t.Skip("set COFFER_BENCH=1 to measure replication lag")
	}
	dir := t.TempDir()
	bin := buildCoffer(t, dir)
	keys := map[string]peer.PublicKey{}
	for _, region := range []string{"eu-src-1", "eu-dst-1"} {
		id, err := peer.CreateIdentity(filepath.Join(dir, region+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		keys[region] = id.PublicKey()
	}
	srcAddr, dstAddr := freeAddr(t), freeAddr(t)
	start := func(region, addr, other, otherAddr string, extra ...string) *regionServer {
		data := filepath.Join(dir, region)
		if err := os.Mkdir(data, 0o700); err != nil {
			t.Fatal(err)
		}
		s := &regionServer{url: "http://" + addr, metrics: freeAddr(t), config: filepath.Join(data, "oci", "config")}
		args := append([]string{"server", "--dev", "--data-dir", data, "--listen", addr, "--region", region,
			"--metrics-listen", s.metrics, "--pprof", "--log-level", "warn",
			"--peer-identity", filepath.Join(dir, region+".pem"),
			"--peer", other + "=" + "http://" + otherAddr, "--peer-key", other + "=" + keys[other].String()}, extra...)
		s.proc = startProc(t, region, exec.Command(bin, args...), filepath.Join(dir, region+".log"))
		waitHealthy(t, s.proc, http.DefaultClient, s.url+"/healthz")
		return s
	}
	// COFFER_BENCH_POSTGRES_DSN puts the source region on PostgreSQL
	// (a fresh schema), whose commits of concurrent writers share a flush:
	// SQLite commits one writer at a time, each with an fsync.
	var srcStore []string
	if dsn := os.Getenv("COFFER_BENCH_POSTGRES_DSN"); dsn != "" {
		srcStore = []string{"--database-url", freshSchema(t, dsn)}
	}
	src := start("eu-src-1", srcAddr, "eu-dst-1", dstAddr, srcStore...)
	dst := start("eu-dst-1", dstAddr, "eu-src-1", srcAddr)
	ps, pd := adminProvider(t, src.config), adminProvider(t, dst.config)
	ctx := context.Background()

	vaults := func(p common.ConfigurationProvider, url string) (vault.VaultsClient, sdksecrets.SecretsClient, string, string) {
		tenancy, _ := p.TenancyOCID()
		kv, err := keymanagement.NewKmsVaultClientWithConfigurationProvider(p)
		if err != nil {
			t.Fatal(err)
		}
		kv.Host = url
		v, err := kv.CreateVault(ctx, keymanagement.CreateVaultRequest{CreateVaultDetails: keymanagement.CreateVaultDetails{
			CompartmentId: common.String(tenancy), DisplayName: common.String("repl"), VaultType: keymanagement.CreateVaultDetailsVaultTypeDefault}})
		if err != nil {
			t.Fatal(err)
		}
		km, err := keymanagement.NewKmsManagementClientWithConfigurationProvider(p, *v.ManagementEndpoint)
		if err != nil {
			t.Fatal(err)
		}
		k, err := km.CreateKey(ctx, keymanagement.CreateKeyRequest{CreateKeyDetails: keymanagement.CreateKeyDetails{
			CompartmentId: common.String(tenancy), DisplayName: common.String("k"), ProtectionMode: keymanagement.CreateKeyDetailsProtectionModeSoftware,
			KeyShape: &keymanagement.KeyShape{Algorithm: keymanagement.KeyShapeAlgorithmAes, Length: common.Int(32)}}})
		if err != nil {
			t.Fatal(err)
		}
		vc, err := vault.NewVaultsClientWithConfigurationProvider(p)
		if err != nil {
			t.Fatal(err)
		}
		vc.Host = url
		sc, err := sdksecrets.NewSecretsClientWithConfigurationProvider(p)
		if err != nil {
			t.Fatal(err)
		}
		sc.Host = url
		return vc, sc, *v.Id, *k.Id
	}
	srcVaults, _, srcVault, srcKey := vaults(ps, src.url)
	_, dstSecrets, dstVault, dstKey := vaults(pd, dst.url)
	tenancy, _ := ps.TenancyOCID()
	target := &vault.ReplicationConfig{ReplicationTargets: []vault.ReplicationTarget{{
		TargetRegion: common.String("eu-dst-1"), TargetVaultId: common.String(dstVault), TargetKeyId: common.String(dstKey)}}}
	ids := make([]string, replicationSecrets)
	for i := range ids {
		s, err := srcVaults.CreateSecret(ctx, vault.CreateSecretRequest{CreateSecretDetails: vault.CreateSecretDetails{
			CompartmentId: common.String(tenancy), VaultId: common.String(srcVault), KeyId: common.String(srcKey),
			SecretName: common.String(fmt.Sprint("s", i)), ReplicationConfig: target,
			SecretContent: vault.Base64SecretContentDetails{Content: common.String(b64(fmt.Sprint("v1-", i)))}}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = *s.Id
	}
	served := func(id, want string) bool {
		resp, err := dstSecrets.GetSecretBundle(ctx, sdksecrets.GetSecretBundleRequest{SecretId: common.String(id)})
		if err != nil {
			return false
		}
		c, ok := resp.SecretBundleContent.(sdksecrets.Base64SecretBundleContentDetails)
		return ok && *c.Content == b64(want)
	}
	waitServed := func(id, want string, within time.Duration) time.Duration {
		t0 := time.Now()
		for !served(id, want) {
			if time.Since(t0) > within {
				t.Fatalf("%s never reached the replica region", id)
			}
			time.Sleep(time.Millisecond)
		}
		return time.Since(t0)
	}
	waitServed(ids[len(ids)-1], fmt.Sprint("v1-", len(ids)-1), time.Minute)

	// At rest: one update at a time.
	var atRest []time.Duration
	for i := range 50 {
		id := ids[i%len(ids)]
		want := fmt.Sprint("rest-", i)
		if _, err := srcVaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: common.String(id),
			UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: vault.Base64SecretContentDetails{Content: common.String(b64(want))}}}); err != nil {
			t.Fatal(err)
		}
		atRest = append(atRest, waitServed(id, want, 30*time.Second))
	}
	sort.Slice(atRest, func(i, j int) bool { return atRest[i] < atRest[j] })
	t.Logf("at rest (50 updates, UpdateSecret returned → replica serves it): p50 %v, p90 %v, max %v",
		atRest[len(atRest)/2].Round(100*time.Microsecond), atRest[len(atRest)*9/10].Round(100*time.Microsecond), atRest[len(atRest)-1].Round(100*time.Microsecond))

	// The burst: UpdateSecret signed beforehand, round-robin over the
	// secrets, as fast as the source takes them.
	const burstSeconds = 3
	const perSecretRoom = 25 // versions each secret may still take
	n := replicationSecrets * perSecretRoom
	reqs := updateRequests(t, ps, src.url, ids, n)
	var samples []float64
	var mu sync.Mutex
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if v, ok := gauge(dst.metrics, "coffer_replication_delay_seconds"); ok {
					mu.Lock()
					samples = append(samples, v)
					mu.Unlock()
				}
			}
		}
	}()
	// COFFER_BENCH_PROFILE=DIR: CPU profiles of both regions during the
	// burst.
	var profiles sync.WaitGroup
	if out := os.Getenv("COFFER_BENCH_PROFILE"); out != "" {
		for name, s := range map[string]*regionServer{"src": src, "dst": dst} {
			profiles.Add(1)
			go func() {
				defer profiles.Done()
				resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.metrics, burstSeconds))
				if err != nil {
					t.Errorf("profile %s: %v", name, err)
					return
				}
				defer resp.Body.Close()
				f, err := os.Create(filepath.Join(out, "replication-"+name+".pprof"))
				if err != nil {
					t.Errorf("profile %s: %v", name, err)
					return
				}
				defer f.Close()
				_, _ = io.Copy(f, resp.Body)
			}()
		}
	}
	res, err := loadgen.Run(ctx, loadgen.Config{Addr: srcAddr, Requests: reqs, Concurrency: 16, Duration: burstSeconds * time.Second})
	profiles.Wait()
	if err != nil {
		t.Fatal(err)
	}
	burstEnd := time.Now()
	if res.Status[http.StatusOK] == 0 {
		t.Fatalf("no update succeeded: %+v (first error %v)", res.Status, res.FirstError)
	}
	// Caught up: a marker written at the source after the burst is served
	// in the replica region. Changes arrive in the source's commit order,
	// each answer whole, so everything before the marker is there too
	// (checked below, untimed).
	if _, err := srcVaults.UpdateSecret(ctx, vault.UpdateSecretRequest{SecretId: common.String(ids[0]),
		UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: vault.Base64SecretContentDetails{Content: common.String(b64("marker"))}}}); err != nil {
		t.Fatal(err)
	}
	markerWritten := time.Now()
	waitServed(ids[0], "marker", 2*time.Minute)
	caughtUp, drained := time.Since(burstEnd), time.Since(markerWritten)
	srcSecrets, err := sdksecrets.NewSecretsClientWithConfigurationProvider(ps)
	if err != nil {
		t.Fatal(err)
	}
	srcSecrets.Host = src.url
	for _, id := range ids {
		resp, err := srcSecrets.GetSecretBundle(ctx, sdksecrets.GetSecretBundleRequest{SecretId: common.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		c := resp.SecretBundleContent.(sdksecrets.Base64SecretBundleContentDetails)
		raw, _ := base64.StdEncoding.DecodeString(*c.Content)
		if !served(id, string(raw)) {
			t.Fatalf("after catching up, the replica of %s does not serve the source's CURRENT", id)
		}
	}
	close(stopSampling)
	sampler.Wait()
	sort.Float64s(samples)
	if len(samples) == 0 {
		t.Fatal("no delay samples")
	}
	p50, maxDelay := samples[len(samples)/2], samples[len(samples)-1]
	store := "SQLite"
	if len(srcStore) > 0 {
		store = "PostgreSQL"
	}
	t.Logf("source on %s; burst: %d UpdateSecret accepted in %ds = %.0f writes/s (16 connections; statuses %v; errors %d); delay of changes when applied in the replica region (coffer_replication_delay_seconds every 50 ms) p50 %.0f ms, max %.0f ms over %d samples; a marker written after the burst was served in the replica region %v after the burst ended (%v after its UpdateSecret returned), every replica then checked against its source",
		store, res.Status[http.StatusOK], burstSeconds, float64(res.Status[http.StatusOK])/res.Elapsed.Seconds(), res.Status, res.Errors,
		p50*1000, maxDelay*1000, len(samples), caughtUp.Round(time.Millisecond), drained.Round(100*time.Microsecond))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// updateRequests signs n UpdateSecret requests, request i writing
// "burst-i" to ids[i%len(ids)].
func updateRequests(t testing.TB, p common.ConfigurationProvider, host string, ids []string, n int) [][]byte {
	t.Helper()
	out := make([][]byte, n)
	signAll(t, n, func() func(int) error {
		client, err := vault.NewVaultsClientWithConfigurationProvider(p)
		if err != nil {
			return func(int) error { return err }
		}
		c := &capture{}
		noRetry(&client.BaseClient, host, c, p)
		return func(i int) error {
			c.raw = nil
			_, err := client.UpdateSecret(context.Background(), vault.UpdateSecretRequest{SecretId: common.String(ids[i%len(ids)]),
				UpdateSecretDetails: vault.UpdateSecretDetails{SecretContent: vault.Base64SecretContentDetails{Content: common.String(b64(fmt.Sprint("burst-", i)))}}})
			if c.raw == nil {
				return fmt.Errorf("sign UpdateSecret: %v", err)
			}
			out[i] = c.raw
			return nil
		}
	})
	return out
}

// gauge reads the first series of a metric from a metrics listener.
func gauge(addr, name string) (float64, bool) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			return v, err == nil
		}
	}
	return 0, false
}

// freshSchema creates a schema in the database of dsn and returns dsn with
// it as the search path; it is dropped when the test ends.
func freshSchema(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), dsn); err == nil {
			_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}
