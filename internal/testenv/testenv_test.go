package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSkipOrFail runs a test that lacks a tool twice in a child process:
// it skips without CI and fails with CI=true.
func TestSkipOrFail(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Tool(t, "ferry-no-such-tool", "no-such-package")
		t.Fatal("Tool returned without the tool")
	}
	for _, tt := range []struct {
		ci   string
		fail bool
		out  string
	}{
		{"", false, "--- SKIP"},
		{"false", false, "--- SKIP"},
		{"true", true, "--- FAIL"},
		{"1", true, "--- FAIL"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSkipOrFail$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+tt.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tt.fail || !strings.Contains(string(out), tt.out) || !strings.Contains(string(out), "ferry-no-such-tool is not on PATH") {
			t.Errorf("CI=%q: %v\n%s", tt.ci, err, out)
		}
	}
}
