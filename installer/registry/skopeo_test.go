package registry

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"ferry/internal/testenv"
)

// TestSkopeo copies and inspects an image with skopeo, the tool the design
// names for operators and assessors, so the registry is checked against a
// client other than the library that wrote the store.
func TestSkopeo(t *testing.T) {
	skopeo := testenv.Tool(t, "skopeo", "skopeo")
	f := newFixture(t)
	tmp := t.TempDir()
	policy := filepath.Join(tmp, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, skopeo, args...)
		// Keep skopeo away from the user's registries.conf and auth files.
		cmd.Env = append(os.Environ(), "HOME="+tmp, "XDG_RUNTIME_DIR="+tmp, "REGISTRY_AUTH_FILE="+filepath.Join(tmp, "auth.json"))
		out, err := cmd.Output()
		if err != nil {
			stderr := ""
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("skopeo %q: %v\n%s", args, err, stderr)
		}
		return out
	}

	src := "docker://" + f.host + "/wf/api:1.0.0"
	want := f.images["wf/api:1.0.0"]
	wantLayers, _ := want.Layers()
	var wantDigests []string
	for _, l := range wantLayers {
		d, _ := l.Digest()
		wantDigests = append(wantDigests, d.String())
	}

	var info struct {
		Digest string
		Layers []string
	}
	if err := json.Unmarshal(run("--policy", policy, "inspect", "--tls-verify=false", src), &info); err != nil {
		t.Fatal(err)
	}
	if info.Digest != f.subj.String() || !slices.Equal(info.Layers, wantDigests) {
		t.Errorf("skopeo inspect: digest %s layers %q, want %s %q", info.Digest, info.Layers, f.subj, wantDigests)
	}

	dest := filepath.Join(tmp, "copy")
	run("--policy", policy, "copy", "--src-tls-verify=false", src, "oci:"+dest+":x")
	lp, err := layout.FromPath(dest)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("copied layout index: %v %+v", err, im)
	}
	got, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	// skopeo converts the Docker manifest to OCI, so the manifest digest
	// changes; the layers are copied unchanged.
	gotLayers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var gotDigests []string
	for _, l := range gotLayers {
		d, _ := l.Digest()
		gotDigests = append(gotDigests, d.String())
	}
	if !slices.Equal(gotDigests, wantDigests) {
		t.Errorf("copied layers %q, want %q", gotDigests, wantDigests)
	}
	if err := readLayers(got); err != nil {
		t.Error(err)
	}
}
