package push

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"ferry/internal/testenv"
)

// distributionBinary is where Debian's docker-registry package installs
// the Distribution registry.
const distributionBinary = "/usr/bin/docker-registry"

// TestPushToDistribution pushes to the reference registry implementation,
// which checks manifests and blobs more strictly than the in-process one.
func TestPushToDistribution(t *testing.T) {
	host := startDistribution(t)
	st := newTestStore(t)
	api := st.addImage(t, "wf/api:1.4.0")
	multi := st.addIndex(t, "wf/worker:1.4.0")
	opts := testOptions(host + "/appliance")

	res, err := Push(t.Context(), st.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		host + "/appliance/wf/api:1.4.0":    api.String(),
		host + "/appliance/wf/worker:1.4.0": multi.String(),
	}
	if len(res) != len(want) {
		t.Fatalf("results %+v", res)
	}
	for _, r := range res {
		if !r.Pushed || want[r.Target] != r.Digest {
			t.Errorf("result %+v, want pushed with digest %s", r, want[r.Target])
		}
		if got := pullDigest(t, r.Target); got.String() != r.Digest {
			t.Errorf("pulled %s: digest %s, want %s", r.Target, got, r.Digest)
		}
	}

	res, err = Push(t.Context(), st.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Pushed {
			t.Errorf("%s: pushed again", r.Image)
		}
	}
}

// startDistribution runs the Distribution registry on a free loopback
// port with its storage in a temporary directory, and returns its
// host:port. The registry is stopped when the test ends.
func startDistribution(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(distributionBinary); err != nil {
		testenv.SkipOrFailf(t, "the Distribution registry is not installed (%v); install Debian's docker-registry package to run this test", err)
	}
	dir := t.TempDir()
	addr := freeLoopbackAddr(t)
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}

	// The output goes to a file, not a buffer, so that reading it while
	// the registry runs is no data race.
	out, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	output := func() string {
		b, _ := os.ReadFile(out.Name())
		return string(b)
	}
	cmd := exec.Command(distributionBinary, "serve", cfgPath)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", distributionBinary, err)
	}
	// exited is closed when the registry has exited, with waitErr set.
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		// Stopped by a signal: the exit status is the signal's.
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("registry output:\n%s", output())
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		select {
		case <-exited:
			t.Fatalf("the registry exited before answering: %v\n%s", waitErr, output())
		case <-ctx.Done():
			t.Fatalf("the registry did not answer /v2/ on %s: %v\n%s", addr, err, output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freeLoopbackAddr returns a loopback address with a port nothing listens
// on right now.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
