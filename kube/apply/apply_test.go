package apply

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	rcommon "helm.sh/helm/v4/pkg/release/common"

	"ferry/bundle"
	"ferry/internal/k8stest"
	"ferry/kube"
)

func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }

const (
	registry = "registry.local:5000"
	apiImage = "registry.local:5000/wf/api@sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

var images = []bundle.Image{
	{Name: "wf/api:1.4.0", Digest: "sha256:" + strings.Repeat("2", 64)},
	{Name: "busybox:1.36", Digest: "sha256:" + strings.Repeat("5", 64)},
}

func webChart(t *testing.T, ns string, values ...string) kube.Chart {
	t.Helper()
	ch, err := bundle.LoadChart("../testdata/web")
	if err != nil {
		t.Fatal(err)
	}
	c := kube.Chart{Namespace: ns, Release: "shop", Name: "web-0.1.0", Archive: ch.Archive, Timeout: time.Minute, Images: images, Description: "test"}
	for _, v := range values {
		c.Values = append(c.Values, []byte(v))
	}
	return c
}

func deployment(t *testing.T, e *k8stest.Env) *appsv1.Deployment {
	t.Helper()
	d, err := e.Client.AppsV1().Deployments(e.Namespace).Get(context.Background(), "shop-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestApplyUpgradeRestore installs the test chart with its images pinned,
// upgrades it, puts it back to its first revision, then uninstalls it.
func TestApplyUpgradeRestore(t *testing.T) {
	e := k8stest.New(t)
	c := New(Options{Kubeconfig: e.Kubeconfig, Context: e.Context, Registry: registry})
	ctx := context.Background()
	r, err := c.Apply(ctx, webChart(t, e.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision != 1 || r.Status != "deployed" || r.Chart != "web-0.1.0" || !strings.HasPrefix(r.Manifest, "sha256:") {
		t.Fatalf("release = %+v", r)
	}
	d := deployment(t, e)
	if got := d.Spec.Template.Spec.Containers[0].Image; got != apiImage {
		t.Errorf("image %q, want %q", got, apiImage)
	}
	if d.Status.ReadyReplicas != 1 {
		t.Errorf("ready replicas %d after the wait, want 1", d.Status.ReadyReplicas)
	}
	r, err = c.Apply(ctx, webChart(t, e.Namespace, "replicas: 2"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision != 2 || *deployment(t, e).Spec.Replicas != 2 {
		t.Fatalf("upgrade: release %+v", r)
	}
	if _, err := c.Restore(ctx, e.Namespace, "shop", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if *deployment(t, e).Spec.Replicas != 1 {
		t.Error("restore to revision 1 left 2 replicas")
	}
	last, err := c.Last(ctx, e.Namespace, "shop")
	if err != nil || last.Revision != 3 || last.Status != "deployed" {
		t.Fatalf("after the restore: %+v, %v", last, err)
	}
	// Again: already there, nothing to do.
	if _, err := c.Restore(ctx, e.Namespace, "shop", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if last, _ := c.Last(ctx, e.Namespace, "shop"); last.Revision != 3 {
		t.Errorf("a second restore made revision %d", last.Revision)
	}
	if _, err := c.Restore(ctx, e.Namespace, "shop", 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.AppsV1().Deployments(e.Namespace).Get(ctx, "shop-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after uninstall: %v", err)
	}
	if last, err := c.Last(ctx, e.Namespace, "shop"); err != nil || last.Revision != 0 {
		t.Errorf("after uninstall: %+v, %v", last, err)
	}
}

// TestApplyNeverReady: a Deployment whose pods fit no node fails the
// install at its timeout, and Restore uninstalls what it left.
func TestApplyNeverReady(t *testing.T) {
	e := k8stest.New(t)
	c := New(Options{Kubeconfig: e.Kubeconfig, Registry: registry})
	ctx := context.Background()
	ch := webChart(t, e.Namespace, "nodeSelector: {ferry.test/pool: none}")
	ch.Timeout = 3 * time.Second
	_, err := c.Apply(ctx, ch)
	if err == nil {
		t.Fatal("a release that never becomes ready installed")
	}
	last, lerr := c.Last(ctx, e.Namespace, "shop")
	if lerr != nil || last.Status != "failed" {
		t.Fatalf("after the failure: %+v, %v (apply: %v)", last, lerr, err)
	}
	if _, err := c.Restore(ctx, e.Namespace, "shop", 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.AppsV1().Deployments(e.Namespace).Get(ctx, "shop-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after restore: %v", err)
	}
}

// TestApplyNotOwned: a Deployment that exists and is no release's stops
// the install with kube.ErrNotOwned, naming it; TakeOwnership adopts it.
func TestApplyNotOwned(t *testing.T) {
	e := k8stest.New(t)
	ctx := context.Background()
	labels := map[string]string{"app": "shop-web"}
	if _, err := e.Client.AppsV1().Deployments(e.Namespace).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "elsewhere/web:1"}}},
			},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := New(Options{Kubeconfig: e.Kubeconfig, Registry: registry})
	_, err := c.Apply(ctx, webChart(t, e.Namespace))
	if !errors.Is(err, kube.ErrNotOwned) || !strings.Contains(err.Error(), "shop-web") {
		t.Fatalf("got %v, want kube.ErrNotOwned naming shop-web", err)
	}
	if _, err := c.Restore(ctx, e.Namespace, "shop", 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	c = New(Options{Kubeconfig: e.Kubeconfig, Registry: registry, TakeOwnership: true})
	if _, err := c.Apply(ctx, webChart(t, e.Namespace)); err != nil {
		t.Fatal(err)
	}
	if got := deployment(t, e).Spec.Template.Spec.Containers[0].Image; got != apiImage {
		t.Errorf("adopted deployment's image %q", got)
	}
}

// TestApplyMissingImage: a chart naming an image the bundle lacks is
// refused before anything reaches the cluster.
func TestApplyMissingImage(t *testing.T) {
	e := k8stest.New(t)
	c := New(Options{Kubeconfig: e.Kubeconfig, Registry: registry})
	_, err := c.Apply(context.Background(), webChart(t, e.Namespace, "migrate: {image: acme/migrate:1}"))
	if !errors.Is(err, kube.ErrMissingImage) {
		t.Fatalf("got %v, want ErrMissingImage", err)
	}
	if last, _ := c.Last(context.Background(), e.Namespace, "shop"); last.Revision > 1 || last.Status == "deployed" {
		t.Errorf("after the refusal: %+v", last)
	}
}

// TestPendingIsRefusedAndRestored: a release left pending-upgrade (a
// killed helm) blocks Apply with kube.ErrPending, and Restore brings it back.
func TestPendingIsRefusedAndRestored(t *testing.T) {
	e := k8stest.New(t)
	c := New(Options{Kubeconfig: e.Kubeconfig, Registry: registry})
	ctx := context.Background()
	if _, err := c.Apply(ctx, webChart(t, e.Namespace)); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.config(e.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	li, err := cfg.Releases.Last("shop")
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := v1(li)
	pending := *rel
	info := *rel.Info
	pending.Info = &info
	pending.Version = 2
	pending.SetStatus(rcommon.StatusPendingUpgrade, "killed")
	if err := cfg.Releases.Create(&pending); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, webChart(t, e.Namespace)); !errors.Is(err, kube.ErrPending) {
		t.Fatalf("got %v, want kube.ErrPending", err)
	}
	if _, err := c.Restore(ctx, e.Namespace, "shop", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if last, _ := c.Last(ctx, e.Namespace, "shop"); last.Status != "deployed" || last.Revision != 3 {
		t.Errorf("after restore: %+v", last)
	}
}
