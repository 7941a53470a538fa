package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"ferry/internal/testenv"
)

// TestConfigPromptOnTerminal: install on a real pseudo-terminal, given no
// value for a required variable, asks for it and installs with what was
// typed, which config show lists as from the prompt.
func TestConfigPromptOnTerminal(t *testing.T) {
	bin := buildFerry(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	env := append(withoutPassphrase(os.Environ()), "FERRY_PASSPHRASE=e2e", "FERRY_ROOT="+root)
	if err := os.MkdirAll(filepath.Join(dir, "proj", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"proj/etc/app.conf": "site = {{ .var.site }}\n",
		"proj/ferry.yaml": `apiVersion: ferry/v1
kind: Bundle
metadata: {name: prompted, version: 1.0.0}
variables:
  - {name: site, type: string, required: true, description: the site's short name}
components:
  - name: app
    files:
      - {src: etc/app.conf, dest: etc/app.conf, template: true}
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"keys", "generate", "--type", "ed25519", "--out", "release"},
		{"bundle", "create", "-f", "proj/ferry.yaml", "-o", "p.ferry", "--key", "release.key"},
	} {
		c := exec.Command(bin, args...)
		c.Dir, c.Env = dir, env
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("ferry %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	cmd := exec.Command(bin, "install", "p.ferry", "--key", "release.pub")
	cmd.Dir, cmd.Env = dir, env
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatalf("start on a pty: %v", err)
	}
	defer tty.Close()
	var seen testenv.Buffer
	go func() { _, _ = io.Copy(&seen, tty) }()
	if prompt := "site, string (the site's short name): "; !waitFor(&seen, prompt, 30*time.Second) {
		t.Fatalf("no prompt %q; the terminal showed %q", prompt, seen.String())
	}
	if _, err := tty.Write([]byte("typed\r")); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("install on a terminal: %v; it showed %q", err, seen.String())
	}
	got, err := os.ReadFile(filepath.Join(root, "current", "etc", "app.conf"))
	if err != nil || string(got) != "site = typed\n" {
		t.Fatalf("rendered etc/app.conf = %q, %v", got, err)
	}
	show := exec.Command(bin, "config", "show")
	show.Dir, show.Env = dir, env
	out, err := show.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"typed"  from prompt`) {
		t.Errorf("config show: %v\n%s", err, out)
	}
}
