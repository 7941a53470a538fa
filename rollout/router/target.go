package router

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"ferry/rollout/metrics"
)

// VersionHeader is the response header naming the version that answered
// (or, on a 502, the version that did not).
const VersionHeader = "X-Ferry-Version"

// targetKey identifies a backend across configurations: the same version
// at the same address with the same recorder keeps its connection pool.
type targetKey struct {
	version string
	url     string
	metrics *metrics.Recorder
}

func keyOf(b Backend) targetKey {
	return targetKey{version: b.Version, url: b.URL.String(), metrics: b.Metrics}
}

// target proxies requests to one backend.
type target struct {
	service string
	backend Backend
	pool    *connPool
	logger  *slog.Logger
	// site names a peer site this target forwards to; empty for a
	// version at this site.
	site string
	// headerTimeout, if set, bounds the wait for the head of a response
	// to a request that may be retried at another site.
	headerTimeout time.Duration

	// waiting are the connections of such requests while they wait for
	// that head, which interruptWaiting cuts short.
	waitMu  sync.Mutex
	waiting map[*backendConn]struct{}
}

// interruptWaiting ends, as timed out, the wait of every request in
// waiting.
func (t *target) interruptWaiting() {
	t.waitMu.Lock()
	defer t.waitMu.Unlock()
	for c := range t.waiting {
		_ = c.SetReadDeadline(time.Unix(1, 0))
	}
}

func (t *target) setWaiting(c *backendConn, on bool) {
	t.waitMu.Lock()
	defer t.waitMu.Unlock()
	if !on {
		delete(t.waiting, c)
		return
	}
	if t.waiting == nil {
		t.waiting = map[*backendConn]struct{}{}
	}
	t.waiting[c] = struct{}{}
}

func newTarget(service string, b Backend, logger *slog.Logger) *target {
	return &target{
		service: service,
		backend: b,
		pool:    newConnPool(b.URL.Host),
		logger:  logger.With("service", service, "version", b.Version, "backend", b.URL.Redacted()),
	}
}

// forward proxies the request of ctx to the backend and leaves l when the
// exchange is over: at once when the response has no body or the backend
// did not answer, after the body has been passed on otherwise, and when
// the connection closes for an upgrade. client is the peer's address;
// cookie, if not empty, is a Set-Cookie value for the response. retry,
// if set, is offered an idempotent request the backend did not answer
// (at another site) before it is answered 502.
func (t *target) forward(ctx *fasthttp.RequestCtx, l *lane, client netip.Addr, cookie string, retry func() bool) {
	start := time.Now()
	upgrade := ctx.Request.Header.ConnectionUpgrade()
	xff := append([]byte(nil), ctx.Request.Header.Peek(fasthttp.HeaderXForwardedFor)...)
	prepareRequest(ctx, client, upgrade)

	resp := fasthttp.AcquireResponse()
	c, clientGone, err := t.roundTrip(ctx, resp, upgrade)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		l.leave()
		if !clientGone && retry != nil && !upgrade && retryable(&ctx.Request) {
			// The next site sees the request as the client sent it.
			if len(xff) > 0 {
				ctx.Request.Header.SetBytesV(fasthttp.HeaderXForwardedFor, xff)
			} else {
				ctx.Request.Header.Del(fasthttp.HeaderXForwardedFor)
			}
			if retry() {
				t.observeConnError()
				t.logger.Warn("site did not answer; sent to the next", "method", string(ctx.Method()), "path", string(ctx.Path()), "err", err)
				return
			}
		}
		t.failed(ctx, err, clientGone)
		return
	}
	t.observe(resp.StatusCode(), time.Since(start))
	prepareResponse(resp, &ctx.Response, t.backend.Version, cookie)

	if upgrade && resp.StatusCode() == fasthttp.StatusSwitchingProtocols {
		t.relayUpgrade(ctx, l, c, resp)
		return
	}
	// fasthttp also marks as closing a body that ends where its
	// connection does (neither a length nor chunks).
	reusable := !upgrade && !resp.ConnectionClose()
	body := resp.BodyStream()
	if body == nil {
		// No body (HEAD, 204, 304): the exchange is over.
		fasthttp.ReleaseResponse(resp)
		t.release(c, reusable)
		l.leave()
		return
	}
	size := resp.Header.ContentLength()
	if size < 0 {
		size = -1 // chunked to the client, whatever the backend framed
		// A stream's headers go out at once, not with its first chunk.
		ctx.Response.ImmediateHeaderFlush = true
	}
	ctx.Response.SetBodyStream(&relayBody{t: t, l: l, c: c, resp: resp, body: body, size: int64(size), reusable: reusable}, size)
}

