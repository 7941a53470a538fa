package serve

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"ferry/config"
	"ferry/installer"
	"ferry/installer/state"
	"ferry/rollout/router"
	"ferry/rollout/sites"
)

// SitesDir is where, under the root, a site keeps the site CA's
// certificate and its own certificate and key (`ferry site cert`).
const SitesDir = "keys/sites"

// peerHeaderTimeout bounds the wait for a peer site's answer to a GET,
// HEAD or OPTIONS before it goes to the next site: a peer whose link is
// lost while requests are in flight does not hold them for long.
const peerHeaderTimeout = 10 * time.Second

// peerDialTimeout bounds connecting to a peer site, TLS handshake
// included: a site whose link is gone is given up on, and an idempotent
// request sent on to the next, after this long.
const peerDialTimeout = 3 * time.Second

// Audit events of routing across sites.
const (
	EventSitesConfigured = "sites.configured"
	EventSitesFailover   = "sites.failover"
	EventSitesFailback   = "sites.failback"
)

// siteSet is the routing across sites of one ferry serve: a monitor per
// service with a router, and the listener for peers.
type siteSet struct {
	self      string
	collector *sites.Collector
	stop      func()

	mu       sync.Mutex
	monitors map[string]*sites.Monitor
	routers  map[string]*router.Router
}

