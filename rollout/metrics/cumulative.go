package metrics

// Cumulative returns the snapshot's latency histogram as Prometheus
// takes it: the number of observations, and per upper bound in seconds
// the number at or below it; for collectors of recorders other than the
// Exporter's own (the requests a router forwards to each peer site).
func (s Snapshot) Cumulative() (count uint64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(bucketBounds))
	for i, bound := range bucketBounds {
		count += uint64(max(s.Buckets[i], 0))
		buckets[bound.Seconds()] = count
	}
	count += uint64(max(s.Buckets[len(bucketBounds)], 0))
	return count, buckets
}
