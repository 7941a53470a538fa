package router

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// DefaultDrainTimeout bounds how long Set waits for the requests of a
// backend it took the traffic from.
const DefaultDrainTimeout = 30 * time.Second

// Options configure a Router.
type Options struct {
	// Service names the service in errors, logs and 502 responses.
	Service string
	// DrainTimeout bounds Set's wait for the requests of backends that
	// lost their traffic; 0 means DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Logger receives a warning per request a backend did not answer;
	// nil logs nothing.
	Logger *slog.Logger
}

// Router proxies one service's public address (see Serve). It is safe for
// concurrent use. Until the first Set it answers 503.
type Router struct {
	opts Options

	mu  sync.RWMutex
	gen *generation
	// targets keeps each backend's proxy and connection pool across
	// configurations.
	targets map[targetKey]*target
	// draining holds retired lanes until they are idle.
	draining []*lane

	// sites, when set, may send a request to a peer site.
	sites atomic.Pointer[siteRouting]
}

// generation is one routing configuration and the lanes of the backends
// it sends requests to (nil for a backend it sends none).
type generation struct {
	cfg          Config
	stable       *lane
	canary       *lane
	canaryWeight int
}

// New returns a Router with no configuration.
func New(opts Options) *Router {
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Router{opts: opts, targets: make(map[targetKey]*target)}
}

// handle routes one request: to a peer site when the sites say so,
// else to a version at this site.
func (r *Router) handle(ctx *fasthttp.RequestCtx) {
	if s := r.sites.Load(); s != nil {
		r.handleSites(ctx, s)
		return
	}
	r.handleLocal(ctx, nil)
}

// handleLocal routes one request to a version at this site. retry, if
// set, takes over an idempotent request that could not be sent to the
// version, and reports whether it did.
func (r *Router) handleLocal(ctx *fasthttp.RequestCtx, retry func() bool) {
	h := &ctx.Request.Header
	client := clientAddr(ctx.RemoteAddr())
	r.mu.RLock()
	l, cookie := r.gen.pick(h, client, ctx.IsTLS())
	if l != nil {
		l.enter()
	}
	r.mu.RUnlock()
	if l == nil {
		if retry != nil && retry() {
			return
		}
		ctx.Error(fmt.Sprintf("ferry: service %s has no version to route to yet\n", r.opts.Service), fasthttp.StatusServiceUnavailable)
		return
	}
	// The lane is left when the exchange is over, which for a streamed
	// response is after its body has been written.
	l.target.forward(ctx, l, client, cookie, retry)
}

// pick chooses the lane for a request with header h from client and, when
// the choice was by weight and a sticky cookie is configured, the
// Set-Cookie value recording it.
func (g *generation) pick(h *fasthttp.RequestHeader, client netip.Addr, tls bool) (*lane, string) {
	if g == nil {
		return nil, ""
	}
	if g.canary != nil && anyRuleMatches(g.cfg.Rules, h, client) {
		return g.canary, ""
	}
	name := g.cfg.StickyCookie
	if name != "" {
		if c := string(h.Cookie(name)); c != "" {
			switch {
			case g.stable != nil && c == g.cfg.Stable.Version && g.canaryWeight < 100:
				return g.stable, ""
			case g.canary != nil && c == g.cfg.Canary.Version && g.canaryWeight > 0:
				return g.canary, ""
			}
		}
	}
	l := g.stable
	if g.canary != nil && (g.canaryWeight >= 100 || (g.canaryWeight > 0 && rand.IntN(100) < g.canaryWeight)) {
		l = g.canary
	}
	if l == nil || name == "" {
		return l, ""
	}
	return l, (&http.Cookie{
		Name:     name,
		Value:    l.target.backend.Version,
		Path:     "/",
		HttpOnly: true,
		Secure:   tls,
		SameSite: http.SameSiteLaxMode,
	}).String()
}

// Set routes requests by cfg from now on. A request that arrives after the
// swap is routed by cfg; one that arrived before finishes where it was
// sent. Set then waits until every request already sent to a backend that
// cfg gives no traffic (removed, at weight 0 without rules, or a stable
// version with the canary at 100) has finished, for at most the drain
// timeout or until ctx ends. When Set returns nil, no request reaches
// those backends any more and they may be stopped.
//
// An invalid cfg returns an error wrapping ErrInvalidConfig and changes
// nothing. A drain that does not finish in time returns a *DrainError
// (wrapping ErrDrainTimeout or ctx's error); cfg is in effect all the same.
func (r *Router) Set(ctx context.Context, cfg Config) error {
	cfg, err := cfg.validate()
	if err != nil {
		return fmt.Errorf("service %s: %w", r.opts.Service, err)
	}
	retired := r.swap(cfg)
	if len(retired) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeoutCause(ctx, r.opts.DrainTimeout, ErrDrainTimeout)
	defer cancel()
	return r.wait(ctx, retired)
}

