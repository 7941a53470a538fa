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
	health := "/healthz"
	if sick {
		health = "/no-such-path"
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
        health: {http: %s, interval: 200ms}
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
			values += fmt.Sprintf("    - {name: %s, url: %q, priority: %d, weight: 1", p.name, u, p.priority)
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
	d := deploy(t, lab, bin, "{strategy: failover, failback: true, health: {interval: 1s, failures: 2, successes: 3}}",
		siteSpec{name: "a", addr: "10.77.0.1", priority: 1},
		siteSpec{name: "b", addr: "10.77.0.2", priority: 2},
		siteSpec{name: "c", addr: "10.77.0.3", priority: 3},
		siteSpec{name: "x", addr: "10.77.0.9", priority: 4, certDir: foreign})
	d.waitStatus("b", "b to send traffic to a", activeIs("a"))
	d.waitStatus("c", "c to send traffic to a", activeIs("a"))

	g := d.load("cl", "b", 4)
	time.Sleep(2 * time.Second)
	if served, errs := g.snapshot(); served["a"] == 0 || len(errs) > 0 {
		t.Fatalf("before the failure: served %v, errors %v", served, errs)
	}
	cut := time.Now()
	lab.link("a", false)
	d.waitStatus("b", "b to fail over to itself", activeIs("b"))
	t.Logf("failover from a to b: %v after a's link went down (interval 1s, failures 2)", time.Since(cut).Round(10*time.Millisecond))
	time.Sleep(2 * time.Second)

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

	audit := d.ferry("audit", "--root", d.root("c"))
	for _, want := range []string{"sites.configured", "sites.failover", "sites.failback", "site a healthy: 3 checks in a row passed", "site b unhealthy: 2 checks in a row failed"} {
		if !strings.Contains(audit, want) {
			t.Errorf("c's audit log has no %q:\n%s", want, audit)
		}
	}
}
