package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"ferry/internal/netlimit"
	"ferry/rollout"
	"ferry/rollout/supervise"
)

// ServiceStatus is one service as `ferry rollout status` shows it.
type ServiceStatus struct {
	Service  string          `json:"service"`
	Listen   string          `json:"listen,omitempty"`
	Stable   string          `json:"stable"`
	Versions []VersionStatus `json:"versions"`
	Rollout  *rollout.Status `json:"rollout,omitempty"`
}

// VersionStatus is one running version and its live metrics (since it
// started).
type VersionStatus struct {
	Version  string          `json:"version"`
	Addr     string          `json:"addr"`
	State    supervise.State `json:"state"`
	Healthy  bool            `json:"healthy"`
	Restarts int             `json:"restarts"`
	Requests int64           `json:"requests"`
	Errors   int64           `json:"errors"`
	P50      time.Duration   `json:"p50"`
	P95      time.Duration   `json:"p95"`
	P99      time.Duration   `json:"p99"`
	CPU      float64         `json:"cpuPercent"`
	RSS      int64           `json:"rssBytes"`
	Window   *rollout.Sample `json:"window,omitempty"`
	LastExit *supervise.Exit `json:"lastExit,omitempty"`
}

// Verbs of `ferry rollout`.
var verbs = map[string]func() rollout.Event{
	"promote": func() rollout.Event { return rollout.Promote{} },
	"abort":   func() rollout.Event { return rollout.Abort{} },
	"pause":   func() rollout.Event { return rollout.Pause{} },
	"resume":  func() rollout.Event { return rollout.Resume{} },
}

// listenControl serves the control socket: GET /v1/status, and POST
// /v1/rollouts/SERVICE/VERB. Only the owner of the appliance can reach it
// (mode 0600, in a 0750 directory).
func (s *server) listenControl() (*http.Server, error) {
	path := s.opts.Socket
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("another ferry serve is running for %s (its control socket %s answers)", s.opts.Root, path)
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := call(s, s.status)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /v1/sites", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.sitesStatus())
	})
	mux.HandleFunc("POST /v1/rollouts/{service}/{verb}", func(w http.ResponseWriter, r *http.Request) {
		name, verb := r.PathValue("service"), r.PathValue("verb")
		ev, ok := verbs[verb]
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Errorf("unknown rollout command %q", verb))
			return
		}
		res, err := call(s, func() error { return s.command(name, verb, ev()) })
		if err == nil {
			err = res
		}
		switch {
		case errors.Is(err, rollout.ErrRefused):
			writeError(w, http.StatusConflict, err)
		case err != nil:
			writeError(w, http.StatusNotFound, err)
		default:
			st, _ := call(s, s.status)
			writeJSON(w, http.StatusOK, st)
		}
	})
	hs, nl := netlimit.New(l, mux, s.opts.Limits)
	go func() { _ = hs.Serve(nl) }()
	return hs, nil
}

// command passes an operator's command to a service's rollout.
func (s *server) command(name, verb string, ev rollout.Event) error {
	svc := s.services[name]
	if svc == nil {
		return fmt.Errorf("no service %q (services: %s)", name, strings.Join(s.serviceNames(), ", "))
	}
	if svc.ro == nil {
		err := &rollout.RefusedError{Service: name, Event: verb, Why: "no rollout has run for this service"}
		s.auditCommand(name, verb, err)
		return err
	}
	// The command is audited before the decisions it causes, with what
	// became of it: a refused command changes nothing, and says why.
	prev := *svc.ro
	st, acts, err := rollout.Next(prev, ev, time.Now())
	s.auditCommand(name, verb, err)
	if err != nil {
		return err
	}
	s.apply(svc, prev, st, acts)
	return nil
}

// auditCommand records an operator's command and its outcome: accepted,
// or refused with the reason.
func (s *server) auditCommand(name, verb string, refused error) {
	fields := map[string]string{"service": name, "command": verb, "outcome": "accepted"}
	if refused != nil {
		fields["outcome"] = "refused"
		fields["reason"] = refused.Error()
	}
	s.saver.audit("rollout.command", fields)
}

func (s *server) serviceNames() []string {
	var names []string
	for n := range s.services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// status describes every service.
func (s *server) status() []ServiceStatus {
	var out []ServiceStatus
	for _, name := range s.serviceNames() {
		svc := s.services[name]
		st := ServiceStatus{Service: name, Listen: svc.listen, Stable: svc.stable}
		if svc.ro != nil {
			rs := svc.ro.Status()
			st.Rollout = &rs
		}
		var vers []string
		for v := range svc.versions {
			vers = append(vers, v)
		}
		sort.Strings(vers)
		for _, ver := range vers {
			v := svc.versions[ver]
			is := v.inst.Status()
			snap := v.rec.Snapshot()
			vs := VersionStatus{
				Version: ver, Addr: is.Addr, State: is.State, Healthy: v.checker.Healthy(), Restarts: is.Restarts,
				Requests: snap.Requests, Errors: snap.Errors5xx + snap.ConnErrors,
				P50: snap.Quantile(0.5), P95: snap.Quantile(0.95), P99: snap.Quantile(0.99),
				CPU: v.usage.CPUPercent, RSS: v.usage.RSS, LastExit: is.LastExit,
			}
			if svc.ro != nil && !svc.ro.Phase.Finished() {
				w := svc.sample(ver)
				vs.Window = &w
			}
			st.Versions = append(st.Versions, vs)
		}
		out = append(out, st)
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// ErrNotServing means no `ferry serve` answers on the control socket.
var ErrNotServing = errors.New("ferry serve is not running")

// Client talks to a running `ferry serve` through its control socket.
type Client struct {
	Socket string
}

// NewClient returns the client of the appliance at root.
func NewClient(root string) *Client { return &Client{Socket: filepath.Join(root, "run", "serve.sock")} }

// http returns a client that closes its connection after each request:
// a client is made per request, and a kept-alive connection left in its
// pool would hold one of the control socket's connection slots until the
// server's idle timeout.
func (c *Client) http() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", c.Socket)
		},
	}}
}

// Status asks for the status of every service.
func (c *Client) Status(ctx context.Context) ([]ServiceStatus, error) {
	var out []ServiceStatus
	return out, c.do(ctx, http.MethodGet, "/v1/status", &out)
}

// Sites returns the routing across sites of the running ferry serve.
func (c *Client) Sites(ctx context.Context) (SitesStatus, error) {
	var out SitesStatus
	err := c.do(ctx, http.MethodGet, "/v1/sites", &out)
	return out, err
}

// Command sends promote, abort, pause or resume to a service's rollout.
func (c *Client) Command(ctx context.Context, service, verb string) ([]ServiceStatus, error) {
	var out []ServiceStatus
	return out, c.do(ctx, http.MethodPost, "/v1/rollouts/"+service+"/"+verb, &out)
}

func (c *Client) do(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://ferry"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		// The dial error names the socket, and a URL that is no
		// one's business: say which socket, and why, once.
		why := err
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			why = oe.Err
		}
		return fmt.Errorf("%w (no answer on the control socket %s: %w)", ErrNotServing, c.Socket, why)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode == http.StatusConflict {
			return fmt.Errorf("%w: %s", rollout.ErrRefused, strings.TrimPrefix(e.Error, rollout.ErrRefused.Error()+": "))
		}
		return errors.New(e.Error)
	}
	return json.Unmarshal(body, out)
}
