package router

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

	"ferry/rollout/metrics"
)

// Headers between sites.
const (
	// HopHeader marks a request forwarded by a peer site; its value is
	// that site's name. A request carrying it is served at the site it
	// reaches, never forwarded again, so no request loops between two
	// sites that each see the other healthy.
	HopHeader = "X-Ferry-Hop"
	// ServiceHeader names the service of a request forwarded to a peer
	// site's listener.
	ServiceHeader = "X-Ferry-Service"
	// SiteHeader is the response header naming the site that answered.
	SiteHeader = "X-Ferry-Site"
)

// Sites lets a router send requests to the same service at peer sites.
type Sites struct {
	// Self is this site's name: the hop marker of what it forwards.
	Self string
	// Route returns the site for a request from client and the site to
	// send it to once when the first cannot be reached ("" for none).
	// Either may be Self.
	Route func(client netip.Addr) (first, next string)
	// Peers are the peer sites' listeners.
	Peers []Peer
	// HeaderTimeout bounds the wait for the head of a peer's response
	// to a GET, HEAD or OPTIONS, after which it goes to the next site;
	// 0 waits as long as the peer takes.
	HeaderTimeout time.Duration
	// DialTimeout bounds connecting to a peer, TLS handshake included;
	// 0 is the default for local backends.
	DialTimeout time.Duration
}

// Peer is a peer site's listener, reached over mutual TLS.
type Peer struct {
	Name string
	// URL is https://host:port.
	URL *url.URL
	// TLS is the client configuration: this site's certificate, and the
	// site CA and the peer's name to check the peer's against.
	TLS *tls.Config
	// Metrics counts the requests forwarded to the peer; nil counts
	// nothing.
	Metrics *metrics.Recorder
}

// siteRouting is Sites with a target per peer.
type siteRouting struct {
	self  string
	route func(netip.Addr) (string, string)
	peers map[string]*peerTarget
}

// peerTarget is a peer as a backend: a lane that is never retired, since
// a peer's traffic is not drained.
type peerTarget struct {
	t *target
	l *lane
}

// SetSites makes the router send requests to peer sites by s from now
// on; nil serves every request at this site. Connections to peers that
// s no longer names close when their requests end.
func (r *Router) SetSites(s *Sites) error {
	if s == nil {
		if old := r.sites.Swap(nil); old != nil {
			old.closeIdle()
		}
		return nil
	}
	sr := &siteRouting{self: s.Self, route: s.Route, peers: map[string]*peerTarget{}}
	for _, p := range s.Peers {
		if p.URL == nil || p.URL.Scheme != "https" || p.URL.Host == "" || p.TLS == nil {
			return fmt.Errorf("service %s: %w: peer %s needs an https URL and TLS", r.opts.Service, ErrInvalidConfig, p.Name)
		}
		t := &target{
			service:       r.opts.Service,
			site:          p.Name,
			backend:       Backend{URL: p.URL, Metrics: p.Metrics},
			pool:          newConnPool(p.URL.Host),
			logger:        r.opts.Logger.With("service", r.opts.Service, "site", p.Name),
			headerTimeout: s.HeaderTimeout,
		}
		t.pool.tls = p.TLS.Clone()
		if s.DialTimeout > 0 {
			t.pool.dialer.Timeout = s.DialTimeout
		}
		sr.peers[p.Name] = &peerTarget{t: t, l: newLane(t)}
	}
	if old := r.sites.Swap(sr); old != nil {
		old.closeIdle()
	}
	return nil
}

func (s *siteRouting) closeIdle() {
	for _, p := range s.peers {
		p.t.pool.closeIdle()
	}
}

// handleSites routes a request by the sites: a request forwarded by a
// peer is served here; any other goes to the site the sites choose,
// and an idempotent one that cannot reach it goes to the next.
func (r *Router) handleSites(ctx *fasthttp.RequestCtx, s *siteRouting) {
	if len(ctx.Request.Header.Peek(HopHeader)) > 0 {
		r.serveHere(ctx, s, nil)
		return
	}
	first, next := s.route(clientAddr(ctx.RemoteAddr()))
	var retry func() bool
	if next != "" && next != first {
		retry = func() bool {
			if ctx.Request.Header.ConnectionUpgrade() {
				return false
			}
			r.sendTo(ctx, s, next, nil)
			return true
		}
	}
	r.sendTo(ctx, s, first, retry)
}

// sendTo sends a request to the site named site.
func (r *Router) sendTo(ctx *fasthttp.RequestCtx, s *siteRouting, site string, retry func() bool) {
	p := s.peers[site]
	if site == s.self || p == nil {
		r.serveHere(ctx, s, retry)
		return
	}
	h := &ctx.Request.Header
	h.Set(HopHeader, s.self)
	h.Set(ServiceHeader, r.opts.Service)
	p.l.enter()
	p.t.forward(ctx, p.l, clientAddr(ctx.RemoteAddr()), "", func() bool {
		if retry == nil {
			return false
		}
		h.Del(HopHeader)
		h.Del(ServiceHeader)
		return retry()
	})
}

// serveHere serves a request at this site, naming it in the response.
func (r *Router) serveHere(ctx *fasthttp.RequestCtx, s *siteRouting, retry func() bool) {
	r.handleLocal(ctx, retry)
	if ctx.Response.Header.Peek(SiteHeader) == nil {
		ctx.Response.Header.Set(SiteHeader, s.self)
	}
}

// SiteDown cuts short the wait of every request sent to the peer site
// that has not had the head of its answer yet: a GET, HEAD or OPTIONS
// goes to the next site at once rather than after the header timeout.
// Call it when the peer is found unhealthy (its link lost mid-request).
func (r *Router) SiteDown(site string) {
	if s := r.sites.Load(); s != nil {
		if p := s.peers[site]; p != nil {
			p.t.interruptWaiting()
		}
	}
}

// ServeForwarded serves a request that a peer site forwarded: at this
// site, never forwarded again.
func (r *Router) ServeForwarded(ctx *fasthttp.RequestCtx) {
	if s := r.sites.Load(); s != nil {
		r.serveHere(ctx, s, nil)
		return
	}
	r.handleLocal(ctx, nil)
}
