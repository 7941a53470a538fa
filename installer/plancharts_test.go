package installer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"ferry/bundle"
	"ferry/fixtures"
	"ferry/kube"
	"ferry/verify"
)

// chartBundle builds a bundle whose component carries the image wf/api
// and the test chart web with the values given.
func chartBundle(t *testing.T, dir string, signer verify.Signer, values string) string {
	t.Helper()
	layer, err := fixtures.Layer("api", 1<<10)
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
	if err := os.CopyFS(filepath.Join(dir, "charts", "web"), os.DirFS("../kube/testdata/web")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "charts", "web.yaml"), []byte(values), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf(`apiVersion: ferry/v1
kind: Bundle
metadata: {name: shop, version: "1.0.0", vendor: Test}
components:
  - name: api
    platforms: [%s]
    images: [{source: "oci:images/api:1.4.0", name: "wf/api:1.4.0"}]
    charts: [{path: charts/web, values: charts/web.yaml, namespace: shop, release: shop}]
`, platform)
	if err := os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	sp, err := bundle.LoadSpec(filepath.Join(dir, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "shop.ferry")
	if _, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: sp, Signers: []verify.Signer{signer}}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPlanRefusesMissingChartImage: a plan renders the bundle's charts
// and refuses one that names an image the bundle does not carry, naming
// chart, template, resource and container, and leaves the host as it
// was; a chart whose images are all in the bundle passes.
func TestPlanRefusesMissingChartImage(t *testing.T) {
	key := newKey(t)
	root := filepath.Join(t.TempDir(), "root")
	opts := Options{Root: root, Keys: [][]byte{pubPEM(t, key)}, ChartRegistry: "registry.local:5000"}
	// The chart's default migrate hook image, busybox, is not the bundle's.
	bad := chartBundle(t, t.TempDir(), signerOf(t, key), "")
	_, err := PlanInstall(context.Background(), bad, opts)
	var me *kube.MissingError
	if !errors.Is(err, kube.ErrMissingImage) || !errors.As(err, &me) {
		t.Fatalf("got %v, want the missing image refused", err)
	}
	for _, want := range []string{"chart web-", "templates/migrate-job.yaml", "Job/shop-migrate", `container "migrate"`, `image "busybox:1.36"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %q", err, want)
		}
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the plan made the root: %v", err)
	}

	// Without a registry, as install without --registry, the charts are
	// only stored and not rendered.
	noCluster := opts
	noCluster.ChartRegistry = ""
	if _, err := PlanInstall(context.Background(), bad, noCluster); err != nil {
		t.Fatalf("plan without a registry: %v", err)
	}

	good := chartBundle(t, t.TempDir(), signerOf(t, key), "migrate: {image: wf/api:1.4.0}\n")
	p, err := PlanInstall(context.Background(), good, opts)
	if err != nil {
		t.Fatalf("plan of a chart whose images the bundle carries: %v", err)
	}
	if len(p.Steps) == 0 {
		t.Error("no steps")
	}
}
