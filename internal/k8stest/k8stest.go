// Package k8stest runs a real Kubernetes control plane for tests: etcd,
// kube-apiserver and kube-controller-manager on loopback, built by
// scripts/k8s-control-plane.sh (make k8s-bins), with a fake kubelet in
// process that plays one node and the scheduler. No part of Kubernetes is
// mocked: what a test applies goes through the real API server, admission
// and controllers; only containers do not run.
//
// A test package starts one control plane, on first use, and stops it
// when its tests are done:
//
//	func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }
//
// and each test takes a namespace of its own with New. Without the
// binaries a test skips, and fails under CI=true (internal/testenv).
package k8stest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"ferry/internal/testenv"
)

// EnvBin names the variable that holds the directory of the binaries;
// make test sets it. Without it the tests look in the module's
// .cache/k8s/bin, where make k8s-bins builds them.
const EnvBin = "FERRY_K8S_BIN"

// binaries are the programs the control plane needs in its directory.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager"}

// shared is the test binary's one control plane. It is package state
// because TestMain, which stops it, and the tests, which start it, share
// nothing else.
var shared struct {
	mu      sync.Mutex
	main    bool
	started bool
	cp      *ControlPlane
	err     error
	missing string
}

// Main runs the tests of m and then stops the control plane if a test
// started it; TestMain passes its result to os.Exit.
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.main = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cp != nil {
		shared.cp.Stop()
		shared.cp = nil
	}
	return code
}

// Start returns the test package's control plane, started by its first
// caller. A start that failed fails every test that needs it.
func Start(t testing.TB) *ControlPlane {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.main {
		t.Fatal("k8stest: the control plane is stopped by k8stest.Main: call it from TestMain")
	}
	if !shared.started {
		shared.started = true
		bin, missing := binDir()
		if missing != "" {
			shared.missing = missing
		} else {
			shared.cp, shared.err = start(bin)
		}
	}
	if shared.missing != "" {
		testenv.SkipOrFail(t, shared.missing)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.cp
}

// Env is a test's view of the control plane: the whole cluster, and a
// namespace of its own that is deleted when the test ends.
type Env struct {
	*ControlPlane
	Namespace string
}

// New starts the control plane if needed and makes a namespace for t,
// named after it, once its default service account (which pods need)
// exists.
func New(t testing.TB) *Env {
	t.Helper()
	cp := Start(t)
	ns := namespaceName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("k8stest: namespace %s: %v", ns, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		_ = cp.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	})
	err := Poll(ctx, func(ctx context.Context) (bool, error) {
		_, err := cp.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("k8stest: namespace %s: no default service account: %v", ns, err)
	}
	return &Env{ControlPlane: cp, Namespace: ns}
}

// Poll calls cond every 100 ms until it reports true or an error, or ctx
// ends; it is the bounded wait of the package's tests.
func Poll(ctx context.Context, cond func(context.Context) (bool, error)) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// namespaceName is a DNS label from the test's name and a random suffix,
// so that a namespace never outlives into another test of the same name.
func namespaceName(test string) string {
	name := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(test), "-"), "-")
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return name + "-" + hex.EncodeToString(b)
}

// binDir finds the binaries, or says what is missing and how to build it.
func binDir() (dir, missing string) {
	dir = os.Getenv(EnvBin)
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", fmt.Sprintf("k8stest: no Kubernetes binaries: %s is not set and %v", EnvBin, err)
		}
		dir = filepath.Join(root, ".cache", "k8s", "bin")
	}
	for _, b := range binaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Sprintf("k8stest: no Kubernetes control plane in %s (%v): run make k8s-bins, or set %s", dir, err, EnvBin)
		}
	}
	return dir, ""
}

// moduleRoot is the nearest directory above the working directory (a
// test's package) whose go.mod is ferry's.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if f, err := os.Open(filepath.Join(dir, "go.mod")); err == nil {
			s := bufio.NewScanner(f)
			s.Scan()
			f.Close()
			if strings.TrimSpace(s.Text()) == "module ferry" {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module ferry above the working directory")
		}
		dir = parent
	}
}
