package spec

import (
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"ferry/internal/yamlnode"
)

// maxSize caps ferry.yaml. A spec is a short list of sources; the cap
// keeps a mistyped -f (a bundle, an image tarball) from being read into memory.
const maxSize = 1 << 20

// ErrInvalid is matched by every Error, so the command line can map
// a spec that does not load to its own exit code with errors.Is.
var ErrInvalid = errors.New("invalid spec")

// Error is one problem in a spec file: what is wrong (Msg), in which
// field (a path such as components[1].images[0]) and on which line.
type Error struct {
	File  string // spec file name as given, such as "ferry.yaml"
	Line  int    // 1-based; 0 when unknown
	Field string // empty when the problem concerns the file as a whole
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Load reads and validates the spec file at path, checking what it refers
// to with src. Spec.Dir is set to the absolute directory of path; messages
// name the file as path was given.
func Load(path string, src Sources) (*Spec, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load spec %s: %w", path, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{File: path, Msg: "not a regular file: give the path of ferry.yaml"}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	return parse(data, path, filepath.Dir(abs), src)
}

// parse parses and validates spec bytes. dir is the directory the spec's
// paths are relative to (made absolute, it becomes Spec.Dir); name is the file
// name used in messages. A decoding problem (bad YAML, an unknown field, a
// wrong type) stops at the first one; validation problems are all collected.
// The result is a *Error, or several joined with errors.Join in line order.
func parse(data []byte, name, dir string, src Sources) (*Spec, error) {
	if len(data) > maxSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("larger than %d bytes: a spec lists sources, it does not contain them", maxSize)}
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("spec directory %s: %w", dir, err)
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, specYAMLError(name, err, nil)
	}
	var body ast.Node
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, &Error{File: name, Line: nodeLine(doc.Body), Msg: "a second YAML document: ferry.yaml holds exactly one"}
		}
		body = doc.Body
	}
	if body == nil {
		return nil, &Error{File: name, Msg: "empty: start with apiVersion: " + APIVersion + " and kind: " + Kind}
	}
	ix := newSpecIndex(body)
	var spec Spec
	if err := yaml.NodeToValue(body, &spec, yaml.Strict()); err != nil {
		return nil, specYAMLError(name, err, ix)
	}
	spec.Dir = absDir
	if err := validateSpec(&spec, name, ix, src); err != nil {
		return nil, err
	}
	return &spec, nil
}

// imageSpecFields has Image's fields without its methods, so the mapping
// form decodes with the default struct rules.
type imageSpecFields Image

// UnmarshalYAML accepts both forms of an image: a plain string (the source)
// and a mapping {source, name}. It works on the node so that errors keep
// their position in the file.
func (im *Image) UnmarshalYAML(node ast.Node) error {
	switch n := yamlnode.Unwrap(node).(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		var f imageSpecFields
		if err := yaml.NodeToValue(node, &f, yaml.Strict()); err != nil {
			return err
		}
		*im = Image(f)
		return nil
	case *ast.StringNode:
		*im = Image{Source: n.Value}
		return nil
	}
	return &specNodeError{node: node, err: errors.New("expected an image source string or a mapping {source, name}")}
}

// specNodeError ties an error from a custom unmarshaler to the node it came
// from; the decoder passes such errors through without a position.
type specNodeError struct {
	node ast.Node
	err  error
}

func (e *specNodeError) Error() string { return e.err.Error() }
func (e *specNodeError) Unwrap() error { return e.err }

// unmarshalSpecScalar decodes a scalar node with u, keeping the node with any
// error so that the message gets its line. A null leaves the zero value.
func unmarshalSpecScalar(node ast.Node, u encoding.TextUnmarshaler) error {
	if _, ok := yamlnode.Unwrap(node).(*ast.NullNode); ok {
		return nil
	}
	text, ok := yamlnode.Text(node)
	if !ok {
		return &specNodeError{node: node, err: errors.New("expected a single value, not a list or a mapping")}
	}
	if err := u.UnmarshalText([]byte(text)); err != nil {
		return &specNodeError{node: node, err: err}
	}
	return nil
}

func nodeLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// specIndex maps field paths (components[2].files[0].src) to their nodes and
// lines, and tokens back to field paths, so that both decoding and validation
// errors can say where they are.
type specIndex struct {
	nodes map[string]ast.Node
	lines map[string]int
	paths map[*token.Token]string
}

func newSpecIndex(body ast.Node) *specIndex {
	ix := &specIndex{
		nodes: make(map[string]ast.Node),
		lines: make(map[string]int),
		paths: make(map[*token.Token]string),
	}
	ix.walk(body, "", 0)
	return ix
}

