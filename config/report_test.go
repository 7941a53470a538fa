package config

import (
	"bytes"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testenv"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of the --json outputs in testdata")

// TestReportGolden holds the --json shape of `ferry config show` (and of
// the configuration in `ferry plan --json`) to testdata/report.golden: a
// secret shows only whether it is set.
func TestReportGolden(t *testing.T) {
	c := testConfig(t)
	r := NewReport("1.4.0", c, testVars())
	testenv.JSONGolden(t, filepath.Join("testdata", "report.golden"), r, *updateGolden)
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"configuration revision 1 of release 1.4.0", `"127.0.0.1:18080"  from flag --set`, "(secret, set)", "ca_bundle    file     (unset)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "pw") {
		t.Errorf("text report shows the secret:\n%s", b.String())
	}
}
