package updates

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
	var enc WholeEncoder
	defer enc.Close()
	whole, err := enc.Encode(base, content)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "whole.zst", whole)
	checkApplies(t, Decoder{Size: int64(len(content)), Digest: digest(content)}, whole, base, content)
	for _, workers := range []int{1, 3} {
		seg := encodeWorkers(t, base, content, testSegSize, testSegMargin, workers)
		checkGolden(t, "seg.zst", seg)
		checkApplies(t, Decoder{Segmented: true, StoredSize: int64(len(seg)), Size: int64(len(content)), Digest: digest(content)}, seg, base, content)
	}
}

// checkApplies checks that d applies patch to base and gives content.
func checkApplies(t *testing.T, d Decoder, patch, base, content []byte) {
	t.Helper()
	rc, err := d.Open(bytes.NewReader(patch), bytes.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the patch does not apply to give its content: %v", err)
	}
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
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
