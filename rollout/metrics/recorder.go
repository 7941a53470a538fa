package metrics

import (
	"slices"
	"sync/atomic"
	"time"
)

// Recorder counts the requests of one version of one service. It is safe
// for concurrent use; recording is a few atomic additions and never takes
// a lock, so the router calls it on every request.
type Recorder struct {
	service string
	version string

	requests   atomic.Int64
	errors5xx  atomic.Int64
	connErrors atomic.Int64
	canceled   atomic.Int64
	latencySum atomic.Int64
	buckets    [BucketCount]atomic.Int64

	// pids are the version's processes, set by whoever starts them; the
	// Exporter and the rollout's analysis read their usage from /proc.
	pids atomic.Pointer[[]int]
}

// NewRecorder returns a Recorder for one version of a service.
func NewRecorder(service, version string) *Recorder {
	return &Recorder{service: service, version: version}
}

// Service returns the name of the service the Recorder measures.
func (r *Recorder) Service() string { return r.service }

// Version returns the version the Recorder measures.
func (r *Recorder) Version() string { return r.version }

// ObserveResponse records a request the version answered with status after
// latency (the time until its response headers arrived).
func (r *Recorder) ObserveResponse(status int, latency time.Duration) {
	r.requests.Add(1)
	if status >= 500 && status <= 599 {
		r.errors5xx.Add(1)
	}
	latency = max(latency, 0)
	r.buckets[bucketIndex(latency)].Add(1)
	r.latencySum.Add(int64(latency))
}

// ObserveConnError records a request the proxy could not deliver to the
// version.
func (r *Recorder) ObserveConnError() {
	r.requests.Add(1)
	r.connErrors.Add(1)
}

// ObserveCanceled records a request whose client went away before the
// version answered.
func (r *Recorder) ObserveCanceled() {
	r.requests.Add(1)
	r.canceled.Add(1)
}

// Snapshot returns the counters as they are now. Each counter is read
// atomically, but not all of them at one instant: a request recorded
// during the call may be in some counters and not yet in others, and is
// fully in the next snapshot.
func (r *Recorder) Snapshot() Snapshot {
	var s Snapshot
	// The histogram first and the request counter last: a request being
	// recorded adds to requests first, so Requests ≥ Responses() holds in
	// every snapshot.
	for i := range s.Buckets {
		s.Buckets[i] = r.buckets[i].Load()
	}
	s.LatencySum = time.Duration(r.latencySum.Load())
	s.Errors5xx = r.errors5xx.Load()
	s.ConnErrors = r.connErrors.Load()
	s.Canceled = r.canceled.Load()
	s.Requests = r.requests.Load()
	return s
}

// SetProcesses names the version's processes: the pids the supervisor
// started. Their descendants and process groups are included when usage is
// read (see Sampler). Nil or empty means none are running.
func (r *Recorder) SetProcesses(pids []int) {
	pids = slices.Clone(pids)
	r.pids.Store(&pids)
}

// Processes returns the pids last given to SetProcesses.
func (r *Recorder) Processes() []int {
	p := r.pids.Load()
	if p == nil {
		return nil
	}
	return slices.Clone(*p)
}
