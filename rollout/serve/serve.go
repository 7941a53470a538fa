package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Masterminds/semver/v3"

	"ferry/bundle/spec"
	"ferry/installer"
	"ferry/installer/registry"
	"ferry/installer/state"
	"ferry/internal/netlimit"
	"ferry/internal/redact"
	"ferry/internal/sdnotify"
	"ferry/rollout"
	"ferry/rollout/metrics"
	"ferry/rollout/supervise"
)

// Defaults of Options.
const (
	DefaultTick         = time.Second
	DefaultStopGrace    = 10 * time.Second
	DefaultStartTimeout = 2 * time.Minute
	DefaultDrainTimeout = 10 * time.Second
)

// Options configure Run.
type Options struct {
	// Root is the appliance.
	Root string
	// MetricsAddr, if set, serves /metrics (Prometheus text format).
	MetricsAddr string
	// RegistryAddr, if set, serves the appliance's images (the OCI
	// distribution API, read-only), as `ferry registry serve` does.
	RegistryAddr string
	// Socket is the control socket of `ferry rollout`; default
	// <root>/run/serve.sock.
	Socket string
	// Tick is how often rollouts are analysed and the current release is
	// looked at.
	Tick time.Duration
	// StopGrace is how long a stopped version has between SIGTERM and
	// SIGKILL.
	StopGrace time.Duration
	// StartTimeout aborts a rollout whose new version is not healthy in
	// that time.
	StartTimeout time.Duration
	// DrainTimeout bounds the wait for requests in flight to a version
	// that loses its traffic.
	DrainTimeout time.Duration
	// RegistryTLS, if set, serves the registry over HTTPS with it.
	RegistryTLS *tls.Config
	// Limits bound the clients of the control socket, the metrics
	// endpoint and the registry, each on its own (netlimit's defaults
	// for zero fields; warnings go to Log).
	Limits netlimit.Limits
	Log    *slog.Logger
	// Secrets are the secrets ferry serve holds (its environment's
	// passphrase and DSNs): what a failed health check or smoke test
	// said is scrubbed of them and bounded before it is logged, audited
	// or saved with the rollout.
	Secrets *redact.Secrets
	// ServiceSecrets, when set, resolves the site's secret values that a
	// version of a service receives, each time one starts: Env is added
	// to its environment (over its declared env:), Files are delivered as
	// <root>/run/secrets/SERVICE/NAME (installer.DeliverSecretFiles) and
	// FERRY_SECRETS names that directory. Never on a command line. Every
	// value is also scrubbed from what serve logs, audits or saves.
	ServiceSecrets func(ctx context.Context, version, component string, svc spec.Service) (installer.ServiceSecrets, error)
	// Notifier, when set, tells systemd (Type=notify) that serve is ready
	// once every router listens, that its controller is alive (the
	// watchdog, when the unit sets WatchdogSec) and that it is stopping.
	Notifier *sdnotify.Notifier
}

// maxReason bounds what is kept of a failed check's output.
const maxReason = 1024

