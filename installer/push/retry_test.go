package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

func TestTransient(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&transport.Error{StatusCode: http.StatusServiceUnavailable}, true},
		{&transport.Error{StatusCode: http.StatusInternalServerError}, true},
		{&transport.Error{StatusCode: http.StatusTooManyRequests}, true},
		{&transport.Error{StatusCode: http.StatusRequestTimeout}, true},
		{&transport.Error{StatusCode: http.StatusUnauthorized}, false},
		{&transport.Error{StatusCode: http.StatusForbidden}, false},
		{&transport.Error{StatusCode: http.StatusBadRequest}, false},
		{&transport.Error{StatusCode: http.StatusNotFound}, false},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{io.ErrUnexpectedEOF, true},
		{os.ErrDeadlineExceeded, true},
		{fmt.Errorf("wrapped: %w", ErrPlainHTTP), false},
		{errors.New("x509: certificate signed by unknown authority"), false},
	} {
		if got := transient(ctx, tc.err); got != tc.want {
			t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if transient(done, syscall.ECONNRESET) {
		t.Error("an error after the context ended is transient")
	}
}

func TestBackoff(t *testing.T) {
	base := 500 * time.Millisecond
	for attempt, want := range map[int]time.Duration{
		1: base, 2: 2 * base, 3: 4 * base, 4: 8 * base, 7: maxBackoff, 100: maxBackoff,
	} {
		if got := backoff(base, attempt); got != want {
			t.Errorf("backoff(%v, %d) = %v, want %v", base, attempt, got, want)
		}
	}
}

func TestHTTPSOnly(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	rt := httpsOnly{next: http.DefaultTransport}
	req := httptest.NewRequest(http.MethodGet, srv.URL+"/v2/", nil)
	req.RequestURI = ""
	if _, err := rt.RoundTrip(req); !errors.Is(err, ErrPlainHTTP) {
		t.Errorf("plain HTTP request: err = %v, want ErrPlainHTTP", err)
	}
}
