package store

import (
	"os/exec"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"ferry/internal/oci"
	"ferry/internal/testenv"
)

// TestLayoutReadableByOCITools stores an image blob by blob, names it, and
// reads it back with go-containerregistry and, where installed, skopeo:
// the registry and the operator's tools read the store as a plain OCI
// image layout.
func TestLayoutReadableByOCITools(t *testing.T) {
	s := newStore(t)
	img := ociImage(t, 2048, 3)
	ref, _ := putImage(t, s, "wf/api:1.0.0", img)
	idx, err := random.Index(512, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	multi, _ := putIndex(t, s, "wf/worker:1.0.0", idx)
	files := putBytes(t, s, []byte("a non-image blob beside the images"))
	if err := s.SetRefs([]Ref{ref, multi}); err != nil {
		t.Fatal(err)
	}

	p, err := layout.FromPath(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("index.json has %d images, want 2", len(im.Manifests))
	}
	for _, desc := range im.Manifests {
		switch name := desc.Annotations[oci.RefNameAnnotation]; name {
		case "wf/api:1.0.0":
			got, err := ii.Image(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := img.Digest()
			if d, _ := got.Digest(); d != want {
				t.Errorf("image digest %s, want %s", d, want)
			}
			verifyImage(t, got)
		case "wf/worker:1.0.0":
			got, err := ii.ImageIndex(desc.Digest)
			if err != nil {
				t.Fatal(err)
			}
			verifyIndex(t, got)
		default:
			t.Errorf("unexpected image %q", name)
		}
	}
	h, _ := v1.NewHash(files)
	if rc, err := p.Blob(h); err != nil {
		t.Errorf("non-image blob: %v", err)
	} else {
		rc.Close()
	}

	skopeo := testenv.Tool(t, "skopeo", "skopeo")
	// The names skopeo looks up are of OCI media types: older skopeo
	// releases (1.9 among them) pass over index.json descriptors of Docker
	// media types when resolving oci:DIR:NAME, though go-containerregistry
	// reads them.
	for _, r := range []Ref{ref, multi} {
		args := []string{"inspect", "--raw", "oci:" + s.Dir() + ":" + r.Name}
		out, err := exec.Command(skopeo, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if got := digestOf(out); got != r.Digest {
			t.Errorf("skopeo read %s as %s, want %s", r.Name, got, r.Digest)
		}
	}
	out, err := exec.Command(skopeo, "inspect", "oci:"+s.Dir()+":"+ref.Name).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	if want, _ := img.Digest(); !strings.Contains(string(out), want.String()) {
		t.Errorf("skopeo inspect does not show digest %s:\n%s", want, out)
	}
}

// ociImage is a random image with OCI media types throughout.
func ociImage(t *testing.T, layerSize int64, layers int) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for range layers {
		l, err := random.Layer(layerSize, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return img
}