func (o *Options) defaults() {
	if o.Socket == "" {
		o.Socket = filepath.Join(o.Root, "run", "serve.sock")
	}
	if o.Tick <= 0 {
		o.Tick = DefaultTick
	}
	if o.StopGrace <= 0 {
		o.StopGrace = DefaultStopGrace
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Limits.Log == nil {
		o.Limits.Log = o.Log
	}
}

// server is one run of `ferry serve`. Its fields belong to the controller
// goroutine (Run's loop) unless noted.
type server struct {
	ctx      context.Context
	opts     Options
	log      *slog.Logger
	saver    *saver
	sampler  *metrics.Sampler
	exporter *metrics.Exporter

	// do carries work to the controller from other goroutines.
	do chan func()
	// wg counts goroutines Run must wait for (stops, smoke tests).
	wg sync.WaitGroup

	current  string
	services map[string]*service
	// defs caches the service definitions of releases by version.
	defs map[string]map[string]serviceDef

	// scrubber scrubs the secrets serve holds from what a failed check
	// said: opts.Secrets and every secret value delivered since. Smoke
	// tests read it from their own goroutines; it is replaced, never
	// changed.
	scrubber atomic.Pointer[redact.Secrets]

	// sites is the routing across sites; nil when the site has no peers.
	sites atomic.Pointer[siteSet]
}

// Run serves the appliance at opts.Root until ctx ends, then stops every
// service (SIGTERM, then SIGKILL after StopGrace) and returns.
func Run(ctx context.Context, opts Options) error {
	opts.defaults()
	s := &server{
		ctx: ctx, opts: opts, log: opts.Log,
		saver:    &saver{root: opts.Root, log: opts.Log},
		do:       make(chan func(), 64),
		services: map[string]*service{},
		defs:     map[string]map[string]serviceDef{},
	}
	s.scrubber.Store(opts.Secrets)
	if _, err := os.Stat(filepath.Join(opts.Root, "state.db")); err != nil {
		return fmt.Errorf("%w: %s has no state.db (install a bundle first)", state.ErrNotARoot, opts.Root)
	}
	// Before run/ and logs/ are made or used: serve runs what the root
	// holds, so a root that others can write is refused.
	if err := state.CheckSafe(opts.Root); err != nil {
		return err
	}
	for _, dir := range []string{s.logDir(), s.runDir()} {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return err
		}
	}
	// A ferry serve killed with SIGKILL leaves its services running.
	stale, err := supervise.KillStale(ctx, s.runDir(), opts.StopGrace)
	if err != nil {
		return err
	}
	for _, g := range stale {
		s.log.Warn("stopped a service left by an earlier ferry serve", "group", g)
	}
	// Their secret files too: they exist only while a service runs.
	if err := installer.RemoveAllSecretFiles(opts.Root); err != nil {
		return err
	}
	defer func() {
		if err := installer.RemoveAllSecretFiles(opts.Root); err != nil {
			s.log.Error("removing the services' secret files", "error", err)
		}
	}()
	if s.sampler, err = metrics.NewSampler("/proc"); err != nil {
		s.log.Warn("no CPU and memory figures", "error", err)
		s.sampler = nil
	}
	s.exporter = metrics.NewExporter(s.sampler)

	var servers []*http.Server
	defer func() {
		for _, hs := range servers {
			_ = hs.Close()
		}
	}()
	control, err := s.listenControl()
	if err != nil {
		return err
	}
	servers = append(servers, control)
	if opts.MetricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", s.exporter.Handler())
		hs, err := s.listenHTTP(opts.MetricsAddr, mux, nil)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		servers = append(servers, hs)
	}
	if opts.RegistryAddr != "" {
		h := registry.Handler(filepath.Join(opts.Root, "store"), registry.Options{Logger: s.log})
		hs, err := s.listenHTTP(opts.RegistryAddr, h, opts.RegistryTLS)
		if err != nil {
			return fmt.Errorf("registry: %w", err)
		}
		servers = append(servers, hs)
	}

	if err := s.start(); err != nil {
		s.shutdown()
		return err
	}
	s.log.Info("serving", "root", opts.Root, "release", s.current, "services", len(s.services), "control", opts.Socket)
	s.notify(sdnotify.Ready + "\nSTATUS=serving release " + s.current)
	ticker := time.NewTicker(opts.Tick)
	defer ticker.Stop()
	// The watchdog is fed from the controller's own loop, so a controller
	// that stops turning stops feeding it and systemd restarts serve.
	var watchdog <-chan time.Time
	if n := opts.Notifier; n != nil && n.WatchdogInterval > 0 {
		t := time.NewTicker(n.WatchdogInterval)
		defer t.Stop()
		watchdog = t.C
	}
	for {
		select {
		case <-ctx.Done():
			s.notify(sdnotify.Stopping)
			s.shutdown()
			return nil
		case <-ticker.C:
			s.tick()
		case <-watchdog:
			s.notify(sdnotify.Watchdog)
		case f := <-s.do:
			f()
		}
	}
}

// notify tells systemd state, when serve runs under it.
func (s *server) notify(state string) {
	if err := s.opts.Notifier.Notify(state); err != nil {
		s.log.Warn("telling systemd", "error", err)
	}
}

// post runs f on the controller; it gives up when serve is stopping.
func (s *server) post(f func()) {
	select {
	case s.do <- f:
	case <-s.ctx.Done():
	}
}

// call runs f on the controller and waits for it.
func call[T any](s *server, f func() T) (T, error) {
	done := make(chan T, 1)
	s.post(func() { done <- f() })
	select {
	case v := <-done:
		return v, nil
	case <-s.ctx.Done():
		var zero T
		return zero, errors.New("ferry serve is stopping")
	}
}

