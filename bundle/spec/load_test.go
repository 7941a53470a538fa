package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// specTree copies testdata/spec (a valid ferry.yaml with every source it
// names) into a temporary directory, so a test can change files freely.
func specTree(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/spec")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func validSpecText(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("testdata/spec/ferry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// specErrors returns every Error in err, which parse returns alone
// or joined.
func specErrors(t *testing.T, err error) []*Error {
	t.Helper()
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		var se *Error
		if errors.As(err, &se) && se == err { //nolint:errorlint // only an *Error that is err itself, not one it wraps
			out = append(out, se)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		t.Errorf("error %v (%T) is not a *Error", err, err)
	}
	walk(err)
	return out
}

func TestLoadSpecValid(t *testing.T) {
	dir := specTree(t)
	s, err := Load(filepath.Join(dir, "ferry.yaml"), Sources{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if s.Dir != dir {
		t.Errorf("Dir = %q, want %q", s.Dir, dir)
	}
	if s.Metadata.Name != "workflow-platform" || s.Metadata.Version != "1.4.0" || s.Metadata.Vendor != "Example Corp" {
		t.Errorf("metadata = %+v", s.Metadata)
	}
	if want := time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC); s.Metadata.Expires == nil || !s.Metadata.Expires.Equal(want) {
		t.Errorf("expires = %v, want %v", s.Metadata.Expires, want)
	}
	var names []string
	for _, c := range s.Components {
		names = append(names, c.Name)
	}
	if want := []string{"database", "images", "api", "charts"}; !reflect.DeepEqual(names, want) {
		t.Errorf("components = %v, want %v", names, want)
	}
	images := s.Components[1].Images
	wantImages := []Image{
		{Source: "registry.example.com/wf/api:1.4.0"},
		{Source: "oci:images/worker:1.4.0", Name: "wf/worker:1.4.0"},
		{Source: "docker-archive:images/legacy.tar"},
	}
	if !reflect.DeepEqual(images, wantImages) {
		t.Errorf("images = %+v, want %+v", images, wantImages)
	}
	api := s.Components[2]
	if !reflect.DeepEqual(api.DependsOn, []string{"database", "images"}) {
		t.Errorf("dependsOn = %v", api.DependsOn)
	}
	if f := api.Files[0]; f != (File{Src: "build/api", Dest: "bin/api", Mode: "0755"}) {
		t.Errorf("file = %+v", f)
	}
	svc := api.Services[0]
	if svc.Name != "api" || svc.Listen != "127.0.0.1:8080" || svc.Env["LOG_LEVEL"] != "info" ||
		!reflect.DeepEqual(svc.Command, []string{"bin/api", "--listen", "127.0.0.1:${PORT}"}) {
		t.Errorf("service = %+v", svc)
	}
	if h := svc.Health; h == nil || h.HTTP != "/healthz" || h.Interval != Duration(5*time.Second) || h.Timeout != Duration(2*time.Second) {
		t.Errorf("health = %+v", h)
	}
	r := svc.Rollout
	if r == nil || r.Strategy != StrategyCanary || !reflect.DeepEqual(r.Steps, []int{1, 5, 10, 25, 50, 100}) ||
		r.Interval != Duration(30*time.Second) || !reflect.DeepEqual(r.Approval, []int{50}) {
		t.Fatalf("rollout = %+v", r)
	}
	wantAnalysis := Analysis{ErrorRate: 1, LatencyP95: Duration(250 * time.Millisecond), CPU: 80, Memory: 90.5, MinRequests: 100}
	if r.Analysis == nil || *r.Analysis != wantAnalysis {
		t.Errorf("analysis = %+v, want %+v", r.Analysis, wantAnalysis)
	}
	if c := api.Checks; len(c) != 2 || !reflect.DeepEqual(c[0].Command, []string{"bin/api", "--self-check"}) ||
		c[1].HTTP != "http://127.0.0.1:8080/healthz" || c[1].Timeout != Duration(10*time.Second) {
		t.Errorf("checks = %+v", c)
	}
	if c := s.Components[3]; !c.Optional || !reflect.DeepEqual(c.Charts[0], Chart{Path: "charts/platform", Values: ValueFiles{"charts/values-airgap.yaml"}}) {
		t.Errorf("charts component = %+v", c)
	}

	// The spec travels as JSON (in the manifest and --json output); every
	// field must come back as it went in.
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"errorRate":"1%"`, `"memory":"90.5%"`, `"latencyP95":"250ms"`, `"interval":"30s"`, `"source":"oci:images/worker:1.4.0"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON lacks %s:\n%s", want, data)
		}
	}
	var back Spec
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	back.Dir = s.Dir
	if !reflect.DeepEqual(&back, s) {
		t.Errorf("JSON round trip changed the spec:\n got %+v\nwant %+v", back, *s)
	}
}

