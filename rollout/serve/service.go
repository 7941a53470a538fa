package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"ferry/bundle/spec"
	"ferry/installer"
	"ferry/installer/state"
	"ferry/rollout"
	"ferry/rollout/health"
	"ferry/rollout/metrics"
	"ferry/rollout/router"
	"ferry/rollout/supervise"
)

// service is one service of the appliance: its router (when it has a
// public address), the versions running, and its rollout.
type service struct {
	name   string
	listen string
	router *router.Router
	// stopRouter stops the router's server, letting requests in flight
	// finish for up to the drain timeout; nil without a router.
	stopRouter func()

	versions map[string]*version
	// stable is the version the router sends traffic to outside a
	// rollout's share; served is the last one saved as such (setStable).
	stable string
	served string
	// ro is the rollout in progress, or the last one (finished), or nil.
	ro *rollout.State
	// newStarted is when the rollout's new version was started.
	newStarted time.Time
	// baseline holds each version's metrics at the rollout's WindowStart.
	baseline map[string]metrics.Snapshot
}

// version is one running version of a service.
type version struct {
	def      serviceDef
	inst     *supervise.Instance
	cred     *syscall.Credential // who its process and command checks run as; nil: ferry's user
	rec      *metrics.Recorder
	url      *url.URL
	checker  *health.Checker
	stopRun  context.CancelFunc
	procPrev metrics.ProcessSample
	usage    metrics.Usage
}

// moveRollout is the plan for a release that did not change a service:
// start it from the new release directory, switch when healthy, stop the
// old one.
func moveRollout() *spec.Rollout {
	return &spec.Rollout{Strategy: spec.StrategyBlueGreen, ScaleDownDelay: spec.Duration(time.Millisecond)}
}

