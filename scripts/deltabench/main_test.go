package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"ferry/bundle"
)

// TestScenariosSmall measures every scenario at a tiny scale: the bundles
// build, the installs succeed, the deltas leave out what the base has, and
// the report has a verdict for every target.
func TestScenariosSmall(t *testing.T) {
	cfg, err := newConfig(t.TempDir(), "256KiB", "", "64KiB", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.setRelease("2MiB", ""); err != nil {
		t.Fatal(err)
	}
	outs, err := measureAll(context.Background(), cfg, cfg.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 5 {
		t.Fatalf("%d outcomes", len(outs))
	}
	for _, o := range outs {
		if o.delta.Size >= o.full.Size || len(o.delta.Manifest.BaseBlobs) == 0 {
			t.Errorf("%s: delta of %d bytes with %d base blobs, full %d", o.sc.key, o.delta.Size, len(o.delta.Manifest.BaseBlobs), o.full.Size)
		}
		if o.changedBytes <= 0 || o.apply.median <= 0 || o.alone.median <= 0 {
			t.Errorf("%s: changed %d bytes, apply %s, alone %s", o.sc.key, o.changedBytes, o.apply.median, o.alone.median)
		}
	}
	// (a) carries the changed layer and not the nine others.
	if a := outs[0]; a.delta.Size > 2*a.changedBytes {
		t.Errorf("(a): delta of %d bytes for a changed layer of %d", a.delta.Size, a.changedBytes)
	}
	// (b) is small enough to travel as a patch.
	if e, ok := outs[1].delta.Manifest.EntryByDigest(outs[1].sc.patched); !ok || e.Encoding != bundle.EncodingZstdPatch {
		t.Errorf("(b): bin/app travels as %+v", e)
	}
	// (d) carries each changed file as a patch, and nothing else.
	d := outs[3]
	for _, c := range d.sc.changed {
		if e, ok := d.delta.Manifest.EntryByDigest(c); !ok || e.Encoding != bundle.EncodingZstdPatch {
			t.Errorf("(d): changed file %s travels as %+v", c, e)
		}
	}
	if n := len(d.delta.Manifest.Entries); n != len(d.sc.changed) {
		t.Errorf("(d): %d entries for %d changed files", n, len(d.sc.changed))
	}

	var out bytes.Buffer
	if err := report(&out, cfg, outs, time.Second); err != nil {
		t.Fatal(err)
	}
	verdicts := 0
	for line := range strings.Lines(out.String()) {
		if strings.HasSuffix(line, " ok\n") || strings.HasSuffix(line, " MISSED\n") {
			verdicts++
		}
	}
	if verdicts != 8 {
		t.Fatalf("%d verdicts, want 8:\n%s", verdicts, out.String())
	}
	if !strings.Contains(out.String(), "the same at 512 MiB and 4 GiB") {
		t.Errorf("(e) has no target beside its figure:\n%s", out.String())
	}
	t.Log(out.String())
}
