package bench

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	sdksecrets "github.com/oracle/oci-go-sdk/v65/secrets"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/vaultsapi/vaultstest"
	"github.com/coffer-vault/coffer/internal/secrets"
	"github.com/coffer-vault/coffer/internal/server"
)

// target is one server under load: its client and the secret ids to read.
type target struct {
	client sdksecrets.SecretsClient
	ids    []string
}

// fixture is a Coffer server holding n secrets and a baseline server
// answering with the JSON Coffer gave for one of them.
type fixture struct {
	coffer, baseline target
}

// transport is shared by both targets so that connection reuse is the same:
// the default transport keeps only 2 idle connections per host, which would
// make both sides measure TCP set-up at concurrency 16 and 64.
var transport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}

func newFixture(tb testing.TB, n int) *fixture {
	tb.Helper()
	f := vaultstest.Start(tb, coffertest.Options{Config: func(cfg *server.Config) {
		// Production-like logging: JSON at Info, written and discarded, so
		// the benchmark pays for formatting but not for a growing buffer.
		cfg.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}})
	client, err := sdksecrets.NewSecretsClientWithConfigurationProvider(cachedProvider(tb, f.Env.Provider))
	if err != nil {
		tb.Fatal(err)
	}
	coffertest.Configure(&client.BaseClient, f.Env.URL)
	client.HTTPClient = &http.Client{Transport: transport}
	f.Secrets = client
	ids := populate(tb, f, n)

	// Baseline: the same JSON Coffer returns for a bundle.
	req, _ := http.NewRequest(http.MethodGet, f.Env.URL+"/20190301/secretbundles/"+ids[0], nil)
	raw, err := f.Secrets.Call(context.Background(), req)
	if err != nil {
		tb.Fatalf("capture bundle JSON: %v", err)
	}
	body, _ := io.ReadAll(raw.Body)
	raw.Body.Close()
	etag := raw.Header.Get("etag")
	base := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("etag", etag)
		w.Header().Set("opc-request-id", "baseline")
		_, _ = w.Write(body)
	}))
	tb.Cleanup(base.Close)
	bc := f.Secrets // same provider, signing and transport
	bc.Host = base.URL
	return &fixture{coffer: target{client: f.Secrets, ids: ids}, baseline: target{client: bc, ids: ids}}
}

// cachedProvider reads the SDK configuration and parses the private key
// once. The SDK's file provider re-parses the config file and the PEM key
// on every request, which costs more CPU than the whole server-side read
// and would hide it; applications that care use a raw or cached provider.
// Every request is still signed with RSA-SHA256 by the SDK's signer.
func cachedProvider(tb testing.TB, p common.ConfigurationProvider) common.ConfigurationProvider {
	tb.Helper()
	key, err := p.PrivateRSAKey()
	if err != nil {
		tb.Fatal(err)
	}
	keyID, err := p.KeyID()
	if err != nil {
		tb.Fatal(err)
	}
	return cached{ConfigurationProvider: p, key: key, keyID: keyID}
}

type cached struct {
	common.ConfigurationProvider
	key   *rsa.PrivateKey
	keyID string
}

func (c cached) PrivateRSAKey() (*rsa.PrivateKey, error) { return c.key, nil }
func (c cached) KeyID() (string, error)                  { return c.keyID, nil }

// populate creates n secrets through the secrets domain service (not HTTP),
// with the fixture's vault and real master key, so each is a real secret
// the API reads.
func populate(tb testing.TB, f *vaultstest.Fixture, n int) []string {
	tb.Helper()
	svc := f.Env.Server.Secrets
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || failed.Load() != nil {
					return
				}
				s, err := svc.CreateSecret(context.Background(), secrets.CreateSecretRequest{
					CompartmentID: f.Tenancy, VaultID: *f.Vault.Id, KeyID: f.KeyID, Name: fmt.Sprintf("bench-%06d", i),
					Content: &secrets.ContentDetails{ContentType: secrets.ContentTypeBase64,
						Content: base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "password-%06d-%s", i, strings.Repeat("x", 32)))},
				})
				if err != nil {
					failed.Store(err)
					return
				}
				ids[i] = s.ID
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		tb.Fatalf("populate: %v", err)
	}
	if n >= 1000 {
		tb.Logf("created %d secrets in %v", n, time.Since(start).Round(time.Millisecond))
	}
	return ids
}