// newService makes the service and, when it has a public address, its
// router listening there.
func (s *server) newService(def serviceDef) (*service, error) {
	svc := &service{name: def.Service.Name, listen: def.Service.Listen, versions: map[string]*version{}}
	if svc.listen == "" {
		return svc, nil
	}
	svc.router = router.New(router.Options{Service: svc.name, DrainTimeout: s.opts.DrainTimeout, Logger: s.log})
	l, err := net.Listen("tcp", svc.listen)
	if err != nil {
		return nil, fmt.Errorf("service %s: listen on %s: %w", svc.name, svc.listen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := svc.router.Serve(ctx, l); err != nil {
			s.log.Warn("router stopped", "service", svc.name, "err", err)
		}
	}()
	svc.stopRouter = func() {
		cancel()
		<-served
	}
	return svc, nil
}

// runStable starts def as the service's only version.
func (s *server) runStable(svc *service, def serviceDef) error {
	if err := s.startVersion(svc, def); err != nil {
		return err
	}
	s.setStable(svc, def.Version)
	s.waitListening(svc, svc.versions[def.Version])
	s.route(svc, 0)
	return nil
}

// setStable makes version the one the service's router sends traffic to
// outside a rollout's share, and records it for the next ferry serve.
func (s *server) setStable(svc *service, version string) {
	svc.stable = version
	if svc.served != version {
		svc.served = version
		s.saver.saveServed(svc.name, version)
	}
}

// resume continues a saved rollout after a restart of ferry serve: the
// stable version first, then what Restore says.
func (s *server) resume(svc *service, st rollout.State) error {
	if err := s.startVersion(svc, s.defs[st.Stable][svc.name]); err != nil {
		return err
	}
	s.setStable(svc, st.Stable)
	s.waitListening(svc, svc.versions[st.Stable])
	svc.ro = &st
	restored, acts := rollout.Restore(st, time.Now())
	svc.ro = &restored
	svc.rebase()
	s.log.Info("resuming the rollout", "service", svc.name, "from", st.Stable, "to", st.New, "phase", st.Phase, "weight", st.Weight)
	s.saver.audit("rollout.resumed", map[string]string{"service": svc.name, "stable": st.Stable, "new": st.New,
		"phase": string(st.Phase), "weight": fmt.Sprint(st.Weight), "step": fmt.Sprint(st.Step)})
	s.commit(svc, restored, acts)
	if _, ok := svc.versions[st.New]; ok {
		s.route(svc, restored.Weight)
	}
	return nil
}

// restart replaces the running version by def without a rollout.
func (s *server) restart(svc *service, def serviceDef) {
	old := svc.stable
	if err := s.startVersion(svc, def); err != nil {
		s.log.Error("starting the new version", "service", svc.name, "version", def.Version, "error", err)
		return
	}
	s.setStable(svc, def.Version)
	s.waitListening(svc, svc.versions[def.Version])
	s.route(svc, 0)
	s.stopVersion(svc, old)
}

// relisten moves a service whose address changed to def: a router on the
// new address with def running behind it, then the old router and
// versions stop. While the new address cannot be had (another program
// holds it), the service stays where it was, and says so.
func (s *server) relisten(svc *service, def serviceDef) {
	next, err := s.newService(def)
	if err == nil {
		if err = s.runStable(next, def); err != nil && next.stopRouter != nil {
			next.stopRouter()
		}
	}
	if err != nil {
		s.log.Error("the service cannot move to its new address: it stays where it was", "service", svc.name, "from", svc.listen, "to", def.Service.Listen, "error", err)
		return
	}
	s.log.Info("service moved to a new address", "service", svc.name, "from", svc.listen, "to", def.Service.Listen)
	if svc.stopRouter != nil {
		svc.stopRouter()
	}
	for ver, v := range svc.versions {
		if ver != def.Version {
			delete(svc.versions, ver)
			s.stop(v, context.Background())
			s.saver.audit("service.stopped", map[string]string{"service": svc.name, "version": ver})
		}
	}
	s.services[svc.name] = next
}

// startVersion starts one version under supervision, with its metrics
// and health checks.
func (s *server) startVersion(svc *service, def serviceDef) error {
	if _, ok := svc.versions[def.Version]; ok {
		return nil
	}
	run, err := installer.PrepareService(s.ctx, s.opts.Root, def.Component, def.Service)
	if err != nil {
		return err
	}
	if err := run.CheckReach(s.opts.Root, svc.name); err != nil {
		return err
	}
	env, err := s.secrets(def, run)
	if err != nil {
		return err
	}
	cred := run.Account.Credential()
	inst, err := supervise.Start(s.ctx, supervise.Spec{
		Service: svc.name, Version: def.Version, Command: def.Service.Command, Dir: def.Dir, Env: env,
		DataDir: run.DataDir, Credential: cred,
		LogDir: s.logDir(), RunDir: s.runDir(), Logger: s.log,
	})
	if err != nil {
		return err
	}
	v := &version{def: def, inst: inst, cred: cred, rec: metrics.NewRecorder(svc.name, def.Version), url: &url.URL{Scheme: "http", Host: inst.Addr()}}
	s.exporter.Add(v.rec)
	s.check(svc, v)
	name, ver := svc.name, def.Version
	go func() {
		// A version the supervisor gives up on is unhealthy for good.
		select {
		case <-inst.Done():
			if st := inst.Status(); st.State == supervise.Failed {
				s.post(func() {
					s.healthChanged(name, ver, health.Status{Healthy: false, LastErr: fmt.Errorf("the process keeps exiting (%s)", st.LastExit)})
				})
			}
		case <-s.ctx.Done():
		}
	}()
	svc.versions[def.Version] = v
	s.saver.audit("service.started", map[string]string{"service": svc.name, "version": def.Version, "addr": inst.Addr()})
	return nil
}

// secrets resolves the secret values def receives (Options.ServiceSecrets)
// and returns its environment: its declared env:, the secret variables
// over it, and FERRY_SECRETS when files were delivered. The values are
// added to what serve scrubs before the process starts, so nothing it
// prints can be stored unscrubbed.
func (s *server) secrets(def serviceDef, run installer.ServiceRun) (map[string]string, error) {
	if s.opts.ServiceSecrets == nil {
		return def.Service.Env, nil
	}
	sec, err := s.opts.ServiceSecrets(s.ctx, def.Version, def.Component, def.Service)
	if err != nil {
		return nil, fmt.Errorf("service %s %s: its secrets: %w", def.Service.Name, def.Version, err)
	}
	if values := sec.Values(); len(values) > 0 {
		s.scrubber.Store(s.scrubber.Load().With(values...))
	}
	env := make(map[string]string, len(def.Service.Env)+len(sec.Env)+1)
	for k, v := range def.Service.Env {
		env[k] = v
	}
	for k, v := range sec.Env {
		env[k] = v
	}
	if len(sec.Files) > 0 {
		dir, err := installer.DeliverSecretFiles(s.opts.Root, def.Service.Name, run.Account, sec.Files)
		if err != nil {
			return nil, fmt.Errorf("service %s %s: %w", def.Service.Name, def.Version, err)
		}
		env["FERRY_SECRETS"] = dir
	}
	return env, nil
}

// check starts the version's health checks at its current address.
func (s *server) check(svc *service, v *version) {
	probe, interval, timeout := healthProbe(v.def, v.url, v.cred)
	name, ver := svc.name, v.def.Version
	v.checker = health.NewChecker(probe, health.Options{Interval: interval, Timeout: timeout,
		OnChange: func(st health.Status) { s.post(func() { s.healthChanged(name, ver, st) }) }})
	ctx, cancel := context.WithCancel(s.ctx)
	v.stopRun = cancel
	go func() { _ = v.checker.Run(ctx) }()
}

// readdress points the router and the health checks at a version's new
// address.
func (s *server) readdress(svc *service, v *version, addr string) {
	s.log.Info("service restarted on another port", "service", svc.name, "version", v.def.Version, "addr", addr)
	v.url = &url.URL{Scheme: "http", Host: addr}
	v.stopRun()
	s.check(svc, v)
	weight := 0
	if svc.ro != nil {
		weight = svc.ro.Weight
	}
	s.route(svc, weight)
}

// healthProbe is the version's declared health check, or else a TCP
// connect to its port.
func healthProbe(def serviceDef, u *url.URL, cred *syscall.Credential) (health.Probe, time.Duration, time.Duration) {
	h := def.Service.Health
	interval, timeout := time.Second, 2*time.Second
	if h != nil && h.Interval > 0 {
		interval = time.Duration(h.Interval)
	}
	if h != nil && h.Timeout > 0 {
		timeout = time.Duration(h.Timeout)
	}
	switch {
	case h != nil && h.HTTP != "":
		if p, err := health.NewHTTP(u, h.HTTP); err == nil {
			return p, interval, timeout
		}
	case h != nil && len(h.Command) > 0:
		return health.Command{Args: h.Command, Dir: def.Dir, Env: health.Environ("PORT=" + u.Port()), Credential: cred}, interval, timeout
	}
	return tcpProbe{addr: u.Host}, interval, timeout
}

// tcpProbe passes when the port accepts a connection.
type tcpProbe struct{ addr string }

func (p tcpProbe) Check(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// healthChanged passes a version's health to its service's rollout.
func (s *server) healthChanged(name, ver string, st health.Status) {
	svc := s.services[name]
	if svc == nil || svc.versions[ver] == nil {
		return
	}
	reason := "health check passes"
	if !st.Healthy && st.LastErr != nil {
		reason = s.scrubber.Load().Bound(st.LastErr.Error(), maxReason)
	}
	s.log.Info("health", "service", name, "version", ver, "healthy", st.Healthy, "detail", reason)
	if ver == svc.stable {
		s.siteLocal(svc)
	}
	if svc.ro != nil && !svc.ro.Phase.Finished() && svc.ro.New == ver {
		var ev rollout.Event = rollout.Healthy{}
		if !st.Healthy {
			ev = rollout.Unhealthy{Reason: reason}
		}
		if err := s.event(svc, ev); err != nil && !errors.Is(err, rollout.ErrRefused) {
			s.log.Error("health event", "service", name, "error", err)
		}
		return
	}
	if !st.Healthy {
		s.saver.audit("service.unhealthy", map[string]string{"service": name, "version": ver, "reason": reason})
	}
}

// route sends the service's traffic: the stable version, and the
// rollout's new version at weight when one is in progress.
func (s *server) route(svc *service, weight int) {
	if svc.router == nil {
		return
	}
	stable := svc.versions[svc.stable]
	if stable == nil {
		return
	}
	cfg := router.Config{Stable: stable.backend()}
	if ro := svc.ro; ro != nil && !ro.Phase.Finished() && ro.New != svc.stable {
		if nv := svc.versions[ro.New]; nv != nil {
			cfg.Canary, cfg.CanaryWeight = nv.backend(), weight
			if r := nv.def.Service.Rollout; r != nil {
				cfg.StickyCookie = r.Sticky
				cfg.Rules = routeRules(r.Route)
			}
			if weight == 0 && ro.Phase == rollout.PhaseAborted {
				cfg.Canary, cfg.Rules = nil, nil
			}
		}
	}
	if err := svc.router.Set(s.ctx, cfg); err != nil {
		s.log.Warn("routing", "service", svc.name, "error", err)
	}
	s.siteLocal(svc)
}

func (v *version) backend() *router.Backend {
	return &router.Backend{Version: v.def.Version, URL: v.url, Metrics: v.rec}
}

func routeRules(routes []spec.Route) []router.Rule {
	var out []router.Rule
	for _, r := range routes {
		rule := router.Rule{Header: r.Header, HeaderValue: r.Value, Cookie: r.Cookie}
		if r.Cookie != "" {
			rule.CookieValue = r.Value
			rule.HeaderValue = ""
		}
		if r.Client != "" {
			if p, err := netip.ParsePrefix(r.Client); err == nil {
				rule.ClientPrefix = p
			}
		}
		out = append(out, rule)
	}
	return out
}

// stopVersion stops a version that no longer gets traffic, in the
// background.
func (s *server) stopVersion(svc *service, ver string) {
	v := svc.versions[ver]
	if v == nil || ver == svc.stable {
		return
	}
	delete(svc.versions, ver)
	s.stop(v, context.Background())
	s.saver.audit("service.stopped", map[string]string{"service": svc.name, "version": ver})
}

func (s *server) stop(v *version, ctx context.Context) {
	v.stopRun()
	s.exporter.Remove(v.rec)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = v.inst.Stop(ctx, s.opts.StopGrace)
	}()
}

func (s *server) removeService(svc *service) { s.removeServiceCtx(context.Background(), svc) }

func (s *server) removeServiceCtx(ctx context.Context, svc *service) {
	if svc.stopRouter != nil {
		svc.stopRouter()
	}
	for ver, v := range svc.versions {
		delete(svc.versions, ver)
		s.stop(v, ctx)
	}
	if err := installer.RemoveSecretFiles(s.opts.Root, svc.name); err != nil {
		s.log.Error("removing the service's secret files", "service", svc.name, "error", err)
	}
}

// rebase starts a new analysis window: the metrics so far are the
// baseline the next samples are measured from.
func (svc *service) rebase() {
	svc.baseline = map[string]metrics.Snapshot{}
	for ver, v := range svc.versions {
		svc.baseline[ver] = v.rec.Snapshot()
	}
}

// sample is a version's traffic since the window began, and its latest
// CPU and memory use.
func (svc *service) sample(ver string) rollout.Sample {
	v := svc.versions[ver]
	if v == nil {
		return rollout.Sample{}
	}
	d := v.rec.Snapshot().Sub(svc.baseline[ver])
	return rollout.Sample{
		Requests: d.Requests - d.Canceled,
		Errors:   d.Errors5xx + d.ConnErrors,
		P95:      d.Quantile(0.95),
		CPU:      v.usage.CPUPercent / 100,
		Memory:   v.usage.MemPercent / 100,
	}
}

// sampleProcesses updates the CPU and memory use of every version of
// svc from table, one scan of /proc for the whole tick (nil when there are
// no figures).
func (s *server) sampleProcesses(svc *service, table *metrics.ProcessTable) {
	for _, v := range svc.versions {
		if addr := v.inst.Addr(); addr != v.url.Host {
			// Restarted on another port (its own was taken meanwhile).
			s.readdress(svc, v, addr)
		}
		// The main process leads the version's process group: sampling
		// it counts every process in the group and below it.
		var pids []int
		if pid := v.inst.Pid(); pid > 0 {
			pids = []int{pid}
		}
		v.rec.SetProcesses(pids)
		if table == nil {
			continue
		}
		cur := table.Sample(pids)
		if !v.procPrev.At.IsZero() {
			v.usage = s.sampler.Usage(v.procPrev, cur)
		}
		v.procPrev = cur
	}
}

// smoke runs the new version's smoke tests against it directly and
// reports the result to the rollout.
func (s *server) smoke(svc *service, ver string) {
	v := svc.versions[ver]
	if v == nil {
		return
	}
	var checks []spec.Check
	if r := v.def.Service.Rollout; r != nil {
		checks = r.Smoke
	}
	name, u, dir, cred := svc.name, v.url, v.def.Dir, v.cred
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := runSmoke(s.ctx, checks, u, dir, cred)
		// The rollout labels the result as the smoke tests'; the
		// reason says only which test and what it found.
		res := rollout.SmokeResult{OK: err == nil}
		if len(checks) == 0 {
			res.Reason = "none are declared"
		}
		if err != nil {
			res.Reason = s.scrubber.Load().Bound(err.Error(), maxReason)
		}
		s.post(func() {
			if svc := s.services[name]; svc != nil {
				_ = s.event(svc, res)
			}
		})
	}()
}

