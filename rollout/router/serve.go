package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// Server settings. A client has readHeaderTimeout to send a request's
// headers, and idleTimeout between requests on a kept-alive connection.
// There is no timeout on the rest: streams and uploads may take as long
// as they take.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 16 << 10
)

// Serve answers requests on l with the router until ctx ends, then stops
// accepting, lets the requests in flight finish for up to the drain
// timeout, and leaves the rest to end with the process. It returns nil
// after such a shutdown, or the error that stopped it serving. Upgraded
// connections (WebSockets) are not waited for: they end when their
// backend stops.
//
// The server is fasthttp's, not net/http's: per request it costs the
// router a third of the CPU, which is the router's whole cost on a busy
// appliance (see scripts/routerbench). It speaks HTTP/1.1 to clients and
// to backends.
func (r *Router) Serve(ctx context.Context, l net.Listener) error {
	srv := newServer(r.handle, r.opts.Logger)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Stop accepting first and wait for Serve to return: fasthttp's
	// shutdown counts a running Serve as an open connection and looks
	// again only every 100 ms, so a short drain timeout would otherwise
	// report requests that are not there.
	l.Close()
	serveErr := <-served
	if errors.Is(serveErr, net.ErrClosed) {
		serveErr = nil
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.DrainTimeout)
	defer cancel()
	err := srv.ShutdownWithContext(shutdownCtx)
	switch {
	case errors.Is(err, net.ErrClosed): // the listener, closed above
		err = nil
	case err != nil:
		err = fmt.Errorf("service %s: requests still running after %v: %w", r.opts.Service, r.opts.DrainTimeout, err)
	}
	return errors.Join(serveErr, err)
}

// noTimeout stands for no deadline where fasthttp takes 0 as "the
// default": longer than any request.
const noTimeout = 100 * 365 * 24 * time.Hour

// slogPrinter passes fasthttp's log lines to a slog.Logger at debug level.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...))
}

// newServer is the fasthttp server of the router's listeners, the one
// clients reach and the one peer sites reach, with handler on it.
func newServer(handler fasthttp.RequestHandler, logger *slog.Logger) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                      handler,
		NoDefaultServerHeader:        true,
		NoDefaultDate:                true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		StreamRequestBody:            true,
		// An idle kept-alive connection gives its buffers back: 9.2
		// instead of 12.5 KiB of memory each (routerbench), at no CPU
		// cost the benchmark can tell from noise.
		ReduceMemoryUsage: true,
		ReadTimeout:       readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		// A request's headers may be up to this size; the buffer is
		// held per connection while it carries a request.
		ReadBufferSize: maxHeaderBytes,
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			// The body takes as long as it takes (see Serve).
			return fasthttp.RequestConfig{ReadTimeout: noTimeout}
		},
		Logger: slogPrinter{logger},
	}
}
