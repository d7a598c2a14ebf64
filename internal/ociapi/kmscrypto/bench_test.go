package kmscrypto_test

import (
	"crypto/rand"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/keymanagement"

	"github.com/coffer-vault/coffer/internal/coffertest"
	"github.com/coffer-vault/coffer/internal/ociapi/kmsmgmt/keystest"
	"github.com/coffer-vault/coffer/internal/server"
)

// latencies collects per-operation latencies from parallel goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	p := func(q float64) float64 { return float64(l.d[int(q*float64(len(l.d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkCrypto measures Encrypt and Decrypt of 1 KiB through the full
// HTTP path (SDK request signing, signature verification, authorization,
// store reads behind the barrier) with a SOFTWARE AES-256 key, at
// concurrency 1 and 16 (GOMAXPROCS x parallelism goroutines; run with
// -cpu 1 for exactly 1 and 16). Server logging is discarded.
func BenchmarkCrypto(b *testing.B) {
	env := coffertest.Start(b, coffertest.Options{Config: func(c *server.Config) {
		c.Log = slog.New(slog.DiscardHandler)
	}})
	v := keystest.NewVault(b, env, keymanagement.CreateVaultDetailsVaultTypeDefault)
	k := v.CreateKey(b, "bench", keystest.Shape(aes_, 32, ""), keymanagement.CreateKeyDetailsProtectionModeSoftware)
	pt := make([]byte, 1024)
	_, _ = rand.Read(pt)
	enc := encrypt(b, v, k.Id, pt, nil)

	ops := map[string]func() error{
		"Encrypt": func() error {
			_, err := v.Crypto.Encrypt(ctx, keymanagement.EncryptRequest{EncryptDataDetails: keymanagement.EncryptDataDetails{KeyId: k.Id, Plaintext: b64(pt)}})
			return err
		},
		"Decrypt": func() error {
			_, err := v.Crypto.Decrypt(ctx, keymanagement.DecryptRequest{DecryptDataDetails: keymanagement.DecryptDataDetails{KeyId: k.Id, Ciphertext: enc.Ciphertext}})
			return err
		},
	}
	for _, name := range []string{"Encrypt", "Decrypt"} {
		op := ops[name]
		for _, conc := range []int{1, 16} {
			b.Run(name+"/conc="+itoa(conc), func(b *testing.B) {
				var lat latencies
				if conc == 1 {
					d := make([]time.Duration, 0, b.N)
					for b.Loop() {
						start := time.Now()
						if err := op(); err != nil {
							b.Fatal(err)
						}
						d = append(d, time.Since(start))
					}
					lat.add(d)
				} else {
					b.SetParallelism(max(1, conc/runtimeProcs()))
					b.RunParallel(func(pb *testing.PB) {
						var d []time.Duration
						for pb.Next() {
							start := time.Now()
							if err := op(); err != nil {
								b.Error(err)
								return
							}
							d = append(d, time.Since(start))
						}
						lat.add(d)
					})
				}
				lat.report(b)
			})
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
