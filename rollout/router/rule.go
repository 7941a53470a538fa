package router

import (
	"net"
	"net/netip"

	"github.com/valyala/fasthttp"
)

// matches reports whether a request with header h from client meets every
// condition of the rule. client is the peer's address, invalid when it
// could not be read.
func (r Rule) matches(h *fasthttp.RequestHeader, client netip.Addr) bool {
	if r.Header != "" {
		values := h.PeekAll(r.Header)
		if len(values) == 0 || (r.HeaderValue != "" && !containsValue(values, r.HeaderValue)) {
			return false
		}
	}
	if r.Cookie != "" {
		c := h.Cookie(r.Cookie)
		if c == nil || (r.CookieValue != "" && string(c) != r.CookieValue) {
			return false
		}
	}
	if r.ClientPrefix.IsValid() && (!client.IsValid() || !r.ClientPrefix.Contains(client)) {
		return false
	}
	return true
}

func containsValue(values [][]byte, want string) bool {
	for _, v := range values {
		if string(v) == want {
			return true
		}
	}
	return false
}

// anyRuleMatches reports whether one of rules matches the request.
func anyRuleMatches(rules []Rule, h *fasthttp.RequestHeader, client netip.Addr) bool {
	for _, r := range rules {
		if r.matches(h, client) {
			return true
		}
	}
	return false
}

// clientAddr returns the address of a connection's peer, with an IPv4
// address mapped into IPv6 unmapped so that IPv4 prefixes match it. It is
// invalid for a peer without an IP address (a Unix socket).
func clientAddr(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case nil:
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
