package apply

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"ferry/bundle"
	"ferry/fixtures"
	"ferry/installer"
	"ferry/installer/state"
	"ferry/internal/k8stest"
	"ferry/kube"
	"ferry/verify"
)

// shopProject writes a project whose release has a migration, a file, an
// image and two charts in dependency order: component api (the image, a
// file and chart web as release "shop") after db (migrations), and
// component front (chart web again, as release "front") after api. extra
// is appended to front's values file: how a test makes it fail.
func shopProject(t *testing.T, dir, ns, version string, migrations int, shopValues, frontValues string) string {
	t.Helper()
	if err := fixtures.WriteMigrations(filepath.Join(dir, "migrations", "app"), migrations); err != nil {
		t.Fatal(err)
	}
	layer, err := fixtures.Layer("shop-api", 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	img, err := fixtures.Image(platform, layer)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtures.WriteOCILayout(filepath.Join(dir, "images", "api"), map[string]any{"1.4.0": img}); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dir, "charts", "web"), os.DirFS("../testdata/web")); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The hook's image is the bundle's too.
	write("charts/shop.yaml", "migrate: {image: wf/api:1.4.0}\n"+shopValues)
	write("charts/front.yaml", "migrate: {image: wf/api:1.4.0}\n"+frontValues)
	write("etc/app.conf", "version "+version+"\n")
	write("ferry.yaml", fmt.Sprintf(`apiVersion: ferry/v1
kind: Bundle
metadata: {name: shop, version: %q, vendor: Test}
components:
  - name: db
    migrations: [{database: app, path: migrations/app}]
  - name: api
    dependsOn: [db]
    platforms: [%s]
    images: [{source: "oci:images/api:1.4.0", name: "wf/api:1.4.0"}]
    files: [{src: etc/app.conf, dest: etc/app.conf}]
    charts: [{path: charts/web, values: charts/shop.yaml, namespace: %s, release: shop, timeout: 30s}]
  - name: front
    dependsOn: [api]
    charts: [{path: charts/web, values: charts/front.yaml, namespace: %s, release: front, timeout: 5s}]
`, version, platform, ns, ns))
	return filepath.Join(dir, "ferry.yaml")
}

type signer struct {
	priv *ecdsa.PrivateKey
	pub  []byte
}

func newSigner(t *testing.T) signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return signer{k, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
}

// shopBundle builds and signs the project of shopProject.
func shopBundle(t *testing.T, s signer, ns, version string, migrations int, shopValues, frontValues string) string {
	t.Helper()
	dir := t.TempDir()
	sp, err := bundle.LoadSpec(shopProject(t, filepath.Join(dir, "project"), ns, version, migrations, shopValues, frontValues))
	if err != nil {
		t.Fatal(err)
	}
	sg, err := verify.NewSigner(s.priv)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "shop-"+version+".ferry")
	if _, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: sp, Signers: []verify.Signer{sg}}); err != nil {
		t.Fatal(err)
	}
	return out
}

