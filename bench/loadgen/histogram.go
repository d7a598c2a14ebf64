package loadgen

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's resolution: every power of two is split into
// 2^subBits linear buckets, so a recorded value is known within 1/32
// (about 3%) of itself, and values below 64 ns exactly.
const subBits = 5

// numBuckets covers every non-negative int64 nanosecond count.
const numBuckets = (64 - subBits + 1) << subBits

// Histogram counts durations in log-linear buckets. Recording is an index
// computation and an increment: no allocation, no lock. A Histogram is
// not safe for concurrent use; the generator keeps one per connection and
// merges them at the end. The zero value is empty and ready.
type Histogram struct {
	counts [numBuckets]uint64
	n      uint64
}

// bucketOf returns the bucket of v nanoseconds. Below 2^(subBits+1) the
// buckets are one nanosecond wide; above, v is shifted right until it has
// subBits+1 significant bits, and the bucket is that mantissa plus the
// shift in the high bits, so buckets grow with the value.
func bucketOf(v uint64) int {
	n := bits.Len64(v)
	if n <= subBits+1 {
		return int(v)
	}
	shift := uint(n - subBits - 1)
	return int(shift<<subBits + uint(v>>shift))
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 2<<subBits {
		return uint64(i), uint64(i)
	}
	shift := uint(i>>subBits) - 1
	top := uint64(i) - uint64(shift)<<subBits
	return top << shift, (top+1)<<shift - 1
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[bucketOf(v)]++
	h.n++
}

// Count is the number of recorded durations.
func (h *Histogram) Count() uint64 { return h.n }

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// Quantile returns the duration below which a fraction q (0 to 1) of the
// recorded durations fall, as the middle of the bucket that holds it; 0
// when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	// rank is 1-based: the rank-th smallest value.
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			return time.Duration(lo + (hi-lo)/2)
		}
	}
	return 0 // unreachable: the counts add up to n
}
