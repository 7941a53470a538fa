package bundle

import (
	"bufio"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"ferry/bundle/spec"
	"ferry/fixtures"
	"ferry/verify"
)

// specReference is the ferry.yaml reference, relative to this package.
const specReference = "../docs/SPEC.md"

// TestSpecReference holds docs/SPEC.md to the loader. Every field path the
// loader accepts (the yaml tags of spec.Spec, walked by reflection) must
// have a row in the table under the heading naming its parent path, and
// every row must name such a field, so that the reference neither misses a
// field nor keeps one the loader no longer accepts. Every ```yaml block
// must load and validate as a whole ferry.yaml against the layout the
// reference describes; a ```yaml fragment block must be YAML whose fields
// decode strictly into the spec types.
func TestSpecReference(t *testing.T) {
	data, err := os.ReadFile(specReference)
	if err != nil {
		t.Fatal(err)
	}
	doc := parseSpecReference(t, string(data))

	want := make(map[string]bool)
	specFieldPaths(reflect.TypeFor[spec.Spec](), "", want)
	for _, p := range slices.Sorted(maps.Keys(want)) {
		if !doc.fields[p] {
			t.Errorf("%s: field %s is accepted by the loader but has no row in its section", specReference, p)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(doc.fields)) {
		if !want[p] {
			t.Errorf("%s: row for %s, which the loader does not accept", specReference, p)
		}
	}

	if len(doc.examples) == 0 {
		t.Fatalf("%s: no yaml examples", specReference)
	}
	dir := specExampleLayout(t)
	for _, ex := range doc.examples {
		if ex.fragment {
			var f specFragment
			if err := yaml.UnmarshalWithOptions([]byte(ex.text), &f, yaml.Strict()); err != nil {
				t.Errorf("%s:%d: yaml fragment does not decode: %v", specReference, ex.line, err)
			}
			continue
		}
		path := filepath.Join(dir, "ferry.yaml")
		if err := os.WriteFile(path, []byte(ex.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadSpec(path); err != nil {
			t.Errorf("%s:%d: example does not load: %v", specReference, ex.line, err)
		}
	}
}

// specFragment is what a ```yaml fragment block may hold: parts of a
// ferry.yaml under the key they have there.
type specFragment struct {
	Metadata   *spec.Metadata    `yaml:"metadata"`
	License    *spec.License     `yaml:"license"`
	Variables  []spec.Variable   `yaml:"variables"`
	Components []spec.Component  `yaml:"components"`
	Images     []spec.Image      `yaml:"images"`
	Migrations []spec.Migration  `yaml:"migrations"`
	Files      []spec.File       `yaml:"files"`
	Charts     []spec.Chart      `yaml:"charts"`
	Services   []spec.Service    `yaml:"services"`
	Health     *spec.Health      `yaml:"health"`
	Rollout    *spec.Rollout     `yaml:"rollout"`
	Analysis   *spec.Analysis    `yaml:"analysis"`
	Routing    *spec.Routing     `yaml:"routing"`
	Checks     []spec.Check      `yaml:"checks"`
	Env        map[string]string `yaml:"env"`
}

type specExample struct {
	line     int
	fragment bool
	text     string
}

type specReferenceDoc struct {
	fields   map[string]bool // documented field paths
	examples []specExample
}

var (
	// specSectionRE is a heading naming a path: ## `components[].images[]`.
	specSectionRE = regexp.MustCompile("^#+ `([^`]+)`")
	// specRowRE is a table row naming a field: | `name` | ...
	specRowRE = regexp.MustCompile("^\\| `([A-Za-z0-9]+)` \\|")
)

// parseSpecReference reads the field rows and the yaml blocks. A heading
// "## Top level" starts the top-level fields; a heading with a path in
// backquotes starts that path's fields; any other heading ends a section.
func parseSpecReference(t *testing.T, text string) specReferenceDoc {
	doc := specReferenceDoc{fields: make(map[string]bool)}
	section, inSection := "", false
	var block *specExample
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if block != nil {
			if line == "```" {
				doc.examples = append(doc.examples, *block)
				block = nil
			} else {
				block.text += line + "\n"
			}
			continue
		}
		switch {
		case line == "```yaml" || line == "```yaml fragment":
			block = &specExample{line: n, fragment: line == "```yaml fragment"}
		case strings.HasPrefix(line, "```"):
			t.Errorf("%s:%d: code block %q: use ```yaml, ```yaml fragment or an indented block", specReference, n, line)
		case strings.HasPrefix(line, "#"):
			if m := specSectionRE.FindStringSubmatch(line); m != nil {
				section, inSection = m[1], true
			} else {
				section, inSection = "", strings.TrimLeft(line, "# ") == "Top level"
			}
		case inSection:
			if m := specRowRE.FindStringSubmatch(line); m != nil {
				p := m[1]
				if section != "" {
					p = section + "." + p
				}
				if doc.fields[p] {
					t.Errorf("%s:%d: %s has two rows", specReference, n, p)
				}
				doc.fields[p] = true
			}
		}
	}
	if block != nil {
		t.Errorf("%s:%d: code block not closed", specReference, block.line)
	}
	return doc
}

// specFieldPaths adds the path of every field the loader accepts below t:
// metadata.name, components[].images[].source. A type that decodes itself
// from a scalar (a duration, a percentage, a time) is a leaf.
func specFieldPaths(t reflect.Type, prefix string, out map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // the decoder's default
		}
		p := name
		if prefix != "" {
			p = prefix + "." + name
		}
		out[p] = true
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
			p += "[]"
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
			specFieldPaths(ft, p, out)
		}
	}
}

// specExampleLayout writes the sources the reference's examples name, as
// its "layout" block lists them.
func specExampleLayout(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := fixtures.WriteProject(dir, fixtures.ProjectOptions{FileSize: 4 << 10}); err != nil {
		t.Fatal(err)
	}
	_, pub, err := verify.GenerateKey(verify.KeyEd25519, "licence", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", "license.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
