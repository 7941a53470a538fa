package push

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrPlainHTTP is returned when the registry would be reached over plain
// HTTP without the operator asking for it.
var ErrPlainHTTP = errors.New("plain HTTP refused")

// newTransport returns the HTTP transport for one Push: a private copy of
// go-containerregistry's default, so that closing its idle connections at
// the end affects no one else.
func newTransport(insecure bool) *http.Transport {
	var t *http.Transport
	if d, ok := remote.DefaultTransport.(*http.Transport); ok {
		t = d.Clone()
	} else {
		t = http.DefaultTransport.(*http.Transport).Clone()
	}
	if insecure {
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return t
}

// httpsOnly refuses plain HTTP requests. go-containerregistry falls back
// to HTTP by itself for private (RFC 1918) addresses when HTTPS fails; for
// an appliance pushing into someone's production registry that fallback
// must be the operator's decision.
type httpsOnly struct {
	next http.RoundTripper
}

func (t httpsOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%w to %s (the registry has no TLS? ask for plain HTTP explicitly)", ErrPlainHTTP, req.URL.Host)
	}
	return t.next.RoundTrip(req)
}