// runSmoke runs each smoke test: an HTTP GET of a path on the version, or
// a command in its release directory with PORT set.
func runSmoke(ctx context.Context, checks []spec.Check, u *url.URL, dir string, cred *syscall.Credential) error {
	for i, c := range checks {
		timeout := 10 * time.Second
		if c.Timeout > 0 {
			timeout = time.Duration(c.Timeout)
		}
		var p health.Probe
		if c.HTTP != "" {
			hp, err := health.NewHTTP(u, c.HTTP)
			if err != nil {
				return err
			}
			p = hp
		} else {
			p = health.Command{Args: c.Command, Dir: dir, Env: health.Environ("PORT=" + u.Port()), Credential: cred}
		}
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := p.Check(cctx)
		cancel()
		if err != nil {
			return fmt.Errorf("test %d of %d: %w", i+1, len(checks), err)
		}
	}
	return nil
}

// rollbackRelease returns the appliance from a.From to a.To through the
// installer's rollback transaction. An install holding
// the appliance is waited for a while.
func (s *server) rollbackRelease(svc *service, a rollout.RollbackRelease) {
	// Only the release this rollout brought is taken back: if another
	// release became current meanwhile (or the rollback already ran), the
	// rollout's end does not move the appliance.
	if currentLink(s.opts.Root) != a.From {
		return
	}
	var err error
	for attempt := 0; attempt < 30; attempt++ {
		_, err = installer.Rollback(s.ctx, s.opts.Root, installer.RollbackOptions{To: a.To, Log: s.log, Reason: "rollout aborted: " + a.Reason})
		if !errors.Is(err, state.ErrLocked) {
			break
		}
		time.Sleep(time.Second)
	}
	if err != nil {
		s.log.Error("rolling the release back failed: traffic is on the stable version, the release is not", "from", a.From, "to", a.To, "error", err)
		s.saver.audit("rollout.rollback-failed", map[string]string{"service": svc.name, "from": a.From, "to": a.To, "error": err.Error()})
		return
	}
	s.log.Warn("release rolled back", "from", a.From, "to", a.To, "reason", a.Reason)
	s.saver.audit("rollout.release-rolled-back", map[string]string{"service": svc.name, "from": a.From, "to": a.To, "reason": a.Reason})
}