func TestLoadSpecRelativePath(t *testing.T) {
	dir := specTree(t)
	t.Chdir(dir)
	s, err := Load("ferry.yaml", Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(s.Dir) {
		t.Errorf("Dir %q is not absolute", s.Dir)
	}
}

func TestLoadSpecTooLarge(t *testing.T) {
	dir := specTree(t)
	p := filepath.Join(dir, "ferry.yaml")
	big := validSpecText(t) + "#" + strings.Repeat("x", maxSize) + "\n"
	if err := os.WriteFile(p, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p, Sources{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want a size error", err)
	}
}

func TestLoadSpecMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "ferry.yaml"), Sources{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}

func TestSpecErrorMessage(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "ferry.yaml", Line: 14, Field: "components[2].dependsOn", Msg: `unknown component "dbb"`},
			`ferry.yaml:14: components[2].dependsOn: unknown component "dbb"`},
		{Error{File: "ferry.yaml", Field: "apiVersion", Msg: "is required"}, "ferry.yaml: apiVersion: is required"},
		{Error{File: "ferry.yaml", Line: 3, Msg: "bad"}, "ferry.yaml:3: bad"},
		{Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestParseSpecCollectsErrorsInLineOrder(t *testing.T) {
	dir := specTree(t)
	text := validSpecText(t)
	text = strings.Replace(text, "version: 1.4.0", "version: v1.4.0", 1)
	text = strings.Replace(text, "dependsOn: [database, images]", "dependsOn: [database, imagez]", 1)
	text = strings.Replace(text, "kind: Bundle", "kind: Bundles", 1)
	_, err := parse([]byte(text), "ferry.yaml", dir, Sources{})
	errs := specErrors(t, err)
	var got []string
	for _, e := range errs {
		got = append(got, e.Field)
	}
	want := []string{"kind", "metadata.version", "components[2].dependsOn[1]"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fields = %v, want %v (err: %v)", got, want, err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) = false")
	}
}

func FuzzParseSpec(f *testing.F) {
	dir := specTree(f)
	valid := validSpecText(f)
	f.Add([]byte(valid))
	f.Add([]byte(strings.Replace(valid, "kind: Bundle", "kind: [x]", 1)))
	f.Add([]byte(strings.Replace(valid, "dependsOn: [database, images]", "dependsOn: [api]", 1)))
	f.Add([]byte(strings.Replace(valid, "      - registry.example.com/wf/api:1.4.0", "      - {source: 1, name: [x]}", 1)))
	f.Add([]byte(strings.Replace(valid, "interval: 30s", "interval: &a {x: *a}", 1)))
	f.Add([]byte("apiVersion: ferry/v1\nkind: Bundle\n---\nx: 1\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("components:\n  - name: a\n    dependsOn: [b]\n  - name: b\n    dependsOn: [a]\n"))
	f.Add([]byte("{"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parse(data, "ferry.yaml", dir, Sources{})
		if err != nil {
			if s != nil {
				t.Fatal("a spec returned with an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if _, err := ComponentOrder(s.Components); err != nil {
			t.Fatalf("valid spec, but ComponentOrder: %v", err)
		}
	})
}

// TestChartInstallFields reads a chart's values as one file or a list, and
// its namespace, release and timeout.
func TestChartInstallFields(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"c/Chart.yaml", "a.yaml", "b.yaml"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte("x: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yml := `apiVersion: ferry/v1
kind: Bundle
metadata: {name: app, version: 1.0.0}
components:
  - name: one
    charts:
      - {path: c, values: a.yaml}
      - path: c
        values: [a.yaml, b.yaml]
        namespace: apps
        release: web.front
        timeout: 90s
`
	p := filepath.Join(dir, "ferry.yaml")
	if err := os.WriteFile(p, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(p, Sources{Chart: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Components[0].Charts
	want := []Chart{
		{Path: "c", Values: ValueFiles{"a.yaml"}},
		{Path: "c", Values: ValueFiles{"a.yaml", "b.yaml"}, Namespace: "apps", Release: "web.front", Timeout: Duration(90 * time.Second)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("charts = %+v, want %+v", got, want)
	}
	// One values file is a string in JSON, as before lists; several an array.
	data, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"values":"a.yaml"`) || !strings.Contains(string(data), `"values":["a.yaml","b.yaml"]`) {
		t.Errorf("json = %s", data)
	}
	var back []Chart
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, want) {
		t.Errorf("json round trip = %+v, %v", back, err)
	}
	var one ValueFiles
	if err := json.Unmarshal([]byte(`["a.yaml"]`), &one); err == nil {
		t.Error("a one-element values array has a second byte form and must be refused")
	}
}