// roundTrip sends the request of ctx and reads the response's header into
// resp, with its body left on the connection, which it returns. An
// idempotent request that fails on a pooled connection before any of the
// response arrived is sent again once on a new connection, as the backend
// may have closed the connection while it was idle (see connPool.get). clientGone is
// set when the client closed its connection while the request waited.
func (t *target) roundTrip(ctx *fasthttp.RequestCtx, resp *fasthttp.Response, upgrade bool) (c *backendConn, clientGone bool, err error) {
	resp.StreamBody = true
	resp.SkipBody = ctx.IsHead()
	for attempt := 0; ; attempt++ {
		if upgrade || attempt > 0 {
			c, err = t.pool.dial()
		} else {
			c, err = t.pool.get()
		}
		if err != nil {
			return nil, false, err
		}
		err = ctx.Request.Write(c.bw)
		if err == nil {
			err = c.bw.Flush()
		}
		if err == nil {
			var gone atomic.Bool
			w := watchClient(ctx.Conn(), func() {
				gone.Store(true)
				c.Close()
			})
			bounded := t.headerTimeout > 0 && retryable(&ctx.Request)
			if bounded {
				_ = c.SetReadDeadline(time.Now().Add(t.headerTimeout))
				t.setWaiting(c, true)
			}
			err = resp.Read(c.br)
			if bounded {
				t.setWaiting(c, false)
				_ = c.SetReadDeadline(time.Time{})
			}
			w.stop()
			if gone.Load() { // and c closed, which ended the Read
				return nil, true, errClientGone
			}
		}
		if err == nil {
			return c, false, nil
		}
		c.Close()
		if !c.reused || attempt > 0 || !replayable(&ctx.Request) || !beforeResponse(err) {
			return nil, false, err
		}
	}
}

// replayable reports whether req may be sent a second time: its method
// is idempotent (RFC 9110, section 9.2.2) and its body, if any, is in
// memory rather than a stream already read from the client.
func replayable(req *fasthttp.Request) bool {
	switch string(req.Header.Method()) {
	case fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodOptions, fasthttp.MethodPut, fasthttp.MethodDelete:
		return !req.IsBodyStream()
	}
	return false
}

var errClientGone = errors.New("the client closed its connection")

// beforeResponse reports whether err says a connection closed before any
// response arrived on it.
func beforeResponse(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, net.ErrClosed) || isConnReset(err)
}

// retryable reports whether req may be sent to another site after the
// first did not answer: GET, HEAD and OPTIONS only (a PUT or DELETE is
// idempotent too, but one that reached a site and lost its answer is
// not sent to another), with no body streaming from the client.
func retryable(req *fasthttp.Request) bool {
	switch string(req.Header.Method()) {
	case fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodOptions:
		return !req.IsBodyStream()
	}
	return false
}

// release puts c back in the pool when its response was read to the end
// and the connection may carry another, and closes it otherwise.
func (t *target) release(c *backendConn, reusable bool) {
	if reusable {
		t.pool.put(c)
	} else {
		c.Close()
	}
}

func (t *target) observeConnError() {
	if m := t.backend.Metrics; m != nil {
		m.ObserveConnError()
	}
}

func (t *target) observe(status int, latency time.Duration) {
	if m := t.backend.Metrics; m != nil {
		m.ObserveResponse(status, latency)
	}
}

// failed answers a request the backend did not answer: 502 naming the
// version, counted as a connection error, unless the client went away
// first, which is nothing wrong with the backend.
func (t *target) failed(ctx *fasthttp.RequestCtx, err error, clientGone bool) {
	m := t.backend.Metrics
	if clientGone {
		if m != nil {
			m.ObserveCanceled()
		}
		ctx.SetConnectionClose()
		return
	}
	if m != nil {
		m.ObserveConnError()
	}
	t.logger.Warn("backend did not answer", "method", string(ctx.Method()), "path", string(ctx.Path()), "err", err)
	if t.site != "" {
		ctx.Error(fmt.Sprintf("ferry: site %s of service %s did not answer\n", t.site, t.service), fasthttp.StatusBadGateway)
		ctx.Response.Header.Set(SiteHeader, t.site)
		return
	}
	// Error resets the response, headers too.
	ctx.Error(fmt.Sprintf("ferry: version %s of service %s did not answer\n", t.backend.Version, t.service), fasthttp.StatusBadGateway)
	ctx.Response.Header.Set(VersionHeader, t.backend.Version)
}

// relayBody passes a response body from the backend's connection to the
// client. The server closes it when it has written the body or given up;
// then the connection goes back to the pool if the body was read to its
// end, and the request leaves its lane.
type relayBody struct {
	t        *target
	l        *lane
	c        *backendConn
	resp     *fasthttp.Response
	body     io.Reader
	size     int64 // -1 when unknown
	read     int64
	eof      bool
	reusable bool
}

func (b *relayBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.read += int64(n)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *relayBody) Close() error {
	reusable := b.reusable && (b.eof || (b.size >= 0 && b.read == b.size))
	if err := b.resp.CloseBodyStream(); err != nil {
		reusable = false
	}
	fasthttp.ReleaseResponse(b.resp)
	b.t.release(b.c, reusable)
	b.l.leave()
	return nil
}

// relayUpgrade hands the client's connection, after the backend's 101
// response, to a copy in both directions until either side closes. The
// server calls the hijack handler once the handler has returned; if the
// client's connection fails in between, it never does, and the request
// stays counted in its lane until a drain gives up on it.
func (t *target) relayUpgrade(ctx *fasthttp.RequestCtx, l *lane, c *backendConn, resp *fasthttp.Response) {
	fasthttp.ReleaseResponse(resp)
	head := append([]byte(nil), ctx.Response.Header.Header()...)
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(client net.Conn) {
		defer l.leave()
		defer c.Close()
		if _, err := client.Write(head); err != nil {
			return
		}
		// Whichever direction ends first ends both, as the connections
		// close when this returns.
		done := make(chan struct{}, 2)
		go func() {
			// What the backend sent after its 101 is in c.br already.
			_, _ = io.Copy(client, c.br)
			done <- struct{}{}
		}()
		go func() {
			_, _ = io.Copy(c.Conn, client)
			done <- struct{}{}
		}()
		<-done
	})
}
