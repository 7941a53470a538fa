package serve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/bundle"
	"ferry/bundle/spec"
	"ferry/fixtures"
	"ferry/installer"
	"ferry/internal/redact"
	"ferry/rollout"
	"ferry/verify"
)

var testService fixtures.TestServiceBinary

func TestMain(m *testing.M) {
	code := m.Run()
	testService.Close()
	os.Exit(code)
}

// appliance is a root with a release key, and bundles of one service,
// "api", run by the test service.
type appliance struct {
	t      *testing.T
	dir    string
	root   string
	key    *ecdsa.PrivateKey
	pub    []byte
	listen string
	// serviceSecrets is Options.ServiceSecrets of the serve it starts.
	serviceSecrets func(ctx context.Context, version, component string, svc spec.Service) (installer.ServiceSecrets, error)
}

func newAppliance(t *testing.T) *appliance {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := fixtures.ServiceTempDir(t)
	return &appliance{t: t, dir: dir, root: filepath.Join(dir, "root"), key: key,
		pub: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), listen: fixtures.FreeTCPAddr(t)}
}

// project makes a project directory named name holding the test
// service's binary as bin/testservice, and returns its path.
func (a *appliance) project(name string) string {
	t := a.t
	t.Helper()
	dir := filepath.Join(a.dir, name)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(testService.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "testservice"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// bundle builds version of the appliance: the api service with the test
// service's extra flags and the rollout section given (YAML, indented for
// the service's mapping).
func (a *appliance) bundle(version string, flags []string, rollout string) string {
	t := a.t
	t.Helper()
	dir := a.project("p-" + version)
	args := []string{"bin/testservice", "--listen", "127.0.0.1:${PORT}", "--version", version, "--shutdown-timeout", "2s"}
	args = append(args, flags...)
	spec := fmt.Sprintf(`apiVersion: ferry/v1
kind: Bundle
metadata: {name: served, version: %s}
components:
  - name: api
    files:
      - {src: bin/testservice, dest: bin/testservice, mode: "0755"}
    services:
      - name: api
        command: ["%s"]
        listen: %s
        health: {http: /healthz, interval: 100ms, timeout: 1s}
%s      - name: worker
        command: ["%s"]
`, version, strings.Join(args, `", "`), a.listen, rollout, strings.Join(args, `", "`))
	return a.build(dir, spec, "served-"+version+".ferry")
}

// build writes spec as dir/ferry.yaml and builds it, signed by the
// appliance's key, into name beside the appliance.
func (a *appliance) build(dir, spec, name string) string {
	t := a.t
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := bundle.LoadSpec(filepath.Join(dir, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := verify.NewSigner(a.key)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(a.dir, name)
	if _, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: s, Signers: []verify.Signer{signer}}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (a *appliance) install(path string) {
	a.t.Helper()
	if _, err := installer.Install(context.Background(), path, installer.Options{Root: a.root, Keys: [][]byte{a.pub}}); err != nil {
		a.t.Fatal(err)
	}
}

// serve runs ferry serve on the appliance until the test ends or stop is
// called; stop waits for it to return.
func (a *appliance) serve(tick time.Duration) (stop func()) {
	a.t.Helper()
	stop = a.start(tick)
	a.waitStatus("serving", func(st []ServiceStatus) bool { return len(st) == 2 }, 20*time.Second)
	return stop
}

// start runs ferry serve on the appliance, as serve does, without waiting
// for its services.
func (a *appliance) start(tick time.Duration) (stop func()) {
	a.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(testWriter{a.t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	go func() {
		done <- Run(ctx, Options{Root: a.root, Tick: tick, StopGrace: 2 * time.Second, StartTimeout: 20 * time.Second, Log: log,
			Secrets: redact.FromEnviron(os.Environ()), ServiceSecrets: a.serviceSecrets})
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			a.t.Errorf("serve: %v", err)
		}
	}
	a.t.Cleanup(stop)
	return stop
}

// waitStatus polls the control socket until ok holds.
func (a *appliance) waitStatus(what string, ok func([]ServiceStatus) bool, timeout time.Duration) []ServiceStatus {
	a.t.Helper()
	c := NewClient(a.root)
	deadline := time.Now().Add(timeout)
	var last []ServiceStatus
	var lastErr error
	for time.Now().Before(deadline) {
		st, err := c.Status(context.Background())
		if err == nil && ok(st) {
			return st
		}
		last, lastErr = st, err
		time.Sleep(50 * time.Millisecond)
	}
	a.t.Fatalf("waiting for %s: last status %+v (%v)", what, describe(last), lastErr)
	return nil
}

func describe(st []ServiceStatus) string {
	var b strings.Builder
	for _, s := range st {
		fmt.Fprintf(&b, "[%s stable %s", s.Service, s.Stable)
		if r := s.Rollout; r != nil {
			fmt.Fprintf(&b, " rollout %s->%s %s step %d/%d weight %d", r.Stable, r.New, r.Phase, r.Step, r.Steps, r.NewWeight)
			if d := r.LastDecision; d != nil {
				fmt.Fprintf(&b, " last %s: %s", d.Action, d.Reason)
			}
		}
		for _, v := range s.Versions {
			fmt.Fprintf(&b, " {%s %s healthy=%v req=%d err=%d}", v.Version, v.State, v.Healthy, v.Requests, v.Errors)
		}
		b.WriteString("]")
	}
	return b.String()
}

func phase(p rollout.Phase) func([]ServiceStatus) bool {
	return func(st []ServiceStatus) bool {
		return len(st) == 2 && st[0].Rollout != nil && st[0].Rollout.Phase == p
	}
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
