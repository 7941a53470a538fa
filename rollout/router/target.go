package router

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"time"

	"ferry/rollout/metrics"
)

// VersionHeader is the response header naming the version that answered
// (or, on a 502, the version that did not).
const VersionHeader = "X-Ferry-Version"

// Transport settings for the connections to one backend. Backends are
// local, so dialing fails fast; the idle pool is large enough that a busy
// service reuses connections instead of dialing per request.
const (
	dialTimeout         = 5 * time.Second
	maxIdleConnsPerHost = 256
	idleConnTimeout     = 90 * time.Second
)

// targetKey identifies a backend across configurations: the same version
// at the same address with the same recorder keeps its connection pool.
type targetKey struct {
	version string
	url     string
	metrics *metrics.Recorder
}

// target proxies requests to one backend.
type target struct {
	service   string
	backend   Backend
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	logger    *slog.Logger
}

func newTarget(service string, b Backend, buffers *bufferPool, logger *slog.Logger) *target {
	t := &target{
		service: service,
		backend: b,
		logger:  logger.With("service", service, "version", b.Version, "backend", b.URL.Redacted()),
		transport: &http.Transport{
			// Never through a proxy from the environment: backends are
			// local to the appliance.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: maxIdleConnsPerHost,
			// The client's Accept-Encoding reaches the backend as it
			// was: no gzip asked for on its behalf and undone here.
			DisableCompression:    true,
			IdleConnTimeout:       idleConnTimeout,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
	}
	backendURL := b.URL
	t.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(backendURL)
			// The backend sees the Host the client asked for, as it
			// would without ferry in front, and X-Forwarded-For grows
			// by the client's address.
			pr.Out.Host = pr.In.Host
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
		},
		Transport: t.transport,
		// FlushInterval stays 0: the proxy flushes a response of unknown
		// length (streamed, chunked, WebSocket) and text/event-stream
		// after every write by itself, and one of known length in one
		// write at its end, not one write per buffer.
		BufferPool:     buffers,
		ModifyResponse: t.modifyResponse,
		ErrorHandler:   t.errorHandler,
		ErrorLog:       slog.NewLogLogger(t.logger.Handler(), slog.LevelDebug),
	}
	return t
}

// exchange is what the proxy learns about one request; it travels in the
// request's context from serve to the proxy's hooks, which run on the
// same goroutine.
type exchange struct {
	start     time.Time
	cookie    string // a Set-Cookie value to add to the response, if any
	responded bool
	status    int
	latency   time.Duration
	connErr   bool
}

type exchangeKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

// serve proxies one request and records it. cookie, if not nil, is set on
// the response.
func (t *target) serve(w http.ResponseWriter, req *http.Request, cookie *http.Cookie) {
	ex := &exchange{start: time.Now()}
	if cookie != nil {
		ex.cookie = cookie.String()
	}
	// Recorded in a defer: the proxy panics with http.ErrAbortHandler
	// when a response breaks off midway.
	defer t.record(ex)
	t.proxy.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), exchangeKey{}, ex)))
}

func (t *target) record(ex *exchange) {
	m := t.backend.Metrics
	if m == nil {
		return
	}
	switch {
	case ex.responded:
		m.ObserveResponse(ex.status, ex.latency)
	case ex.connErr:
		m.ObserveConnError()
	default:
		m.ObserveCanceled()
	}
}

// modifyResponse runs when the backend's response headers arrive, final
// ones (after any 1xx) or a 101 for an upgrade.
func (t *target) modifyResponse(resp *http.Response) error {
	if ex := exchangeFrom(resp.Request.Context()); ex != nil {
		ex.responded = true
		ex.status = resp.StatusCode
		ex.latency = time.Since(ex.start)
		if ex.cookie != "" {
			resp.Header.Add("Set-Cookie", ex.cookie)
		}
	}
	resp.Header.Set(VersionHeader, t.backend.Version)
	return nil
}

// errorHandler runs when the proxy could not get a response from the
// backend, and when an upgraded connection fails after its response.
func (t *target) errorHandler(w http.ResponseWriter, req *http.Request, err error) {
	ex := exchangeFrom(req.Context())
	if ex != nil && ex.responded {
		// The response (a 101) is already on its way: nothing to answer.
		t.logger.Debug("proxied connection ended with an error", "err", err)
		return
	}
	if req.Context().Err() != nil {
		// The client went away; there is no one to answer and nothing
		// wrong with the backend.
		return
	}
	if ex != nil {
		ex.connErr = true
	}
	t.logger.Warn("backend did not answer", "method", req.Method, "path", req.URL.Path, "err", err)
	w.Header().Set(VersionHeader, t.backend.Version)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadGateway)
	fmt.Fprintf(w, "ferry: version %s of service %s did not answer\n", t.backend.Version, t.service)
}

func keyOf(b Backend) targetKey {
	return targetKey{version: b.Version, url: b.URL.String(), metrics: b.Metrics}
}
