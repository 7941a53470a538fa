package apply

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"ferry/installer"
	"ferry/internal/k8stest"
	"ferry/internal/testenv"
)

// crashEnv is installer's crash hook (built with -tags ferrycrash): the
// child kills itself at its k-th journalled crash point.
const crashEnv = "FERRY_TEST_CRASH_AT_STEP"

// TestInstallChild is the child of the crash tests: it installs
// FERRY_CHILD_BUNDLE into FERRY_CHILD_ROOT against the cluster of
// FERRY_CHILD_KUBECONFIG, and is killed on the way.
func TestInstallChild(t *testing.T) {
	if os.Getenv("FERRY_KUBE_CHILD") != "1" {
		t.Skip("the child of the crash tests")
	}
	cl := New(Options{Kubeconfig: os.Getenv("FERRY_CHILD_KUBECONFIG"), Registry: registry})
	if _, err := installer.Install(context.Background(), os.Getenv("FERRY_CHILD_BUNDLE"), installer.Options{Root: os.Getenv("FERRY_CHILD_ROOT"), Cluster: cl}); err != nil {
		t.Fatal(err)
	}
}

// installInChild runs the child with the crash hook at k (0: none); kill,
// when set, decides when to SIGKILL it from outside. It reports whether
// the child was killed.
func installInChild(t *testing.T, e *k8stest.Env, root, bundle string, k int, kill func() bool) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestInstallChild$")
	cmd.Env = append(os.Environ(), "FERRY_KUBE_CHILD=1", "FERRY_CHILD_ROOT="+root, "FERRY_CHILD_BUNDLE="+bundle,
		"FERRY_CHILD_KUBECONFIG="+e.Kubeconfig, crashEnv+"="+strconv.Itoa(k), "GORACE=atexit_sleep_ms=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	if kill != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if perr := k8stest.Poll(ctx, func(context.Context) (bool, error) { return kill(), nil }); perr != nil {
			t.Fatalf("the moment to kill the child never came: %v\n%s", perr, out.String())
		}
		_ = cmd.Process.Kill()
	}
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the child did not end\n%s", out.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	return false
}

// converge runs the next ferry command, an install of the first release
// again (a no-op, or refused as not newer when the interrupted upgrade had
// committed), which finishes the interrupted transaction first; it
// returns the release current then.
func converge(t *testing.T, cl *Cluster, root, v1 string) string {
	t.Helper()
	_, err := installer.Install(context.Background(), v1, installer.Options{Root: root, Cluster: cl})
	if err != nil && !errors.Is(err, installer.ErrNotNewer) {
		t.Fatal(err)
	}
	cur, _ := currentOf(t, root)
	return cur
}

// checkCluster: the charts are as the current release installed them,
// deployed, shop with the replicas of that release.
func checkCluster(t *testing.T, e *k8stest.Env, cl *Cluster, cur string) {
	t.Helper()
	want := map[string]int32{"1.0.0": 1, "2.0.0": 2}[cur]
	if got := replicas(t, e, "shop"); got != want {
		t.Errorf("current %s, but shop has %d replicas, want %d", cur, got, want)
	}
	for _, r := range []string{"shop", "front"} {
		if last, err := cl.Last(context.Background(), e.Namespace, r); err != nil || last.Status != "deployed" {
			t.Errorf("current %s, release %s: %+v %v", cur, r, last, err)
		}
	}
}

// TestCrashAtEachStepConverges kills an upgrade at each of its journalled
// crash points, chart steps included (before the chart changes, and after
// it changed but before ferry recorded it), and checks that the next
// command leaves host and cluster wholly on one release.
func TestCrashAtEachStepConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("a crash loop")
	}
	s := newSigner(t)
	crashed := 0
	for k := 1; k < 40; k++ {
		var killed bool
		t.Run("step"+strconv.Itoa(k), func(t *testing.T) {
			e := k8stest.New(t)
			cl := New(Options{Kubeconfig: e.Kubeconfig, Registry: registry})
			root := filepath.Join(t.TempDir(), "root")
			v1 := shopBundle(t, s, e.Namespace, "1.0.0", 2, "", "")
			if _, err := installer.Install(context.Background(), v1, installer.Options{Root: root, Keys: [][]byte{s.pub}, Cluster: cl}); err != nil {
				t.Fatal(err)
			}
			v2 := shopBundle(t, s, e.Namespace, "2.0.0", 3, "replicas: 2\n", "")
			killed = installInChild(t, e, root, v2, k, nil)
			cur := converge(t, cl, root, v1)
			if !killed && cur != "2.0.0" {
				t.Fatalf("the child finished, current %s", cur)
			}
			checkCluster(t, e, cl, cur)
		})
		if !killed {
			if k == 1 {
				testenv.SkipOrFail(t, "killing ferry at a journalled step needs the crash-injection hook: go test -tags ferrycrash (make test-go passes it)")
			}
			break
		}
		crashed++
	}
	t.Logf("%d crash points, each converged", crashed)
}

// TestKillDuringWaitConverges kills an upgrade while Helm waits for a
// chart that does not become ready, leaving its release pending-upgrade;
// the next command rolls the whole upgrade back, that release included.
func TestKillDuringWaitConverges(t *testing.T) {
	e := k8stest.New(t)
	s := newSigner(t)
	cl := New(Options{Kubeconfig: e.Kubeconfig, Registry: registry})
	root := filepath.Join(t.TempDir(), "root")
	v1 := shopBundle(t, s, e.Namespace, "1.0.0", 2, "", "")
	if _, err := installer.Install(context.Background(), v1, installer.Options{Root: root, Keys: [][]byte{s.pub}, Cluster: cl}); err != nil {
		t.Fatal(err)
	}
	v2 := shopBundle(t, s, e.Namespace, "2.0.0", 3, "replicas: 2\n", "nodeSelector: {ferry.test/pool: none}\n")
	installInChild(t, e, root, v2, 0, func() bool {
		last, err := cl.Last(context.Background(), e.Namespace, "front")
		return err == nil && last.Status == "pending-upgrade"
	})
	if last, _ := cl.Last(context.Background(), e.Namespace, "front"); last.Status != "pending-upgrade" {
		t.Fatalf("front after the kill: %+v", last)
	}
	if cur := converge(t, cl, root, v1); cur != "1.0.0" {
		t.Fatalf("current %s after the recovery", cur)
	}
	checkCluster(t, e, cl, "1.0.0")
}
