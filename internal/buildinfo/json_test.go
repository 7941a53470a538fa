package buildinfo

import (
	"flag"
	"testing"

	"ferry/internal/testenv"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden file of the --json output")

// TestInfoJSON holds the shape of `ferry version --json`.
func TestInfoJSON(t *testing.T) {
	in := Info{
		Version:   "devel",
		Commit:    "c8758c3159ec86bf549fcfbbf047264335c12969",
		Time:      "2026-12-07T21:41:12Z",
		Modified:  true,
		GoVersion: "go1.26.0",
	}
	testenv.JSONGolden(t, "testdata/info.golden", in, *updateGolden)
}
