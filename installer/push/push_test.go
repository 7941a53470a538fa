package push

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// testOptions are Options for tests: anonymous, with short waits.
func testOptions(target string) Options {
	return Options{Target: target, Keychain: authn.NewMultiKeychain(), Backoff: time.Millisecond}
}

func TestPushRoundTrip(t *testing.T) {
	st := newTestStore(t)
	api := st.addImage(t, "wf/api:1.4.0")
	multi := st.addIndex(t, "wf/worker:1.4.0")
	host := newRegistry(t, nil)

	res, err := Push(t.Context(), st.dir, testOptions(host+"/appliance"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{Image: "wf/api:1.4.0", Target: host + "/appliance/wf/api:1.4.0", Digest: api.String(), Pushed: true},
		{Image: "wf/worker:1.4.0", Target: host + "/appliance/wf/worker:1.4.0", Digest: multi.String(), Pushed: true},
	}
	if len(res) != len(want) {
		t.Fatalf("results %+v, want %+v", res, want)
	}
	for i := range want {
		if res[i] != want[i] {
			t.Errorf("result %d = %+v, want %+v", i, res[i], want[i])
		}
		if got := pullDigest(t, want[i].Target); got.String() != want[i].Digest {
			t.Errorf("pulled %s: digest %s, want %s", want[i].Target, got, want[i].Digest)
		}
	}
}

func TestPushAgainUploadsNothing(t *testing.T) {
	st := newTestStore(t)
	st.addImage(t, "wf/api:1.4.0")
	st.addIndex(t, "wf/worker:1.4.0")
	var c counter
	host := newRegistry(t, c.wrap)
	opts := testOptions(host + "/appliance")

	if _, err := Push(t.Context(), st.dir, opts); err != nil {
		t.Fatal(err)
	}
	if _, writes, _ := c.get(); writes == 0 {
		t.Fatal("the first push uploaded nothing")
	}
	_, before, _ := c.get()
	res, err := Push(t.Context(), st.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Pushed {
			t.Errorf("%s: pushed again", r.Image)
		}
	}
	if _, after, _ := c.get(); after != before {
		t.Errorf("the second push made %d uploading requests, want 0", after-before)
	}
}

// TestPushSharedBlobsOnce pushes an image whose tag is new but whose
// content the registry has under another name: only the manifest goes up.
func TestPushSharedBlobsOnce(t *testing.T) {
	st := newTestStore(t)
	d := st.addImage(t, "wf/api:1.4.0")
	var c counter
	host := newRegistry(t, c.wrap)
	opts := testOptions(host)
	if _, err := Push(t.Context(), st.dir, opts); err != nil {
		t.Fatal(err)
	}

	img, err := st.path.Image(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.path.AppendImage(img, layoutName("wf/api:latest")); err != nil {
		t.Fatal(err)
	}
	_, before, _ := c.get()
	opts.Images = []string{"wf/api:latest"}
	res, err := Push(t.Context(), st.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || !res[0].Pushed || res[0].Digest != d.String() {
		t.Fatalf("results %+v", res)
	}
	if _, after, _ := c.get(); after-before != 1 {
		t.Errorf("pushing a new tag of known content made %d uploading requests, want 1 (the manifest)", after-before)
	}
}

func TestPushTargets(t *testing.T) {
	st := newTestStore(t)
	d := st.addImage(t, "wf/api:1.4.0")
	host := newRegistry(t, nil)
	for _, tc := range []struct{ target, want string }{
		{host, host + "/wf/api:1.4.0"},
		{host + "/", host + "/wf/api:1.4.0"},
		{host + "/prefix", host + "/prefix/wf/api:1.4.0"},
		{host + "/a/b.c/d-e/", host + "/a/b.c/d-e/wf/api:1.4.0"},
	} {
		res, err := Push(t.Context(), st.dir, testOptions(tc.target))
		if err != nil {
			t.Fatalf("target %s: %v", tc.target, err)
		}
		if len(res) != 1 || res[0].Target != tc.want {
			t.Errorf("target %s: results %+v, want one to %s", tc.target, res, tc.want)
			continue
		}
		if got := pullDigest(t, tc.want); got != d {
			t.Errorf("pulled %s: digest %s, want %s", tc.want, got, d)
		}
	}
}

func TestPushSelectedImages(t *testing.T) {
	st := newTestStore(t)
	st.addImage(t, "wf/api:1.4.0")
	st.addImage(t, "wf/db:1.4.0")
	var c counter
	host := newRegistry(t, c.wrap)

	opts := testOptions(host)
	opts.Images = []string{"wf/db:1.4.0", "wf/nope:1.0"}
	if _, err := Push(t.Context(), st.dir, opts); err == nil || !strings.Contains(err.Error(), "wf/nope:1.0") {
		t.Fatalf("pushing an image the store lacks: err = %v, want one naming it", err)
	}
	if n, _, _ := c.get(); n != 0 {
		t.Fatalf("a push with an unknown image made %d requests, want 0", n)
	}

	opts.Images = []string{"wf/db:1.4.0"}
	res, err := Push(t.Context(), st.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Image != "wf/db:1.4.0" {
		t.Fatalf("results %+v, want only wf/db:1.4.0", res)
	}
}

func TestPushByDigestOnly(t *testing.T) {
	st := newTestStore(t)
	img := st.addImage(t, "wf/api:1.4.0")
	ref := "wf/pinned@" + img.String()
	im, err := st.path.Image(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.path.AppendImage(im, layoutName(ref)); err != nil {
		t.Fatal(err)
	}
	host := newRegistry(t, nil)
	opts := testOptions(host + "/p")
	opts.Images = []string{ref}
	res, err := Push(t.Context(), st.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := host + "/p/" + ref; len(res) != 1 || res[0].Target != want {
		t.Fatalf("results %+v, want one to %s", res, want)
	}
	if got := pullDigest(t, res[0].Target); got != img {
		t.Errorf("digest %s, want %s", got, img)
	}
}

func TestPushRetriesTransientFailures(t *testing.T) {
	st := newTestStore(t)
	d := st.addIndex(t, "wf/worker:1.4.0")
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusBadGateway} {
		host := newRegistry(t, func(h http.Handler) http.Handler { return failFirst(3, status, h) })
		res, err := Push(t.Context(), st.dir, testOptions(host))
		if err != nil {
			t.Fatalf("status %d: %v", status, err)
		}
		if len(res) != 1 || !res[0].Pushed {
			t.Fatalf("status %d: results %+v", status, res)
		}
		if got := pullDigest(t, res[0].Target); got != d {
			t.Errorf("status %d: digest %s, want %s", status, got, d)
		}
	}
}

func TestPushGivesUp(t *testing.T) {
	st := newTestStore(t)
	st.addImage(t, "wf/api:1.4.0")
	var c counter
	host := newRegistry(t, func(h http.Handler) http.Handler {
		return c.wrap(failFirst(1<<30, http.StatusServiceUnavailable, h))
	})
	opts := testOptions(host)
	opts.Retries = 3
	_, err := Push(t.Context(), st.dir, opts)
	if err == nil {
		t.Fatal("push to a registry that is down succeeded")
	}
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("err = %v, want the registry's 503 in the chain", err)
	}
	t.Logf("registry down: %v", err)
	for _, s := range []string{"wf/api:1.4.0", host + "/wf/api:1.4.0", "3 attempts"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("err = %v, want it to mention %q", err, s)
		}
	}
	if _, _, pings := c.get(); pings != 3 {
		t.Errorf("%d attempts (pings), want 3", pings)
	}
}

func TestPushUnauthorizedFailsAtOnce(t *testing.T) {
	st := newTestStore(t)
	st.addImage(t, "wf/api:1.4.0")
	deny := func(c *counter) func(http.Handler) http.Handler {
		return func(http.Handler) http.Handler {
			return c.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			}))
		}
	}
	// One attempt's requests, to compare with a push allowed five.
	var once counter
	opts := testOptions(newRegistry(t, deny(&once)))
	opts.Retries = 1
	if _, err := Push(t.Context(), st.dir, opts); err == nil {
		t.Fatal("push without credentials succeeded")
	}

	var c counter
	host := newRegistry(t, deny(&c))
	opts = testOptions(host)
	opts.Retries = 5
	opts.Backoff = time.Hour // a retry would hang the test
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, err := Push(ctx, st.dir, opts)
	if err == nil {
		t.Fatal("push without credentials succeeded")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a 401 was retried: %v", err)
	}
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
		t.Errorf("err = %v, want the registry's 401 in the chain", err)
	}
	t.Logf("unauthorised: %v", err)
	for _, s := range []string{"wf/api:1.4.0", host + "/wf/api:1.4.0", "log in"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("err = %v, want it to mention %q", err, s)
		}
	}
	want, _, _ := once.get()
	if got, _, _ := c.get(); got != want {
		t.Errorf("%d requests, want %d (one attempt)", got, want)
	}
}

