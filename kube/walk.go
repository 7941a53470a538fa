package kube

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"ferry/internal/yamlnode"
)

// maxRendered bounds a rendered manifest the parser reads: it is the
// output of templates, which a hostile chart controls.
const maxRendered = 64 << 20

// filenameAnnotation is where Helm v4 keeps a document's template while
// post-renderers run; "# Source:" comments say it otherwise.
const filenameAnnotation = "postrenderer.helm.sh/postrender-filename"

// podSpecPaths says where each workload kind keeps its pod spec. A kind
// not listed carries no pod template ferry knows of and is left as is.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"PodTemplate":           {"template", "spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// containerFields are the lists of containers of a pod spec, in the order
// they are reported.
var containerFields = []string{"initContainers", "containers", "ephemeralContainers"}

// site is one image scalar in the source: its use and its bytes.
type site struct {
	use        Use
	start, end int
}

// findImages parses a rendered multi-document manifest and returns every
// container image of every pod template, in source order of documents.
func findImages(src []byte) ([]site, error) {
	if len(src) > maxRendered {
		return nil, fmt.Errorf("%d bytes, over the %d-byte limit", len(src), maxRendered)
	}
	if !utf8.Valid(src) {
		return nil, errors.New("not UTF-8")
	}
	file, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, err
	}
	w := &walker{src: src, lines: lineStarts(src)}
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if err := w.resource(doc.Body, w.sourceComment(doc.Body)); err != nil {
			return nil, err
		}
	}
	return w.sites, nil
}

type walker struct {
	src   []byte
	lines []int // byte offset of the start of each line
	sites []site
}

// resource reads one document (or an item of a List).
func (w *walker) resource(n ast.Node, template string) error {
	if _, ok := yamlnode.Unwrap(n).(*ast.NullNode); ok {
		return nil
	}
	m, err := pairs(n)
	if err != nil {
		return fmt.Errorf("line %d: a document that is %w", line(n), err)
	}
	kind, _ := textOf(m, "kind")
	name := ""
	if meta, ok, err := lookup(m, "metadata"); err != nil {
		return err
	} else if ok {
		if mm, err := pairs(meta); err == nil {
			name, _ = textOf(mm, "name")
			if ann, ok, _ := lookup(mm, "annotations"); ok {
				if am, err := pairs(ann); err == nil {
					if f, ok := textOf(am, filenameAnnotation); ok && f != "" {
						template = f
					}
				}
			}
		}
	}
	where := fmt.Sprintf("%s/%s", kind, name)
	if strings.HasSuffix(kind, "List") {
		items, ok, err := lookup(m, "items")
		if err != nil || !ok {
			return err
		}
		seq, ok := yamlnode.Unwrap(items).(*ast.SequenceNode)
		if !ok {
			return fmt.Errorf("%s: items is not a list", where)
		}
		for _, it := range seq.Values {
			if err := w.resource(it, template); err != nil {
				return err
			}
		}
		return nil
	}
	path, ok := podSpecPaths[kind]
	if !ok {
		return nil
	}
	spec := n
	for i, key := range path {
		pm, err := pairs(spec)
		if err != nil {
			return fmt.Errorf("%s: %s is %w", where, strings.Join(path[:i], "."), err)
		}
		next, ok, err := lookup(pm, key)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if !ok || isNull(next) {
			return nil // no pod template: nothing to pin
		}
		spec = next
	}
	sm, err := pairs(spec)
	if err != nil {
		return fmt.Errorf("%s: %s is %w", where, strings.Join(path, "."), err)
	}
	for _, field := range containerFields {
		list, ok, err := lookup(sm, field)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if !ok || isNull(list) {
			continue
		}
		if _, alias := list.(*ast.AliasNode); alias {
			return fmt.Errorf("%s: %s is a YAML alias: write pod templates out in full", where, field)
		}
		seq, ok := yamlnode.Unwrap(list).(*ast.SequenceNode)
		if !ok {
			return fmt.Errorf("%s: %s is not a list", where, field)
		}
		for i, c := range seq.Values {
			if err := w.container(c, Use{Template: template, Kind: kind, Name: name, Field: field}, i); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	return nil
}

// container records the image of one container.
func (w *walker) container(n ast.Node, u Use, i int) error {
	cm, err := pairs(n)
	if err != nil {
		return fmt.Errorf("%s[%d] is %w", u.Field, i, err)
	}
	u.Container, _ = textOf(cm, "name")
	img, ok, err := lookup(cm, "image")
	if err != nil {
		return fmt.Errorf("%s[%d]: %w", u.Field, i, err)
	}
	if !ok {
		return fmt.Errorf("%s %q has no image", strings.TrimSuffix(u.Field, "s"), u.Container)
	}
	if _, alias := img.(*ast.AliasNode); alias {
		return fmt.Errorf("%s %q: the image is a YAML alias: write it out", strings.TrimSuffix(u.Field, "s"), u.Container)
	}
	sc, ok := yamlnode.Unwrap(img).(ast.ScalarNode)
	if !ok {
		return fmt.Errorf("%s %q: the image is not a string", strings.TrimSuffix(u.Field, "s"), u.Container)
	}
	if _, ok := sc.(*ast.LiteralNode); ok {
		return fmt.Errorf("%s %q: the image is a block scalar: write it on one line", strings.TrimSuffix(u.Field, "s"), u.Container)
	}
	u.Image, _ = yamlnode.Text(sc)
	if u.Image == "" {
		return fmt.Errorf("%s %q has an empty image", strings.TrimSuffix(u.Field, "s"), u.Container)
	}
	start, end, err := w.extent(sc.GetToken())
	if err != nil {
		return fmt.Errorf("%s %q: image %q: %w", strings.TrimSuffix(u.Field, "s"), u.Container, u.Image, err)
	}
	w.sites = append(w.sites, site{use: u, start: start, end: end})
	return nil
}

// extent finds the bytes of a one-line scalar token in the source.
func (w *walker) extent(tk *token.Token) (int, int, error) {
	if tk == nil || tk.Position == nil {
		return 0, 0, errors.New("no position")
	}
	ln, col := tk.Position.Line, tk.Position.Column
	if ln < 1 || ln > len(w.lines) || col < 1 {
		return 0, 0, errors.New("position outside the document")
	}
	start := w.lines[ln-1]
	for k := 1; k < col; k++ {
		if start >= len(w.src) || w.src[start] == '\n' {
			return 0, 0, errors.New("position outside its line")
		}
		_, size := utf8.DecodeRune(w.src[start:])
		start += size
	}
	// The parser's column can fall on the blank before a tagged value.
	for start < len(w.src) && (w.src[start] == ' ' || w.src[start] == '\t') {
		start++
	}
	rest := w.src[start:]
	if nl := bytes.IndexByte(rest, '\n'); nl >= 0 {
		rest = rest[:nl]
	}
	switch tk.Type {
	case token.DoubleQuoteType:
		for i := 1; i < len(rest); i++ {
			switch rest[i] {
			case '\\':
				i++
			case '"':
				if rest[0] == '"' {
					return start, start + i + 1, nil
				}
			}
		}
	case token.SingleQuoteType:
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				if rest[0] == '\'' {
					return start, start + i + 1, nil
				}
			}
		}
	default:
		if tk.Value != "" && bytes.HasPrefix(rest, []byte(tk.Value)) {
			return start, start + len(tk.Value), nil
		}
	}
	return 0, 0, errors.New("not a scalar on one line: write the image on one line")
}

