package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"ferry/config/sealed"
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

// TestHostKeyExitCodes: each host key failure, made on a real root, exits
// with its own code, not with the code of the system or file error it
// wraps.
func TestHostKeyExitCodes(t *testing.T) {
	root := t.TempDir()
	_, err := sealed.OpenKey(root)
	if got := exitCode(err); got != exitNoHostKey {
		t.Errorf("missing: exit %d (%v), want %d", got, err, exitNoHostKey)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(root, "keys")); err != nil {
		t.Fatal(err)
	}
	_, err = sealed.CreateKey(root)
	if got := exitCode(err); got != exitHostKeyUnsafe {
		t.Errorf("keys/ a link: exit %d (%v), want %d", got, err, exitHostKeyUnsafe)
	}
	root = t.TempDir()
	k, err := sealed.CreateKey(root)
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Open([]byte("age-encryption.org/v1\n"))
	if got := exitCode(err); got != exitHostKeyDamage {
		t.Errorf("value does not open: exit %d (%v), want %d", got, err, exitHostKeyDamage)
	}
	if err := os.Chmod(sealed.KeyFile(root), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = sealed.OpenKey(root)
	if got := exitCode(err); got != exitHostKeyUnsafe {
		t.Errorf("group-readable: exit %d (%v), want %d", got, err, exitHostKeyUnsafe)
	}
	if err := os.WriteFile(sealed.KeyFile(root), []byte("damaged\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sealed.KeyFile(root), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = sealed.OpenKey(root)
	if got := exitCode(err); got != exitHostKeyDamage {
		t.Errorf("damaged: exit %d (%v), want %d", got, err, exitHostKeyDamage)
	}
}