func TestPushTLS(t *testing.T) {
	st := newTestStore(t)
	d := st.addImage(t, "wf/api:1.4.0")
	srv := httptest.NewUnstartedServer(registry.New(registry.Logger(quietLog())))
	srv.Config.ErrorLog = quietLog() // the failed handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")

	opts := testOptions(host)
	opts.Backoff = time.Hour // a retry would hang the test
	_, err := Push(t.Context(), st.dir, opts)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("push to an untrusted certificate: err = %v, want a certificate error", err)
	}
	t.Logf("untrusted certificate: %v", err)

	opts.Insecure = true
	res, err := Push(t.Context(), st.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Digest != d.String() || !res[0].Pushed {
		t.Fatalf("results %+v", res)
	}
}

func TestPushStopsAtCancel(t *testing.T) {
	st := newTestStore(t)
	st.addImage(t, "wf/api:1.4.0")
	host := newRegistry(t, func(h http.Handler) http.Handler {
		return failFirst(1<<30, http.StatusServiceUnavailable, h)
	})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	opts := testOptions(host)
	opts.Backoff = time.Hour
	start := time.Now()
	_, err := Push(ctx, st.dir, opts)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("push took %v after its context ended", el)
	}
}

func TestPushDamagedStore(t *testing.T) {
	st := newTestStore(t)
	d := st.addImage(t, "wf/api:1.4.0")
	corruptBlob(t, st.dir, d)
	var c counter
	host := newRegistry(t, c.wrap)
	_, err := Push(t.Context(), st.dir, testOptions(host))
	if err == nil || !strings.Contains(err.Error(), "wf/api:1.4.0") {
		t.Fatalf("push of a damaged manifest: err = %v, want an error naming the image", err)
	}
	if n, _, _ := c.get(); n != 0 {
		t.Errorf("a damaged manifest made %d requests, want 0", n)
	}
}