// sourceComment is the template a "# Source:" comment names for the
// document whose body is n: the last one after the previous "---".
func (w *walker) sourceComment(n ast.Node) string {
	ln := line(n)
	template := ""
	for i := 0; i < ln-1 && i < len(w.lines); i++ {
		l := w.line(i)
		switch {
		case bytes.HasPrefix(l, []byte("---")):
			template = ""
		case bytes.HasPrefix(l, []byte("# Source: ")):
			template = strings.TrimSpace(string(l[len("# Source: "):]))
		}
	}
	return template
}

func (w *walker) line(i int) []byte {
	l := w.src[w.lines[i]:]
	if nl := bytes.IndexByte(l, '\n'); nl >= 0 {
		l = l[:nl]
	}
	return bytes.TrimSuffix(l, []byte("\r"))
}

func lineStarts(src []byte) []int {
	starts := []int{0}
	for i, b := range src {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// pairs returns the key-value pairs of a mapping node.
func pairs(n ast.Node) ([]*ast.MappingValueNode, error) {
	if _, ok := n.(*ast.AliasNode); ok {
		return nil, errors.New("a YAML alias: write pod templates out in full")
	}
	var ps []*ast.MappingValueNode
	switch v := yamlnode.Unwrap(n).(type) {
	case *ast.MappingNode:
		ps = v.Values
	case *ast.MappingValueNode:
		ps = []*ast.MappingValueNode{v}
	default:
		return nil, errors.New("not a mapping")
	}
	for _, p := range ps {
		if _, ok := p.Key.(*ast.MergeKeyNode); ok {
			return nil, errors.New("a mapping with a merge key (<<): write pod templates out in full")
		}
	}
	return ps, nil
}

// lookup finds key in a mapping. A key given twice is an error: which
// one a reader takes differs between YAML libraries, and the one ferry
// pinned must be the one Kubernetes reads.
func lookup(ps []*ast.MappingValueNode, key string) (ast.Node, bool, error) {
	var found ast.Node
	for _, p := range ps {
		if k, ok := yamlnode.Text(p.Key); ok && k == key {
			if found != nil {
				return nil, false, fmt.Errorf("line %d: key %q appears twice", line(p), key)
			}
			found = p.Value
		}
	}
	return found, found != nil, nil
}

func textOf(ps []*ast.MappingValueNode, key string) (string, bool) {
	n, ok, err := lookup(ps, key)
	if !ok || err != nil {
		return "", false
	}
	return yamlnode.Text(n)
}

func isNull(n ast.Node) bool {
	_, ok := yamlnode.Unwrap(n).(*ast.NullNode)
	return ok
}

func line(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}
