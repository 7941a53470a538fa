package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionBinary runs the built binary: `ferry version`, `ferry
// --version` and `--json` must say what the Go toolchain itself reads from
// the same binary (`go version -m`), and the compliance report must name
// that version rather than Go's "(devel)".
func TestVersionBinary(t *testing.T) {
	bin := buildFerry(t)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "FERRY_PASSPHRASE=version test")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ferry %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	// What the toolchain recorded in the binary.
	mod, settings := goVersionM(t, bin)
	wantVersion := mod
	if wantVersion == "(devel)" {
		wantVersion = "devel"
	}
	wantCommit := settings["vcs.revision"]

	out := run("version")
	if other := run("--version"); other != out {
		t.Errorf("ferry --version:\n%s\ndiffers from ferry version:\n%s", other, out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("ferry version: want 3 lines, got:\n%s", out)
	}
	first, ok := strings.CutPrefix(lines[0], "ferry ")
	if !ok || !strings.HasPrefix(first, wantVersion) || strings.Contains(first, "(devel)") {
		t.Errorf("first line %q: want ferry %s…", lines[0], wantVersion)
	}
	if wantCommit != "" {
		if !strings.Contains(lines[1], wantCommit) {
			t.Errorf("commit line %q does not name vcs.revision %s", lines[1], wantCommit)
		}
		if (settings["vcs.modified"] == "true") != strings.Contains(lines[1], "modified") {
			t.Errorf("commit line %q disagrees with vcs.modified=%s", lines[1], settings["vcs.modified"])
		}
	} else if !strings.Contains(lines[1], "unknown") {
		t.Errorf("commit line %q: the binary records no vcs.revision", lines[1])
	}
	if want := "go      " + settings["go"]; lines[2] != want {
		t.Errorf("go line %q, want %q", lines[2], want)
	}

	var js struct {
		Version   string `json:"version"`
		Commit    string `json:"commit"`
		GoVersion string `json:"goVersion"`
	}
	if err := json.Unmarshal([]byte(run("version", "--json")), &js); err != nil {
		t.Fatalf("version --json: %v", err)
	}
	if js.Version != wantVersion || js.Commit != wantCommit || js.GoVersion != settings["go"] {
		t.Errorf("version --json = %+v, want version %q commit %q go %q", js, wantVersion, wantCommit, settings["go"])
	}

	// The compliance report names the same build.
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := filepath.Join(dir, "k")
	run("keys", "generate", "--type", "ed25519", "--out", key)
	run("trust", "add", key+".pub", "--root", root)
	report := run("compliance", "report", "--root", root, "--format", "markdown")
	if want := "by ferry " + first + " (" + settings["go"] + ")"; !strings.Contains(report, want) {
		t.Errorf("compliance report does not say %q:\n%.600s", want, report)
	}
	if strings.Contains(report, "(devel)") {
		t.Errorf("compliance report names the tool (devel)")
	}
}

// goVersionM reads a binary's build information as the toolchain prints
// it: the main module's version and the build settings ("go" is the Go
// version).
func goVersionM(t *testing.T, bin string) (string, map[string]string) {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	var mod string
	settings := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for first := true; sc.Scan(); first = false {
		line := sc.Text()
		if first {
			// "BIN: go1.26.0"
			settings["go"] = line[strings.LastIndex(line, " ")+1:]
			continue
		}
		f := strings.Split(strings.TrimSpace(line), "\t")
		switch {
		case len(f) >= 3 && f[0] == "mod":
			mod = f[2]
		case len(f) >= 2 && f[0] == "build":
			k, v, _ := strings.Cut(f[1], "=")
			settings[k] = v
		}
	}
	if mod == "" {
		t.Fatalf("go version -m names no main module:\n%s", out)
	}
	return mod, settings
}
