package compliance

import (
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"

	"ferry/bundle"
	ferryembed "ferry/embed"
)

// GuideInput is what the install guide of one bundle is made from.
type GuideInput struct {
	File       string // the bundle's file name as the operator will see it
	Size       int64
	FileSHA256 string
	In         *bundle.Inspection
}

// WriteGuide writes the Markdown installation guide of one bundle: its
// checksums, how to check it with standard tools, and the install and
// rollback steps.
func WriteGuide(w io.Writer, g GuideInput) error {
	tmpl, err := template.New("guide.md.tmpl").Funcs(template.FuncMap{
		"stamp": func(t any) string {
			switch v := t.(type) {
			case time.Time:
				return v.UTC().Format(time.RFC3339)
			case *time.Time:
				return v.UTC().Format(time.RFC3339)
			}
			return fmt.Sprint(t)
		},
		"inc":  func(i int) int { return i + 1 },
		"join": func(s []string) string { return strings.Join(s, ", ") },
	}).ParseFS(ferryembed.Templates(), "guide.md.tmpl")
	if err != nil {
		return err
	}
	components := map[string]bundle.Component{}
	for _, c := range g.In.Manifest.Components {
		components[c.Name] = c
	}
	return tmpl.Execute(w, struct {
		GuideInput
		Components map[string]bundle.Component
	}{g, components})
}
