package apply

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/bundle"
	"ferry/config"
	"ferry/installer"
	"ferry/internal/k8stest"
	"ferry/verify"
)

// configBundle is shopBundle whose shop chart takes its replica count
// from the site variable shop_replicas.
func configBundle(t *testing.T, s signer, ns string) string {
	t.Helper()
	dir := t.TempDir()
	specPath := shopProject(t, filepath.Join(dir, "project"), ns, "1.0.0", 2, "replicas: ${var.shop_replicas}\n", "")
	f, err := os.OpenFile(specPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("variables:\n  - {name: shop_replicas, type: int, default: 1, min: 1, max: 5}\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	sp, err := bundle.LoadSpec(specPath)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := verify.NewSigner(s.priv)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "shop-config.ferry")
	if _, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: sp, Signers: []verify.Signer{sg}}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConfigSetUpgradesCharts: a configuration revision changes the
// values of the release's charts in the cluster with the rest, and
// config rollback takes them back; without a cluster config set refuses
// rather than leave the cluster on the old values.
func TestConfigSetUpgradesCharts(t *testing.T) {
	e := k8stest.New(t)
	s := newSigner(t)
	root := filepath.Join(t.TempDir(), "root")
	cl := New(Options{Kubeconfig: e.Kubeconfig, Registry: registry})
	ctx := context.Background()
	if _, err := installer.Install(ctx, configBundle(t, s, e.Namespace), installer.Options{Root: root, Keys: [][]byte{s.pub}, Cluster: cl}); err != nil {
		t.Fatal(err)
	}
	if got := replicas(t, e, "shop"); got != 1 {
		t.Fatalf("after the install shop has %d replicas, want the default 1", got)
	}
	before, _ := currentOf(t, root)

	_, err := installer.ApplyConfig(ctx, installer.ConfigOptions{Root: root, Config: &config.Inputs{Set: []string{"shop_replicas=3"}}})
	if err == nil || !strings.Contains(err.Error(), "--registry") {
		t.Fatalf("config set without a cluster: %v, want a refusal naming --registry", err)
	}
	if cur, _ := currentOf(t, root); cur != before {
		t.Fatalf("a refused config set made %s current (was %s)", cur, before)
	}

	res, err := installer.ApplyConfig(ctx, installer.ConfigOptions{Root: root, Config: &config.Inputs{Set: []string{"shop_replicas=3"}}, Cluster: cl})
	if err != nil {
		t.Fatal(err)
	}
	if got := replicas(t, e, "shop"); got != 3 {
		t.Fatalf("after config set shop has %d replicas, want 3", got)
	}
	cur, rel := currentOf(t, root)
	if cur != res.Release || len(rel.Charts) != 2 || rel.Charts[0].Revision != 2 {
		t.Fatalf("current %s with charts %+v, want %s with shop at revision 2", cur, rel.Charts, res.Release)
	}

	if to, err := installer.RollbackConfig(ctx, root, installer.ConfigRollbackOptions{Cluster: cl}); err != nil || to != before {
		t.Fatalf("config rollback: %q, %v (want %s)", to, err, before)
	}
	if got := replicas(t, e, "shop"); got != 1 {
		t.Errorf("after config rollback shop has %d replicas, want 1", got)
	}
}
