package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ferry/fixtures"
)

// TestMessagesSaidOnce drives the built binary through failures an
// operator meets in the first hour (a file that is not a key, a missing,
// altered or foreign bundle, a directory that is not an appliance, plans
// and updates the host refuses, no ferry serve) and checks that each
// says what went wrong once: one line on stderr, "ferry: " and then
// segments separated by ": " in which no segment repeats the one before
// it (the same text, or the same leading word, as "key: key /etc/passwd:
// public key: …" did), and no name (a path, a key id, a digest) is given
// in two segments.
func TestMessagesSaidOnce(t *testing.T) {
	bin := buildFerry(t)
	dir := t.TempDir()
	env := append(os.Environ(), "FERRY_PASSPHRASE=messages passphrase", "FERRY_ROOT=")
	ferry := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
		}
		return stderr.String(), cmd.ProcessState.ExitCode()
	}
	must := func(args ...string) {
		t.Helper()
		if out, code := ferry(args...); code != 0 {
			t.Fatalf("ferry %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		if _, err := fixtures.WriteProject(filepath.Join(dir, "proj-"+v), fixtures.ProjectOptions{Name: "demo-app", Version: v}); err != nil {
			t.Fatal(err)
		}
	}
	must("keys", "generate", "--type", "ecdsa-p256", "--out", "release")
	must("keys", "generate", "--type", "ed25519", "--out", "other")
	must("bundle", "create", "-f", "proj-1.0.0/ferry.yaml", "-o", "a.ferry", "--key", "release.key")
	must("bundle", "create", "-f", "proj-1.1.0/ferry.yaml", "-o", "b.ferry", "--key", "release.key", "--base", "a.ferry")
	must("bundle", "create", "-f", "proj-1.0.0/ferry.yaml", "-o", "foreign.ferry", "--key", "other.key")
	writeFile(t, filepath.Join(dir, "notakey"), "root:x:0:0:root:/root:/bin/bash\n")
	writeFile(t, filepath.Join(dir, "notabundle.ferry"), "this is not a bundle\n")
	alterSignature(t, filepath.Join(dir, "a.ferry"), filepath.Join(dir, "badsig.ferry"))
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	must("install", "a.ferry", "--root", "root", "--key", "release.pub")
	must("update", "apply", "b.ferry", "--root", "root")

	for _, tc := range []struct {
		name string
		code int
		args []string
	}{
		{"not a public key", exitKey, []string{"verify", "a.ferry", "--key", "notakey"}},
		{"not a public key at install", exitKey, []string{"install", "a.ferry", "--root", "fresh", "--key", "notakey"}},
		{"not a private key", exitKey, []string{"bundle", "create", "-f", "proj-1.0.0/ferry.yaml", "-o", "x.ferry", "--key", "notakey"}},
		{"a public key to sign with", exitKey, []string{"bundle", "create", "-f", "proj-1.0.0/ferry.yaml", "-o", "x.ferry", "--key", "release.pub"}},
		{"no key file", exitKey, []string{"verify", "a.ferry", "--key", "missing.pub"}},
		{"not a key to trust", exitKey, []string{"trust", "add", "notakey", "--root", "root"}},
		{"missing bundle", exitError, []string{"verify", "missing.ferry", "--key", "release.pub"}},
		{"missing bundle at install", exitError, []string{"install", "missing.ferry", "--root", "root"}},
		{"missing base", exitError, []string{"bundle", "create", "-f", "proj-1.1.0/ferry.yaml", "-o", "x.ferry", "--key", "release.key", "--base", "missing.ferry"}},
		{"not a bundle", exitNotBundle, []string{"verify", "notabundle.ferry", "--key", "release.pub"}},
		{"altered signature", exitBadSig, []string{"verify", "badsig.ferry", "--key", "release.pub"}},
		{"altered signature at install", exitBadSig, []string{"install", "badsig.ferry", "--root", "fresh", "--key", "release.pub"}},
		{"signed by another key", exitUntrusted, []string{"verify", "foreign.ferry", "--key", "release.pub"}},
		{"not a root", exitNotRoot, []string{"status", "--root", "empty"}},
		{"no such root", exitNotRoot, []string{"history", "--root", "nowhere"}},
		{"plan of an update for another base", exitWrongBase, []string{"plan", "b.ferry", "--root", "fresh", "--key", "release.pub"}},
		{"plan of an older bundle", exitNotNewer, []string{"plan", "a.ferry", "--root", "root"}},
		{"update already applied", exitReplay, []string{"update", "apply", "b.ferry", "--root", "root"}},
		{"rollback to a release not kept", exitNoRelease, []string{"rollback", "--root", "root", "--to", "9.9.9"}},
		{"no ferry serve", exitNotServing, []string{"rollout", "promote", "api", "--root", "root"}},
		{"watch of no appliance", exitNotRoot, []string{"rollout", "status", "--watch", "--timeout", "1m", "--root", "nowhere"}},
		{"no licence keys", exitNoLicenseKeys, []string{"license", "install", "notakey", "--root", "root"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr, code := ferry(tc.args...)
			if code != tc.code {
				t.Errorf("ferry %s: exit %d, want %d\n%s", strings.Join(tc.args, " "), code, tc.code, stderr)
			}
			line := strings.TrimSuffix(stderr, "\n")
			if strings.Contains(line, "\n") || !strings.HasPrefix(line, "ferry: ") {
				t.Fatalf("ferry %s: want one line starting with \"ferry: \" on stderr, got:\n%s", strings.Join(tc.args, " "), stderr)
			}
			if why := saidTwice(strings.TrimPrefix(line, "ferry: ")); why != "" {
				t.Errorf("ferry %s: %s:\n%s", strings.Join(tc.args, " "), why, line)
			}
		})
	}
}