// startSites starts the routing across sites when the current release's
// configuration lists peers. The certificates must be in place: a site
// that is meant to have peers and cannot talk to them refuses to start,
// rather than serve alone unnoticed.
func (s *server) startSites() error {
	cfg, err := s.currentSites()
	if err != nil || cfg == nil {
		return err
	}
	id, err := sites.LoadIdentity(filepath.Join(s.opts.Root, SitesDir), cfg.Self)
	if err != nil {
		return err
	}
	addr := cfg.Listen
	if addr == "" {
		addr = config.DefaultSitesListen
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sites: listen for peers on %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	var wg sync.WaitGroup
	ss := &siteSet{self: cfg.Self, collector: sites.NewCollector(), monitors: map[string]*sites.Monitor{}, routers: map[string]*router.Router{},
		stop: func() { cancel(); wg.Wait() }}
	list := sites.FromConfig(cfg)
	var names []string
	for name, svc := range s.services {
		if svc.router == nil {
			continue
		}
		names = append(names, name)
		routing := s.defs[s.current][name].Service.Routing
		if r, ok := cfg.Routing[name]; ok {
			routing = r // the site's own, over the bundle's
		}
		m := sites.NewMonitor(name, routing, list, id, func(d sites.Decision) { s.post(func() { s.siteDecision(d) }) })
		var peers []router.Peer
		for _, site := range list {
			if site.Local {
				continue
			}
			u, err := url.Parse(site.URL)
			if err != nil {
				cancel()
				ln.Close()
				return fmt.Errorf("sites: peer %s: %w", site.Name, err)
			}
			peers = append(peers, router.Peer{Name: site.Name, URL: u, TLS: id.ClientTLS(site.Name), Metrics: ss.collector.Recorder(name, site.Name)})
		}
		if err := svc.router.SetSites(&router.Sites{Self: cfg.Self, Route: m.Route, Peers: peers, HeaderTimeout: peerHeaderTimeout, DialTimeout: peerDialTimeout}); err != nil {
			cancel()
			ln.Close()
			return err
		}
		m.OnSiteDown = svc.router.SiteDown
		ss.mu.Lock()
		ss.monitors[name], ss.routers[name] = m, svc.router
		ss.mu.Unlock()
		ss.collector.Add(m)
		s.sites.Store(ss)
		s.siteLocal(svc)
		wg.Go(func() { m.Run(ctx) })
	}
	s.sites.Store(ss)
	if err := s.exporter.Registry().Register(ss.collector); err != nil {
		s.log.Warn("site metrics", "error", err)
	}
	sl := &router.SiteListener{Self: cfg.Self, Router: ss.router, Serving: ss.serving, Logger: s.log}
	wg.Go(func() {
		if err := sl.Serve(ctx, tls.NewListener(ln, id.ServerTLS())); err != nil {
			s.log.Warn("site listener stopped", "error", err)
		}
	})
	var peerNames []string
	for _, p := range cfg.Peers {
		peerNames = append(peerNames, fmt.Sprintf("%s (%s, priority %d)", p.Name, p.URL, p.Priority))
	}
	slices.Sort(names)
	s.saver.audit(EventSitesConfigured, map[string]string{
		"self": cfg.Self, "priority": fmt.Sprint(cfg.Priority), "listen": addr, "peers": strings.Join(peerNames, ", "),
		"services": strings.Join(names, ", "), "transport": "HTTPS, mutual TLS 1.3, site CA " + caFingerprint(id),
	})
	s.log.Info("routing across sites", "self", cfg.Self, "listen", addr, "peers", len(cfg.Peers), "services", len(names))
	return nil
}

// currentSites is the sites section of the current release's
// configuration; nil when it has none.
func (s *server) currentSites() (*config.Sites, error) {
	db, err := state.OpenReadOnly(s.opts.Root)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rel, err := db.Release(s.current)
	if err != nil {
		return nil, err
	}
	c, err := installer.StoredConfig(rel)
	if err != nil || c == nil || c.Sites == nil || len(c.Sites.Peers) == 0 {
		return nil, err
	}
	return c.Sites, nil
}

// stopSites stops the monitors and the listener for peers.
func (s *server) stopSites() {
	if ss := s.sites.Load(); ss != nil {
		ss.stop()
	}
}

// siteLocal tells a service's monitor whether this site serves it: its
// stable version is healthy.
func (s *server) siteLocal(svc *service) {
	ss := s.sites.Load()
	if ss == nil {
		return
	}
	m := ss.monitor(svc.name)
	if m == nil {
		return
	}
	v := svc.versions[svc.stable]
	switch {
	case v == nil:
		m.SetLocal(false, "no version runs")
	case v.checker != nil && !v.checker.Healthy():
		m.SetLocal(false, fmt.Sprintf("version %s is not healthy", v.def.Version))
	default:
		m.SetLocal(true, fmt.Sprintf("version %s is healthy", v.def.Version))
	}
}

// siteDecision audits a move of a service's traffic between sites.
func (s *server) siteDecision(d sites.Decision) {
	event := EventSitesFailover
	if d.Kind == sites.KindFailback {
		event = EventSitesFailback
	}
	to := d.To
	if to == "" {
		to = "(none: no site is healthy)"
	}
	s.log.Warn("traffic moved between sites", "service", d.Service, "kind", d.Kind, "from", d.From, "to", to, "cause", d.Cause)
	s.saver.audit(event, map[string]string{"service": d.Service, "self": s.sites.Load().self, "from": d.From, "to": to,
		"cause": s.scrubber.Load().Bound(d.Cause, maxReason)})
}

// SitesStatus is what `ferry sites status` shows: each service's routing
// across sites.
type SitesStatus struct {
	Self     string         `json:"self"`
	Services []sites.Status `json:"services"`
}

// sitesStatus is safe to call from any goroutine.
func (s *server) sitesStatus() SitesStatus {
	ss := s.sites.Load()
	if ss == nil {
		return SitesStatus{}
	}
	out := SitesStatus{Self: ss.self}
	ss.mu.Lock()
	names := make([]string, 0, len(ss.monitors))
	for n := range ss.monitors {
		names = append(names, n)
	}
	ss.mu.Unlock()
	slices.Sort(names)
	for _, n := range names {
		out.Services = append(out.Services, ss.monitor(n).Status())
	}
	return out
}

func (ss *siteSet) monitor(service string) *sites.Monitor {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.monitors[service]
}

func (ss *siteSet) router(service string) *router.Router {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.routers[service]
}

func (ss *siteSet) serving(service string) bool {
	m := ss.monitor(service)
	return m != nil && m.LocalServing()
}

// caFingerprint names the site CA in the audit log: the SHA-256 of its
// certificate.
func caFingerprint(id *sites.Identity) string {
	return "sha256:" + hex.EncodeToString(id.CAFingerprint[:])
}
