package sites

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"ferry/bundle/spec"
	"ferry/rollout/health"
)

// Kinds of a Decision.
const (
	// KindFailover: traffic left a site for one later in the failover
	// order (or for none: no site is healthy).
	KindFailover = "failover"
	// KindFailback: traffic returned to a site earlier in the order.
	KindFailback = "failback"
)

// Decision is a change of the site that takes a service's traffic (for
// weighted and geographic routing, the site that takes what no weight or
// range sends elsewhere), with its cause.
type Decision struct {
	Service string
	Kind    string
	From    string
	To      string // "" when no site is healthy
	Cause   string
	At      time.Time
}

// SiteStatus is one site as `ferry sites status` shows it.
type SiteStatus struct {
	Name     string `json:"name"`
	Region   string `json:"region,omitempty"`
	URL      string `json:"url,omitempty"`
	Local    bool   `json:"local,omitempty"`
	Priority int    `json:"priority"`
	Weight   int    `json:"weight"`
	Healthy  bool   `json:"healthy"`
	// LatencyMS is the smoothed probe latency in milliseconds; 0 for
	// this site and a peer not yet answered.
	LatencyMS  float64   `json:"latencyMs"`
	LastChange time.Time `json:"lastChange"`
	Reason     string    `json:"reason"`
	Checks     int       `json:"checks"`
}

// Status is a service's routing across sites.
type Status struct {
	Service   string       `json:"service"`
	Strategy  string       `json:"strategy"`
	Active    string       `json:"active"`
	Failovers uint64       `json:"failovers"`
	Failbacks uint64       `json:"failbacks"`
	Sites     []SiteStatus `json:"sites"`
}

// view is what a request reads: immutable once published.
type view struct {
	sites  []Site
	active string
}

// Monitor keeps the health of this site and its peers for one service,
// and chooses the site of each of its requests. It is safe for
// concurrent use.
type Monitor struct {
	service    string
	routing    spec.Routing // with defaults
	onDecision func(Decision)
	// OnSiteDown, if set before Run, is called with the name of each
	// peer found unhealthy, after the traffic has moved.
	OnSiteDown func(site string)

	cur atomic.Pointer[view]

	mu        sync.Mutex
	sites     []Site
	since     map[string]time.Time
	reason    map[string]string
	checkers  map[string]*health.Checker
	active    string
	chosen    bool // an active site was chosen once
	failovers uint64
	failbacks uint64
}

// NewMonitor returns a Monitor of sites (FromConfig's) for service,
// probing peers over mutual TLS as id by routing's health settings. onDecision, if set, gets every Decision, in order; it
// must return quickly.
func NewMonitor(service string, routing *spec.Routing, sites []Site, id *Identity, onDecision func(Decision)) *Monitor {
	m := &Monitor{
		service:    service,
		routing:    routing.WithDefaults(),
		onDecision: onDecision,
		sites:      append([]Site(nil), sites...),
		since:      map[string]time.Time{},
		reason:     map[string]string{},
		checkers:   map[string]*health.Checker{},
	}
	now := time.Now()
	h := m.routing.Health
	for _, s := range m.sites {
		m.since[s.Name] = now
		m.reason[s.Name] = "not checked yet"
		if s.Local {
			continue
		}
		probe := &peerProbe{m: m, site: s.Name, url: s.URL + HealthPath + "?service=" + url.QueryEscape(service), client: probeClient(id, s.Name)}
		name := s.Name
		m.checkers[name] = health.NewChecker(probe, health.Options{
			Interval:         time.Duration(h.Interval),
			Timeout:          time.Duration(h.Timeout),
			FailureThreshold: h.Failures,
			SuccessThreshold: h.Successes,
			OnChange:         func(st health.Status) { m.peerChanged(name, st) },
		})
	}
	m.publish()
	return m
}

// Service names the monitored service.
func (m *Monitor) Service() string { return m.service }

// Self is this site's name.
func (m *Monitor) Self() string {
	for _, s := range m.cur.Load().sites {
		if s.Local {
			return s.Name
		}
	}
	return ""
}

// Run probes every peer at the health interval until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range m.checkers {
		wg.Go(func() { _ = c.Run(ctx) })
	}
	wg.Wait()
}

// SetLocal records whether this site serves the service itself: a
// healthy version behind its router.
func (m *Monitor) SetLocal(healthy bool, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.sites {
		s := &m.sites[i]
		if !s.Local || s.Healthy == healthy {
			continue
		}
		s.Healthy = healthy
		m.since[s.Name], m.reason[s.Name] = time.Now(), reason
		m.decideLocked(fmt.Sprintf("site %s (this site) %s: %s", s.Name, healthWord(healthy), reason))
	}
}

// LocalServing reports whether this site serves the service itself, as
// a peer's probe asks.
func (m *Monitor) LocalServing() bool {
	for _, s := range m.cur.Load().sites {
		if s.Local {
			return s.Healthy
		}
	}
	return false
}

