// Package metrics measures each version of a service that ferry serve runs:
// requests, 5xx responses, connection errors and a latency histogram per
// (service, version), the CPU and memory of the version's processes read
// from /proc, and a Prometheus /metrics endpoint over both.
//
// A rollout compares the canary with the stable version interval by
// interval: take a Snapshot of each Recorder, Sub the previous one, and
// look at ErrorRate and Quantile of what happened in between. The
// Recorder's hot path is a handful of atomic additions, so the router can
// record every request without a lock.
package metrics
