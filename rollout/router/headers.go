package router

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	"github.com/valyala/fasthttp"
)

// hopHeaders are the headers of one connection, not of the request or
// response, which a proxy does not pass on (RFC 9110, section 7.6.1).
// Connection itself, Upgrade on an upgrade, and Transfer-Encoding and
// Content-Length (the body's framing) are handled apart.
var hopHeaders = []string{"Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer"}

// prepareRequest makes the client's request the one the backend gets: the
// connection's own headers removed (but those of an upgrade), and the
// X-Forwarded headers set as net/http/httputil's SetXForwarded does. The
// backend sees the Host the client asked for, as it would without ferry
// in front, and X-Forwarded-For grows by the client's address.
func prepareRequest(ctx *fasthttp.RequestCtx, client netip.Addr, upgrade bool) {
	h := &ctx.Request.Header
	trailers := hasToken(h.Peek("Te"), "trailers")
	removeConnectionHeaders(h.Peek(fasthttp.HeaderConnection), h.Del)
	for _, name := range hopHeaders {
		h.Del(name)
	}
	if trailers {
		h.Set("Te", "trailers")
	}
	h.Del(fasthttp.HeaderExpect) // the router answered it
	h.ResetConnectionClose()
	if upgrade {
		h.Set(fasthttp.HeaderConnection, "Upgrade")
	} else {
		h.Del(fasthttp.HeaderConnection)
		h.Del(fasthttp.HeaderUpgrade)
	}

	if client.IsValid() {
		forwarded := client.String()
		if prior := h.PeekAll(fasthttp.HeaderXForwardedFor); len(prior) > 0 {
			joined := make([]byte, 0, 64)
			for _, p := range prior {
				joined = append(append(joined, p...), ", "...)
			}
			forwarded = string(joined) + forwarded
		}
		h.Set(fasthttp.HeaderXForwardedFor, forwarded)
	} else {
		h.Del(fasthttp.HeaderXForwardedFor)
	}
	h.SetBytesV(fasthttp.HeaderXForwardedHost, h.Host())
	if ctx.IsTLS() {
		h.Set(fasthttp.HeaderXForwardedProto, "https")
	} else {
		h.Set(fasthttp.HeaderXForwardedProto, "http")
	}
}

// prepareResponse copies the backend's response header from resp to out
// without the connection's own headers, and marks it with the version
// and, if not empty, the sticky cookie.
func prepareResponse(resp, out *fasthttp.Response, version, cookie string) {
	resp.Header.CopyTo(&out.Header)
	h := &out.Header
	h.SetNoDefaultContentType(true)
	upgrade := resp.StatusCode() == fasthttp.StatusSwitchingProtocols
	removeConnectionHeaders(h.Peek(fasthttp.HeaderConnection), h.Del)
	for _, name := range hopHeaders {
		h.Del(name)
	}
	h.ResetConnectionClose()
	if upgrade {
		h.Set(fasthttp.HeaderConnection, "Upgrade")
		h.SetBytesV(fasthttp.HeaderUpgrade, resp.Header.Peek(fasthttp.HeaderUpgrade))
	} else {
		h.Del(fasthttp.HeaderConnection)
		h.Del(fasthttp.HeaderUpgrade)
	}
	if version != "" { // a peer site's answer keeps the version it names
		h.Set(VersionHeader, version)
	}
	if cookie != "" {
		h.Add(fasthttp.HeaderSetCookie, cookie)
	}
}

// removeConnectionHeaders deletes the headers a Connection header names.
func removeConnectionHeaders(connection []byte, del func(string)) {
	for _, name := range tokens(connection) {
		switch strings.ToLower(name) {
		case "close", "keep-alive", "upgrade":
		default:
			del(name)
		}
	}
}

// tokens splits a comma-separated header value.
func tokens(v []byte) []string {
	if len(v) == 0 {
		return nil
	}
	var out []string
	for _, t := range strings.Split(string(v), ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func hasToken(v []byte, want string) bool {
	return slices.ContainsFunc(tokens(v), func(t string) bool { return strings.EqualFold(t, want) })
}

// isConnReset reports whether err is a connection reset by the peer.
func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
