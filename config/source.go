package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"ferry/bundle/spec"
	"ferry/internal/yamlnode"
)

// SourceKind is where a value came from, lowest precedence first.
type SourceKind string

// Sources of a value.
const (
	FromDefault  SourceKind = "default"  // the variable's default in the bundle
	FromPrevious SourceKind = "previous" // the value in force on the appliance
	FromFile     SourceKind = "file"     // a --values file
	FromEnv      SourceKind = "env"      // FERRY_VAR_NAME
	FromFlag     SourceKind = "flag"     // --set NAME=VALUE
	FromPrompt   SourceKind = "prompt"   // asked on the terminal
)

// Source says where one value came from: Where is "site.yaml:12",
// "FERRY_VAR_REPLICAS", "--set" or the revision of a previous value.
type Source struct {
	Kind  SourceKind `json:"kind"`
	Where string     `json:"where,omitempty"`
}

func (s Source) String() string {
	if s.Where == "" {
		return "from " + string(s.Kind)
	}
	return "from " + string(s.Kind) + " " + s.Where
}

// EnvPrefix starts the environment variable of a variable: FERRY_VAR_
// and its name upper-cased.
const EnvPrefix = "FERRY_VAR_"

// EnvName is the environment variable that sets the variable name.
func EnvName(name string) string { return EnvPrefix + strings.ToUpper(name) }

// given is one value the operator gave.
type given struct {
	name, value string
	source      Source
}

// maxValuesFile bounds a --values file: a site's settings, not content.
const maxValuesFile = 1 << 20

// readValuesFile reads a --values file: a YAML mapping of variable names
// to scalar values, each with the line it is on.
func readValuesFile(path string) ([]given, error) {
	data, err := readBoundedFile(path)
	if err != nil {
		return nil, err
	}
	return parseValues(data, path)
}

// readBoundedFile reads a --values file whole, up to maxValuesFile.
func readBoundedFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, inputError(path, "%v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxValuesFile+1))
	if err != nil {
		return nil, inputError(path, "%v", err)
	}
	if len(data) > maxValuesFile {
		return nil, inputError(path, "larger than %d bytes", maxValuesFile)
	}
	return data, nil
}

// parseValues parses the text of a values file named name.
func parseValues(data []byte, name string) ([]given, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, inputError(name, "not YAML: %v", firstLine(err.Error()))
	}
	var out []given
	seen := map[string]int{}
	for i, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if i > 0 && len(out) > 0 {
			return nil, inputError(name, "a second YAML document: a values file holds one mapping")
		}
		var pairs []*ast.MappingValueNode
		switch n := yamlnode.Unwrap(doc.Body).(type) {
		case *ast.MappingNode:
			pairs = n.Values
		case *ast.MappingValueNode:
			pairs = []*ast.MappingValueNode{n}
		case *ast.NullNode:
			continue
		default:
			return nil, inputError(name, "not a mapping of variable names to values, such as replicas: 3")
		}
		for _, mv := range pairs {
			line := 0
			if tk := mv.Key.GetToken(); tk != nil && tk.Position != nil {
				line = tk.Position.Line
			}
			where := fmt.Sprintf("%s:%d", name, line)
			key, ok := yamlnode.Text(mv.Key)
			if !ok {
				return nil, inputError(where, "a key is not a variable name")
			}
			if key == SitesKey {
				continue // not a variable: read by ParseSites
			}
			if prev, dup := seen[key]; dup {
				return nil, inputError(where, "%s is also set on line %d", key, prev)
			}
			seen[key] = line
			value, ok := yamlnode.Text(mv.Value)
			if !ok {
				return nil, inputError(where, "%s: a value is a single scalar, not a list or a mapping", key)
			}
			out = append(out, given{name: key, value: value, source: Source{Kind: FromFile, Where: where}})
		}
	}
	return out, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// parseSet reads --set NAME=VALUE arguments; NAME=@FILE takes the value
// from FILE (its text, less one trailing newline), which keeps a secret
// off the command line.
func parseSet(args []string) ([]given, error) {
	out := make([]given, 0, len(args))
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			// The argument may be a secret written without its name:
			// it is not repeated.
			return nil, fmt.Errorf("%w: --set takes NAME=VALUE, such as --set replicas=3", ErrInput)
		}
		src := Source{Kind: FromFlag, Where: "--set"}
		if file, ok := strings.CutPrefix(value, "@"); ok {
			var err error
			if value, err = readValueFile(file); err != nil {
				return nil, err
			}
			src = Source{Kind: FromFile, Where: file}
		}
		out = append(out, given{name: name, value: value, source: src})
	}
	return out, nil
}

// readValueFile reads the value of --set NAME=@FILE.
func readValueFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", inputError(path, "%v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, spec.MaxValueLen+2))
	if err != nil {
		return "", inputError(path, "%v", err)
	}
	text := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if len(text) > spec.MaxValueLen {
		return "", inputError(path, "larger than %d bytes: not a value", spec.MaxValueLen)
	}
	return text, nil
}

// fromEnviron reads FERRY_VAR_NAME for every declared name; environ is
// os.Environ()'s form.
func fromEnviron(environ []string, declared []string) []given {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			env[k] = v
		}
	}
	var out []given
	for _, name := range declared {
		k := EnvName(name)
		if v, ok := env[k]; ok {
			out = append(out, given{name: name, value: v, source: Source{Kind: FromEnv, Where: k}})
		}
	}
	return out
}

// errNoTerminal is what a Prompter returns when it cannot ask.
var errNoTerminal = errors.New("no terminal to ask on")
