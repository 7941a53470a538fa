package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/bundle"
	"ferry/bundle/spec"
	"ferry/fixtures"
)

// manyFiles is a release of many files for TestDeltaManyChangedFiles:
// name to content, and the spec that installs each at files/NAME.
type manyFiles map[string][]byte

func (files manyFiles) project(t *testing.T, dir, version string) *spec.Spec {
	t.Helper()
	var spec strings.Builder
	fmt.Fprintf(&spec, "apiVersion: ferry/v1\nkind: Bundle\nmetadata: {name: many, version: %s}\ncomponents:\n  - name: app\n    files:\n", version)
	for name, content := range files {
		if err := os.MkdirAll(filepath.Join(dir, "files"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "files", name), content, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&spec, "      - {src: files/%s, dest: files/%s}\n", name, name)
	}
	if err := os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := bundle.LoadSpec(filepath.Join(dir, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDeltaManyChangedFiles: an update that changes many files patches
// each against its base (whole or by segments, as its size asks), carries
// new content compressed and unchanged content not at all, and is the
// same whatever the number of workers that build it; the installing
// Reader rebuilds every changed file from its patch and base.
func TestDeltaManyChangedFiles(t *testing.T) {
	k := keys(t)
	dir := t.TempDir()
	content := func(kind string, size int, seed string) []byte {
		path := filepath.Join(dir, "seed-"+seed)
		if err := fixtures.WriteFile(path, kind, int64(size), seed); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v1 := manyFiles{}
	for i := range 10 {
		kind := fixtures.KindText
		if i%2 == 1 {
			kind = fixtures.KindBinary
		}
		v1[fmt.Sprintf("f%02d", i)] = content(kind, 20<<10+i<<10, fmt.Sprint("f", i))
	}
	v1["big"] = content(fixtures.KindBinary, 200<<10, "big") // over smallSegments.WholeMax
	v1["gone"] = content(fixtures.KindText, 8<<10, "gone")

	v2 := manyFiles{}
	changed := map[string]bool{}
	for name, b := range v1 {
		if name == "gone" {
			continue
		}
		b = bytes.Clone(b)
		if name == "big" || name[len(name)-1]%3 != 0 {
			copy(b[len(b)/2:], "changed in release 1.1.0 of "+name)
			changed[name] = true
		}
		v2[name] = b
	}
	v2["new"] = content(fixtures.KindText, 30<<10, "new")

	basePath := filepath.Join(dir, "base.ferry")
	build := func(out string, spec *spec.Spec, base string, workers int) *bundle.BuildResult {
		res, err := bundle.Build(context.Background(), out, bundle.BuildOptions{
			Spec: spec, Signers: k.signers[:1], Created: time.Unix(1, 0), Base: base, Patch: smallSegments, Workers: workers,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	build(basePath, v1.project(t, filepath.Join(dir, "p1"), "1.0.0"), "", 0)
	spec := v2.project(t, filepath.Join(dir, "p2"), "1.1.0")
	update := filepath.Join(dir, "update-1.ferry")
	res := build(update, spec, basePath, 1)

	digest := func(b []byte) string {
		sum := sha256.Sum256(b)
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	byDigest := map[string]bundle.Entry{}
	for _, e := range res.Manifest.Entries {
		byDigest[e.Digest] = e
	}
	for name, b := range v2 {
		e, carried := byDigest[digest(b)]
		switch {
		case name == "big":
			if e.Encoding != bundle.EncodingZstdPatchSeg || e.PatchBase != digest(v1[name]) {
				t.Errorf("%s: entry %+v, want a segmented patch against its base", name, e)
			}
		case changed[name]:
			if e.Encoding != bundle.EncodingZstdPatch || e.PatchBase != digest(v1[name]) {
				t.Errorf("%s: entry %+v, want a patch against its base", name, e)
			}
		case name == "new":
			if e.Encoding != bundle.EncodingZstd {
				t.Errorf("%s: entry %+v, want it compressed", name, e)
			}
		case carried:
			t.Errorf("%s is unchanged, yet the update carries it: %+v", name, e)
		}
	}

	for _, workers := range []int{2, 4} {
		other := build(filepath.Join(dir, fmt.Sprintf("update-%d.ferry", workers)), spec, basePath, workers)
		if fmt.Sprint(other.Manifest.Entries) != fmt.Sprint(res.Manifest.Entries) {
			t.Errorf("built with %d workers, the update's entries are\n%v\nwith one\n%v", workers, other.Manifest.Entries, res.Manifest.Entries)
		}
	}

	data, err := os.ReadFile(update)
	if err != nil {
		t.Fatal(err)
	}
	bases := map[string]*memoryBase{}
	for _, b := range v1 {
		bases[digest(b)] = &memoryBase{data: b}
	}
	got, err := readPatchedFrom(data, trust(t, 1, 1), func(d string) (bundle.PatchBaseContent, error) {
		if b, ok := bases[d]; ok {
			return b, nil
		}
		return nil, fmt.Errorf("no base %s", d)
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range changed {
		if !bytes.Equal(got[digest(v2[name])], v2[name]) {
			t.Errorf("%s: the Reader did not rebuild release 1.1.0's content", name)
		}
	}
}
