package config

import (
	"context"
	"strings"
	"testing"
)

// FuzzExpand feeds Expand untrusted text, as a bundle's service
// definitions and values files are: it never panics, leaves text without
// a reference as it is, and never leaves a reference it expanded.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "${var.replicas}", "a${PORT}b", "${ferry.db.app}", "${var.", "${ferry.x}", "$${var.site}}", "${var.site}${var.site}"} {
		f.Add(s)
	}
	c := &Config{Values: []Value{{Name: "replicas", Type: "int", Value: "2", Set: true}, {Name: "site", Type: "string", Value: "${var.site}", Set: true}}}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := c.Expand(s, testBuiltins)
		if err != nil {
			return
		}
		if !strings.Contains(s, "${var.") && !strings.Contains(s, "${ferry.") && out != s {
			t.Fatalf("Expand(%q) = %q: text without references changed", s, out)
		}
	})
}

// FuzzRender renders untrusted template text: it never panics, and what
// it returns is within MaxRendered.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"", "{{ .var.site }}", "{{ range split \",\" .var.site }}{{ . }}{{ end }}", "{{ template \"x\" }}{{ define \"x\" }}{{ template \"x\" }}{{ end }}",
		"{{ .ferry.db.app | quote }}", "{{ json .var }}", "{{ indent 4 .var.site }}", "{{ range 3 }}{{ end }}", "{{ call .var.site }}"} {
		f.Add(s)
	}
	c := &Config{Values: []Value{{Name: "replicas", Type: "int", Value: "2", Set: true}, {Name: "site", Type: "string", Value: "a,b", Set: true}}}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := c.Render(context.Background(), "t", []byte(s), testBuiltins)
		if err == nil && len(out) > MaxRendered {
			t.Fatalf("rendered %d bytes", len(out))
		}
	})
}
