// Package yamlnode reads scalars from a parsed YAML tree as they are
// written. ferry.yaml and a chart's Chart.yaml both mean a value's text
// where YAML would read a number or a time (a version 1.10 is not 1.1), so
// both read their nodes through these two functions.
package yamlnode

import "github.com/goccy/go-yaml/ast"

// Unwrap looks through anchors and tags to the value node.
func Unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

// Text returns a scalar's text as written (after unquoting), and false for
// a list or a mapping. A null is the empty text.
func Text(node ast.Node) (string, bool) {
	switch n := Unwrap(node).(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.LiteralNode:
		return n.Value.Value, true
	case *ast.NullNode:
		return "", true
	case ast.ScalarNode:
		if tk := n.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	return "", false
}
