package router

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"

	"github.com/valyala/fasthttp"
)

// HealthPath is the endpoint of a site listener that says whether the
// site serves a service (?service=NAME) itself.
const HealthPath = "/.ferry/sites/health"

// HealthAnswer is what HealthPath answers: 200 when Serving, else 503.
type HealthAnswer struct {
	Site    string `json:"site"`
	Service string `json:"service"`
	Serving bool   `json:"serving"`
}

// SiteListener answers peer sites on this site's listener, which the
// caller wraps in TLS that requires a client certificate of the site CA:
// the health of each service, and the requests peers forward, which are
// served here and never forwarded again.
type SiteListener struct {
	Self string
	// Router returns the router of a service; nil when this site has
	// none.
	Router func(service string) *Router
	// Serving reports whether this site serves service itself.
	Serving func(service string) bool
	Logger  *slog.Logger
}

func (s *SiteListener) handle(ctx *fasthttp.RequestCtx) {
	if string(ctx.Path()) == HealthPath {
		service := string(ctx.QueryArgs().Peek("service"))
		a := HealthAnswer{Site: s.Self, Service: service, Serving: service != "" && s.Serving(service)}
		body, _ := json.Marshal(a)
		ctx.SetContentType("application/json")
		if !a.Serving {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		}
		ctx.SetBody(append(body, '\n'))
		return
	}
	service := string(ctx.Request.Header.Peek(ServiceHeader))
	r := s.Router(service)
	if r == nil {
		ctx.Error("ferry: this site has no service "+service+"\n", fasthttp.StatusNotFound)
		return
	}
	// Marked here too: whatever the peer sent, this is a forwarded
	// request, served at this site.
	if len(ctx.Request.Header.Peek(HopHeader)) == 0 {
		ctx.Request.Header.Set(HopHeader, "unknown")
	}
	r.ServeForwarded(ctx)
	if ctx.Response.Header.Peek(SiteHeader) == nil {
		ctx.Response.Header.Set(SiteHeader, s.Self)
	}
}

// Serve answers peers on l until ctx ends.
func (s *SiteListener) Serve(ctx context.Context, l net.Listener) error {
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv := newServer(s.handle, logger)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	l.Close()
	err := <-served
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	_ = srv.Shutdown()
	return err
}
