package apply

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"ferry/internal/k8stest"
)

// TestFerryKubeEndToEnd drives the built ferry-kube (go build -tags kube)
// against the control plane: keys, two bundles with a migration, a file
// and two charts, install, status, upgrade, rollback, drift after an
// edit, an image the bundle lacks and a chart that never becomes ready,
// each with its exit code.
func TestFerryKubeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferry-kube")
	}
	e := k8stest.New(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "ferry-kube")
	build := exec.Command("go", "build", "-tags", "kube", "-o", bin, "../../cmd/ferry")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags kube: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "root")
	ferry := func(wantCode int, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "FERRY_PASSPHRASE=e2e passphrase", "KUBECONFIG=")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantCode {
			t.Fatalf("ferry %s: exit %d, want %d\n%s", strings.Join(args, " "), code, wantCode, out.String())
		}
		return out.String()
	}
	kube := []string{"--kubeconfig", e.Kubeconfig}
	install := func(code int, bundle string) string {
		return ferry(code, append([]string{"install", bundle, "--root", root, "--registry", registry}, kube...)...)
	}
	ferry(0, "keys", "generate", "--type", "ecdsa-p256", "--out", "release")
	for _, b := range []struct {
		version, shop, front string
		migrations           int
	}{
		{"1.0.0", "", "", 2},
		{"2.0.0", "replicas: 2\n", "", 3},
		{"3.0.0", "", "image: {repository: acme/other}\n", 3},
		{"3.0.1", "replicas: 3\n", "nodeSelector: {ferry.test/pool: none}\n", 3},
	} {
		spec := shopProject(t, filepath.Join(dir, "proj-"+b.version), e.Namespace, b.version, b.migrations, b.shop, b.front)
		ferry(0, "bundle", "create", "-f", spec, "-o", b.version+".ferry", "--key", "release.key")
	}

	out := ferry(0, append([]string{"install", "1.0.0.ferry", "--root", root, "--key", "release.pub", "--registry", registry}, kube...)...)
	if !strings.Contains(out, "installed shop 1.0.0") {
		t.Errorf("install:\n%s", out)
	}
	t.Logf("ferry-kube install 1.0.0.ferry --registry %s:\n%s", registry, out)
	if out := ferry(0, "status", "--root", root); !strings.Contains(out, "chart web-0.1.0: Helm release "+e.Namespace+"/front, revision 1") {
		t.Errorf("status does not show the charts:\n%s", out)
	}
	install(0, "2.0.0.ferry")
	if got := replicas(t, e, "shop"); got != 2 {
		t.Fatalf("after the upgrade: %d replicas", got)
	}
	ferry(0, append([]string{"rollback", "--root", root}, kube...)...)
	if got := replicas(t, e, "shop"); got != 1 {
		t.Fatalf("after the rollback: %d replicas", got)
	}
	ferry(0, append([]string{"check", "--root", root}, kube...)...)
	ctx := context.Background()
	d, err := e.Client.AppsV1().Deployments(e.Namespace).Get(ctx, "shop-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "elsewhere/web:2"
	if _, err := e.Client.AppsV1().Deployments(e.Namespace).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	out = ferry(52, append([]string{"check", "--root", root}, kube...)...)
	if !strings.Contains(out, "spec.template.spec.containers[0].image is elsewhere/web:2") {
		t.Errorf("check after an edit:\n%s", out)
	}
	t.Logf("ferry check after an edit with kubectl:\n%s", out)
	// Put the edit back, so that the failures below start from 1.0.0.
	ferry(0, append([]string{"rollback", "--root", root, "--to", "2.0.0"}, kube...)...)
	ferry(0, append([]string{"rollback", "--root", root, "--to", "1.0.0"}, kube...)...)
	ferry(0, append([]string{"check", "--root", root}, kube...)...)

	if out := install(120, "3.0.0.ferry"); !strings.Contains(out, `image "acme/other:1.4.0"`) {
		t.Errorf("missing image:\n%s", out)
	}
	install(123, "3.0.1.ferry")
	if got := replicas(t, e, "shop"); got != 1 {
		t.Errorf("after the failed upgrade: %d replicas, want 1", got)
	}
	t.Logf("ferry status after the failed upgrade (make demo-k8s shows this):\n%s", ferry(0, "status", "--root", root))
	// The small ferry refuses charts, naming the other.
	small := filepath.Join(dir, "ferry")
	if out, err := exec.Command("go", "build", "-o", small, "../../cmd/ferry").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bin = small
	if out := install(2, "2.0.0.ferry"); !strings.Contains(out, "ferry-kube") {
		t.Errorf("the small ferry with --registry:\n%s", out)
	}
}
