package health

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// HTTP is a Probe that GETs one URL of the backend; a 2xx status passes.
// Redirects are not followed: a 3xx fails, since a health endpoint that
// redirects is misconfigured, not healthy.
type HTTP struct {
	url    string
	client *http.Client
}

// NewHTTP returns a probe of path (with an optional query) on the backend's
// base URL, for example NewHTTP(http://127.0.0.1:8080, "/healthz").
func NewHTTP(base *url.URL, path string) (*HTTP, error) {
	if base == nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("backend %v: the URL must be http:// or https:// with a host", base)
	}
	ref, err := url.Parse(path)
	if err != nil || ref.Scheme != "" || ref.Host != "" {
		return nil, fmt.Errorf("path %q: want a path on the backend such as /healthz", path)
	}
	u := base.JoinPath(ref.Path)
	u.RawQuery = ref.RawQuery
	transport := &http.Transport{
		// Never through a proxy from the environment: the backend is
		// local. A fresh connection per check, so a backend that stops
		// accepting is noticed rather than hidden by a pooled connection.
		Proxy:             nil,
		DialContext:       (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableKeepAlives: true,
	}
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return &HTTP{url: u.String(), client: client}, nil
}

// URL returns the URL the probe GETs.
func (p *HTTP) URL() string { return p.url }

// Check implements Probe.
func (p *HTTP) Check(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", p.url, err)
	}
	req.Header.Set("User-Agent", "ferry-health-check")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", p.url, err)
	}
	defer resp.Body.Close()
	var body prefixWriter
	_, _ = io.Copy(&body, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := fmt.Sprintf("GET %s: status %s, want 2xx", p.url, resp.Status)
		if b := strings.TrimSpace(body.String()); b != "" {
			msg += ": " + b
		}
		return &Failure{Message: msg}
	}
	return nil
}

// Failure is a check the backend answered and failed (a non-2xx status, a
// non-zero exit), as opposed to one that could not run.
type Failure struct {
	Message string
}

func (f *Failure) Error() string { return f.Message }
