package kube

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/postrenderer"

	"ferry/bundle"
)

// Pinner is Helm v4's post-renderer by its method set.
var _ postrenderer.PostRenderer = (*Pinner)(nil)

func testChart(t *testing.T) []byte {
	t.Helper()
	ch, err := bundle.LoadChart("testdata/web")
	if err != nil {
		t.Fatal(err)
	}
	return ch.Archive
}

// TestRenderAndPin renders the test chart with Helm's engine, no cluster,
// and pins it: the Deployment and the Job hook both point at the
// registry by digest, each after its "# Source:" line.
func TestRenderAndPin(t *testing.T) {
	out, err := Render(testChart(t), RenderOptions{Release: "shop", Namespace: "apps"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Source: web/templates/deployment.yaml", "# Source: web/templates/migrate-job.yaml", "name: shop-web", "namespace: apps"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("rendered manifest has no %q:\n%s", want, out)
		}
	}
	pinned, uses, err := testPinner().Pin(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) != 2 || uses[0].Pinned != pinAPI || uses[1].Pinned != pinBusy ||
		uses[1].Template != "web/templates/migrate-job.yaml" || uses[1].Kind != "Job" {
		t.Fatalf("uses = %+v", uses)
	}
	if !bytes.Contains(pinned, []byte(`"`+pinAPI+`"`)) || !bytes.Contains(pinned, []byte(`"`+pinBusy+`"`)) {
		t.Errorf("pinned:\n%s", pinned)
	}
}

// TestRenderValuesFilesInOrder checks that a later values file overrides
// an earlier one, and that the hook's image missing from the bundle is
// named with its template.
func TestRenderValuesFilesInOrder(t *testing.T) {
	out, err := Render(testChart(t), RenderOptions{Release: "shop", Values: [][]byte{
		[]byte("migrate: {image: acme/migrate:1}\nimage: {tag: 9.9.9}\n"),
		[]byte("image: {tag: 1.4.0}\n"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = testPinner().Pin(out)
	var me *MissingError
	if !errors.As(err, &me) || len(me.Missing) != 1 {
		t.Fatalf("got %v, want the hook's image missing", err)
	}
	if !strings.Contains(err.Error(), `web/templates/migrate-job.yaml: Job/shop-migrate container "migrate": image "acme/migrate:1"`) {
		t.Errorf("message:\n%s", err)
	}
	if _, err := Render(testChart(t), RenderOptions{Release: "r", Values: [][]byte{[]byte("a: [")}}); err == nil {
		t.Error("a values file that is not YAML must be refused")
	}
}
