package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// readHeaderTimeout bounds how long a client may take to send a request's
// headers. There is no read or write timeout on the whole request: streams
// and uploads may take as long as they take.
const readHeaderTimeout = 10 * time.Second

// Serve answers requests on l with the router until ctx ends, then stops
// accepting, lets the requests in flight finish for up to the drain
// timeout, and closes the rest. It returns nil after such a shutdown, or
// the error that stopped it serving. Upgraded connections (WebSockets) are
// not waited for: they end when their backend stops.
//
// Serve is a convenience: the Router is an http.Handler, and a caller that
// needs TLS or other server settings can run its own http.Server with it.
func (r *Router) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(r.opts.Logger.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.DrainTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if err != nil {
		err = fmt.Errorf("service %s: requests still running after %v were cut off: %w", r.opts.Service, r.opts.DrainTimeout, errors.Join(err, srv.Close()))
	}
	if serveErr := <-served; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return errors.Join(serveErr, err)
	}
	return err
}