// replicas is the Deployment of release's spec.replicas; 0 when it is gone.
func replicas(t *testing.T, e *k8stest.Env, release string) int32 {
	t.Helper()
	d, err := e.Client.AppsV1().Deployments(e.Namespace).Get(context.Background(), release+"-web", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

func currentOf(t *testing.T, root string) (string, state.Release) {
	t.Helper()
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cur, err := db.Current()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := db.Release(cur)
	if err != nil {
		t.Fatal(err)
	}
	return cur, rel
}

// TestInstallCharts installs a release whose charts go to the cluster in
// dependency order with the migration and the file; upgrades it; and
// rolls it back, the charts with it.
func TestInstallCharts(t *testing.T) {
	e := k8stest.New(t)
	s := newSigner(t)
	root := filepath.Join(t.TempDir(), "root")
	cl := New(Options{Kubeconfig: e.Kubeconfig, Registry: registry})
	ctx := context.Background()
	res, err := installer.Install(ctx, shopBundle(t, s, e.Namespace, "1.0.0", 2, "", ""), installer.Options{Root: root, Keys: [][]byte{s.pub}, Cluster: cl})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(res.ReleaseAt, "etc", "app.conf")); err != nil {
		t.Fatal(err)
	}
	_, rel := currentOf(t, root)
	if len(rel.Charts) != 2 || rel.Charts[0].Release != "shop" || rel.Charts[1].Release != "front" || rel.Charts[0].Revision != 1 {
		t.Fatalf("recorded charts %+v, want shop then front at revision 1", rel.Charts)
	}
	for _, r := range []string{"shop", "front"} {
		d, err := e.Client.AppsV1().Deployments(e.Namespace).Get(ctx, r+"-web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		img := d.Spec.Template.Spec.Containers[0].Image
		if !strings.HasPrefix(img, registry+"/wf/api@sha256:") {
			t.Errorf("release %s: image %q, not pinned to the registry by digest", r, img)
		}
	}
	shop, _ := cl.Last(ctx, e.Namespace, "shop")
	front, _ := cl.Last(ctx, e.Namespace, "front")
	if shop.Status != "deployed" || front.Status != "deployed" {
		t.Fatalf("shop %+v, front %+v", shop, front)
	}

	if _, err := installer.Install(ctx, shopBundle(t, s, e.Namespace, "2.0.0", 3, "replicas: 2\n", ""), installer.Options{Root: root, Cluster: cl}); err != nil {
		t.Fatal(err)
	}
	if got := replicas(t, e, "shop"); got != 2 {
		t.Fatalf("after the upgrade shop has %d replicas, want 2", got)
	}
	if to, err := installer.Rollback(ctx, root, installer.RollbackOptions{Cluster: cl}); err != nil || to != "1.0.0" {
		t.Fatalf("rollback: %q, %v", to, err)
	}
	if got := replicas(t, e, "shop"); got != 1 {
		t.Errorf("after the rollback shop has %d replicas, want 1", got)
	}
	if last, _ := cl.Last(ctx, e.Namespace, "shop"); last.Status != "deployed" || last.Revision != 3 {
		t.Errorf("after the rollback shop is %+v, want deployed at revision 3 (back to 1)", last)
	}
	// Drift: none after the rollback; an edit of a live resource, as
	// kubectl edit makes, shows.
	if drift, err := installer.CheckCharts(ctx, root, cl); err != nil || len(drift) != 0 {
		t.Fatalf("drift after the rollback: %v %+v", err, drift)
	}
	d, err := e.Client.AppsV1().Deployments(e.Namespace).Get(ctx, "front-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "elsewhere/web:2"
	if _, err := e.Client.AppsV1().Deployments(e.Namespace).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	drift, err := installer.CheckCharts(ctx, root, cl)
	if !errors.Is(err, installer.ErrDrift) || len(drift) != 1 || drift[0].Path != "chart "+e.Namespace+"/front" ||
		!strings.Contains(drift[0].Detail, "Deployment/front-web: spec.template.spec.containers[0].image is elsewhere/web:2") {
		t.Fatalf("drift after an edit: %v %+v", err, drift)
	}
	// Without a cluster a rollback between releases with charts refuses.
	if _, err := installer.Rollback(ctx, root, installer.RollbackOptions{To: "2.0.0"}); err == nil || !strings.Contains(err.Error(), "--kubeconfig") {
		t.Errorf("rollback without a cluster: %v", err)
	}
}

// TestChartNeverReadyRollsBackAll: the second chart never becomes ready,
// so the whole upgrade goes back: the first chart to its revision, the
// migration down, the release current as before.
func TestChartNeverReadyRollsBackAll(t *testing.T) {
	e := k8stest.New(t)
	s := newSigner(t)
	root := filepath.Join(t.TempDir(), "root")
	cl := New(Options{Kubeconfig: e.Kubeconfig, Registry: registry})
	ctx := context.Background()
	if _, err := installer.Install(ctx, shopBundle(t, s, e.Namespace, "1.0.0", 2, "", ""), installer.Options{Root: root, Keys: [][]byte{s.pub}, Cluster: cl}); err != nil {
		t.Fatal(err)
	}
	_, err := installer.Install(ctx, shopBundle(t, s, e.Namespace, "2.0.0", 3, "replicas: 2\n", "nodeSelector: {ferry.test/pool: none}\n"), installer.Options{Root: root, Cluster: cl})
	if !errors.Is(err, kube.ErrChart) {
		t.Fatalf("got %v, want a chart that did not become ready", err)
	}
	if cur, _ := currentOf(t, root); cur != "1.0.0" {
		t.Errorf("current %s after the failed upgrade", cur)
	}
	if got := replicas(t, e, "shop"); got != 1 {
		t.Errorf("shop has %d replicas after the failed upgrade, want 1 (its revision before)", got)
	}
	for _, r := range []string{"shop", "front"} {
		if last, _ := cl.Last(ctx, e.Namespace, r); last.Status != "deployed" {
			t.Errorf("release %s after the failed upgrade: %+v", r, last)
		}
	}
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, open, _ := db.OpenTxn(); open {
		t.Error("a transaction is still open")
	}
}

// TestFirstInstallNeverReadyUninstalls: on a first install both charts go
// away again.
func TestFirstInstallNeverReadyUninstalls(t *testing.T) {
	e := k8stest.New(t)
	s := newSigner(t)
	root := filepath.Join(t.TempDir(), "root")
	cl := New(Options{Kubeconfig: e.Kubeconfig, Registry: registry})
	ctx := context.Background()
	_, err := installer.Install(ctx, shopBundle(t, s, e.Namespace, "1.0.0", 2, "", "nodeSelector: {ferry.test/pool: none}\n"), installer.Options{Root: root, Keys: [][]byte{s.pub}, Cluster: cl})
	if !errors.Is(err, kube.ErrChart) {
		t.Fatalf("got %v, want a chart that did not become ready", err)
	}
	for _, r := range []string{"shop", "front"} {
		if last, _ := cl.Last(ctx, e.Namespace, r); last.Revision != 0 {
			t.Errorf("release %s after the failed first install: %+v", r, last)
		}
		if got := replicas(t, e, r); got != 0 {
			t.Errorf("release %s's Deployment is still there", r)
		}
	}
}

// TestMissingImageRefusedAtPlan: a chart naming an image the bundle does
// not carry refuses the upgrade before any chart changes.
func TestMissingImageRefusedAtPlan(t *testing.T) {
	e := k8stest.New(t)
	s := newSigner(t)
	root := filepath.Join(t.TempDir(), "root")
	cl := New(Options{Kubeconfig: e.Kubeconfig, Registry: registry})
	ctx := context.Background()
	if _, err := installer.Install(ctx, shopBundle(t, s, e.Namespace, "1.0.0", 2, "", ""), installer.Options{Root: root, Keys: [][]byte{s.pub}, Cluster: cl}); err != nil {
		t.Fatal(err)
	}
	_, err := installer.Install(ctx, shopBundle(t, s, e.Namespace, "2.0.0", 2, "replicas: 2\n", "image: {repository: acme/other}\n"), installer.Options{Root: root, Cluster: cl})
	if !errors.Is(err, kube.ErrMissingImage) || !strings.Contains(err.Error(), `Deployment/front-web container "web": image "acme/other:1.4.0"`) {
		t.Fatalf("got %v, want the missing image named", err)
	}
	for _, r := range []string{"shop", "front"} {
		if last, _ := cl.Last(ctx, e.Namespace, r); last.Revision != 1 {
			t.Errorf("release %s changed: %+v", r, last)
		}
	}
}
