package metrics

import (
	"math"
	"slices"
	"time"
)

// BucketCount is the number of latency buckets: 38 upper bounds from 100µs
// to about 37s, each √2 times the one before, and one bucket for anything
// slower. √2 keeps the interpolated quantiles within a few percent of the
// true ones while a histogram stays small enough to copy by value.
const BucketCount = 39

// bucketBounds holds the upper bounds of every bucket but the last. It is
// computed once and only read.
var bucketBounds = func() (b [BucketCount - 1]time.Duration) {
	for i := range b {
		b[i] = time.Duration(math.Round(float64(100*time.Microsecond) * math.Pow(math.Sqrt2, float64(i))))
	}
	return b
}()

// BucketBounds returns the inclusive upper bound of each latency bucket,
// in order; Snapshot.Buckets has one more entry, for latencies above the
// last bound.
func BucketBounds() []time.Duration {
	return slices.Clone(bucketBounds[:])
}

// bucketIndex returns the bucket a latency falls in: the first whose upper
// bound is at least d, as in a Prometheus histogram's "le" buckets.
func bucketIndex(d time.Duration) int {
	i, _ := slices.BinarySearch(bucketBounds[:], d)
	return i
}

// quantile returns the q-quantile (0 ≤ q ≤ 1) of the latencies counted in
// buckets, interpolating linearly inside the bucket the quantile falls in,
// as Prometheus's histogram_quantile does. A quantile in the overflow
// bucket is reported as the last bound: all that is known is that it is at
// least that slow. It returns 0 when the buckets are empty.
func quantile(buckets *[BucketCount]int64, q float64) time.Duration {
	var total int64
	for _, n := range buckets {
		total += n
	}
	if total <= 0 || math.IsNaN(q) {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := q * float64(total)
	var below int64
	for i, n := range buckets {
		if n <= 0 {
			continue
		}
		if float64(below+n) >= rank {
			if i == len(bucketBounds) {
				return bucketBounds[len(bucketBounds)-1]
			}
			var lower time.Duration
			if i > 0 {
				lower = bucketBounds[i-1]
			}
			upper := bucketBounds[i]
			frac := (rank - float64(below)) / float64(n)
			return lower + time.Duration(frac*float64(upper-lower))
		}
		below += n
	}
	return bucketBounds[len(bucketBounds)-1]
}
