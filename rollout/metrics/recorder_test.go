package metrics

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestRecorderConcurrent(t *testing.T) {
	r := NewRecorder("api", "1.4.0")
	const workers, perWorker = 8, 5000
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		// Snapshots taken while requests are recorded stay consistent.
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := r.Snapshot()
			if s.Requests < s.Responses()+s.ConnErrors+s.Canceled {
				t.Errorf("snapshot has %d requests but %d responses, %d connection errors, %d canceled", s.Requests, s.Responses(), s.ConnErrors, s.Canceled)
				return
			}
		}
	})
	var writers sync.WaitGroup
	for w := range workers {
		writers.Go(func() {
			for i := range perWorker {
				switch i % 10 {
				case 0:
					r.ObserveConnError()
				case 1:
					r.ObserveCanceled()
				case 2:
					r.ObserveResponse(503, time.Duration(w+1)*time.Millisecond)
				default:
					r.ObserveResponse(200, time.Duration(w+1)*time.Millisecond)
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()

	s := r.Snapshot()
	const total = workers * perWorker
	if s.Requests != total || s.ConnErrors != total/10 || s.Canceled != total/10 || s.Errors5xx != total/10 || s.Responses() != total*8/10 {
		t.Fatalf("got requests %d, conn errors %d, canceled %d, 5xx %d, responses %d; want %d, %d, %d, %d, %d",
			s.Requests, s.ConnErrors, s.Canceled, s.Errors5xx, s.Responses(), total, total/10, total/10, total/10, total*8/10)
	}
	var wantSum time.Duration
	for w := range workers {
		wantSum += time.Duration(w+1) * time.Millisecond * perWorker * 8 / 10
	}
	if s.LatencySum != wantSum {
		t.Errorf("latency sum %v, want %v", s.LatencySum, wantSum)
	}
	if got, want := s.ErrorRate(), 0.2; math.Abs(got-want) > 1e-9 {
		t.Errorf("error rate %v, want %v", got, want)
	}
}

// TestQuantileKnownDistributions checks the interpolated quantiles against
// the exact ones. An estimate is never further off than the bucket the true
// quantile falls in (a √2 range); for distributions that are smooth across
// a bucket, interpolation brings it within a few percent.
func TestQuantileKnownDistributions(t *testing.T) {
	const n = 200_000
	tests := []struct {
		name      string
		sample    func(*rand.Rand) time.Duration
		want      func(q float64) time.Duration
		tolerance float64 // relative; 0 checks the bucket only
	}{{
		name: "exponential, mean 5ms",
		sample: func(rng *rand.Rand) time.Duration {
			return time.Duration(rng.ExpFloat64() * float64(5*time.Millisecond))
		},
		want:      func(q float64) time.Duration { return time.Duration(-math.Log(1-q) * float64(5*time.Millisecond)) },
		tolerance: 0.08,
	}, {
		// The distribution ends inside a bucket, which interpolation
		// assumes is filled evenly: the high quantiles come out high,
		// but within the bucket.
		name:   "uniform, 0 to 2s",
		sample: func(rng *rand.Rand) time.Duration { return time.Duration(rng.Float64() * float64(2*time.Second)) },
		want:   func(q float64) time.Duration { return time.Duration(q * float64(2*time.Second)) },
	}, {
		name:      "log-uniform, 1ms to 10s",
		tolerance: 0.05,
		sample: func(rng *rand.Rand) time.Duration {
			return time.Duration(math.Exp(math.Log(1e6)+rng.Float64()*math.Log(1e4)) * float64(time.Nanosecond))
		},
		want: func(q float64) time.Duration {
			return time.Duration(math.Exp(math.Log(1e6)+q*math.Log(1e4)) * float64(time.Nanosecond))
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRecorder("api", "1")
			rng := rand.New(rand.NewPCG(1, 2))
			for range n {
				r.ObserveResponse(200, tt.sample(rng))
			}
			s := r.Snapshot()
			for _, q := range []float64{0.5, 0.9, 0.95, 0.99} {
				got, want := s.Quantile(q), tt.want(q)
				if gi, wi := bucketIndex(got), bucketIndex(want); gi < wi-1 || gi > wi+1 {
					t.Errorf("p%v = %v in bucket %d, want %v in bucket %d", q*100, got, gi, want, wi)
				}
				if rel := math.Abs(float64(got-want)) / float64(want); tt.tolerance > 0 && rel > tt.tolerance {
					t.Errorf("p%v = %v, want %v (off by %.1f%%)", q*100, got, want, rel*100)
				}
			}
		})
	}
}

func TestQuantileEdges(t *testing.T) {
	var empty Snapshot
	if got := empty.Quantile(0.99); got != 0 {
		t.Errorf("quantile of nothing = %v, want 0", got)
	}
	if got := empty.ErrorRate(); got != 0 {
		t.Errorf("error rate of nothing = %v, want 0", got)
	}

	r := NewRecorder("api", "1")
	for range 100 {
		r.ObserveResponse(200, 3*time.Millisecond)
	}
	s := r.Snapshot()
	bounds := BucketBounds()
	i := bucketIndex(3 * time.Millisecond)
	for _, q := range []float64{-1, 0, 0.5, 0.99, 1, 2} {
		if got := s.Quantile(q); got < bounds[i-1] || got > bounds[i] {
			t.Errorf("p%v of a constant 3ms = %v, want within its bucket (%v, %v]", q*100, got, bounds[i-1], bounds[i])
		}
	}
	if got := s.Quantile(math.NaN()); got != 0 {
		t.Errorf("quantile NaN = %v, want 0", got)
	}

	slow := NewRecorder("api", "1")
	slow.ObserveResponse(200, time.Hour)
	if got, want := slow.Snapshot().Quantile(0.5), bounds[len(bounds)-1]; got != want {
		t.Errorf("quantile of an hour = %v, want the last bound %v", got, want)
	}
	if s := slow.Snapshot(); s.Buckets[BucketCount-1] != 1 {
		t.Errorf("an hour is not in the overflow bucket: %v", s.Buckets)
	}
	if bounds[0] != 100*time.Microsecond || bounds[len(bounds)-1] < 30*time.Second {
		t.Errorf("bounds run from %v to %v, want 100µs to at least 30s", bounds[0], bounds[len(bounds)-1])
	}
}

func TestBucketIndexInclusive(t *testing.T) {
	bounds := BucketBounds()
	for i, b := range bounds {
		if got := bucketIndex(b); got != i {
			t.Errorf("bucketIndex(%v) = %d, want %d (bounds are inclusive)", b, got, i)
		}
		if got := bucketIndex(b + 1); got != i+1 {
			t.Errorf("bucketIndex(%v+1ns) = %d, want %d", b, got, i+1)
		}
	}
	if got := bucketIndex(0); got != 0 {
		t.Errorf("bucketIndex(0) = %d, want 0", got)
	}
}

func TestSnapshotSub(t *testing.T) {
	r := NewRecorder("api", "1")
	for range 50 {
		r.ObserveResponse(200, 200*time.Millisecond)
	}
	before := r.Snapshot()
	for range 40 {
		r.ObserveResponse(200, 2*time.Millisecond)
	}
	for range 10 {
		r.ObserveResponse(500, 2*time.Millisecond)
	}
	r.ObserveConnError()
	r.ObserveCanceled()
	d := r.Snapshot().Sub(before)
	if d.Requests != 52 || d.Responses() != 50 || d.Errors5xx != 10 || d.ConnErrors != 1 || d.Canceled != 1 {
		t.Fatalf("interval: %d requests, %d responses, %d 5xx, %d conn errors, %d canceled; want 52, 50, 10, 1, 1",
			d.Requests, d.Responses(), d.Errors5xx, d.ConnErrors, d.Canceled)
	}
	if got := d.Quantile(0.99); got > 3*time.Millisecond {
		t.Errorf("p99 of the interval = %v, want about 2ms: the slow requests before it leaked in", got)
	}
	if got, want := d.ErrorRate(), 11.0/52; math.Abs(got-want) > 1e-9 {
		t.Errorf("error rate %v, want %v", got, want)
	}
	if got := d.MeanLatency(); got != 2*time.Millisecond {
		t.Errorf("mean latency %v, want 2ms", got)
	}
}

func TestRecorderProcesses(t *testing.T) {
	r := NewRecorder("api", "1")
	if got := r.Processes(); got != nil {
		t.Errorf("processes before any were set: %v", got)
	}
	pids := []int{10, 20}
	r.SetProcesses(pids)
	pids[0] = 99
	if got := r.Processes(); len(got) != 2 || got[0] != 10 || got[1] != 20 {
		t.Errorf("processes = %v, want [10 20] (a copy of what was set)", got)
	}
}

func BenchmarkObserveResponse(b *testing.B) {
	r := NewRecorder("api", "1")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.ObserveResponse(200, 1500*time.Microsecond)
		}
	})
}
