package bundle_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/bundle"
	"ferry/fixtures"
)

// TestDeltaBundle: an update built against a base carries only what the
// base lacks, names the base by digest, and verifies on its own.
func TestDeltaBundle(t *testing.T) {
	k := keys(t)
	dir := t.TempDir()
	base, err := buildProject(filepath.Join(dir), k.signers[:1], fixtures.ProjectOptions{Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := fixtures.WriteProject(filepath.Join(dir, "project-2"), fixtures.ProjectOptions{Version: "1.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := bundle.LoadSpec(p.SpecPath)
	if err != nil {
		t.Fatal(err)
	}
	full, err := bundle.Build(context.Background(), filepath.Join(dir, "full.ferry"), bundle.BuildOptions{Spec: spec, Signers: k.signers[:1], Created: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	delta, err := bundle.Build(context.Background(), filepath.Join(dir, "delta.ferry"), bundle.BuildOptions{Spec: spec, Signers: k.signers[:1], Created: time.Unix(1, 0), Base: base.path})
	if err != nil {
		t.Fatal(err)
	}
	m := delta.Manifest
	if m.Base == nil || m.Base.Digest != base.res.Digest || m.Base.Version != "1.0.0" {
		t.Fatalf("base %+v, want %s", m.Base, base.res.Digest)
	}
	if len(m.BaseBlobs) == 0 || delta.Size >= full.Size {
		t.Fatalf("delta of %d bytes with %d base blobs; the full bundle is %d", delta.Size, len(m.BaseBlobs), full.Size)
	}
	carried := map[string]bool{}
	for _, e := range m.Entries {
		carried[e.Digest] = true
	}
	for _, d := range m.BaseBlobs {
		if carried[d] {
			t.Errorf("%s is both carried and expected from the base", d)
		}
	}
	v, err := bundle.VerifyFile(context.Background(), filepath.Join(dir, "delta.ferry"), bundle.VerifyOptions{Trust: trust(t, 1, 1), Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	if v.Digest != delta.Digest || v.Size != delta.Size || len(v.Manifest.BaseBlobs) != len(m.BaseBlobs) {
		t.Fatalf("verified %s (%d bytes, %d base blobs), built %s (%d bytes)", v.Digest, v.Size, len(v.Manifest.BaseBlobs), delta.Digest, delta.Size)
	}
	t.Logf("full %d bytes, delta %d bytes (%d blobs from the base)", full.Size, delta.Size, len(m.BaseBlobs))

	// A base of another version order is refused at build time.
	if _, err := bundle.Build(context.Background(), filepath.Join(dir, "bad.ferry"), bundle.BuildOptions{Spec: spec, Signers: k.signers[:1], Base: filepath.Join(dir, "full.ferry")}); err == nil {
		t.Fatal("a delta against a base of the same version was built")
	}
}

// TestDeltaHeadRegion: an update reserves room in its head for the entries
// it carries, not for the content its base holds, so that a small update
// is not padded with room for what it leaves out.
func TestDeltaHeadRegion(t *testing.T) {
	k := keys(t)
	dir := t.TempDir()
	opts := fixtures.ProjectOptions{Version: "1.0.0"}
	base, err := buildProject(filepath.Join(dir, "base"), k.signers[:1], opts)
	if err != nil {
		t.Fatal(err)
	}
	// The same project as 1.1.0 with one file changed: everything else
	// comes from the base.
	p, err := fixtures.WriteProject(filepath.Join(dir, "next"), opts)
	if err != nil {
		t.Fatal(err)
	}
	specData, err := os.ReadFile(p.SpecPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.SpecPath, bytes.Replace(specData, []byte("version: 1.0.0"), []byte("version: 1.1.0"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(filepath.Dir(p.SpecPath), "etc", "api.conf")
	confData, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, append(confData, "# changed\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := bundle.LoadSpec(p.SpecPath)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "delta.ferry")
	res, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: spec, Signers: k.signers[:1], Base: base.path})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	padding := 0
	for _, e := range readEntries(t, data) {
		if e.name == bundle.PaddingPath {
			padding = len(e.data)
		}
	}
	// What may remain: the room kept for signatures that vary in length
	// and for a changed file that might have become a patch.
	if padding > 1024 {
		t.Fatalf("%d bytes of padding in a delta of %d bytes with %d base blobs", padding, len(data), len(res.Manifest.BaseBlobs))
	}
	t.Logf("%d bytes of padding in a delta of %d bytes carrying %d entries, %d base blobs", padding, len(data), len(res.Manifest.Entries), len(res.Manifest.BaseBlobs))
	v, err := bundle.VerifyFile(context.Background(), out, bundle.VerifyOptions{Trust: trust(t, 1, 1), Deep: true})
	if err != nil {
		t.Fatal(err)
	}
	if v.Digest != res.Digest || v.Size != int64(len(data)) {
		t.Fatalf("verified %s (%d bytes), built %s (%d bytes)", v.Digest, v.Size, res.Digest, len(data))
	}
}