// maxSpecDepth bounds the index walk; the decoder has its own depth limit.
const maxSpecDepth = 64

func (ix *specIndex) walk(node ast.Node, path string, depth int) {
	if node == nil || depth > maxSpecDepth {
		return
	}
	switch n := node.(type) {
	case *ast.AnchorNode:
		ix.walk(n.Value, path, depth+1)
	case *ast.TagNode:
		ix.walk(n.Value, path, depth+1)
	case *ast.MappingNode:
		for _, mv := range n.Values {
			ix.pair(mv, path, depth)
		}
	case *ast.MappingValueNode:
		ix.pair(n, path, depth)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			p := fmt.Sprintf("%s[%d]", path, i)
			ix.record(p, v, nodeLine(v))
			ix.walk(v, p, depth+1)
		}
	}
}

func (ix *specIndex) pair(mv *ast.MappingValueNode, path string, depth int) {
	if mv == nil || mv.Key == nil {
		return
	}
	key := mv.Key.String()
	if s, ok := yamlnode.Text(mv.Key); ok {
		key = s
	}
	p := key
	if path != "" {
		p = path + "." + key
	}
	ix.record(p, mv.Value, nodeLine(mv.Key))
	if tk := mv.Key.GetToken(); tk != nil {
		ix.paths[tk] = p
	}
	ix.walk(mv.Value, p, depth+1)
}

func (ix *specIndex) record(path string, n ast.Node, line int) {
	ix.nodes[path] = n
	ix.lines[path] = line
	if n != nil {
		if tk := n.GetToken(); tk != nil {
			if _, ok := ix.paths[tk]; !ok {
				ix.paths[tk] = path
			}
		}
	}
}

// node returns the value node of path, or nil when the field is absent.
func (ix *specIndex) node(path string) ast.Node {
	if ix == nil {
		return nil
	}
	return ix.nodes[path]
}

// line returns the line of path or, when the field is absent, of the
// nearest enclosing field that is present.
func (ix *specIndex) line(path string) int {
	if ix == nil {
		return 0
	}
	for path != "" {
		if l, ok := ix.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// specYAMLError turns a parser or decoder error into a Error with the
// field and line it concerns.
func specYAMLError(file string, err error, ix *specIndex) *Error {
	se := &Error{File: file, Msg: err.Error()}
	var ne *specNodeError
	if errors.As(err, &ne) {
		se.Msg = ne.err.Error()
		se.Line = nodeLine(ne.node)
		if ix != nil {
			se.Field = ix.paths[ne.node.GetToken()]
		}
		return se
	}
	var ye yaml.Error
	if !errors.As(err, &ye) {
		return se
	}
	se.Msg = ye.GetMessage()
	if tk := ye.GetToken(); tk != nil {
		if tk.Position != nil {
			se.Line = tk.Position.Line
		}
		if ix != nil {
			se.Field = ix.paths[tk]
		}
	}
	var (
		unknown *yaml.UnknownFieldError
		typ     *yaml.TypeError
		node    *yaml.UnexpectedNodeTypeError
	)
	switch {
	case errors.As(err, &unknown):
		se.Msg = "unknown field: check its spelling and indentation (ferry.yaml accepts no other fields)"
	case errors.As(err, &typ):
		se.Msg = fmt.Sprintf("expected %s, found %s", specTypeName(typ.DstType), specTypeName(typ.SrcType))
	case errors.As(err, &node):
		se.Msg = fmt.Sprintf("expected %s, found %s", specNodeTypeName(node.Expected), specNodeTypeName(node.Actual))
	}
	return se
}

// specTypeName names a Go type the way a spec author thinks of it.
func specTypeName(t reflect.Type) string {
	if t == nil {
		return "nothing"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() == "time" && t.Name() == "Time" {
		return "an RFC 3339 time such as 2027-12-31T00:00:00Z"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

func specNodeTypeName(t ast.NodeType) string {
	switch t {
	case ast.MappingType, ast.MappingValueType:
		return "a mapping"
	case ast.SequenceType:
		return "a list"
	case ast.StringType, ast.LiteralType:
		return "a string"
	case ast.IntegerType, ast.FloatType:
		return "a number"
	case ast.BoolType:
		return "true or false"
	case ast.NullType:
		return "nothing"
	}
	return t.String()
}

// sortSpecErrors orders errors by line; errors without a line come first,
// as they concern the file as a whole or a missing top-level field.
func sortSpecErrors(errs []*Error) {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
}
