package verify

import (
	"flag"
	"testing"

	"ferry/internal/testenv"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of the --json outputs in testdata")

func TestBundleReportJSON(t *testing.T) {
	testenv.JSONGolden(t, "testdata/verify.golden", BundleReport{
		Bundle: "app-1.4.0.ferry", Name: "app", Version: "1.4.0", Digest: "sha256:aa",
		SignedBy: []string{"0a1b"}, Entries: 12, Bytes: 4096, Deep: true, Seconds: 1.5,
		Rotations: []int{1}, EmbeddedKeys: []string{"0a1b"},
	}, *updateGolden)
}
