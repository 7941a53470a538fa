package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestProgressImages: each image fetched gets a line of its own, redrawn
// in place, and the bar of the build's phases waits until every image is
// fetched.
func TestProgressImages(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, label: "building"}
	p.image("reg/a:1", 0, 100)
	p.image("reg/b:1", 0, 50)
	p.phase("scan", 10, 1000)
	if p.bar != nil {
		t.Fatal("the phase bar started while images were being fetched")
	}
	p.image("reg/a:1", 100, 100)
	p.image("reg/b:1", 50, 50)
	out := buf.String()
	final := "\r\x1b[Kfetching reg/a:1  100 B of 100 B (100%)\n\r\x1b[Kfetching reg/b:1  50 B of 50 B (100%)\n"
	if !strings.HasSuffix(out, final) || !strings.Contains(out, "\x1b[1A") {
		t.Errorf("output %q does not end with both images' lines, redrawn in place", out)
	}
	p.phase("scan", 20, 1000)
	if p.bar == nil {
		t.Fatal("the phase bar did not start once the images were fetched")
	}
	p.finish()
}
