package bundle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestImageRegistryIndex(t *testing.T) {
	host, blobGets := imageTestRegistry(t)
	idx := imageTestIndex(t, "linux/amd64", "linux/arm64", "linux/arm/v7")
	ref := host + "/wf/api:1.4.0"
	if err := remote.WriteIndex(imageTestRef(t, ref), idx); err != nil {
		t.Fatal(err)
	}
	idxDigest := imageTestDigest(t, idx)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("all platforms", func(t *testing.T) {
		before := len(blobGets())
		r, err := ResolveImage(ctx, ImageSpec{Source: ref}, "", imageTestOptions())
		if err != nil {
			t.Fatal(err)
		}
		if got := blobGets()[before:]; len(got) != 0 {
			t.Errorf("resolving fetched blobs %v; layers should wait for Open", got)
		}
		if r.Name != "wf/api:1.4.0" || r.Source != ref {
			t.Errorf("name %q source %q", r.Name, r.Source)
		}
		if r.Descriptor.Digest != idxDigest || r.Descriptor.MediaType != types.OCIImageIndex {
			t.Errorf("descriptor %s %s, want the index %s", r.Descriptor.MediaType, r.Descriptor.Digest, idxDigest)
		}
		if r.SourceDigest != (v1.Hash{}) {
			t.Errorf("source digest %s for an unchanged index", r.SourceDigest)
		}
		if want := []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}; !slices.Equal(r.Platforms, want) {
			t.Errorf("platforms %v, want %v", r.Platforms, want)
		}
		// index + 3 × (manifest, config, own layer) + the shared layer once
		if len(r.Blobs) != 11 {
			t.Errorf("%d blobs, want 11", len(r.Blobs))
		}
		checkImageBlobs(t, r)
	})

	t.Run("one platform", func(t *testing.T) {
		r, err := ResolveImage(ctx, ImageSpec{Source: ref}, "", imageTestOptions("linux/arm64"))
		if err != nil {
			t.Fatal(err)
		}
		want := im.Manifests[1]
		if r.Descriptor.Digest != want.Digest || r.Descriptor.MediaType != types.OCIManifestSchema1 || r.Descriptor.Size != want.Size {
			t.Errorf("descriptor %+v, want the arm64 manifest %s", r.Descriptor, want.Digest)
		}
		if r.Descriptor.Platform == nil || r.Descriptor.Platform.Architecture != "arm64" {
			t.Errorf("descriptor platform %v", r.Descriptor.Platform)
		}
		if r.SourceDigest != idxDigest {
			t.Errorf("source digest %s, want the index %s", r.SourceDigest, idxDigest)
		}
		if !slices.Equal(r.Platforms, []string{"linux/arm64"}) {
			t.Errorf("platforms %v", r.Platforms)
		}
		if len(r.Blobs) != 4 {
			t.Errorf("%d blobs, want manifest, config and two layers", len(r.Blobs))
		}
		checkImageBlobs(t, r)
	})

	t.Run("variant", func(t *testing.T) {
		r, err := ResolveImage(ctx, ImageSpec{Source: ref}, "", imageTestOptions("linux/arm/v7"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Descriptor.Digest != im.Manifests[2].Digest || !slices.Equal(r.Platforms, []string{"linux/arm/v7"}) {
			t.Errorf("got %s %v, want the arm/v7 manifest", r.Descriptor.Digest, r.Platforms)
		}
		checkImageBlobs(t, r)
	})

	t.Run("two of three", func(t *testing.T) {
		r, err := ResolveImage(ctx, ImageSpec{Source: ref}, "", imageTestOptions("linux/amd64", "linux/arm64"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Descriptor.MediaType != types.OCIImageIndex || r.Descriptor.Digest == idxDigest {
			t.Errorf("descriptor %s %s, want a new index", r.Descriptor.MediaType, r.Descriptor.Digest)
		}
		if r.SourceDigest != idxDigest {
			t.Errorf("source digest %s, want %s", r.SourceDigest, idxDigest)
		}
		if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(r.Platforms, want) {
			t.Errorf("platforms %v, want %v", r.Platforms, want)
		}
		content := checkImageBlobs(t, r)
		narrowed, err := v1.ParseIndexManifest(bytes.NewReader(content[r.Descriptor.Digest]))
		if err != nil {
			t.Fatal(err)
		}
		if len(narrowed.Manifests) != 2 || narrowed.Manifests[0].Digest != im.Manifests[0].Digest || narrowed.Manifests[1].Digest != im.Manifests[1].Digest {
			t.Errorf("narrowed index lists %v", narrowed.Manifests)
		}
		if len(r.Blobs) != 8 {
			t.Errorf("%d blobs, want index + 2 × (manifest, config, layer) + shared layer", len(r.Blobs))
		}
	})

	t.Run("unavailable platform", func(t *testing.T) {
		_, err := ResolveImage(ctx, ImageSpec{Source: ref}, "", imageTestOptions("linux/s390x"))
		if !errors.Is(err, ErrImagePlatform) {
			t.Fatalf("err %v, want ErrImagePlatform", err)
		}
		for _, s := range []string{ref, "linux/s390x", "linux/amd64, linux/arm64, linux/arm/v7"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not mention %q", err, s)
			}
		}
	})

	t.Run("by digest", func(t *testing.T) {
		dref := host + "/wf/api@" + idxDigest.String()
		r, err := ResolveImage(ctx, ImageSpec{Source: dref}, "", imageTestOptions())
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != "wf/api@"+idxDigest.String() || r.Descriptor.Digest != idxDigest {
			t.Errorf("name %q digest %s", r.Name, r.Descriptor.Digest)
		}
		tdref := "docker://" + host + "/wf/api:1.4.0@" + idxDigest.String()
		r, err = ResolveImage(ctx, ImageSpec{Source: tdref}, "", imageTestOptions("linux/amd64"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != "wf/api:1.4.0@"+idxDigest.String() || r.Descriptor.Digest != im.Manifests[0].Digest {
			t.Errorf("name %q digest %s", r.Name, r.Descriptor.Digest)
		}
	})

	t.Run("spec name", func(t *testing.T) {
		r, err := ResolveImage(ctx, ImageSpec{Source: ref, Name: "platform/api:1.4"}, "", imageTestOptions())
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != "platform/api:1.4" {
			t.Errorf("name %q", r.Name)
		}
	})
}

func TestImageRegistrySingle(t *testing.T) {
	host, blobGets := imageTestRegistry(t)
	img := imageTestImage(t, "linux/amd64", imageTestLayer(t, "one"), imageTestLayer(t, "two"))
	ref := host + "/wf/worker:2.0"
	if err := remote.Write(imageTestRef(t, ref), img); err != nil {
		t.Fatal(err)
	}
	digest := imageTestDigest(t, img)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	for _, platforms := range [][]string{nil, {"linux/amd64"}, {"linux/arm64", "linux/amd64"}} {
		before := len(blobGets())
		r, err := ResolveImage(ctx, ImageSpec{Source: ref}, "", imageTestOptions(platforms...))
		if err != nil {
			t.Fatalf("platforms %v: %v", platforms, err)
		}
		for _, p := range blobGets()[before:] {
			for _, l := range layers {
				if strings.HasSuffix(p, imageTestDigest(t, l).String()) {
					t.Errorf("resolving fetched layer %s; it should wait for Open", p)
				}
			}
		}
		if r.Name != "wf/worker:2.0" || r.Descriptor.Digest != digest || r.SourceDigest != (v1.Hash{}) {
			t.Errorf("platforms %v: name %q digest %s source %s", platforms, r.Name, r.Descriptor.Digest, r.SourceDigest)
		}
		if !slices.Equal(r.Platforms, []string{"linux/amd64"}) || r.Descriptor.Platform == nil {
			t.Errorf("platforms %v: resolved platforms %v, descriptor %v", platforms, r.Platforms, r.Descriptor.Platform)
		}
		if len(r.Blobs) != 4 {
			t.Errorf("%d blobs, want 4", len(r.Blobs))
		}
		checkImageBlobs(t, r)
	}

	_, err = ResolveImage(ctx, ImageSpec{Source: ref}, "", imageTestOptions("linux/arm64"))
	if !errors.Is(err, ErrImagePlatform) || !strings.Contains(err.Error(), "linux/amd64") {
		t.Errorf("err %v, want ErrImagePlatform naming linux/amd64", err)
	}
}

func TestImageRegistryErrors(t *testing.T) {
	ctx := context.Background()
	host, _ := imageTestRegistry(t)

	t.Run("not found", func(t *testing.T) {
		src := host + "/wf/missing:1.0"
		_, err := ResolveImage(ctx, ImageSpec{Source: src}, "", imageTestOptions())
		if !errors.Is(err, ErrImageNotFound) || !strings.Contains(err.Error(), src) {
			t.Errorf("err %v, want ErrImageNotFound naming %s", err, src)
		}
	})

	t.Run("unauthorized", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
		}))
		defer srv.Close()
		src := strings.TrimPrefix(srv.URL, "http://") + "/wf/api:1.0"
		_, err := ResolveImage(ctx, ImageSpec{Source: src}, "", imageTestOptions())
		if !errors.Is(err, ErrImageUnauthorized) || !strings.Contains(err.Error(), "docker login") {
			t.Errorf("err %v, want ErrImageUnauthorized with a hint to log in", err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		addr := strings.TrimPrefix(srv.URL, "http://")
		srv.Close()
		src := addr + "/wf/api:1.0"
		_, err := ResolveImage(ctx, ImageSpec{Source: src}, "", imageTestOptions())
		if !errors.Is(err, ErrRegistryUnreachable) || !strings.Contains(err.Error(), src) {
			t.Errorf("err %v, want ErrRegistryUnreachable naming %s", err, src)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
		defer srv.Close()
		src := strings.TrimPrefix(srv.URL, "https://") + "/wf/api:1.0"
		img := imageTestImage(t, "linux/amd64", imageTestLayer(t, "tls"))
		if err := remote.Write(imageTestRef(t, src), img, remote.WithTransport(srv.Client().Transport)); err != nil {
			t.Fatal(err)
		}
		opts := imageTestOptions()
		opts.PlainHTTP = false
		_, err := ResolveImage(ctx, ImageSpec{Source: src}, "", opts)
		if !errors.Is(err, ErrRegistryUnreachable) || !strings.Contains(err.Error(), "Insecure") {
			t.Errorf("err %v, want ErrRegistryUnreachable with a hint about the certificate", err)
		}
		opts.Insecure = true
		r, err := ResolveImage(ctx, ImageSpec{Source: src}, "", opts)
		if err != nil {
			t.Fatalf("with Insecure: %v", err)
		}
		checkImageBlobs(t, r)
	})

	t.Run("bad platform", func(t *testing.T) {
		_, err := ResolveImage(ctx, ImageSpec{Source: host + "/wf/api:1.0"}, "", imageTestOptions("amd64"))
		if err == nil || !strings.Contains(err.Error(), "os/arch") {
			t.Errorf("err %v, want a platform syntax error", err)
		}
	})

	t.Run("unsupported transport", func(t *testing.T) {
		_, err := ResolveImage(ctx, ImageSpec{Source: "oci-archive:images/x.tar"}, "", imageTestOptions())
		if !errors.Is(err, ErrImageSource) {
			t.Errorf("err %v, want ErrImageSource", err)
		}
	})

	t.Run("canceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := ResolveImage(cctx, ImageSpec{Source: host + "/wf/api:1.0"}, "", imageTestOptions())
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
	})
}
