package bundle

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the patches in testdata/patch")

// goldenInputs is the fixed base and content of the golden patches: a
// change in place, an insertion of less than the margin, and growth past
// the end of the base, so that the last segments have no dictionary.
func goldenInputs() (base, content []byte) {
	base = binaryLike(11, 50<<10+77)
	content = bytes.Clone(base[:20<<10])
	content = append(content, "inserted by the golden input"...)
	content = append(content, base[20<<10:]...)
	copy(content[5<<10:], "changed in place")
	return base, append(content, binaryLike(12, 20<<10)...)
}

// TestPatchGolden: the patches of a fixed input are byte for byte the ones
// in testdata/patch, whole and segmented, for one worker and for several:
// the format and the encoder's choices do not change unseen.
func TestPatchGolden(t *testing.T) {
	base, content := goldenInputs()
	var enc patchEncoder
	defer enc.close()
	whole, err := enc.encode(base, content)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "whole.zst", whole)
	dec, err := NewPatchReader(bytes.NewReader(whole), base)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	if got, err := io.ReadAll(dec); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the whole patch does not decode to its content: %v", err)
	}
	for _, workers := range []int{1, 3} {
		seg := encodeWorkers(t, base, content, testSegSize, testSegMargin, workers)
		checkGolden(t, "seg.zst", seg)
		if got, _, err := decodeTest(seg, int64(len(content)), base); err != nil || !bytes.Equal(got, content) {
			t.Fatalf("the segmented patch does not decode to its content: %v", err)
		}
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "patch", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes that differ from the %d of %s", name, len(got), len(want), path)
	}
}