func (s *server) logDir() string { return filepath.Join(s.opts.Root, "logs") }
func (s *server) runDir() string { return filepath.Join(s.opts.Root, "run") }

// listenHTTP serves h on addr within the limits, over HTTPS when tc is
// set.
func (s *server) listenHTTP(addr string, h http.Handler, tc *tls.Config) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	hs, l := netlimit.New(ln, h, s.opts.Limits)
	if tc != nil {
		hs.TLSConfig = tc
		go func() { _ = hs.ServeTLS(l, "", "") }()
		return hs, nil
	}
	go func() { _ = hs.Serve(l) }()
	return hs, nil
}

// start brings up the current release, continuing saved rollouts. A
// release installed while serve was not running is rolled out now, from
// the version each service last ran, as its rollout spec says: it does
// not take all the traffic at once.
func (s *server) start() error {
	db, err := state.OpenReadOnly(s.opts.Root)
	if err != nil {
		return err
	}
	cur, err := db.Current()
	if err == nil && cur == "" {
		err = errors.New("no release is installed: install a bundle first")
	}
	var saved map[string]rollout.State
	if err == nil {
		saved, err = savedRollouts(db)
	}
	var served map[string]string
	if err == nil {
		served, err = savedServed(db)
	}
	var defs map[string]serviceDef
	if err == nil {
		defs, err = s.releaseDefs(db, cur)
	}
	if err == nil {
		for _, st := range saved {
			if !st.Phase.Finished() {
				if _, err := s.releaseDefs(db, st.Stable); err != nil {
					s.log.Warn("the stable release of a saved rollout is gone", "service", st.Service, "release", st.Stable, "error", err)
				}
			}
		}
		for name, v := range served {
			if v != cur {
				if _, err := s.releaseDefs(db, v); err != nil {
					s.log.Warn("the release a service last ran is gone: starting the current one without a rollout", "service", name, "release", v, "error", err)
				}
			}
		}
	}
	db.Close()
	if err != nil {
		return err
	}
	var deferred []string
	for name, def := range defs {
		st, ok := saved[name]
		if ok && !st.Phase.Finished() && st.New == cur && s.defs[st.Stable] != nil {
			svc, err := s.newService(def)
			if err != nil {
				return err
			}
			s.services[name] = svc
			if err := s.resume(svc, st); err != nil {
				return err
			}
			continue
		}
		run := def
		base := s.deferredBase(name, served[name], cur)
		if base != "" {
			run = s.defs[base][name]
			deferred = append(deferred, name)
		}
		svc, err := s.newService(run)
		if err != nil {
			return err
		}
		s.services[name] = svc
		if err := s.runStable(svc, run); err != nil {
			return err
		}
		if ok {
			svc.ro = &st
			if !st.Phase.Finished() {
				// Saved mid-rollout to a release that is no longer
				// current: it ended while serve was down. An unfinished
				// rollout always takes an abort.
				_ = s.event(svc, rollout.Abort{Cause: fmt.Sprintf("release %s is current, not %s, after ferry serve restarted", cur, st.New)})
				// The abort names the stable version of its time; the
				// one running now is run's.
				s.setStable(svc, run.Version)
				s.route(svc, 0)
			}
		}
	}
	s.current = cur
	for _, name := range deferred {
		svc := s.services[name]
		base := svc.stable
		s.log.Warn("release installed while ferry serve was not running: rolling it out now", "service", name, "from", base, "to", cur)
		s.saver.audit("serve.deferred-rollout", map[string]string{"service": name, "from": base, "to": cur})
		s.change(svc, defs[name], base)
	}
	if err := s.startSites(); err != nil {
		return err
	}
	return s.saver.flush()
}

// deferredBase is the version service last ran, when a rollout from it
// to cur should run now: it differs from cur and its release is still
// kept. Otherwise "", and cur starts alone.
func (s *server) deferredBase(service, base, cur string) string {
	if base == "" || base == cur {
		return ""
	}
	def, ok := s.defs[base][service]
	if !ok {
		return ""
	}
	if _, err := os.Stat(def.Dir); err != nil {
		s.log.Warn("the release a service last ran is gone: starting the current one without a rollout", "service", service, "release", base, "error", err)
		return ""
	}
	return base
}

