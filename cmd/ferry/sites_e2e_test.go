package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ferry/fixtures"
	"ferry/rollout/router"
	"ferry/rollout/serve"
)

// siteSpec is one site of a deployment in a netLab.
type siteSpec struct {
	name     string
	addr     string // its address in the lab
	priority int
	// clients are the ranges other sites send to it (geographic).
	clients []string
	// bundle names the bundle the site installs; "" is "app".
	bundle string
	// certDir, if set, holds its certificate instead of the deployment's
	// (another CA).
	certDir string
	// peerURL, if set, is how the other sites reach it, by site name of
	// the one reaching (a relay).
	peerURL map[string]string
	// peerPriority, if set, is its priority in the other sites' lists.
	peerPriority int
}

// deployment is ferry serve running at each site of a netLab, each in
// its own namespace with its own root.
type deployment struct {
	t     *testing.T
	lab   *netLab
	bin   string
	dir   string
	env   []string
	sites map[string]siteSpec
}

// writeSitesProject writes a project whose service routes by routing
// across sites; sick makes its health check fail, so that the site does
// not serve it itself.
func writeSitesProject(t *testing.T, dir, svcBin, routing string, sick bool) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(svcBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "testservice"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	health := "{http: /healthz, interval: 200ms}"
	if sick {
		health = `{command: [sh, -c, "exit 1"], interval: 200ms}`
	}
	spec := fmt.Sprintf(`apiVersion: ferry/v1
kind: Bundle
metadata: {name: sited, version: 1.0.0}
components:
  - name: api
    files:
      - {src: bin/testservice, dest: bin/testservice, mode: "0755"}
    services:
      - name: api
        command: [bin/testservice, --listen, "127.0.0.1:${PORT}", --version, "1.0.0"]
        listen: 0.0.0.0:8080
        health: %s
        routing: %s
`, health, routing)
	if err := os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
}

