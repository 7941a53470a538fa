package image

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
	host, blobGets := testRegistry(t)
	idx := testIndex(t, "linux/amd64", "linux/arm64", "linux/arm/v7")
	ref := host + "/wf/api:1.4.0"
	if err := remote.WriteIndex(testRef(t, ref), idx); err != nil {
		t.Fatal(err)
	}
	idxDigest := testDigest(t, idx)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("all platforms", func(t *testing.T) {
		before := len(blobGets())
		r, err := resolveSpec(ctx, testSpec{Source: ref}, "", testOptions())
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
		checkBlobs(t, r)
	})

	t.Run("one platform", func(t *testing.T) {
		r, err := resolveSpec(ctx, testSpec{Source: ref}, "", testOptions("linux/arm64"))
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
		checkBlobs(t, r)
	})

	t.Run("variant", func(t *testing.T) {
		r, err := resolveSpec(ctx, testSpec{Source: ref}, "", testOptions("linux/arm/v7"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Descriptor.Digest != im.Manifests[2].Digest || !slices.Equal(r.Platforms, []string{"linux/arm/v7"}) {
			t.Errorf("got %s %v, want the arm/v7 manifest", r.Descriptor.Digest, r.Platforms)
		}
		checkBlobs(t, r)
	})

	t.Run("two of three", func(t *testing.T) {
		r, err := resolveSpec(ctx, testSpec{Source: ref}, "", testOptions("linux/amd64", "linux/arm64"))
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
		content := checkBlobs(t, r)
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
		_, err := resolveSpec(ctx, testSpec{Source: ref}, "", testOptions("linux/s390x"))
		if !errors.Is(err, errPlatform) {
			t.Fatalf("err %v, want errPlatform", err)
		}
		for _, s := range []string{ref, "linux/s390x", "linux/amd64, linux/arm64, linux/arm/v7"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not mention %q", err, s)
			}
		}
	})

	t.Run("by digest", func(t *testing.T) {
		dref := host + "/wf/api@" + idxDigest.String()
		r, err := resolveSpec(ctx, testSpec{Source: dref}, "", testOptions())
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != "wf/api@"+idxDigest.String() || r.Descriptor.Digest != idxDigest {
			t.Errorf("name %q digest %s", r.Name, r.Descriptor.Digest)
		}
		tdref := "docker://" + host + "/wf/api:1.4.0@" + idxDigest.String()
		r, err = resolveSpec(ctx, testSpec{Source: tdref}, "", testOptions("linux/amd64"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != "wf/api:1.4.0@"+idxDigest.String() || r.Descriptor.Digest != im.Manifests[0].Digest {
			t.Errorf("name %q digest %s", r.Name, r.Descriptor.Digest)
		}
	})

	t.Run("spec name", func(t *testing.T) {
		r, err := resolveSpec(ctx, testSpec{Source: ref, Name: "platform/api:1.4"}, "", testOptions())
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != "platform/api:1.4" {
			t.Errorf("name %q", r.Name)
		}
	})
}

func TestImageRegistrySingle(t *testing.T) {
	host, blobGets := testRegistry(t)
	img := testImage(t, "linux/amd64", testLayer(t, "one"), testLayer(t, "two"))
	ref := host + "/wf/worker:2.0"
	if err := remote.Write(testRef(t, ref), img); err != nil {
		t.Fatal(err)
	}
	digest := testDigest(t, img)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	for _, platforms := range [][]string{nil, {"linux/amd64"}, {"linux/arm64", "linux/amd64"}} {
		before := len(blobGets())
		r, err := resolveSpec(ctx, testSpec{Source: ref}, "", testOptions(platforms...))
		if err != nil {
			t.Fatalf("platforms %v: %v", platforms, err)
		}
		for _, p := range blobGets()[before:] {
			for _, l := range layers {
				if strings.HasSuffix(p, testDigest(t, l).String()) {
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
		checkBlobs(t, r)
	}

	_, err = resolveSpec(ctx, testSpec{Source: ref}, "", testOptions("linux/arm64"))
	if !errors.Is(err, errPlatform) || !strings.Contains(err.Error(), "linux/amd64") {
		t.Errorf("err %v, want errPlatform naming linux/amd64", err)
	}
}

func TestImageRegistryErrors(t *testing.T) {
	ctx := context.Background()
	host, _ := testRegistry(t)

	t.Run("not found", func(t *testing.T) {
		src := host + "/wf/missing:1.0"
		_, err := resolveSpec(ctx, testSpec{Source: src}, "", testOptions())
		if !errors.Is(err, errNotFound) || !strings.Contains(err.Error(), src) {
			t.Errorf("err %v, want errNotFound naming %s", err, src)
		}
	})

	t.Run("unauthorized", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
		}))
		defer srv.Close()
		src := strings.TrimPrefix(srv.URL, "http://") + "/wf/api:1.0"
		_, err := resolveSpec(ctx, testSpec{Source: src}, "", testOptions())
		if !errors.Is(err, errUnauthorized) || !strings.Contains(err.Error(), "docker login") {
			t.Errorf("err %v, want errUnauthorized with a hint to log in", err)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		addr := strings.TrimPrefix(srv.URL, "http://")
		srv.Close()
		src := addr + "/wf/api:1.0"
		_, err := resolveSpec(ctx, testSpec{Source: src}, "", testOptions())
		if !errors.Is(err, errUnreachable) || !strings.Contains(err.Error(), src) {
			t.Errorf("err %v, want errUnreachable naming %s", err, src)
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
		defer srv.Close()
		src := strings.TrimPrefix(srv.URL, "https://") + "/wf/api:1.0"
		img := testImage(t, "linux/amd64", testLayer(t, "tls"))
		if err := remote.Write(testRef(t, src), img, remote.WithTransport(srv.Client().Transport)); err != nil {
			t.Fatal(err)
		}
		opts := testOptions()
		opts.PlainHTTP = false
		_, err := resolveSpec(ctx, testSpec{Source: src}, "", opts)
		if !errors.Is(err, errUnreachable) || !strings.Contains(err.Error(), "Insecure") {
			t.Errorf("err %v, want errUnreachable with a hint about the certificate", err)
		}
		opts.Insecure = true
		r, err := resolveSpec(ctx, testSpec{Source: src}, "", opts)
		if err != nil {
			t.Fatalf("with Insecure: %v", err)
		}
		checkBlobs(t, r)
	})

	t.Run("bad platform", func(t *testing.T) {
		_, err := resolveSpec(ctx, testSpec{Source: host + "/wf/api:1.0"}, "", testOptions("amd64"))
		if err == nil || !strings.Contains(err.Error(), "os/arch") {
			t.Errorf("err %v, want a platform syntax error", err)
		}
	})

	t.Run("unsupported transport", func(t *testing.T) {
		_, err := resolveSpec(ctx, testSpec{Source: "oci-archive:images/x.tar"}, "", testOptions())
		if !errors.Is(err, errSource) {
			t.Errorf("err %v, want errSource", err)
		}
	})

	t.Run("canceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := resolveSpec(cctx, testSpec{Source: host + "/wf/api:1.0"}, "", testOptions())
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want context.Canceled", err)
		}
	})
}