// swap installs cfg and returns the lanes it took the traffic from.
func (r *Router) swap(cfg Config) []*lane {
	r.mu.Lock()
	defer r.mu.Unlock()

	old := r.gen
	next := &generation{cfg: cfg}
	wanted := map[targetKey]bool{keyOf(*cfg.Stable): true}
	if cfg.Canary != nil {
		wanted[keyOf(*cfg.Canary)] = true
		next.canaryWeight = cfg.CanaryWeight
	}
	// laneFor keeps the lane of a backend that had traffic and has it
	// still, and starts one for a backend that gets traffic anew.
	laneFor := func(b *Backend) *lane {
		t := r.targetFor(*b)
		if old != nil {
			for _, l := range []*lane{old.stable, old.canary} {
				if l != nil && l.target == t {
					return l
				}
			}
		}
		if next.stable != nil && next.stable.target == t {
			return next.stable
		}
		return newLane(t)
	}
	if cfg.Canary == nil || cfg.CanaryWeight < 100 {
		next.stable = laneFor(cfg.Stable)
	}
	if cfg.Canary != nil && (cfg.CanaryWeight > 0 || len(cfg.Rules) > 0) {
		next.canary = laneFor(cfg.Canary)
	}

	var retired []*lane
	if old != nil {
		for _, l := range []*lane{old.stable, old.canary} {
			if l == nil || l == next.stable || l == next.canary || (len(retired) > 0 && retired[0] == l) {
				continue
			}
			l.retire()
			retired = append(retired, l)
		}
	}
	r.gen = next

	// Forget what no longer needs tracking: idle lanes, and backends that
	// left the configuration and have no lane (their pools close when
	// their last lane goes idle).
	live := r.draining[:0]
	for _, l := range r.draining {
		if !l.isIdle() {
			live = append(live, l)
		}
	}
	r.draining = append(live, retired...)
	for k, t := range r.targets {
		if !wanted[k] {
			delete(r.targets, k)
			if !r.hasLane(t) {
				t.pool.closeIdle()
			}
		}
	}
	return retired
}

// targetFor returns the target of b, making it on first use; call under
// the write lock.
func (r *Router) targetFor(b Backend) *target {
	k := keyOf(b)
	t := r.targets[k]
	if t == nil {
		t = newTarget(r.opts.Service, b, r.opts.Logger)
		r.targets[k] = t
	}
	return t
}

// hasLane reports whether a lane of t is current or draining; call under
// the lock.
func (r *Router) hasLane(t *target) bool {
	if r.gen != nil && ((r.gen.stable != nil && r.gen.stable.target == t) || (r.gen.canary != nil && r.gen.canary.target == t)) {
		return true
	}
	for _, l := range r.draining {
		if l.target == t && !l.isIdle() {
			return true
		}
	}
	return false
}

// wait waits until lanes are idle and describes what is left if ctx ends
// first (with the context's cause: ErrDrainTimeout from Set's own bound).
func (r *Router) wait(ctx context.Context, lanes []*lane) error {
	start := time.Now()
	if waitIdle(ctx, lanes) == nil {
		return nil
	}
	derr := &DrainError{Service: r.opts.Service, InFlight: map[string]int64{}, Waited: time.Since(start), Err: context.Cause(ctx)}
	for _, l := range lanes {
		if n := l.inflight.Load(); n > 0 {
			derr.InFlight[l.target.backend.Version] += n
		}
	}
	return derr
}

// Drain waits until no request to version is in flight, or ctx ends. It
// returns at once with an error wrapping ErrStillRouted if the current
// configuration sends requests to the version; if ctx ends first, a
// *DrainError. Use it when a Set's own drain timed out, or to drain a
// version Set took the traffic from earlier.
func (r *Router) Drain(ctx context.Context, version string) error {
	r.mu.RLock()
	g := r.gen
	if g != nil {
		for _, l := range []*lane{g.stable, g.canary} {
			if l != nil && l.target.backend.Version == version {
				r.mu.RUnlock()
				return fmt.Errorf("service %s: drain version %s: %w; Set a configuration without it first", r.opts.Service, version, ErrStillRouted)
			}
		}
	}
	var lanes []*lane
	for _, l := range r.draining {
		if l.target.backend.Version == version {
			lanes = append(lanes, l)
		}
	}
	r.mu.RUnlock()
	return r.wait(ctx, lanes)
}

// InFlight returns the number of requests to version running now.
func (r *Router) InFlight(version string) int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var n int64
	seen := map[*lane]bool{}
	lanes := r.draining
	if r.gen != nil {
		lanes = append([]*lane{r.gen.stable, r.gen.canary}, lanes...)
	}
	for _, l := range lanes {
		if l != nil && !seen[l] && l.target.backend.Version == version {
			seen[l] = true
			n += l.inflight.Load()
		}
	}
	return n
}

// Current returns the configuration in effect, and false before the first
// Set.
func (r *Router) Current() (Config, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.gen == nil {
		return Config{}, false
	}
	cfg, _ := r.gen.cfg.validate() // a copy; it was valid when set
	return cfg, true
}