// releaseDefs reads (once) the service definitions of a release.
func (s *server) releaseDefs(db *state.DB, version string) (map[string]serviceDef, error) {
	if d, ok := s.defs[version]; ok {
		return d, nil
	}
	d, err := releaseServices(db, s.opts.Root, version)
	if err != nil {
		return nil, err
	}
	s.defs[version] = d
	return d, nil
}

// tick looks for a new current release, analyses rollouts in progress and
// saves what is pending.
func (s *server) tick() {
	if link := currentLink(s.opts.Root); link != "" && link != s.current {
		s.follow()
	}
	now := time.Now()
	var table *metrics.ProcessTable
	if s.sampler != nil {
		var err error
		if table, err = s.sampler.Scan(); err != nil {
			s.log.Debug("reading /proc", "error", err)
		}
	}
	for _, svc := range s.services {
		s.sampleProcesses(svc, table)
		if svc.ro == nil || svc.ro.Phase.Finished() {
			continue
		}
		// An unfinished rollout always takes an abort, and ticks are never
		// refused (rollout.Next).
		if svc.ro.Phase == rollout.PhaseStarting && now.Sub(svc.newStarted) > s.opts.StartTimeout {
			_ = s.event(svc, rollout.Abort{Cause: fmt.Sprintf("version %s did not become healthy within %s", svc.ro.New, s.opts.StartTimeout)})
			continue
		}
		_ = s.event(svc, rollout.Tick{Canary: svc.sample(svc.ro.New), Stable: svc.sample(svc.ro.Stable)})
	}
	if err := s.saver.flush(); err != nil {
		s.log.Error("saving rollout state", "error", err)
	}
}

// follow takes up a new current release once its transaction committed.
func (s *server) follow() {
	if state.WriterPID(s.opts.Root) != 0 {
		return // an install or update is running: look again next tick
	}
	db, err := state.OpenReadOnly(s.opts.Root)
	if err != nil {
		s.log.Debug("reading the current release", "error", err)
		return
	}
	cur, err := db.Current()
	var open bool
	if err == nil {
		_, open, err = db.OpenTxn()
	}
	var defs map[string]serviceDef
	if err == nil && !open && cur != "" && cur != s.current {
		defs, err = s.releaseDefs(db, cur)
	}
	db.Close()
	if err != nil || open || cur == "" || cur == s.current {
		if err != nil {
			s.log.Warn("reading the current release", "error", err)
		}
		return
	}
	s.log.Info("new current release", "from", s.current, "to", cur)
	s.saver.audit("serve.release", map[string]string{"from": s.current, "to": cur})
	previous := s.current
	s.current = cur
	for name, def := range defs {
		svc := s.services[name]
		if svc == nil {
			svc, err := s.newService(def)
			if err == nil {
				s.services[name] = svc
				err = s.runStable(svc, def)
			}
			if err != nil {
				s.log.Error("starting a new service", "service", name, "error", err)
			}
			continue
		}
		s.change(svc, def, previous)
	}
	for name, svc := range s.services {
		if _, ok := defs[name]; !ok {
			s.log.Info("service removed by the new release", "service", name)
			s.removeService(svc)
			delete(s.services, name)
		}
	}
}

// change moves one service to the definition of the new current release.
func (s *server) change(svc *service, def serviceDef, previous string) {
	cur := def.Version
	if svc.ro != nil && !svc.ro.Phase.Finished() {
		if svc.ro.New == cur {
			return
		}
		reason := fmt.Sprintf("release %s became current during the rollout of %s", cur, svc.ro.New)
		_ = s.event(svc, rollout.Abort{Cause: reason}) // unfinished: taken
	}
	if svc.stable == cur {
		return
	}
	stable := svc.versions[svc.stable]
	if def.Service.Listen != svc.listen {
		// A new address (a site's configuration changed it): a router
		// there, then the old address closes.
		s.relisten(svc, def)
		return
	}
	if def.Service.Listen == "" {
		// No router: a restart on the new release.
		s.restart(svc, def)
		return
	}
	spec := def.Service
	switch {
	case stable != nil && stable.def.Fingerprint == def.Fingerprint:
		// Same code and definition: move to the new release directory
		// at once, without the gates of a rollout.
		spec.Rollout = moveRollout()
	case olderVersion(cur, svc.stable):
		// `ferry rollback` to a kept release: its services come back at
		// once (healthy first), not through the steps of a rollout.
		spec.Rollout = moveRollout()
	}
	st, acts, err := rollout.Start(spec, svc.stable, cur, time.Now())
	if err != nil {
		s.log.Error("cannot start the rollout", "service", svc.name, "error", err)
		s.restart(svc, def)
		return
	}
	svc.ro = &st
	svc.rebase()
	s.commit(svc, st, acts)
}

