package spec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	tparse "text/template/parse"
)

// MaxTemplateSize bounds a file marked template: true; a template is a
// configuration file, not content.
const MaxTemplateSize = 1 << 20

// TemplateFuncs is the fixed function set of template files, besides
// text/template's own: text functions only. None reads a file, the
// environment, the clock or the network, so that a template renders the
// same from the same values wherever it runs.
func TemplateFuncs() template.FuncMap {
	return template.FuncMap{
		"quote":     strconv.Quote,
		"lower":     strings.ToLower,
		"upper":     strings.ToUpper,
		"trim":      strings.TrimSpace,
		"replace":   func(old, repl, s string) string { return strings.ReplaceAll(s, old, repl) },
		"contains":  func(sub, s string) bool { return strings.Contains(s, sub) },
		"hasPrefix": func(prefix, s string) bool { return strings.HasPrefix(s, prefix) },
		"hasSuffix": func(suffix, s string) bool { return strings.HasSuffix(s, suffix) },
		"split":     func(sep, s string) []string { return strings.Split(s, sep) },
		"join":      func(sep string, l []string) string { return strings.Join(l, sep) },
		"default": func(def, v any) any {
			if v == nil || v == "" {
				return def
			}
			return v
		},
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"indent": func(n int, s string) string {
			if n < 0 || n > 64 {
				n = 0
			}
			pad := strings.Repeat(" ", n)
			return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
		},
	}
}

// ParseTemplate parses a template file with the fixed function set and
// returns it with the references it makes: .var.NAME to a variable and
// .ferry.db.NAME to a database, as Refs (Start and End unset). A range
// over a number is refused: it loops without bound on no data at all.
func ParseTemplate(name, text string) (*template.Template, []Ref, error) {
	if len(text) > MaxTemplateSize {
		return nil, nil, fmt.Errorf("%s: %d bytes, more than the %d allowed for a template", name, len(text), MaxTemplateSize)
	}
	t, err := template.New(name).Funcs(TemplateFuncs()).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, nil, err
	}
	var refs []Ref
	var walkErr error
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		walkTemplate(tt.Root, 0, func(n tparse.Node) {
			switch n := n.(type) {
			case *tparse.FieldNode:
				refs = append(refs, templateRefs(n.Ident)...)
			case *tparse.ChainNode:
				refs = append(refs, templateRefs(n.Field)...)
			case *tparse.RangeNode:
				if walkErr == nil && rangesOverNumber(n.Pipe) {
					walkErr = fmt.Errorf("%s:%d: range over a number: range over values (a list from split) instead", name, lineOf(tt.Tree, n))
				}
			}
		})
	}
	if walkErr != nil {
		return nil, nil, walkErr
	}
	return t, refs, nil
}

// templateRefs reads .var.NAME and .ferry.db.NAME from a field chain.
func templateRefs(ident []string) []Ref {
	if len(ident) >= 2 && ident[0] == RefVar {
		return []Ref{{Kind: RefVar, Name: ident[1]}}
	}
	if len(ident) >= 3 && ident[0] == RefFerry && ident[1] == "db" {
		return []Ref{{Kind: RefFerry, Name: BuiltinDB + ident[2]}}
	}
	return nil
}

func rangesOverNumber(p *tparse.PipeNode) bool {
	if p == nil || len(p.Cmds) == 0 {
		return false
	}
	last := p.Cmds[len(p.Cmds)-1]
	if len(last.Args) == 1 {
		_, num := last.Args[0].(*tparse.NumberNode)
		return num
	}
	return false
}

func lineOf(t *tparse.Tree, n tparse.Node) int {
	line, _ := t.ErrorContext(n)
	if i := strings.LastIndexByte(line, ':'); i >= 0 {
		line = line[:i]
	}
	if i := strings.LastIndexByte(line, ':'); i >= 0 {
		line = line[i+1:]
	}
	l, _ := strconv.Atoi(line)
	return l
}

// maxTemplateDepth bounds the walk of a template's tree.
const maxTemplateDepth = 256

func walkTemplate(n tparse.Node, depth int, visit func(tparse.Node)) {
	if n == nil || depth > maxTemplateDepth {
		return
	}
	visit(n)
	switch n := n.(type) {
	case *tparse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkTemplate(c, depth+1, visit)
		}
	case *tparse.ActionNode:
		walkTemplate(n.Pipe, depth+1, visit)
	case *tparse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walkTemplate(c, depth+1, visit)
		}
	case *tparse.CommandNode:
		for _, a := range n.Args {
			walkTemplate(a, depth+1, visit)
		}
	case *tparse.ChainNode:
		walkTemplate(n.Node, depth+1, visit)
	case *tparse.IfNode:
		walkBranch(&n.BranchNode, depth, visit)
	case *tparse.RangeNode:
		walkBranch(&n.BranchNode, depth, visit)
	case *tparse.WithNode:
		walkBranch(&n.BranchNode, depth, visit)
	case *tparse.TemplateNode:
		walkTemplate(n.Pipe, depth+1, visit)
	}
}

func walkBranch(b *tparse.BranchNode, depth int, visit func(tparse.Node)) {
	walkTemplate(b.Pipe, depth+1, visit)
	if b.List != nil {
		walkTemplate(b.List, depth+1, visit)
	}
	if b.ElseList != nil {
		walkTemplate(b.ElseList, depth+1, visit)
	}
}