// deploy builds the bundles (routing for all, a sick one for sites that
// ask for it), makes the site CA and certificates, installs each site
// with its sites configuration and starts its ferry serve in its
// namespace.
func deploy(t *testing.T, lab *netLab, bin, routing string, specs ...siteSpec) *deployment {
	t.Helper()
	d := &deployment{t: t, lab: lab, bin: bin, dir: fixtures.ServiceTempDir(t), sites: map[string]siteSpec{}}
	d.env = append(os.Environ(), "FERRY_PASSPHRASE=e2e")
	svcBin := fixtures.BuildTestService(t)
	d.ferry("keys", "generate", "--type", "ed25519", "--out", "release")
	for _, b := range []string{"app", "sick"} {
		writeSitesProject(t, filepath.Join(d.dir, b), svcBin, routing, b == "sick")
		d.ferry("bundle", "create", "-f", filepath.Join(b, "ferry.yaml"), "-o", b+".ferry", "--key", "release.key")
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.name)
		d.sites[s.name] = s
	}
	d.ferry(append([]string{"site", "cert", "--dir", "certs"}, names...)...)
	for _, s := range specs {
		root := d.root(s.name)
		values := fmt.Sprintf("sites:\n  self: %s\n  priority: %d\n  listen: %s:8443\n  peers:\n", s.name, s.priority, s.addr)
		for _, p := range specs {
			if p.name == s.name {
				continue
			}
			u := "https://" + p.addr + ":8443"
			if r, ok := p.peerURL[s.name]; ok {
				u = r
			}
			prio := p.priority
			if p.peerPriority > 0 {
				prio = p.peerPriority
			}
			values += fmt.Sprintf("    - {name: %s, url: %q, priority: %d, weight: 1", p.name, u, prio)
			if len(p.clients) > 0 {
				values += ", clients: [" + strings.Join(p.clients, ", ") + "]"
			}
			values += "}\n"
		}
		vf := filepath.Join(d.dir, "values-"+s.name+".yaml")
		if err := os.WriteFile(vf, []byte(values), 0o644); err != nil {
			t.Fatal(err)
		}
		bundle := s.bundle
		if bundle == "" {
			bundle = "app"
		}
		d.ferry("install", bundle+".ferry", "--key", "release.pub", "--root", root, "--values", vf)
		certs := filepath.Join(d.dir, "certs")
		if s.certDir != "" {
			certs = s.certDir
		}
		keys := filepath.Join(root, serve.SitesDir)
		if err := os.MkdirAll(keys, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"ca.crt", s.name + ".crt", s.name + ".key"} {
			data, err := os.ReadFile(filepath.Join(certs, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(keys, f), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range specs {
		d.serve(s.name)
	}
	for _, s := range specs {
		d.waitStatus(s.name, "its own service healthy", func(st serve.SitesStatus) bool {
			return len(st.Services) == 1 && (s.bundle == "sick" || st.Services[0].Sites[d.index(st, s.name)].Healthy)
		})
	}
	return d
}

func (d *deployment) root(site string) string { return filepath.Join(d.dir, "root-"+site) }

func (d *deployment) ferry(args ...string) string {
	d.t.Helper()
	cmd := exec.Command(d.bin, args...)
	cmd.Dir, cmd.Env = d.dir, d.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		d.t.Fatalf("ferry %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// serve starts ferry serve for site in its namespace until the test ends.
func (d *deployment) serve(site string) {
	d.t.Helper()
	cmd := d.lab.command(site, d.bin, "serve", "--root", d.root(site), "--tick", "100ms", "--stop-grace", "2s")
	cmd.Dir, cmd.Env = d.dir, d.env
	logf, err := os.Create(filepath.Join(d.dir, "serve-"+site+".log"))
	if err != nil {
		d.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() {
		if err := stopServe(cmd); err != nil {
			d.t.Logf("ferry serve at %s: %v", site, err)
		}
		logf.Close()
		if d.t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			d.t.Logf("serve log of %s:\n%s", site, b)
		}
	})
}

// status is `ferry sites status --json` at site; nil while it does not
// answer.
func (d *deployment) status(site string) *serve.SitesStatus {
	cmd := exec.Command(d.bin, "sites", "status", "--json", "--root", d.root(site))
	cmd.Dir, cmd.Env = d.dir, d.env
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	var st serve.SitesStatus
	if json.Unmarshal(out, &st) != nil {
		return nil
	}
	return &st
}

func (d *deployment) index(st serve.SitesStatus, site string) int {
	for i, s := range st.Services[0].Sites {
		if s.Name == site {
			return i
		}
	}
	d.t.Fatalf("no site %s in %+v", site, st)
	return -1
}

// waitStatus polls site's status until ok, for at most a minute.
func (d *deployment) waitStatus(site, what string, ok func(serve.SitesStatus) bool) serve.SitesStatus {
	d.t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last *serve.SitesStatus
	for time.Now().Before(deadline) {
		if last = d.status(site); last != nil && len(last.Services) > 0 && ok(*last) {
			return *last
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("site %s: waiting for %s; status %+v", site, what, last)
	return serve.SitesStatus{}
}

// waitAudit waits, for at most 20 seconds, until site's audit log holds
// text: ferry serve writes its entries on its next tick.
func (d *deployment) waitAudit(site, text string) {
	d.t.Helper()
	var audit string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if audit = d.ferry("audit", "--root", d.root(site)); strings.Contains(audit, text) {
			return
		}
	}
	d.t.Fatalf("%s's audit log has no %q:\n%s", site, text, audit)
}

func activeIs(site string) func(serve.SitesStatus) bool {
	return func(st serve.SitesStatus) bool { return st.Services[0].Active == site }
}

// client is HTTP from a client namespace of the lab.
func (d *deployment) client(node string) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.lab.dialer(node), MaxIdleConnsPerHost: 16}}
}

// get sends one GET to site's router from c and returns the site that
// answered.
func (d *deployment) get(c *http.Client, site string) (string, error) {
	resp, err := c.Get("http://" + d.sites[site].addr + ":8080/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.Header.Get(router.SiteHeader), fmt.Errorf("status %s from %s", resp.Status, resp.Header.Get(router.SiteHeader))
	}
	return resp.Header.Get(router.SiteHeader), nil
}

// loadGen sends GETs from a client namespace to a site's router, the
// target changeable on the way, and counts failures and the sites that
// answered.
type loadGen struct {
	d      *deployment
	target atomic.Value // site name
	mu     sync.Mutex
	served map[string]int
	errs   []string
	total  atomic.Int64
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

func (d *deployment) load(node, target string, workers int) *loadGen {
	ctx, cancel := context.WithCancel(context.Background())
	g := &loadGen{d: d, served: map[string]int{}, stop: cancel}
	g.target.Store(target)
	c := d.client(node)
	for range workers {
		g.wg.Go(func() {
			for ctx.Err() == nil {
				site, err := d.get(c, g.target.Load().(string))
				g.total.Add(1)
				g.mu.Lock()
				if err != nil {
					g.errs = append(g.errs, err.Error())
				} else {
					g.served[site]++
				}
				g.mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	d.t.Cleanup(g.finish)
	return g
}

// waitServed waits, for at most a minute, until every worker of the
// load has had answers since the call (through the current target):
// none of their requests waits on the site the test cuts next.
func (g *loadGen) waitServed() {
	g.d.t.Helper()
	sum := func() int {
		served, _ := g.snapshot()
		n := 0
		for _, v := range served {
			n += v
		}
		return n
	}
	first := sum()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if sum() >= first+16 {
			return
		}
	}
	served, errs := g.snapshot()
	g.d.t.Fatalf("no requests answered through %s: served %v, errors %v", g.target.Load(), served, errs)
}

func (g *loadGen) finish() { g.stop(); g.wg.Wait() }

func (g *loadGen) snapshot() (map[string]int, []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	served := map[string]int{}
	for k, v := range g.served {
		served[k] = v
	}
	return served, append([]string(nil), g.errs...)
}

// TestSitesFailoverNetns: three sites, each a ferry serve in its own
// network namespace, clients in another. Under load, the primary's link
// goes down: traffic moves to the secondary and no GET fails (the
// failover time is logged). With the secondary cut too, the tertiary
// serves (cascade); the primary back, traffic returns to it after three
// passing checks, not before. A fourth site with a certificate from
// another CA is never used.
func TestSitesFailoverNetns(t *testing.T) {
	lab := newNetLab(t)
	lab.node("a", "10.77.0.1/24")
	lab.node("b", "10.77.0.2/24")
	lab.node("c", "10.77.0.3/24")
	lab.node("x", "10.77.0.9/24")
	lab.node("cl", "10.77.0.100/24")
	bin := buildFerry(t)
	foreign := t.TempDir()
	cmd := exec.Command(bin, "site", "cert", "--dir", foreign, "x")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	d := deploy(t, lab, bin, "{strategy: failover, failback: true, health: {interval: 500ms, failures: 2, successes: 3}}",
		siteSpec{name: "a", addr: "10.77.0.1", priority: 1},
		siteSpec{name: "b", addr: "10.77.0.2", priority: 2},
		siteSpec{name: "c", addr: "10.77.0.3", priority: 3},
		siteSpec{name: "x", addr: "10.77.0.9", priority: 4, certDir: foreign})
	d.waitStatus("b", "b to send traffic to a", activeIs("a"))
	d.waitStatus("c", "c to send traffic to a", activeIs("a"))

	g := d.load("cl", "b", 4)
	g.waitServed()
	if served, errs := g.snapshot(); served["a"] == 0 || len(errs) > 0 {
		t.Fatalf("before the failure: served %v, errors %v", served, errs)
	}
	cut := time.Now()
	lab.link("a", false)
	d.waitStatus("b", "b to fail over to itself", activeIs("b"))
	t.Logf("failover from a to b: %v after a's link went down (interval 500ms, failures 2)", time.Since(cut).Round(10*time.Millisecond))

	g.waitServed()
	// Cascade: the clients move to c; b's link goes down too.
	g.target.Store("c")
	d.waitStatus("c", "c to fail over to b", activeIs("b"))
	g.waitServed() // nothing in flight to b
	lab.link("b", false)
	d.waitStatus("c", "c to serve itself", activeIs("c"))
	time.Sleep(time.Second)
	before, _ := g.snapshot()

	// Failback after the hysteresis: a's link back.
	lab.link("a", true)
	var seen []string
	st := d.waitStatus("c", "c to fail back to a", func(st serve.SitesStatus) bool {
		seen = append(seen, st.Services[0].Active)
		return st.Services[0].Active == "a"
	})
	for _, a := range seen[:len(seen)-1] {
		if a != "c" {
			t.Fatalf("before failing back, c sent traffic to %q (%v)", a, seen)
		}
	}
	sa := st.Services[0].Sites[d.index(st, "a")]
	if !strings.Contains(sa.Reason, "3 checks in a row passed") {
		t.Fatalf("failback reason %q", sa.Reason)
	}
	time.Sleep(time.Second)
	g.finish()
	served, errs := g.snapshot()
	t.Logf("requests %d, served by site %v", g.total.Load(), served)
	if len(errs) > 0 {
		t.Fatalf("%d GETs failed (of %d): %v", len(errs), g.total.Load(), errs[:min(len(errs), 5)])
	}
	if served["c"] <= before["c"] || served["a"] <= before["a"] || served["b"] == 0 {
		t.Fatalf("served %v (before failback %v): want b, then c, then a again", served, before)
	}
	if x := st.Services[0].Sites[d.index(st, "x")]; x.Healthy || !strings.Contains(x.Reason, "certificate") {
		t.Fatalf("the site of another CA: %+v", x)
	}

	for _, want := range []string{"sites.configured", "sites.failover", "sites.failback", "site a healthy: 3 checks in a row passed", "site b unhealthy: 2 checks in a row failed"} {
		d.waitAudit("c", want)
	}
}

// TestSitesNoLoopNetns: two sites that each rank the other first, both
// healthy, each forward a client's request to the other, which serves
// it: a forwarded request is never forwarded again.
func TestSitesNoLoopNetns(t *testing.T) {
	lab := newNetLab(t)
	lab.node("a", "10.77.0.1/24")
	lab.node("b", "10.77.0.2/24")
	lab.node("cl", "10.77.0.100/24")
	d := deploy(t, lab, buildFerry(t), "{strategy: failover, health: {interval: 500ms, failures: 2, successes: 2}}",
		siteSpec{name: "a", addr: "10.77.0.1", priority: 2, peerPriority: 1},
		siteSpec{name: "b", addr: "10.77.0.2", priority: 2, peerPriority: 1})
	d.waitStatus("a", "a to send traffic to b", activeIs("b"))
	d.waitStatus("b", "b to send traffic to a", activeIs("a"))
	out := d.ferry("sites", "status", "--root", d.root("a"))
	for _, want := range []string{"service api at site a: failover, traffic to b", "SITE", "a (this site)", "healthy"} {
		if !strings.Contains(out, want) {
			t.Errorf("ferry sites status does not say %q:\n%s", want, out)
		}
	}
	c := d.client("cl")
	for i := range 20 {
		for via, want := range map[string]string{"a": "b", "b": "a"} {
			got, err := d.get(c, via)
			if err != nil || got != want {
				t.Fatalf("request %d via %s: served by %q (%v), want %s", i, via, got, err, want)
			}
		}
	}
}

// TestSitesLatencyNetns: with the latency strategy, a site that does
// not serve the service itself sends it to the peer with the lower
// smoothed probe latency (a relay slows the other down), stays there
// while the other is faster by less than the tolerance band, and moves
// once it is faster by more.
func TestSitesLatencyNetns(t *testing.T) {
	lab := newNetLab(t)
	lab.node("a", "10.77.0.1/24")
	lab.node("b", "10.77.0.2/24")
	lab.node("c", "10.77.0.3/24")
	lab.node("cl", "10.77.0.100/24")
	ra, aURL := lab.relay("c", "10.77.0.1:8443")
	rb, bURL := lab.relay("c", "10.77.0.2:8443")
	ra.delay.Store(int64(150 * time.Millisecond))
	rb.delay.Store(int64(time.Millisecond))
	d := deploy(t, lab, buildFerry(t), "{strategy: latency, tolerance: 100ms, health: {interval: 1s, timeout: 1s, failures: 2, successes: 2}}",
		siteSpec{name: "a", addr: "10.77.0.1", priority: 1, peerURL: map[string]string{"c": "https://" + aURL}},
		siteSpec{name: "b", addr: "10.77.0.2", priority: 2, peerURL: map[string]string{"c": "https://" + bURL}},
		siteSpec{name: "c", addr: "10.77.0.3", priority: 3, bundle: "sick"})
	d.waitStatus("c", "c to prefer b, the faster", activeIs("b"))
	c := d.client("cl")
	if got, err := d.get(c, "c"); err != nil || got != "b" {
		t.Fatalf("served by %q (%v), want b", got, err)
	}
	// a becomes faster than b by a few milliseconds: inside the band
	// (wide: a probe's time includes its TLS handshake, which a busy
	// machine slows down).
	ra.delay.Store(0)
	d.waitStatus("c", "a's smoothed latency to fall below b's", func(st serve.SitesStatus) bool {
		s := st.Services[0].Sites
		return s[d.index(st, "a")].LatencyMS < s[d.index(st, "b")].LatencyMS
	})
	for i := range 20 {
		st := d.status("c")
		if st == nil || st.Services[0].Active != "b" {
			t.Fatalf("poll %d: traffic moved inside the tolerance band: %+v", i, st)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// b slows down well past the band: traffic moves to a.
	rb.delay.Store(int64(60 * time.Millisecond))
	d.waitStatus("c", "c to move to a", activeIs("a"))
	if got, err := d.get(c, "c"); err != nil || got != "a" {
		t.Fatalf("served by %q (%v), want a", got, err)
	}
	d.waitAudit("c", "site a answers in")
}

// TestSitesGeographicNetns: the client's address picks the site of its
// range; when that site is down, the failover order.
func TestSitesGeographicNetns(t *testing.T) {
	lab := newNetLab(t)
	lab.node("a", "10.77.0.1/24")
	lab.node("b", "10.77.0.2/24")
	lab.node("c", "10.77.0.3/24")
	lab.node("eu", "10.77.0.101/24")
	lab.node("us", "10.77.0.102/24")
	lab.node("xx", "10.77.0.103/24")
	d := deploy(t, lab, buildFerry(t), "{strategy: geographic, health: {interval: 500ms, failures: 2, successes: 2}}",
		siteSpec{name: "a", addr: "10.77.0.1", priority: 1, clients: []string{"10.77.0.101/32"}},
		siteSpec{name: "b", addr: "10.77.0.2", priority: 2, clients: []string{"10.77.0.102/32"}},
		siteSpec{name: "c", addr: "10.77.0.3", priority: 3})
	d.waitStatus("c", "a and b healthy at c", func(st serve.SitesStatus) bool {
		s := st.Services[0].Sites
		return s[d.index(st, "a")].Healthy && s[d.index(st, "b")].Healthy
	})
	for node, want := range map[string]string{"eu": "a", "us": "b", "xx": "a"} { // xx in no range: the failover order
		c := d.client(node)
		for i := range 5 {
			if got, err := d.get(c, "c"); err != nil || got != want {
				t.Fatalf("client %s, request %d: served by %q (%v), want %s", node, i, got, err, want)
			}
		}
	}
	lab.link("a", false)
	d.waitStatus("c", "a down at c", func(st serve.SitesStatus) bool { return !st.Services[0].Sites[d.index(st, "a")].Healthy })
	for _, node := range []string{"eu", "xx"} {
		if got, err := d.get(d.client(node), "c"); err != nil || got != "b" {
			t.Fatalf("client %s with a down: served by %q (%v), want b, next in the failover order", node, got, err)
		}
	}
}
