// Package bench measures Coffer's secret-read path end to end: the official
// SDK's SecretsClient.GetSecretBundle, with real request signing, against a
// coffertest server, next to a baseline measured in the same run (a minimal
// net/http handler returning the same JSON, called with the same client).
//
// Run the table (requests per second, p50 and p99 at concurrency 1, 16 and
// 64; 10 and 100,000 secrets):
//
//	COFFER_BENCH=1 go test ./bench -run TestLoadTable -v -timeout 30m
//
// or the same cells as Go benchmarks:
//
//	go test ./bench -run '^$' -bench . -benchmem
//
// Neither runs in a plain `go test ./...`: the table needs COFFER_BENCH=1
// and benchmarks need -bench; -short skips the 100,000-secret cells.
package bench

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Result is one load cell.
type Result struct {
	lats     []time.Duration
	Requests int
	Errors   int64
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// RPS is completed requests per second.
func (r Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// Load runs call from conc goroutines until total calls are made (total >
// 0) or dur has passed, and returns throughput and latency percentiles.
// Errors are counted, not timed.
func Load(ctx context.Context, conc, total int, dur time.Duration, call func(ctx context.Context, worker int) error) Result {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		lats  []time.Duration
		errs  atomic.Int64
		count atomic.Int64
	)
	deadline := time.Now().Add(dur)
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1024)
			for {
				if total > 0 {
					if count.Add(1) > int64(total) {
						break
					}
				} else if time.Now().After(deadline) {
					break
				}
				t0 := time.Now()
				if err := call(ctx, w); err != nil {
					errs.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return summarize(lats, errs.Load(), time.Since(start))
}

func summarize(lats []time.Duration, errs int64, elapsed time.Duration) Result {
	r := Result{lats: lats, Requests: len(lats), Errors: errs, Elapsed: elapsed}
	if len(lats) > 0 {
		slices.Sort(lats)
		r.P50 = lats[len(lats)*50/100]
		r.P99 = lats[min(len(lats)-1, len(lats)*99/100)]
	}
	return r
}

// Merge combines results of the same cell measured in several slices.
func Merge(rs ...Result) Result {
	var lats []time.Duration
	var errs int64
	var elapsed time.Duration
	for _, r := range rs {
		lats = append(lats, r.lats...)
		errs += r.Errors
		elapsed += r.Elapsed
	}
	return summarize(lats, errs, elapsed)
}