// Route returns the site a request from client goes to and the site to
// try once when connecting to the first fails ("" for none). Either may
// be this site (Self).
func (m *Monitor) Route(client netip.Addr) (first, next string) {
	v := m.cur.Load()
	switch m.routing.Strategy {
	case spec.RoutingWeighted:
		first = Weighted(v.sites, rand.Uint64())
	case spec.RoutingGeographic:
		first = Geographic(v.sites, client, v.active)
	default:
		first = v.active
	}
	if first == "" {
		// Nothing is healthy: this site tries, as it would alone.
		return m.Self(), ""
	}
	return first, Next(v.sites, first)
}

// Status returns the state of every site.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Status{Service: m.service, Strategy: m.routing.Strategy, Active: m.active, Failovers: m.failovers, Failbacks: m.failbacks}
	for _, s := range m.sites {
		ss := SiteStatus{Name: s.Name, Region: s.Region, URL: s.URL, Local: s.Local, Priority: s.Priority, Weight: s.Weight,
			Healthy: s.Healthy, LatencyMS: float64(s.Latency) / float64(time.Millisecond), LastChange: m.since[s.Name], Reason: m.reason[s.Name]}
		if c := m.checkers[s.Name]; c != nil {
			cs := c.Status()
			ss.Checks = cs.Checks
			if !s.Healthy && cs.LastErr != nil && !cs.LastCheck.Before(ss.LastChange) {
				ss.Reason = "the last check failed: " + cs.LastErr.Error()
			}
		}
		st.Sites = append(st.Sites, ss)
	}
	return st
}

// peerChanged takes a peer's health change from its checker.
func (m *Monitor) peerChanged(name string, st health.Status) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.routing.Health
	for i := range m.sites {
		s := &m.sites[i]
		if s.Name != name {
			continue
		}
		s.Healthy = st.Healthy
		reason := fmt.Sprintf("%d checks in a row passed", h.Successes)
		if !st.Healthy {
			reason = fmt.Sprintf("%d checks in a row failed", h.Failures)
			if st.LastErr != nil {
				reason += ", the last: " + st.LastErr.Error()
			}
		}
		m.since[name], m.reason[name] = st.Since, reason
		m.decideLocked(fmt.Sprintf("site %s %s: %s", name, healthWord(st.Healthy), reason))
		if !st.Healthy && m.OnSiteDown != nil {
			m.OnSiteDown(name)
		}
	}
}

// observeLatency takes the time a peer's passing probe took.
func (m *Monitor) observeLatency(name string, rtt time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.sites {
		if m.sites[i].Name == name {
			m.sites[i].Latency = smooth(m.sites[i].Latency, rtt)
		}
	}
	if m.routing.Strategy == spec.RoutingLatency {
		m.decideLocked("")
	} else {
		m.publishLocked()
	}
}

// decideLocked chooses the active site again after a change with cause
// and reports a move as a Decision. Call with mu held.
func (m *Monitor) decideLocked(cause string) {
	var next string
	switch m.routing.Strategy {
	case spec.RoutingLatency:
		next = Latency(m.sites, m.active, time.Duration(m.routing.Tolerance))
		if cause == "" && next != m.active {
			a, _ := find(m.sites, m.active)
			b, _ := find(m.sites, next)
			cause = fmt.Sprintf("site %s answers in %v, %s in %v (tolerance %v)", next, b.Latency.Round(time.Microsecond), m.active, a.Latency.Round(time.Microsecond), time.Duration(m.routing.Tolerance))
		}
	default:
		next = Failover(m.sites, m.active, *m.routing.Failback)
	}
	prev := m.active
	m.active = next
	m.publishLocked()
	if next == prev {
		return
	}
	if !m.chosen {
		m.chosen = true // the first choice, at start, is no failover
		return
	}
	d := Decision{Service: m.service, From: prev, To: next, Cause: cause, At: time.Now(), Kind: KindFailover}
	if next != "" && (prev == "" || m.index(next) < m.index(prev)) {
		d.Kind = KindFailback
		m.failbacks++
	} else {
		m.failovers++
	}
	if m.onDecision != nil {
		m.onDecision(d)
	}
}

func (m *Monitor) index(name string) int {
	for i, s := range m.sites {
		if s.Name == name {
			return i
		}
	}
	return len(m.sites)
}

func (m *Monitor) publish() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.publishLocked()
}

func (m *Monitor) publishLocked() {
	m.cur.Store(&view{sites: append([]Site(nil), m.sites...), active: m.active})
}

func healthWord(healthy bool) string {
	if healthy {
		return "healthy"
	}
	return "unhealthy"
}

// probeClient is the HTTP client of one peer's probes: mutual TLS, a
// new connection per check (a peer that stops accepting is noticed, not
// hidden by a kept connection), never a proxy from the environment.
func probeClient(id *Identity, peer string) *http.Client {
	t := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	if id != nil {
		t.TLSClientConfig = id.ClientTLS(peer)
	}
	return &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
