// Package testenv decides what a test does when the machine lacks what it
// needs: a tool, a privilege, a mount. On a developer's machine the test
// skips and says what to install; under CI=true, as in CI and `make test`
// (which install every such need first, see scripts/deps.sh), it fails, so
// that a test can never go quiet because its tool went missing.
//
// Skips that are part of a test's design (testing.Short, helper processes)
// do not use it.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// CI reports whether the tests run as CI runs them: CI set to a true value.
func CI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// SkipOrFail skips t for reason, which says what the machine lacks and how
// to get it; under CI it fails t instead.
func SkipOrFail(t testing.TB, reason string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s (CI=true: a test may not skip for what the machine lacks)", reason)
	}
	t.Skip(reason)
}

// SkipOrFailf is SkipOrFail with a format.
func SkipOrFailf(t testing.TB, format string, args ...any) {
	t.Helper()
	SkipOrFail(t, fmt.Sprintf(format, args...))
}

// Tool is the path of the program name, which Debian's package pkg
// provides; without it the test skips, or fails under CI.
func Tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		SkipOrFailf(t, "%s is not on PATH: install Debian's %s package (make deps does)", name, pkg)
	}
	return p
}

// Root skips t unless it runs as root (for mounts, other users); under CI
// it fails instead.
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipOrFailf(t, "%s needs root", why)
	}
}
