package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testChartYAML = "apiVersion: v2\nname: platform\nversion: 0.3.0\nappVersion: 1.10\ndescription: test chart\ndependencies: []\n"

// chartDir writes a chart directory: name -> content; names ending in
// "*" are written executable (without the "*").
func chartDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "platform")
	for name, body := range files {
		mode := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, mode = n, 0o755
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type tarEntry struct {
	name     string
	typeflag byte
	body     string
	link     string
}

// chartArchive writes a gzip-compressed tar of entries to a .tgz file.
func chartArchive(t testing.TB, entries ...tarEntry) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chart.tgz")
	if err := os.WriteFile(p, chartArchiveBytes(t, entries...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func chartArchiveBytes(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		tf := e.typeflag
		if tf == 0 {
			tf = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Typeflag: tf, Mode: 0o644, Linkname: e.link}
		if tf == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type archivedFile struct {
	name string
	mode int64
	body string
	mod  time.Time
}

func readArchive(t *testing.T, data []byte) []archivedFile {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("gzip header has name %q, mtime %v", zr.Name, zr.ModTime)
	}
	tr := tar.NewReader(zr)
	var out []archivedFile
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s has owner %d/%d %q/%q", hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, archivedFile{name: hdr.Name, mode: hdr.Mode, body: string(body), mod: hdr.ModTime.UTC()})
	}
	return out
}

func TestLoadChartDir(t *testing.T) {
	dir := chartDir(t, map[string]string{
		"Chart.yaml":             testChartYAML,
		"values.yaml":            "replicas: 1\n",
		"templates/cm.yaml":      "kind: ConfigMap\n",
		"templates/NOTES.txt":    "hello\n",
		"files/hook.sh*":         "#!/bin/sh\n",
		"charts/sub/Chart.yaml":  "apiVersion: v2\nname: sub\nversion: 1.0.0\n",
		".helmignore":            "# editor files\n*.swp\n.git/\n/secret.txt\n!keep.swp\n",
		"a.swp":                  "x",
		"templates/b.swp":        "x",
		"keep.swp":               "kept",
		".git/config":            "x",
		"secret.txt":             "x",
		"templates/secret.txt":   "nested, kept: the pattern is rooted",
		"templates/.git.bak/x":   "kept: only .git is ignored",
		"templates/_helpers.tpl": "{{/* */}}\n",
	})
	cs, err := LoadChart(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Name != "platform" || cs.Version != "0.3.0" || cs.AppVersion != "1.10" {
		t.Errorf("chart = %s %s %s", cs.Name, cs.Version, cs.AppVersion)
	}
	files := readArchive(t, cs.Archive)
	var names []string
	epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		names = append(names, f.name)
		wantMode := int64(0o644)
		if f.name == "platform/files/hook.sh" {
			wantMode = 0o755
		}
		if f.mode != wantMode {
			t.Errorf("%s: mode %o, want %o", f.name, f.mode, wantMode)
		}
		if !f.mod.Equal(epoch) {
			t.Errorf("%s: mtime %v, want %v", f.name, f.mod, epoch)
		}
	}
	want := []string{
		"platform/.helmignore",
		"platform/Chart.yaml",
		"platform/charts/sub/Chart.yaml",
		"platform/files/hook.sh",
		"platform/keep.swp",
		"platform/templates/.git.bak/x",
		"platform/templates/NOTES.txt",
		"platform/templates/_helpers.tpl",
		"platform/templates/cm.yaml",
		"platform/templates/secret.txt",
		"platform/values.yaml",
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("archive entries:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}

	// The package is a valid chart archive itself.
	p := filepath.Join(t.TempDir(), "platform-0.3.0.tgz")
	if err := os.WriteFile(p, cs.Archive, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := LoadChart(p)
	if err != nil {
		t.Fatalf("LoadChart of the packaged chart: %v", err)
	}
	if again.Name != cs.Name || again.Version != cs.Version || !bytes.Equal(again.Archive, cs.Archive) {
		t.Errorf("reloaded chart differs: %s %s", again.Name, again.Version)
	}
}

func TestLoadChartDirDeterministic(t *testing.T) {
	files := map[string]string{
		"Chart.yaml":        testChartYAML,
		"values.yaml":       "replicas: 1\n",
		"templates/a.yaml":  "a\n",
		"templates/b.yaml":  "b\n",
		"templates/z/c.txt": "c\n",
		"bin/run*":          "#!/bin/sh\n",
	}
	one := chartDir(t, files)
	two := chartDir(t, files)
	// Different times and creation order must not matter.
	old := time.Date(2011, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(two, "values.yaml"), old, old); err != nil {
		t.Fatal(err)
	}
	a, err := LoadChart(one)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadChart(one)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadChart(two)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Archive, b.Archive) {
		t.Error("packaging the same directory twice gave different bytes")
	}
	if !bytes.Equal(a.Archive, c.Archive) {
		t.Error("packaging equal directories gave different bytes")
	}
}

func TestLoadChartArchive(t *testing.T) {
	p := chartArchive(t,
		tarEntry{name: "platform/", typeflag: tar.TypeDir},
		tarEntry{name: "platform/Chart.yaml", body: testChartYAML},
		tarEntry{name: "platform/templates/cm.yaml", body: "kind: ConfigMap\n"},
	)
	cs, err := LoadChart(p)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Name != "platform" || cs.Version != "0.3.0" || cs.AppVersion != "1.10" || !bytes.Equal(cs.Archive, data) {
		t.Errorf("chart = %s %s %s (archive kept: %v)", cs.Name, cs.Version, cs.AppVersion, bytes.Equal(cs.Archive, data))
	}
}

func TestLoadChartInvalid(t *testing.T) {
	chart := tarEntry{name: "platform/Chart.yaml", body: testChartYAML}
	tests := []struct {
		name string
		path func(t *testing.T) string
		want string
	}{
		{name: "dir without Chart.yaml", path: func(t *testing.T) string {
			return chartDir(t, map[string]string{"values.yaml": "x: 1\n"})
		}, want: "no Chart.yaml"},
		{name: "dir with bad version", path: func(t *testing.T) string {
			return chartDir(t, map[string]string{"Chart.yaml": "apiVersion: v2\nname: platform\nversion: 1.2\n"})
		}, want: `version "1.2" is not a semantic version`},
		{name: "dir with v version", path: func(t *testing.T) string {
			return chartDir(t, map[string]string{"Chart.yaml": "apiVersion: v2\nname: platform\nversion: v1.2.0\n"})
		}, want: "not a semantic version"},
		{name: "dir with bad name", path: func(t *testing.T) string {
			return chartDir(t, map[string]string{"Chart.yaml": "apiVersion: v2\nname: Plat/form\nversion: 1.2.0\n"})
		}, want: `name "Plat/form"`},
		{name: "dir without apiVersion", path: func(t *testing.T) string {
			return chartDir(t, map[string]string{"Chart.yaml": "name: platform\nversion: 1.2.0\n"})
		}, want: "apiVersion"},
		{name: "dir with bad YAML", path: func(t *testing.T) string {
			return chartDir(t, map[string]string{"Chart.yaml": "name: [platform\n"})
		}, want: "Chart.yaml"},
		{name: "dir with symlink", path: func(t *testing.T) string {
			dir := chartDir(t, map[string]string{"Chart.yaml": testChartYAML})
			if err := os.Symlink("/etc/passwd", filepath.Join(dir, "values.yaml")); err != nil {
				t.Fatal(err)
			}
			return dir
		}, want: "values.yaml is a symlink"},
		{name: "dir with symlinked Chart.yaml", path: func(t *testing.T) string {
			dir := chartDir(t, map[string]string{"real.yaml": testChartYAML})
			if err := os.Symlink("real.yaml", filepath.Join(dir, "Chart.yaml")); err != nil {
				t.Fatal(err)
			}
			return dir
		}, want: "Chart.yaml is not a regular file"},
		{name: "dir with unsupported helmignore", path: func(t *testing.T) string {
			return chartDir(t, map[string]string{"Chart.yaml": testChartYAML, ".helmignore": "docs/**/x\n"})
		}, want: ".helmignore:1"},
		{name: "not gzip", path: func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "chart.tgz")
			if err := os.WriteFile(p, []byte("apiVersion: v2\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, want: "neither a chart directory nor a packaged chart"},
		{name: "tgz without Chart.yaml", path: func(t *testing.T) string {
			return chartArchive(t, tarEntry{name: "platform/values.yaml", body: "x: 1\n"})
		}, want: "no platform/Chart.yaml"},
		{name: "tgz with Chart.yaml too deep", path: func(t *testing.T) string {
			return chartArchive(t, tarEntry{name: "platform/sub/Chart.yaml", body: testChartYAML})
		}, want: "no platform/Chart.yaml"},
		{name: "tgz with bad version", path: func(t *testing.T) string {
			return chartArchive(t, tarEntry{name: "platform/Chart.yaml", body: "apiVersion: v2\nname: platform\nversion: latest\n"})
		}, want: "not a semantic version"},
		{name: "tgz with dot dot", path: func(t *testing.T) string {
			return chartArchive(t, chart, tarEntry{name: "platform/../../evil", body: "x"})
		}, want: `".." leaves the archive`},
		{name: "tgz with leading dot dot", path: func(t *testing.T) string {
			return chartArchive(t, tarEntry{name: "../platform/Chart.yaml", body: testChartYAML})
		}, want: `".." leaves the archive`},
		{name: "tgz with absolute path", path: func(t *testing.T) string {
			return chartArchive(t, chart, tarEntry{name: "/etc/passwd", body: "x"})
		}, want: "not a relative path"},
		{name: "tgz with symlink", path: func(t *testing.T) string {
			return chartArchive(t, chart, tarEntry{name: "platform/values.yaml", typeflag: tar.TypeSymlink, link: "/etc/passwd"})
		}, want: "is a link"},
		{name: "tgz with hard link", path: func(t *testing.T) string {
			return chartArchive(t, chart, tarEntry{name: "platform/values.yaml", typeflag: tar.TypeLink, link: "platform/Chart.yaml"})
		}, want: "is a link"},
		{name: "tgz with device", path: func(t *testing.T) string {
			return chartArchive(t, chart, tarEntry{name: "platform/null", typeflag: tar.TypeChar})
		}, want: "only regular files and directories"},
		{name: "tgz with two top-level directories", path: func(t *testing.T) string {
			return chartArchive(t, chart, tarEntry{name: "other/values.yaml", body: "x"})
		}, want: "outside platform/"},
		{name: "tgz with top-level file", path: func(t *testing.T) string {
			return chartArchive(t, tarEntry{name: "Chart.yaml", body: testChartYAML})
		}, want: "file at the top level"},
		{name: "tgz with duplicate entry", path: func(t *testing.T) string {
			return chartArchive(t, chart, chart)
		}, want: "appears twice"},
		{name: "empty tgz", path: func(t *testing.T) string {
			return chartArchive(t)
		}, want: "empty"},
		{name: "tgz with big Chart.yaml", path: func(t *testing.T) string {
			return chartArchive(t, tarEntry{name: "platform/Chart.yaml", body: testChartYAML + "#" + strings.Repeat("x", maxChartYAML)})
		}, want: "limit"},
		{name: "truncated tgz", path: func(t *testing.T) string {
			data := chartArchiveBytes(t, chart, tarEntry{name: "platform/values.yaml", body: strings.Repeat("x", 10000)})
			p := filepath.Join(t.TempDir(), "chart.tgz")
			if err := os.WriteFile(p, data[:len(data)/2], 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, want: "unexpected EOF"},
		{name: "missing", path: func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "nope.tgz")
		}, want: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := LoadChart(tt.path(t))
			if err == nil {
				t.Fatalf("LoadChart succeeded: %s %s", cs.Name, cs.Version)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestHelmignore(t *testing.T) {
	h, err := parseHelmignore([]byte("# comment\n\n*.tmp\nbuild/\n/top.txt\ndocs/*.md\n!docs/keep.md\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		dir  bool
		want bool
	}{
		{"a.tmp", false, true},
		{"templates/a.tmp", false, true},
		{"build", true, true},
		{"templates/build", true, true},
		{"build", false, false},
		{"top.txt", false, true},
		{"templates/top.txt", false, false},
		{"docs/a.md", false, true},
		{"docs/keep.md", false, false},
		{"docs/sub/a.md", false, false},
		{"values.yaml", false, false},
	}
	for _, tt := range tests {
		if got := h.ignored(tt.path, tt.dir); got != tt.want {
			t.Errorf("ignored(%q, dir=%v) = %v, want %v", tt.path, tt.dir, got, tt.want)
		}
	}
	if _, err := parseHelmignore([]byte("[abc\n")); err == nil {
		t.Error("a malformed pattern was accepted")
	}
}

func FuzzLoadChartArchive(f *testing.F) {
	f.Add(chartArchiveBytes(f,
		tarEntry{name: "platform/", typeflag: tar.TypeDir},
		tarEntry{name: "platform/Chart.yaml", body: testChartYAML},
		tarEntry{name: "platform/values.yaml", body: "replicas: 1\n"},
	))
	f.Add(chartArchiveBytes(f, tarEntry{name: "platform/../x", body: "x"}))
	f.Add(chartArchiveBytes(f, tarEntry{name: "platform/Chart.yaml", body: "apiVersion: v2\nname: &a [*a]\nversion: 1.0.0\n"}))
	f.Add(chartArchiveBytes(f, tarEntry{name: "platform/x", typeflag: tar.TypeSymlink, link: "/"}))
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte("not a chart"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "chart.tgz")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		cs, err := LoadChart(p)
		if err != nil {
			return
		}
		if !bytes.Equal(cs.Archive, data) {
			t.Fatal("a packaged chart was not kept byte for byte")
		}
		if !chartNameRE.MatchString(cs.Name) || cs.Version == "" {
			t.Fatalf("accepted chart %q %q", cs.Name, cs.Version)
		}
	})
}
