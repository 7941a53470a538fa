package router

import (
	"net/http"
	"net/netip"
	"slices"
)

// matches reports whether req meets every condition of the rule. client is
// the peer's address, invalid when it could not be read.
func (r Rule) matches(req *http.Request, client netip.Addr) bool {
	if r.Header != "" {
		values := req.Header.Values(r.Header)
		if len(values) == 0 || (r.HeaderValue != "" && !slices.Contains(values, r.HeaderValue)) {
			return false
		}
	}
	if r.Cookie != "" {
		c, err := req.Cookie(r.Cookie)
		if err != nil || (r.CookieValue != "" && c.Value != r.CookieValue) {
			return false
		}
	}
	if r.ClientPrefix.IsValid() && !(client.IsValid() && r.ClientPrefix.Contains(client)) {
		return false
	}
	return true
}

// anyRuleMatches reports whether one of rules matches req.
func anyRuleMatches(rules []Rule, req *http.Request) bool {
	if len(rules) == 0 {
		return false
	}
	client := clientAddr(req)
	for _, r := range rules {
		if r.matches(req, client) {
			return true
		}
	}
	return false
}

// clientAddr returns the address of the connection's peer, with an IPv4
// address mapped into IPv6 unmapped so that IPv4 prefixes match it. It is
// invalid when RemoteAddr holds no address (a Unix socket).
func clientAddr(req *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
