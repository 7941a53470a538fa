package spec

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestSources: every check of Sources is called with what the spec names
// (paths resolved inside the spec's directory), and its failure is a spec
// error on that field and line, collected with the others; a spec whose
// checks pass loads.
func TestSources(t *testing.T) {
	dir := specTree(t)
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	refuse := errors.New("refused")
	src := Sources{
		ImageReference: func(ref string) error { got = append(got, "ref "+ref); return refuse },
		ImageName:      func(name string) error { got = append(got, "name "+name); return refuse },
		Migrations:     func(p string) error { got = append(got, "migrations "+p); return refuse },
		Chart:          func(p string) error { got = append(got, "chart "+p); return refuse },
	}
	_, err = parse([]byte(validSpecText(t)), "ferry.yaml", dir, src)
	want := []string{
		"migrations " + filepath.Join(resolved, "migrations", "app"),
		"ref registry.example.com/wf/api:1.4.0",
		"name wf/worker:1.4.0",
		"chart " + filepath.Join(resolved, "charts", "platform"),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("checks called with\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var lines []string
	for _, e := range specErrors(t, err) {
		lines = append(lines, e.Error())
	}
	wantErrs := []string{
		"ferry.yaml:12: components[0].migrations[0].path: refused",
		`ferry.yaml:16: components[1].images[0]: "registry.example.com/wf/api:1.4.0" is not a full image reference (refused)`,
		`ferry.yaml:17: components[1].images[1].name: "wf/worker:1.4.0" is not a valid image name (refused)`,
		"ferry.yaml:41: components[3].charts[0].path: refused",
	}
	for i, w := range wantErrs {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
			t.Errorf("errors:\n%s\nwant, in order, errors starting with\n%s", strings.Join(lines, "\n"), strings.Join(wantErrs, "\n"))
			break
		}
	}

	pass := Sources{
		ImageReference: func(string) error { return nil },
		ImageName:      func(string) error { return nil },
		Migrations:     func(string) error { return nil },
		Chart:          func(string) error { return nil },
	}
	if _, err := parse([]byte(validSpecText(t)), "ferry.yaml", dir, pass); err != nil {
		t.Errorf("with checks that pass: %v", err)
	}
}
