package registryerr

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestClassify fetches a manifest from real HTTP servers that fail in each
// way and checks what the classifier makes of the error
// go-containerregistry returns.
func TestClassify(t *testing.T) {
	answer := func(status int, code string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				w.WriteHeader(http.StatusOK)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			if code != "" {
				fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"m"}]}`, code)
			}
		}
	}
	get := func(t *testing.T, ctx context.Context, host string, insecure bool) error {
		t.Helper()
		var opts []name.Option
		if insecure {
			opts = append(opts, name.Insecure)
		}
		ref, err := name.ParseReference(host+"/wf/api:1.0", opts...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = remote.Get(ref, remote.WithContext(ctx), remote.WithRetryStatusCodes(), remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
		if err == nil {
			t.Fatal("the fetch succeeded")
		}
		return err
	}
	plain := func(h http.Handler) string {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}

	for _, tt := range []struct {
		status int
		code   string
		want   Failure
	}{
		{http.StatusUnauthorized, "", FailureUnauthorized},
		{http.StatusUnauthorized, "NAME_UNKNOWN", FailureUnauthorized},
		{http.StatusForbidden, "", FailureDenied},
		{http.StatusBadRequest, "DENIED", FailureDenied},
		{http.StatusBadRequest, "UNAUTHORIZED", FailureUnauthorized},
		{http.StatusBadRequest, "NAME_INVALID", FailureNameInvalid},
		{http.StatusNotFound, "NAME_UNKNOWN", FailureNameUnknown},
		{http.StatusNotFound, "MANIFEST_UNKNOWN", FailureNotFound},
		{http.StatusNotFound, "", FailureNotFound},
		{http.StatusBadRequest, "MANIFEST_UNKNOWN", FailureNotFound},
		{http.StatusInternalServerError, "", FailureRegistry},
		{http.StatusBadRequest, "MANIFEST_INVALID", FailureRegistry},
	} {
		err := get(t, t.Context(), plain(answer(tt.status, tt.code)), true)
		if got := Classify(err); got != tt.want {
			t.Errorf("%d %s: %v is %d, want %d", tt.status, tt.code, err, got, tt.want)
		}
		if got := HTTPStatus(err); got != tt.status {
			t.Errorf("%d %s: HTTPStatus = %d", tt.status, tt.code, got)
		}
	}

	// A certificate this machine does not trust.
	tlsSrv := httptest.NewUnstartedServer(answer(http.StatusOK, ""))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	err := get(t, t.Context(), strings.TrimPrefix(tlsSrv.URL, "https://"), false)
	if got := Classify(err); got != FailureUntrusted {
		t.Errorf("untrusted certificate: %v is %d", err, got)
	}

	// Plain HTTP where HTTPS was asked for: a registry name that is not a
	// loopback address (for which go-containerregistry falls back to
	// HTTP), dialled to the plain server.
	host := plain(answer(http.StatusOK, ""))
	dial := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, host)
	}}
	t.Cleanup(dial.CloseIdleConnections)
	ref, err := name.ParseReference("registry.ferry.test/wf/api:1.0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Get(ref, remote.WithContext(t.Context()), remote.WithTransport(dial))
	if got := Classify(err); got != FailurePlainHTTP {
		t.Errorf("plain HTTP: %v is %d", err, got)
	}

	// Nothing listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	err = get(t, t.Context(), closed, true)
	if got := Classify(err); got != FailureUnreachable {
		t.Errorf("nothing listening: %v is %d", err, got)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = get(t, ctx, host, true)
	if got := Classify(err); got != FailureCanceled {
		t.Errorf("canceled: %v is %d", err, got)
	}
	if got := Classify(nil); got != FailureOther {
		t.Errorf("nil is %d", got)
	}
}
