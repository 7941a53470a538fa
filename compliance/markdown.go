package compliance

import (
	"fmt"
	"io"
	"io/fs"
	"strings"
	"text/template"

	ferryembed "ferry/embed"
)

// markdownTemplate is the report for people, in embed/templates.
const markdownTemplate = "report.md.tmpl"

// markdownDecisions is how many of a service's latest rollout decisions
// the report shows; the evidence and the audit log keep them all.
const markdownDecisions = 50

// markdownData is what the Markdown template is given.
type markdownData struct {
	Ev       *Evidence
	Findings []Finding
	Rules    []markdownRule
	Source   CatalogSource
	Counts   map[string]int
}

func writeMarkdown(w io.Writer, ev *Evidence, findings []Finding) error {
	cat, err := LoadCatalog()
	if err != nil {
		return err
	}
	t, err := template.New(markdownTemplate).Funcs(template.FuncMap{
		"stamp":  stamp,
		"status": statusWord,
		"cell":   cell,
		"indent": func(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") },
		"perm":   func(fi FileInfo) string { return fmt.Sprintf("%04o", uint32(fi.Mode.Perm())) },
		"kind":   fileKind,
		"lower":  strings.ToLower,
		"join":   strings.Join,
		"span":   span,
		"recent": func(ds []RolloutDecision) []RolloutDecision { return ds[len(ds)-min(len(ds), markdownDecisions):] },
		"older":  func(ds []RolloutDecision) int { return max(len(ds)-markdownDecisions, 0) },
		"percents": func(ps []int) string {
			s := make([]string, len(ps))
			for i, p := range ps {
				s[i] = fmt.Sprintf("%d%%", p)
			}
			return strings.Join(s, ", ")
		},
	}).ParseFS(ferryembed.Templates(), markdownTemplate)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for _, f := range findings {
		counts[string(f.Status)]++
	}
	var rs []markdownRule
	for _, r := range checkRules(ev) {
		rs = append(rs, markdownRule{Version: r.version(), Severity: r.severity, Title: r.title, Status: r.status})
	}
	return t.Execute(w, markdownData{Ev: ev, Findings: findings, Rules: rs, Source: cat.Source, Counts: counts})
}

// markdownRule is a checklist rule's line in the report.
type markdownRule struct {
	Version, Severity, Title string
	Status                   Status
}

func statusWord(s Status) string {
	switch s {
	case Satisfied:
		return "satisfied"
	case NotApplicable:
		return "not applicable"
	}
	return "**not satisfied**"
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func fileKind(fi FileInfo) string {
	switch {
	case !fi.Exists:
		return "missing"
	case fi.Mode&fs.ModeSymlink != 0:
		return "link to " + fi.Target
	case fi.Mode.IsDir():
		return "directory"
	}
	return "file"
}
