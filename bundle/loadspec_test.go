package bundle_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/bundle"
	"ferry/bundle/spec"
)

// TestLoadSpecSources: what ferry.yaml names but the spec package cannot
// judge alone (registry references, served image names, migrations,
// charts) is checked by LoadSpec and reported as a spec error on its field
// and line, like any other problem of the spec.
func TestLoadSpecSources(t *testing.T) {
	replace := func(old, repl string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, "ferry.yaml")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), old) {
				t.Fatalf("ferry.yaml has no %q", old)
			}
			if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, repl, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		field string
		line  int
		msg   string
	}{
		{"bad image reference", replace("registry.example.com/wf/api:1.4.0", "registry.example.com/WF/api:1.4.0"),
			"components[1].images[0]", 16, "not a full image reference"},
		{"image without tag", replace("registry.example.com/wf/api:1.4.0", "registry.example.com/wf/api"),
			"components[1].images[0]", 16, "not a full image reference"},
		{"image name invalid", replace("name: wf/worker:1.4.0", "name: WF/worker:1.4.0"),
			"components[1].images[1].name", 17, "not a valid image name"},
		{"image name the registry cannot serve", replace("name: wf/worker:1.4.0", "name: wf/-worker:1.4.0"),
			"components[1].images[1].name", 17, "not a valid image name"},
		{"migrations content", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "migrations", "app", "004_late.up.sql"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "components[0].migrations[0].path", 12, "version 3 is missing"},
		{"chart without Chart.yaml", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "charts", "platform", "Chart.yaml")); err != nil {
				t.Fatal(err)
			}
		}, "components[3].charts[0].path", 41, "no Chart.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS("spec/testdata/spec")); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, dir)
			s, err := bundle.LoadSpec(filepath.Join(dir, "ferry.yaml"))
			if err == nil {
				t.Fatalf("LoadSpec succeeded: %+v", s)
			}
			if !errors.Is(err, spec.ErrInvalid) {
				t.Errorf("errors.Is(err, spec.ErrInvalid) = false for %v", err)
			}
			at := fmt.Sprintf("ferry.yaml:%d: %s: ", tt.line, tt.field)
			var found bool
			for _, line := range strings.Split(err.Error(), "\n") {
				found = found || strings.Contains(line, at) && strings.Contains(line, tt.msg)
			}
			if !found {
				t.Fatalf("no error at line %d, field %s, containing %q; got:\n%v", tt.line, tt.field, tt.msg, err)
			}
		})
	}
}
