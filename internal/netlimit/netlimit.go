// Package netlimit bounds what a client can hold of ferry's own network
// surfaces (the appliance's registry, the metrics endpoint, the control
// socket of ferry serve): a client that connects and sends nothing, stops
// between requests, stops reading a response or dribbles a request body is
// disconnected, and no more than a fixed number of connections are served
// at once, so that neither an idle nor a slow nor a greedy client can keep
// them from others for ever.
//
// A whole-request timeout is not used: a registry blob can be gigabytes,
// which an honest puller on a slow link takes long to read. What is bounded
// instead is the time to send headers, the time between requests, and the
// time any one write to the client may block: a client may take as long as
// it likes in total, as long as it keeps reading.
package netlimit

import (
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Defaults of Limits.
const (
	// DefaultHeaderTimeout is how long a client has to send a request's
	// headers once it has connected or begun a request: honest clients
	// send them at once, so a connection that sends nothing is closed
	// after it. It also bounds a TLS handshake.
	DefaultHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout is how long a kept-alive connection may wait for
	// its next request. Pullers reuse a connection between blobs at once;
	// Prometheus scrapes every 15 to 60 s and reconnects cheaply when its
	// connection was closed.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultStallTimeout is how long one write to a client (at most
	// stallChunk bytes) may block, and how long a request body has to
	// arrive (no surface reads one; the server would read up to 256 KiB
	// of it to keep the connection). About 1 KiB/s is the slowest client
	// that keeps its connection.
	DefaultStallTimeout = time.Minute
	// DefaultMaxConns bounds the connections served at once, per
	// listener. Each costs a file descriptor, a goroutine and buffers;
	// 256 lets a few dozen nodes pull in parallel, each with several
	// connections, well below the usual limit of 1024 open files. A
	// connection beyond it waits, unread, until one closes.
	DefaultMaxConns = 256
	// DefaultMaxHeaderBytes bounds a request's headers. Registry, metrics
	// and control requests carry a path and a few short headers.
	DefaultMaxHeaderBytes = 64 << 10
)

// Limits bound one listener's clients. Zero fields take the defaults.
type Limits struct {
	HeaderTimeout time.Duration
	IdleTimeout   time.Duration
	StallTimeout  time.Duration
	MaxConns      int
	// Log receives a warning when the connection limit holds a new
	// connection back; nil discards it.
	Log *slog.Logger
}

func (l Limits) withDefaults() Limits {
	if l.HeaderTimeout <= 0 {
		l.HeaderTimeout = DefaultHeaderTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.StallTimeout <= 0 {
		l.StallTimeout = DefaultStallTimeout
	}
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	if l.Log == nil {
		l.Log = slog.New(slog.DiscardHandler)
	}
	return l
}

// New returns a server for h and ln wrapped to hold lim: serve with
// srv.Serve(l), or srv.ServeTLS(l, "", "") with srv.TLSConfig set. Only
// HTTP/1.1 is served: HTTP/2 multiplexes requests on one connection, out of
// reach of these per-connection bounds, and registry clients do not need
// it.
func New(ln net.Listener, h http.Handler, lim Limits) (srv *http.Server, l net.Listener) {
	lim = lim.withDefaults()
	srv = &http.Server{
		Handler:           bodyDeadline(h, lim.StallTimeout),
		ReadHeaderTimeout: lim.HeaderTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    DefaultMaxHeaderBytes,
		Protocols:         new(http.Protocols),
		// The server's own log of failed handshakes and bad requests
		// would go to the process's stderr, once per hostile client.
		ErrorLog: slog.NewLogLogger(lim.Log.Handler(), slog.LevelDebug),
	}
	srv.Protocols.SetHTTP1(true)
	return srv, newListener(ln, lim)
}

// bodyDeadline gives a request body StallTimeout to arrive. The surfaces
// read none, but after a handler the server reads up to 256 KiB of an
// unread body, with no deadline of its own, to reuse the connection.
func bodyDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		h.ServeHTTP(w, r)
	})
}
