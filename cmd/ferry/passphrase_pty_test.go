package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"ferry/internal/testenv"
)

// TestPassphraseFromTerminal runs the built binary on a real pseudo-terminal
// without FERRY_PASSPHRASE or --passphrase-file: `keys generate` must ask
// twice, must not echo what was typed, and the key it writes must open with
// that passphrase and no other.
func TestPassphraseFromTerminal(t *testing.T) {
	bin := buildFerry(t)
	dir := t.TempDir()
	const secret = "typed-on-the-terminal-71"

	cmd := exec.Command(bin, "keys", "generate", "--out", filepath.Join(dir, "release"))
	cmd.Env = withoutPassphrase(os.Environ())
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatalf("start on a pty: %v", err)
	}
	defer tty.Close()

	var seen testenv.Buffer // written by the copy, read by the test
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(&seen, tty) // ends with EIO when the child exits
		done <- err
	}()
	for _, prompt := range []string{"passphrase: ", "passphrase again: "} {
		if !waitFor(&seen, prompt, 30*time.Second) {
			t.Fatalf("no prompt %q; the terminal showed %q", prompt, seen.String())
		}
		if _, err := tty.Write([]byte(secret + "\r")); err != nil {
			t.Fatal(err)
		}
		// The next prompt must be looked for after this one.
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("keys generate on a terminal: %v; it showed %q", err, seen.String())
	}
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, syscall.EIO) {
			t.Errorf("reading the terminal: %v", err)
		}
	case <-time.After(10 * time.Second):
	}
	if strings.Contains(seen.String(), secret) {
		t.Fatalf("the passphrase was echoed: %q", seen.String())
	}

	rotate := func(pass string) error {
		c := exec.Command(bin, "keys", "rotate", "--key", filepath.Join(dir, "release.key"),
			"--new", filepath.Join(dir, "release.pub"), "--sequence", "1",
			"--out", filepath.Join(dir, "rotation-"+pass+".json"))
		c.Env = append(withoutPassphrase(os.Environ()), "FERRY_PASSPHRASE="+pass)
		out, err := c.CombinedOutput()
		if err != nil {
			t.Logf("keys rotate with %q: %s", pass, out)
		}
		return err
	}
	if err := rotate(secret); err != nil {
		t.Fatalf("the key does not open with the passphrase typed on the terminal: %v", err)
	}
	if err := rotate("another-passphrase"); err == nil {
		t.Fatal("the key opened with a passphrase that was never typed")
	}
}

// withoutPassphrase drops the passphrase variables from env.
func withoutPassphrase(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "FERRY_PASSPHRASE=") {
			out = append(out, kv)
		}
	}
	return out
}

// waitFor polls buf, which another goroutine fills, until it holds want
// after the last match, within limit.
func waitFor(buf *testenv.Buffer, want string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if strings.HasSuffix(strings.TrimRight(buf.String(), " "), strings.TrimRight(want, " ")) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
