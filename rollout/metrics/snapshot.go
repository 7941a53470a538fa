package metrics

import "time"

// Snapshot is the state of a Recorder at one moment. Counters only grow,
// so the difference of two snapshots (Sub) describes the interval between
// them.
type Snapshot struct {
	// Requests counts every request routed to the version, whatever
	// became of it.
	Requests int64
	// Errors5xx counts responses from the version with a 5xx status.
	Errors5xx int64
	// ConnErrors counts requests the proxy could not deliver: the version
	// refused the connection, reset it, or closed it without answering.
	ConnErrors int64
	// Canceled counts requests whose client went away before the version
	// answered. They are neither errors nor latencies of the version, but
	// a version that hangs shows up here.
	Canceled int64
	// Buckets counts responses by latency (the time until the version's
	// response headers arrived): Buckets[i] those above BucketBounds()[i-1]
	// and at most BucketBounds()[i], the last those above every bound.
	Buckets [BucketCount]int64
	// LatencySum is the sum of the latencies counted in Buckets.
	LatencySum time.Duration
}

// Sub returns what happened between prev, an earlier snapshot of the same
// Recorder, and s.
func (s Snapshot) Sub(prev Snapshot) Snapshot {
	d := Snapshot{
		Requests:   s.Requests - prev.Requests,
		Errors5xx:  s.Errors5xx - prev.Errors5xx,
		ConnErrors: s.ConnErrors - prev.ConnErrors,
		Canceled:   s.Canceled - prev.Canceled,
		LatencySum: s.LatencySum - prev.LatencySum,
	}
	for i := range d.Buckets {
		d.Buckets[i] = s.Buckets[i] - prev.Buckets[i]
	}
	return d
}

// Responses returns the number of responses the version gave: the requests
// counted in the latency histogram.
func (s Snapshot) Responses() int64 {
	var n int64
	for _, b := range s.Buckets {
		n += b
	}
	return n
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the response latencies,
// interpolated within its bucket; 0 when there were no responses.
func (s Snapshot) Quantile(q float64) time.Duration {
	return quantile(&s.Buckets, q)
}

// ErrorRate returns the fraction of requests that failed because of the
// version: 5xx responses and connection errors over all requests. It is 0
// when there were no requests.
func (s Snapshot) ErrorRate() float64 {
	if s.Requests <= 0 {
		return 0
	}
	return float64(s.Errors5xx+s.ConnErrors) / float64(s.Requests)
}

// MeanLatency returns the average response latency; 0 when there were no
// responses.
func (s Snapshot) MeanLatency() time.Duration {
	n := s.Responses()
	if n <= 0 {
		return 0
	}
	return s.LatencySum / time.Duration(n)
}