// functionWords may begin two segments in a row without saying a thing
// twice ("not a ferry bundle: not a tar archive").
var functionWords = map[string]bool{"a": true, "an": true, "the": true, "not": true, "no": true, "is": true, "it": true}

// nameToken matches what names a thing: a path or file name, a key id,
// a digest.
var nameToken = regexp.MustCompile(`[[:alnum:]_.~-]*[/.][[:alnum:]_./~-]+|[0-9a-f]{16,}`)

// saidTwice says what msg (an error, its "ferry: " taken off) repeats,
// or "" when it repeats nothing.
func saidTwice(msg string) string {
	segs := strings.Split(msg, ": ")
	names := map[string]int{}
	for i, s := range segs {
		if i > 0 {
			prev := segs[i-1]
			switch {
			case s == prev:
				return "segment " + quote(s) + " twice in a row"
			case strings.HasPrefix(s, prev+" "):
				return "segment " + quote(s) + " begins with the one before it"
			}
			pw, sw := strings.Fields(prev), strings.Fields(s)
			if len(pw) > 0 && len(sw) > 0 && pw[0] == sw[0] && !functionWords[pw[0]] {
				return "segments " + quote(prev) + " and " + quote(s) + " begin with the same word"
			}
		}
		for _, n := range nameToken.FindAllString(s, -1) {
			n = strings.TrimRight(n, ".")
			if len(n) < 4 {
				continue
			}
			if j, ok := names[n]; ok && j != i {
				return quote(n) + " is named in two segments"
			}
			names[n] = i
		}
	}
	return ""
}

func quote(s string) string { return `"` + s + `"` }

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// alterSignature copies the bundle src to dst with one byte changed in
// the middle of its first signature entry (the entry after
// manifest.json, base64 text for an ECDSA key): a signature that does not
// verify.
func alterSignature(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingReader{r: bytes.NewReader(data)}
	tr := tar.NewReader(cr)
	for i := 0; ; i++ {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no signature entry: %v", src, err)
		}
		if i == 1 {
			// The header is read; the entry's data starts here.
			// A base64 letter for another one: still base64 text,
			// another signature.
			off := cr.n + hdr.Size/2
			if data[off] == 'A' {
				data[off] = 'B'
			} else {
				data[off] = 'A'
			}
			break
		}
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestSaidTwice holds the checker of TestMessagesSaidOnce to what it must
// find and what it must let through.
func TestSaidTwice(t *testing.T) {
	for msg, bad := range map[string]bool{
		"key: key /etc/passwd: public key: unrecognised format":                                          true,
		"aborted by the operator: aborted by the operator":                                               true,
		"missing.ferry: open missing.ferry: no such file or directory":                                   true,
		"trusted key 86fc29703d24121a: signature by ecdsa-p256 key 86fc29703d24121a: signature does not": true,
		"smoke tests failed on 1.1.0: smoke test 1: status 500":                                          true,
		"notabundle.ferry: not a ferry bundle: not a tar archive: bundle is truncated: unexpected EOF":   false,
		"/etc/passwd: public key: unrecognised format: want a PEM key (cosign, sigstore)":                false,
		"bundle is not newer than the installed release: 1.1.0 is installed, this bundle is 1.0.0":       false,
	} {
		if got := saidTwice(msg) != ""; got != bad {
			t.Errorf("saidTwice(%q) = %q, want a finding: %v", msg, saidTwice(msg), bad)
		}
	}
}
