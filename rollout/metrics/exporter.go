package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Exporter publishes Recorders in the Prometheus text format. It reads
// them when scraped, so a scrape always shows the current counters and
// nothing is copied per request. It is safe for concurrent use.
//
// Metrics, each labelled service and version:
//
//	ferry_requests_total                     counter
//	ferry_responses_5xx_total                counter
//	ferry_connection_errors_total            counter
//	ferry_requests_canceled_total            counter
//	ferry_request_duration_seconds           histogram (time to response headers)
//	ferry_process_cpu_seconds_total          counter   (with a Sampler and processes set)
//	ferry_process_resident_memory_bytes      gauge     (with a Sampler and processes set)
//	ferry_processes                          gauge     (with a Sampler and processes set)
type Exporter struct {
	sampler  *Sampler
	registry *prometheus.Registry

	requests, errors5xx, connErrors, canceled, duration *prometheus.Desc
	cpu, rss, processes                                 *prometheus.Desc

	mu        sync.Mutex
	recorders map[recorderKey]*Recorder
}

type recorderKey struct{ service, version string }

// NewExporter returns an Exporter with a registry of its own (never the
// process-wide default one). With a non-nil sampler it also publishes the
// CPU and memory of each Recorder's processes.
func NewExporter(sampler *Sampler) *Exporter {
	labels := []string{"service", "version"}
	e := &Exporter{
		sampler:   sampler,
		registry:  prometheus.NewRegistry(),
		recorders: make(map[recorderKey]*Recorder),

		requests:   prometheus.NewDesc("ferry_requests_total", "Requests routed to the version.", labels, nil),
		errors5xx:  prometheus.NewDesc("ferry_responses_5xx_total", "Responses from the version with a 5xx status.", labels, nil),
		connErrors: prometheus.NewDesc("ferry_connection_errors_total", "Requests the proxy could not deliver to the version.", labels, nil),
		canceled:   prometheus.NewDesc("ferry_requests_canceled_total", "Requests whose client went away before the version answered.", labels, nil),
		duration:   prometheus.NewDesc("ferry_request_duration_seconds", "Time until the version's response headers arrived.", labels, nil),
		cpu:        prometheus.NewDesc("ferry_process_cpu_seconds_total", "User and system CPU time of the version's processes and their waited-for children.", labels, nil),
		rss:        prometheus.NewDesc("ferry_process_resident_memory_bytes", "Sum of the resident set sizes of the version's processes.", labels, nil),
		processes:  prometheus.NewDesc("ferry_processes", "Number of the version's processes running.", labels, nil),
	}
	e.registry.MustRegister(e)
	return e
}

// Add publishes r, replacing any Recorder of the same service and version.
func (e *Exporter) Add(r *Recorder) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.recorders[recorderKey{r.service, r.version}] = r
}

// Remove stops publishing r (a version that is gone). Removing a Recorder
// that was replaced or never added does nothing.
func (e *Exporter) Remove(r *Recorder) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := recorderKey{r.service, r.version}
	if e.recorders[k] == r {
		delete(e.recorders, k)
	}
}

// Registry returns the Exporter's registry, for the caller to add
// collectors of its own to the same endpoint.
func (e *Exporter) Registry() *prometheus.Registry { return e.registry }

// Handler serves the registry's metrics, as mounted at /metrics. A metric
// that cannot be read (/proc unreadable) is left out and the rest served.
func (e *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{e.requests, e.errors5xx, e.connErrors, e.canceled, e.duration} {
		ch <- d
	}
	if e.sampler != nil {
		ch <- e.cpu
		ch <- e.rss
		ch <- e.processes
	}
}

// Collect implements prometheus.Collector: it reads every Recorder, and
// /proc once for all of them.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	e.mu.Lock()
	recorders := make([]*Recorder, 0, len(e.recorders))
	for _, r := range e.recorders {
		recorders = append(recorders, r)
	}
	e.mu.Unlock()

	for _, r := range recorders {
		e.collectRequests(ch, r)
	}
	if e.sampler == nil {
		return
	}
	table, err := e.sampler.scan()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(e.processes, err)
		return
	}
	for _, r := range recorders {
		pids := r.Processes()
		if len(pids) == 0 {
			continue
		}
		s := table.sample(pids)
		ch <- prometheus.MustNewConstMetric(e.cpu, prometheus.CounterValue, s.CPU.Seconds(), r.service, r.version)
		ch <- prometheus.MustNewConstMetric(e.rss, prometheus.GaugeValue, float64(s.RSS), r.service, r.version)
		ch <- prometheus.MustNewConstMetric(e.processes, prometheus.GaugeValue, float64(s.Processes), r.service, r.version)
	}
}

func (e *Exporter) collectRequests(ch chan<- prometheus.Metric, r *Recorder) {
	s := r.Snapshot()
	ch <- prometheus.MustNewConstMetric(e.requests, prometheus.CounterValue, float64(s.Requests), r.service, r.version)
	ch <- prometheus.MustNewConstMetric(e.errors5xx, prometheus.CounterValue, float64(s.Errors5xx), r.service, r.version)
	ch <- prometheus.MustNewConstMetric(e.connErrors, prometheus.CounterValue, float64(s.ConnErrors), r.service, r.version)
	ch <- prometheus.MustNewConstMetric(e.canceled, prometheus.CounterValue, float64(s.Canceled), r.service, r.version)

	cumulative := make(map[float64]uint64, len(bucketBounds))
	var count uint64
	for i, bound := range bucketBounds {
		count += uint64(max(s.Buckets[i], 0))
		cumulative[bound.Seconds()] = count
	}
	count += uint64(max(s.Buckets[len(bucketBounds)], 0))
	ch <- prometheus.MustNewConstHistogram(e.duration, count, s.LatencySum.Seconds(), cumulative, r.service, r.version)
}
