package sites

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"ferry/rollout/metrics"
)

// Collector publishes the routing across sites on /metrics, each
// labelled service and site:
//
//	ferry_site_requests_total              counter   (requests forwarded to the site)
//	ferry_site_responses_5xx_total         counter
//	ferry_site_connection_errors_total     counter   (the site could not be reached)
//	ferry_site_request_duration_seconds    histogram (time to the site's response headers)
//	ferry_site_healthy                     gauge     (1 healthy, 0 not)
//	ferry_site_probe_latency_seconds       gauge     (smoothed)
//	ferry_site_failovers_total             counter   (labelled service and kind: failover or failback)
//
// Requests served at this site are the versions' own metrics.
type Collector struct {
	mu       sync.Mutex
	monitors []*Monitor
	// recorders count the requests forwarded to each peer, by service
	// and site.
	recorders map[[2]string]*metrics.Recorder

	requests, errors5xx, connErrors, duration, healthy, latency, failovers *prometheus.Desc
}

// NewCollector returns an empty Collector.
func NewCollector() *Collector {
	l := []string{"service", "site"}
	return &Collector{
		recorders:  map[[2]string]*metrics.Recorder{},
		requests:   prometheus.NewDesc("ferry_site_requests_total", "Requests forwarded to the peer site.", l, nil),
		errors5xx:  prometheus.NewDesc("ferry_site_responses_5xx_total", "Responses from the peer site with a 5xx status.", l, nil),
		connErrors: prometheus.NewDesc("ferry_site_connection_errors_total", "Requests the router could not deliver to the peer site.", l, nil),
		duration:   prometheus.NewDesc("ferry_site_request_duration_seconds", "Time until the peer site's response headers arrived.", l, nil),
		healthy:    prometheus.NewDesc("ferry_site_healthy", "Whether the site serves the service (1) or not (0), after hysteresis.", l, nil),
		latency:    prometheus.NewDesc("ferry_site_probe_latency_seconds", "Smoothed time of the site's health probe.", l, nil),
		failovers:  prometheus.NewDesc("ferry_site_failovers_total", "Moves of the service's traffic between sites.", []string{"service", "kind"}, nil),
	}
}

// Add publishes m's sites.
func (c *Collector) Add(m *Monitor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.monitors = append(c.monitors, m)
}

// Recorder returns the recorder of the requests of service forwarded to
// site, made on first use.
func (c *Collector) Recorder(service, site string) *metrics.Recorder {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := [2]string{service, site}
	r := c.recorders[k]
	if r == nil {
		r = metrics.NewRecorder(service, site)
		c.recorders[k] = r
	}
	return r
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.errors5xx, c.connErrors, c.duration, c.healthy, c.latency, c.failovers} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	monitors := append([]*Monitor(nil), c.monitors...)
	recorders := make(map[[2]string]*metrics.Recorder, len(c.recorders))
	for k, r := range c.recorders {
		recorders[k] = r
	}
	c.mu.Unlock()
	for k, r := range recorders {
		s := r.Snapshot()
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(s.Requests), k[0], k[1])
		ch <- prometheus.MustNewConstMetric(c.errors5xx, prometheus.CounterValue, float64(s.Errors5xx), k[0], k[1])
		ch <- prometheus.MustNewConstMetric(c.connErrors, prometheus.CounterValue, float64(s.ConnErrors), k[0], k[1])
		n, b := s.Cumulative()
		ch <- prometheus.MustNewConstHistogram(c.duration, n, s.LatencySum.Seconds(), b, k[0], k[1])
	}
	for _, m := range monitors {
		st := m.Status()
		for _, s := range st.Sites {
			h := 0.0
			if s.Healthy {
				h = 1
			}
			ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, h, st.Service, s.Name)
			ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, s.LatencyMS/1000, st.Service, s.Name)
		}
		ch <- prometheus.MustNewConstMetric(c.failovers, prometheus.CounterValue, float64(st.Failovers), st.Service, KindFailover)
		ch <- prometheus.MustNewConstMetric(c.failovers, prometheus.CounterValue, float64(st.Failbacks), st.Service, KindFailback)
	}
}