func (t target) call(ctx context.Context, rng *rand.Rand) error {
	id := t.ids[rng.IntN(len(t.ids))]
	resp, err := t.client.GetSecretBundle(ctx, sdksecrets.GetSecretBundleRequest{SecretId: common.String(id)})
	if err != nil {
		return err
	}
	if _, ok := resp.SecretBundleContent.(sdksecrets.Base64SecretBundleContentDetails); !ok {
		return fmt.Errorf("bundle without BASE64 content")
	}
	return nil
}

func (t target) load(conc, total int, dur time.Duration) Result {
	rngs := make([]*rand.Rand, conc)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(uint64(i), 42))
	}
	return Load(context.Background(), conc, total, dur, func(ctx context.Context, w int) error {
		return t.call(ctx, rngs[w])
	})
}

var concurrencies = []int{1, 16, 64}

func sizes(short bool) []int {
	if short {
		return []int{10}
	}
	return []int{10, 100_000}
}

// BenchmarkGetSecretBundle runs b.N GetSecretBundle calls per cell and
// reports requests per second and p50/p99 latency.
func BenchmarkGetSecretBundle(b *testing.B) {
	for _, n := range sizes(testing.Short()) {
		f := newFixture(b, n)
		for _, side := range []struct {
			name string
			t    target
		}{{"baseline", f.baseline}, {"coffer", f.coffer}} {
			for _, conc := range concurrencies {
				b.Run(fmt.Sprintf("secrets=%d/%s/conc=%d", n, side.name, conc), func(b *testing.B) {
					b.ReportAllocs()
					r := side.t.load(conc, b.N, 0)
					if r.Errors > 0 {
						b.Fatalf("%d requests failed", r.Errors)
					}
					b.ReportMetric(r.RPS(), "req/s")
					b.ReportMetric(float64(r.P50.Microseconds()), "p50-µs")
					b.ReportMetric(float64(r.P99.Microseconds()), "p99-µs")
				})
			}
		}
	}
}

// TestLoadTable prints the whole comparison with ratios. It runs only with
// COFFER_BENCH=1 (COFFER_BENCH_SECONDS sets the seconds per cell, default 5).
func TestLoadTable(t *testing.T) {
	if os.Getenv("COFFER_BENCH") != "1" {
		t.Skip("set COFFER_BENCH=1 to run the load table")
	}
	dur := 5 * time.Second
	if s := os.Getenv("COFFER_BENCH_SECONDS"); s != "" {
		d, err := time.ParseDuration(s + "s")
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	type key struct{ n, conc int }
	coffer := map[key]Result{}
	var out strings.Builder
	fmt.Fprintf(&out, "\n%-9s %-8s %4s %10s %9s %9s %8s\n", "secrets", "target", "conc", "req/s", "p50", "p99", "ratio")
	for _, n := range sizes(testing.Short()) {
		f := newFixture(t, n)
		for _, conc := range concurrencies {
			f.coffer.load(conc, 0, time.Second) // warm up connections and caches
			// Alternate short slices so both sides see the same background
			// load on a shared machine.
			var bs, cs []Result
			const slices = 5
			for range slices {
				bs = append(bs, f.baseline.load(conc, 0, dur/slices))
				cs = append(cs, f.coffer.load(conc, 0, dur/slices))
			}
			base, got := Merge(bs...), Merge(cs...)
			if base.Errors+got.Errors > 0 {
				t.Fatalf("errors: baseline %d, coffer %d", base.Errors, got.Errors)
			}
			coffer[key{n, conc}] = got
			fmt.Fprintf(&out, "%-9d %-8s %4d %10.0f %9v %9v\n", n, "baseline", conc, base.RPS(), base.P50.Round(time.Microsecond), base.P99.Round(time.Microsecond))
			fmt.Fprintf(&out, "%-9d %-8s %4d %10.0f %9v %9v %7.1f%%\n", n, "coffer", conc, got.RPS(), got.P50.Round(time.Microsecond), got.P99.Round(time.Microsecond),
				100*got.RPS()/base.RPS())
		}
	}
	if big, ok := coffer[key{100_000, 16}]; ok {
		small := coffer[key{10, 16}]
		fmt.Fprintf(&out, "100,000 vs 10 secrets at concurrency 16: %+.1f%% throughput\n", 100*(big.RPS()-small.RPS())/small.RPS())
	}
	t.Log(out.String())
}
