package router

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"ferry/rollout/metrics"
)

// Config is how one service's requests are routed.
type Config struct {
	// Stable is the version serving the service; required.
	Stable *Backend
	// Canary is the version being rolled out, if any. Without a Canary
	// every request goes to Stable and CanaryWeight and Rules are
	// ignored: setting Canary to nil is always a valid way to abort.
	Canary *Backend
	// CanaryWeight is the percentage (0 to 100) of requests sent to the
	// Canary; the rest go to Stable. At 100 Stable gets no requests,
	// which completes a blue-green switch.
	CanaryWeight int
	// Rules send matching requests to the Canary whatever the weight,
	// even at 0, so testers can reach a canary before any user does.
	// A canary with rules keeps receiving requests: to take all traffic
	// from it, remove the rules too or set Canary to nil.
	Rules []Rule
	// StickyCookie, if set, names a cookie that keeps a client on the
	// version it was first sent to by weight: the response that made the
	// choice sets the cookie to the version, and later requests carrying
	// it go to that version while it is still in the configuration with
	// a weight above 0. Rule matches neither read nor set it.
	StickyCookie string
}

// Backend is one version of the service, listening at URL.
type Backend struct {
	// Version names the version in X-Ferry-Version, the sticky cookie
	// and errors.
	Version string
	// URL is the base URL the version listens at, such as
	// http://127.0.0.1:41234; a path in it prefixes every request's.
	URL *url.URL
	// Metrics counts the requests routed to the version; nil counts
	// nothing.
	Metrics *metrics.Recorder
}

// Rule matches requests by every condition it sets (at least one).
type Rule struct {
	// Header, if set, must be present on the request with the value
	// HeaderValue ("" accepts any value).
	Header      string
	HeaderValue string
	// Cookie, if set, must be sent with the value CookieValue ("" accepts
	// any value).
	Cookie      string
	CookieValue string
	// ClientPrefix, if valid, must contain the client's address: the
	// connection's peer, never X-Forwarded-For, which a client writes
	// itself.
	ClientPrefix netip.Prefix
}

// validate checks cfg and returns a copy Set can keep: the caller may
// reuse its slices.
func (cfg Config) validate() (Config, error) {
	if cfg.Stable == nil {
		return Config{}, fmt.Errorf("%w: no stable backend", ErrInvalidConfig)
	}
	if err := cfg.Stable.validate("stable"); err != nil {
		return Config{}, err
	}
	if cfg.StickyCookie != "" && !validToken(cfg.StickyCookie) {
		return Config{}, fmt.Errorf("%w: sticky cookie name %q is not a valid cookie name", ErrInvalidConfig, cfg.StickyCookie)
	}
	stable := *cfg.Stable
	out := Config{Stable: &stable, StickyCookie: cfg.StickyCookie}
	if cfg.Canary == nil {
		return out, nil
	}
	if err := cfg.Canary.validate("canary"); err != nil {
		return Config{}, err
	}
	if cfg.CanaryWeight < 0 || cfg.CanaryWeight > 100 {
		return Config{}, fmt.Errorf("%w: canary weight %d is not a percentage from 0 to 100", ErrInvalidConfig, cfg.CanaryWeight)
	}
	for i, r := range cfg.Rules {
		if err := r.validate(); err != nil {
			return Config{}, fmt.Errorf("%w: rule %d: %w", ErrInvalidConfig, i+1, err)
		}
	}
	canary := *cfg.Canary
	out.Canary = &canary
	out.CanaryWeight = cfg.CanaryWeight
	out.Rules = slices.Clone(cfg.Rules)
	return out, nil
}

func (b *Backend) validate(role string) error {
	if b.Version == "" || strings.ContainsFunc(b.Version, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`",;\`, r)
	}) {
		return fmt.Errorf("%w: %s version %q: want printable ASCII without spaces, quotes, commas, semicolons or backslashes (it goes into a header and a cookie)", ErrInvalidConfig, role, b.Version)
	}
	if b.URL == nil || (b.URL.Scheme != "http" && b.URL.Scheme != "https") || b.URL.Host == "" {
		return fmt.Errorf("%w: %s version %s: backend URL %v is not http:// or https:// with a host", ErrInvalidConfig, role, b.Version, b.URL)
	}
	return nil
}

func (r Rule) validate() error {
	if r.Header == "" && r.Cookie == "" && !r.ClientPrefix.IsValid() {
		return fmt.Errorf("sets no condition: give a header, a cookie or a client prefix")
	}
	if r.Header != "" && !validToken(r.Header) {
		return fmt.Errorf("header name %q is not a valid HTTP header name", r.Header)
	}
	if r.Cookie != "" && !validToken(r.Cookie) {
		return fmt.Errorf("cookie name %q is not a valid cookie name", r.Cookie)
	}
	if r.HeaderValue != "" && r.Header == "" {
		return fmt.Errorf("header value %q without a header name", r.HeaderValue)
	}
	if r.CookieValue != "" && r.Cookie == "" {
		return fmt.Errorf("cookie value %q without a cookie name", r.CookieValue)
	}
	return nil
}

// validToken reports whether s is an RFC 9110 token, which header and
// cookie names must be.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
