package spec

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/goccy/go-yaml/ast"

	"ferry/internal/yamlnode"
)

// ValueFiles is a list of values files, in the order they apply. It is
// written as one string when there is one file, the form ferry.yaml and
// the manifest had before a chart could take several, so that old files
// keep their meaning and a manifest with one values file keeps its bytes;
// a list otherwise. In the manifest the entries are digests.
type ValueFiles []string

// UnmarshalYAML accepts a single string or a sequence of strings, keeping
// the node's position for errors.
func (v *ValueFiles) UnmarshalYAML(node ast.Node) error {
	switch n := yamlnode.Unwrap(node).(type) {
	case *ast.NullNode:
		*v = nil
		return nil
	case *ast.SequenceNode:
		out := make(ValueFiles, 0, len(n.Values))
		for _, e := range n.Values {
			s, ok := yamlnode.Text(e)
			if !ok {
				return &specNodeError{node: e, err: errors.New("expected a values file path")}
			}
			out = append(out, s)
		}
		*v = out
		return nil
	}
	s, ok := yamlnode.Text(node)
	if !ok {
		return &specNodeError{node: node, err: errors.New("expected a values file path or a list of them")}
	}
	*v = ValueFiles{s}
	return nil
}

// MarshalJSON writes one file as a string and several as an array.
func (v ValueFiles) MarshalJSON() ([]byte, error) {
	if len(v) == 1 {
		return json.Marshal(v[0])
	}
	return json.Marshal([]string(v))
}

// UnmarshalJSON reads a string or an array of strings. A one-element
// array is refused: a manifest has one byte form, and that is the string.
func (v *ValueFiles) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = ValueFiles{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("values: expected a string or an array of strings")
	}
	if len(l) == 1 {
		return fmt.Errorf("values: one file is written as a string, not an array")
	}
	*v = l
	return nil
}
