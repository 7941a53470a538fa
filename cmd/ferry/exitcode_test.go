package main

import (
	"fmt"
	"testing"

	"ferry/installer"
)

// TestRefusalsExitCode: a plan reports every refusal it finds; the first
// decides the exit code, as it would for apply, which stops there, and
// not whichever class comes first in the table.
func TestRefusalsExitCode(t *testing.T) {
	notNewer := fmt.Errorf("%w: 1.1.0 is installed", installer.ErrNotNewer)
	platform := fmt.Errorf("%w: image x", installer.ErrPlatform)
	for _, tc := range []struct {
		err  error
		want int
	}{
		{installer.Refusals{notNewer, platform}, exitNotNewer},
		{installer.Refusals{platform, notNewer}, exitPlatform},
		{fmt.Errorf("plan: %w", installer.Refusals{platform, notNewer}), exitPlatform},
		{installer.Refusals{fmt.Errorf("x"), notNewer}, exitError},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
