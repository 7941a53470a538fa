package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"ferry/internal/oci"
)

// maxFuzzImageAlloc bounds what resolving one fuzzed image source may
// allocate. The inputs are a few kilobytes; a source that makes the builder
// allocate more than this from so little is a memory bomb.
const maxFuzzImageAlloc = 256 << 20

// fuzzImageOf is an OCI image for linux/amd64 with one layer.
func fuzzImageOf(tb testing.TB, content string) v1.Image {
	return testImage(tb, "linux/amd64", testLayer(tb, content))
}

// fuzzArchive is a docker save archive of the images, by tag.
func fuzzArchive(tb testing.TB, images map[string]v1.Image) []byte {
	tb.Helper()
	refs := map[name.Reference]v1.Image{}
	for tag, img := range images {
		ref, err := name.ParseReference(tag)
		if err != nil {
			tb.Fatal(err)
		}
		refs[ref] = img
	}
	var buf bytes.Buffer
	if err := tarball.MultiRefWrite(refs, &buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

type fuzzTarEntry struct {
	name     string
	body     []byte
	typeflag byte
	link     string
}

// fuzzTar writes the entries as a tar, in order.
func fuzzTar(tb testing.TB, entries ...fuzzTarEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	writeFuzzEntries(tb, tw, entries...)
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// writeFuzzEntries writes the entries to tw; a zero typeflag is a regular
// file.
func writeFuzzEntries(tb testing.TB, tw *tar.Writer, entries ...fuzzTarEntry) {
	tb.Helper()
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: e.typeflag, Linkname: e.link}
		if e.typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if err := tw.WriteHeader(hdr); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(e.body); err != nil {
			tb.Fatal(err)
		}
	}
}

// fuzzSavedArchive is an archive as docker save writes it: an uncompressed
// layer, a config and manifest.json, with the tags given (none for an
// image saved by ID).
func fuzzSavedArchive(tb testing.TB, tags ...string) []byte {
	tb.Helper()
	layer := fuzzTar(tb, fuzzTarEntry{name: "etc/app.conf", body: []byte("setting = value\n")})
	sum := sha256.Sum256(layer)
	cfg, err := json.Marshal(v1.ConfigFile{
		Architecture: "arm64",
		OS:           "linux",
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	m, err := json.Marshal(tarball.Manifest{{Config: "config.json", RepoTags: tags, Layers: []string{"l1/layer.tar"}}})
	if err != nil {
		tb.Fatal(err)
	}
	return fuzzTar(tb,
		fuzzTarEntry{name: "l1/layer.tar", body: layer},
		fuzzTarEntry{name: "config.json", body: cfg},
		fuzzTarEntry{name: "manifest.json", body: m},
	)
}

// fuzzSparseArchive is a docker save archive whose config.json is a GNU
// sparse file of size bytes, all of them a hole: the archive stores none of
// them, yet reading the entry yields size zero bytes.
func fuzzSparseArchive(tb testing.TB, size int64) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	writeFuzzEntries(tb, tw,
		fuzzTarEntry{name: "manifest.json", body: []byte(`[{"Config":"config.json","RepoTags":["wf/sparse:1"],"Layers":["layer.tar"]}]`)},
		fuzzTarEntry{name: "layer.tar", body: fuzzTar(tb, fuzzTarEntry{name: "a", body: []byte("a")})},
	)
	if err := tw.Flush(); err != nil {
		tb.Fatal(err)
	}
	at := buf.Len()
	if err := tw.WriteHeader(&tar.Header{Name: "config.json", Mode: 0o644, Typeflag: tar.TypeGNUSparse, Format: tar.FormatGNU}); err != nil {
		tb.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	// archive/tar writes no sparse files, so the header's real size field
	// (offset 483) is filled in by hand, and its checksum (offset 148) made again.
	hdr := buf.Bytes()[at : at+512]
	copy(hdr[483:495], fmt.Sprintf("%011o\x00", size))
	copy(hdr[148:156], "        ")
	sum := 0
	for _, c := range hdr {
		sum += int(c)
	}
	copy(hdr[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return buf.Bytes()
}

// checkFuzzResolved checks what Resolve made of a fuzzed source: it
// may fail, but not allocate without bound, and what it accepts must be an
// image the builder can store and the appliance's registry serve: a valid
// name, each blob listed once, the top manifest among them, and every
// manifest and index blob exactly the bytes its digest names.
func checkFuzzResolved(t *testing.T, resolve func() (*Resolved, error)) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := resolve()
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > maxFuzzImageAlloc {
		t.Fatalf("resolving allocated %d MiB (err %v)", n>>20, err)
	}
	if err != nil {
		return
	}
	if _, err := oci.ParseRefName(r.Name); err != nil {
		t.Fatalf("resolved to name %q, which the registry would not serve: %v", r.Name, err)
	}
	seen := map[v1.Hash]bool{}
	for _, b := range r.Blobs {
		if seen[b.Digest] {
			t.Fatalf("blob %s listed twice", b.Digest)
		}
		seen[b.Digest] = true
		if mt := types.MediaType(b.MediaType); !mt.IsImage() && !mt.IsIndex() {
			continue
		}
		rc, err := b.Open()
		if err != nil {
			t.Fatalf("manifest %s: %v", b.Digest, err)
		}
		h, n, err := v1.SHA256(rc)
		rc.Close()
		if err != nil || h != b.Digest || n != b.Size {
			t.Fatalf("manifest %s of %d bytes reads as %s, %d bytes: %v", b.Digest, b.Size, h, n, err)
		}
	}
	if !seen[r.Descriptor.Digest] {
		t.Fatalf("the top manifest %s is not among the blobs", r.Descriptor.Digest)
	}
}

// FuzzImageArchive resolves a fuzzed docker save archive, with and without
// a tag to choose the image by, and checks the result with
// checkFuzzResolved. The seeds are archives as go-containerregistry and
// docker save write them, and the tricks a tar allows: links, a link
// cycle, an entry named twice, and a sparse config.json of a gigabyte in
// an archive of a few kilobytes, which once made the builder allocate two
// gigabytes.
func FuzzImageArchive(f *testing.F) {
	img := fuzzImageOf(f, "archive layer")
	other := fuzzImageOf(f, "another image")
	f.Add(fuzzArchive(f, map[string]v1.Image{"registry.example.com/wf/legacy:2.0": img}), "")
	f.Add(fuzzArchive(f, map[string]v1.Image{"wf/a:1": img, "wf/b:1": other}), "wf/b:1")
	f.Add(fuzzSavedArchive(f), "")
	f.Add(fuzzSavedArchive(f, "wf/saved:1", "wf/saved:latest"), "wf/saved:latest")
	f.Add(fuzzTar(f,
		fuzzTarEntry{name: "manifest.json", typeflag: tar.TypeSymlink, link: "m.json"},
		fuzzTarEntry{name: "m.json", typeflag: tar.TypeLink, link: "manifest.json"},
	), "")
	f.Add(fuzzTar(f,
		fuzzTarEntry{name: "manifest.json", body: []byte(`[{"Config":"c","RepoTags":["x:1"],"Layers":["c","c"]}]`)},
		fuzzTarEntry{name: "c", body: []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}`)},
		fuzzTarEntry{name: "c", body: []byte("{}")},
	), "x:1")
	f.Add(fuzzSparseArchive(f, 1<<30), "")

	dir := f.TempDir()
	opts := Options{Keychain: authn.NewMultiKeychain()}
	f.Fuzz(func(t *testing.T, data []byte, ref string) {
		if err := os.WriteFile(filepath.Join(dir, "image.tar"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		src := "docker-archive:image.tar"
		if ref != "" {
			src += ":" + ref
		}
		checkFuzzResolved(t, func() (*Resolved, error) {
			return resolveSpec(context.Background(), testSpec{Source: src}, dir, opts)
		})
	})
}

// FuzzImageLayout resolves an OCI image layout whose index.json, one
// manifest (or index) and one config are fuzzed, with and without a
// platform filter, and checks the result with checkFuzzResolved.
//
// A fuzzed document can refer to another only by its digest, which the
// fuzzer cannot guess, so the documents are written with placeholders: in
// the manifest, $C and $c stand for the config's digest and size and $L and
// $l for those of a layer the layout holds; in index.json, $M and $m stand
// for the manifest's.
func FuzzImageLayout(f *testing.F) {
	layer := testLayer(f, "layout layer")
	layerData, err := layer.Compressed()
	if err != nil {
		f.Fatal(err)
	}
	layerBytes, err := io.ReadAll(layerData)
	if err != nil {
		f.Fatal(err)
	}
	layerSum := sha256.Sum256(layerBytes)
	layerDigest := "sha256:" + hex.EncodeToString(layerSum[:])

	const (
		config     = `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`
		manifest   = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$C","size":$c},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$L","size":$l}]}`
		index      = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$M","size":$m,"annotations":{"org.opencontainers.image.ref.name":"1.0"}}]}`
		platIndex  = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$C","size":$c,"platform":{"os":"linux","architecture":"amd64"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$C","size":$c,"platform":{"os":"linux","architecture":"arm64"}}]}`
		topOfIndex = `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"$M","size":$m,"annotations":{"org.opencontainers.image.ref.name":"registry.example.com/wf/multi:2.0"}}]}`
		ofDocs     = `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$M","size":$m,"annotations":{"io.containerd.image.name":"wf/api:1.0","org.opencontainers.image.ref.name":"1.0"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$M","size":$m}]}`
	)
	f.Add([]byte(index), []byte(manifest), []byte(config), "", false)
	f.Add([]byte(index), []byte(manifest), []byte(config), "1.0", true)
	f.Add([]byte(ofDocs), []byte(manifest), []byte(config), "1.0", false)
	f.Add([]byte(topOfIndex), []byte(platIndex), []byte(manifest), "", false)
	f.Add([]byte(topOfIndex), []byte(platIndex), []byte(manifest), "registry.example.com/wf/multi:2.0", true)
	f.Add([]byte(`{"schemaVersion":2,"manifests":[]}`), []byte{}, []byte{}, "sha256:"+strings.Repeat("0", 64), false)

	opts := Options{Keychain: authn.NewMultiKeychain()}
	narrowed := Options{Keychain: authn.NewMultiKeychain(), Platforms: []string{"linux/amd64", "linux/arm64/v8"}}
	f.Fuzz(func(t *testing.T, indexJSON, manifestJSON, configJSON []byte, ref string, narrow bool) {
		specDir := t.TempDir()
		blobs := filepath.Join(specDir, "layout", "blobs", "sha256")
		if err := os.MkdirAll(blobs, 0o755); err != nil {
			t.Fatal(err)
		}
		put := func(data []byte) (digest, size string) {
			sum := sha256.Sum256(data)
			if err := os.WriteFile(filepath.Join(blobs, hex.EncodeToString(sum[:])), data, 0o644); err != nil {
				t.Fatal(err)
			}
			return "sha256:" + hex.EncodeToString(sum[:]), strconv.Itoa(len(data))
		}
		put(layerBytes)
		c, cn := put(configJSON)
		m, mn := put([]byte(strings.NewReplacer("$C", c, "$c", cn, "$L", layerDigest, "$l", strconv.Itoa(len(layerBytes))).Replace(string(manifestJSON))))
		index := []byte(strings.NewReplacer("$M", m, "$m", mn).Replace(string(indexJSON)))
		if err := os.WriteFile(filepath.Join(specDir, "layout", "index.json"), index, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(specDir, "layout", "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			t.Fatal(err)
		}
		src := "oci:layout"
		if ref != "" {
			src += ":" + ref
		}
		o := opts
		if narrow {
			o = narrowed
		}
		checkFuzzResolved(t, func() (*Resolved, error) {
			return resolveSpec(context.Background(), testSpec{Source: src}, specDir, o)
		})
	})
}
