package serve

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/fixtures"
	"ferry/installer/registry"
	"ferry/internal/netlimit"
	"ferry/internal/testenv"
)

// short is the timeout the bounds tests give the server: what they assert
// is that a connection is closed, never how soon; patience bounds every
// wait for something that must happen.
const (
	short    = 200 * time.Millisecond
	patience = 30 * time.Second
)

// surface is one of ferry serve's listeners and a request it answers.
type surface struct {
	name, network, addr, path string
}

// serveBounded runs ferry serve on the installed appliance with the
// metrics endpoint and the registry on, within lim, and returns its
// surfaces, its log, and stop, which waits for it to return.
func (a *appliance) serveBounded(lim netlimit.Limits, registryTLS *tls.Config) (surfaces []surface, logs *testenv.Buffer, stop func()) {
	t := a.t
	t.Helper()
	metrics, reg := fixtures.FreeTCPAddr(t), fixtures.FreeTCPAddr(t)
	logs = &testenv.Buffer{}
	lim.Log = slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Root: a.root, Tick: 100 * time.Millisecond, StopGrace: 2 * time.Second,
			MetricsAddr: metrics, RegistryAddr: reg, RegistryTLS: registryTLS, Limits: lim, Log: lim.Log})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	a.waitStatus("serving", func(st []ServiceStatus) bool { return len(st) == 2 }, 20*time.Second)
	return []surface{
		{"control socket", "unix", filepath.Join(a.root, "run", "serve.sock"), "/v1/status"},
		{"metrics", "tcp", metrics, "/metrics"},
		{"registry", "tcp", reg, "/v2/"},
	}, logs, stop
}

func (s surface) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial(s.network, s.addr)
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends a request on c and reads the response; the connection stays
// open (kept alive).
func (s surface) get(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+s.path+" HTTP/1.1\r\nHost: ferry\r\n\r\n"); err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(patience))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: GET %s: %s", s.name, s.path, resp.Status)
	}
}

// waitClosed fails unless the server closes c.
func (s surface) waitClosed(t *testing.T, c net.Conn, r io.Reader, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(patience))
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("%s: %s kept its connection for %s", s.name, what, patience)
	}
}

// TestServeNetworkBounds attacks the control socket, the metrics endpoint
// and the registry of a ferry serve on a real appliance, one attack per
// subtest.
func TestServeNetworkBounds(t *testing.T) {
	a := newAppliance(t)
	a.install(a.bundle("1.0.0", nil, ""))

	// A client that connects and sends nothing, or stops after a
	// request, is disconnected.
	t.Run("idle clients", func(t *testing.T) {
		a.t = t
		surfaces, _, stop := a.serveBounded(netlimit.Limits{HeaderTimeout: short, IdleTimeout: short}, nil)
		defer stop()
		for _, s := range surfaces {
			silent := s.dial(t)
			s.waitClosed(t, silent, silent, "a client that sends nothing")

			idle := s.dial(t)
			br := bufio.NewReader(idle)
			s.get(t, idle, br)
			s.waitClosed(t, idle, br, "a kept-alive client that sends no next request")
		}
	})

	// A client that opens more connections than the limit gets no more
	// served: the one beyond waits, unanswered, until another closes;
	// then it is served.
	t.Run("connection limit", func(t *testing.T) {
		a.t = t
		surfaces, logs, stop := a.serveBounded(netlimit.Limits{MaxConns: 2, HeaderTimeout: patience * 2, IdleTimeout: patience * 2}, nil)
		defer stop()
		for _, s := range surfaces {
			var held []net.Conn
			for range 2 {
				c := s.dial(t)
				s.get(t, c, bufio.NewReader(c))
				held = append(held, c)
			}
			extra := s.dial(t)
			if _, err := io.WriteString(extra, "GET "+s.path+" HTTP/1.1\r\nHost: ferry\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			waitLog(t, logs, "connection limit reached", "addr="+s.addr)
			_ = extra.SetReadDeadline(time.Now().Add(short))
			if n, err := extra.Read(make([]byte, 1)); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("%s: a connection beyond the limit was answered (%d bytes, %v)", s.name, n, err)
			}
			held[0].Close()
			_ = extra.SetReadDeadline(time.Now().Add(patience))
			resp, err := http.ReadResponse(bufio.NewReader(extra), nil)
			if err != nil {
				t.Fatalf("%s: the waiting connection was not served once another closed: %v", s.name, err)
			}
			resp.Body.Close()
			for _, c := range append(held, extra) {
				c.Close()
			}
		}
	})
}

// TestServeRegistryHTTPS serves the registry of ferry serve over HTTPS
// with a certificate from registry.WriteCertificates: a client that trusts
// its CA pulls with verification on; one that does not is refused.
func TestServeRegistryHTTPS(t *testing.T) {
	a := newAppliance(t)
	a.install(a.bundle("1.0.0", nil, ""))
	certs := t.TempDir()
	if _, err := registry.WriteCertificates(certs, registry.CertOptions{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}); err != nil {
		t.Fatal(err)
	}
	tc, err := registry.TLSConfig(filepath.Join(certs, registry.CertFile), filepath.Join(certs, registry.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	surfaces, _, stop := a.serveBounded(netlimit.Limits{}, tc)
	defer stop()
	ca, err := os.ReadFile(filepath.Join(certs, registry.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	trusted := x509.NewCertPool()
	trusted.AppendCertsFromPEM(ca)
	get := func(roots *x509.CertPool) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		resp, err := c.Get("https://" + surfaces[2].addr + "/v2/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}
	if err := get(trusted); err != nil {
		t.Errorf("trusting the CA: %v", err)
	}
	var unknown x509.UnknownAuthorityError
	if err := get(x509.NewCertPool()); !errors.As(err, &unknown) {
		t.Errorf("without the CA: %v, want an unknown authority", err)
	}
}

// waitLog waits until a line of the log holds every one of want.
func waitLog(t *testing.T, logs *testenv.Buffer, want ...string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		for line := range strings.Lines(logs.String()) {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(line, w)
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