// event feeds ev to the service's rollout and carries out what it
// decides. A refused event changes nothing and is returned.
func (s *server) event(svc *service, ev rollout.Event) error {
	if svc.ro == nil {
		return fmt.Errorf("%w: service %s has no rollout", rollout.ErrRefused, svc.name)
	}
	prev := *svc.ro
	st, acts, err := rollout.Next(prev, ev, time.Now())
	if err != nil {
		return err
	}
	s.apply(svc, prev, st, acts)
	return nil
}

// apply makes st, which rollout.Next returned from prev with acts, the
// service's rollout.
func (s *server) apply(svc *service, prev, st rollout.State, acts []rollout.Action) {
	svc.ro = &st
	if !st.WindowStart.Equal(prev.WindowStart) {
		svc.rebase()
	}
	s.commit(svc, st, acts)
}

// commit saves the state and the decisions, then carries out the actions
// in order. A leading weight change goes first, before the save: it is how
// traffic leaves a failing version, and it must not wait for a disk; a
// crash in between loses nothing, since a restarted serve routes by the
// saved state.
func (s *server) commit(svc *service, st rollout.State, acts []rollout.Action) {
	if len(acts) > 0 {
		if w, ok := acts[0].(rollout.SetWeight); ok {
			s.route(svc, w.CanaryPercent)
			acts = acts[1:]
		}
	}
	s.saver.saveRollout(st)
	for _, a := range acts {
		if r, ok := a.(rollout.Record); ok {
			s.saver.audit("rollout."+string(r.Decision.Action), decisionAttrs(st, r.Decision))
			s.log.Info("rollout decision", "service", st.Service, "action", r.Decision.Action, "reason", r.Decision.Reason, "weight", st.Weight)
		}
	}
	if err := s.saver.flush(); err != nil {
		s.log.Error("saving rollout state", "error", err)
	}
	for _, a := range acts {
		s.act(svc, st, a)
	}
}

// act carries out one action of a rollout.
func (s *server) act(svc *service, st rollout.State, a rollout.Action) {
	switch a := a.(type) {
	case rollout.SetWeight:
		s.route(svc, a.CanaryPercent)
	case rollout.StartNew:
		def, ok := s.defs[a.Version][svc.name]
		if !ok {
			s.post(func() {
				_ = s.event(svc, rollout.Unhealthy{Reason: "release " + a.Version + " has no service " + svc.name})
			})
			return
		}
		if _, running := svc.versions[a.Version]; running {
			return
		}
		svc.newStarted = time.Now()
		if err := s.startVersion(svc, def); err != nil {
			reason := err.Error()
			s.post(func() { _ = s.event(svc, rollout.Unhealthy{Reason: reason}) })
		}
	case rollout.StopNew:
		s.stopVersion(svc, a.Version)
	case rollout.StopOld:
		s.setStable(svc, st.New)
		s.route(svc, 0)
		s.stopVersion(svc, a.Version)
	case rollout.RunSmoke:
		s.smoke(svc, a.Version)
	case rollout.RollbackRelease:
		s.rollbackRelease(svc, a)
	case rollout.Done:
		if a.Phase == rollout.PhaseSucceeded {
			s.setStable(svc, st.New)
		} else {
			s.setStable(svc, st.Stable)
		}
		s.route(svc, 0)
	}
}

// shutdown stops every service and waits for the stops.
func (s *server) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.StopGrace+5*time.Second)
	defer cancel()
	for _, svc := range s.services {
		s.removeServiceCtx(ctx, svc)
	}
	s.stopSites()
	s.wg.Wait()
	if err := s.saver.flush(); err != nil {
		s.log.Error("saving rollout state", "error", err)
	}
}

// olderVersion reports whether a is a lower semantic version than b.
func olderVersion(a, b string) bool {
	va, err1 := semver.StrictNewVersion(a)
	vb, err2 := semver.StrictNewVersion(b)
	return err1 == nil && err2 == nil && va.LessThan(vb)
}
