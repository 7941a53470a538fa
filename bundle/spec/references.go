package spec

import (
	"fmt"
	"os"
	"strings"
)

// Reference kinds: ${var.NAME} is a site's value of a declared variable,
// ${ferry.NAME} a value ferry knows on the appliance.
const (
	RefVar   = "var"
	RefFerry = "ferry"
)

// Built-in values, written ${ferry.NAME}: the release's version, the
// appliance's root, the data directory (a service's own, elsewhere the
// root's data directory) and ${ferry.db.NAME}, the path or DSN of a
// logical database of the bundle's migrations.
const (
	BuiltinVersion = "version"
	BuiltinRoot    = "root"
	BuiltinData    = "data"
	BuiltinDB      = "db."
)

// Ref is one reference in a string: s[Start:End] is "${Kind.Name}".
type Ref struct {
	Start, End int
	Kind       string
	Name       string
}

// maxRefs bounds the references of one string.
const maxRefs = 1024

// Refs finds the references in s. Only "${var." and "${ferry." start one;
// any other "${" (such as ${PORT}, which ferry serve replaces) is text. A
// reference that is not closed, or whose name is not a name, is an error:
// it would otherwise reach a service as text.
func Refs(s string) ([]Ref, error) {
	var refs []Ref
	for i := 0; i < len(s); {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			break
		}
		start := i + j
		rest := s[start+2:]
		var kind string
		switch {
		case strings.HasPrefix(rest, RefVar+"."):
			kind = RefVar
		case strings.HasPrefix(rest, RefFerry+"."):
			kind = RefFerry
		default:
			i = start + 2
			continue
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, fmt.Errorf("${%s. at byte %d is not closed with }", kind, start)
		}
		name := rest[len(kind)+1 : end]
		if err := checkRefName(kind, name); err != nil {
			return nil, err
		}
		if len(refs) == maxRefs {
			return nil, fmt.Errorf("more than %d references in one value", maxRefs)
		}
		refs = append(refs, Ref{Start: start, End: start + 2 + end + 1, Kind: kind, Name: name})
		i = start + 2 + end + 1
	}
	return refs, nil
}

func checkRefName(kind, name string) error {
	if kind == RefVar {
		if err := CheckVariableName(name); err != nil {
			return fmt.Errorf("${var.%s}: %w", name, err)
		}
		return nil
	}
	switch {
	case name == BuiltinVersion || name == BuiltinRoot || name == BuiltinData:
		return nil
	case strings.HasPrefix(name, BuiltinDB):
		if err := CheckDatabaseName(strings.TrimPrefix(name, BuiltinDB)); err != nil {
			return fmt.Errorf("${ferry.%s}: %w", name, err)
		}
		return nil
	}
	return fmt.Errorf("${ferry.%s} is not a built-in value: use ${ferry.version}, ${ferry.root}, ${ferry.data} or ${ferry.db.DATABASE}", name)
}

// refScope is what references of a spec may name.
type refScope struct {
	vars      map[string]bool
	secrets   map[string]bool
	databases map[string]bool
}

// refs checks the references of one string field and reports whether it
// has any.
func (v *specValidator) refs(field, s string) bool { return v.refsWhere(field, s, false) }

// refsWhere is refs; secretOK allows a secret variable, which only an
// environment variable may carry: a command line is readable by every
// user of the host, a URL is logged, a release file is not private.
func (v *specValidator) refsWhere(field, s string, secretOK bool) bool {
	refs, err := Refs(s)
	if err != nil {
		v.errorf(field, "%v", err)
		return true
	}
	for _, r := range refs {
		if msg := v.scope.unknown(r); msg != "" {
			v.errorf(field, "%s", msg)
		} else if !secretOK && v.scope.secret(r) {
			v.errorf(field, "%s", secretMsg(r))
		}
	}
	return len(refs) > 0
}

func (sc refScope) secret(r Ref) bool { return r.Kind == RefVar && sc.secrets[r.Name] }

func secretMsg(r Ref) string {
	return fmt.Sprintf("${var.%s} is a secret: pass it to the service in env, never on a command line, in a URL or in a file of the release", r.Name)
}

// unknown says what is wrong with a well-formed reference, or "".
func (sc refScope) unknown(r Ref) string {
	switch {
	case r.Kind == RefVar && !sc.vars[r.Name]:
		return fmt.Sprintf("${var.%s} names no variable of this spec: declare it under variables", r.Name)
	case r.Kind == RefFerry && strings.HasPrefix(r.Name, BuiltinDB) && !sc.databases[strings.TrimPrefix(r.Name, BuiltinDB)]:
		return fmt.Sprintf("${ferry.%s} names no database of this spec's migrations", r.Name)
	}
	return ""
}

// refsIn checks the references of each string of a list.
func (v *specValidator) refsIn(field string, list []string) {
	for i, s := range list {
		v.refs(fmt.Sprintf("%s[%d]", field, i), s)
	}
}

// withoutRefs replaces every reference of s by a plain "1", so that a
// value with references can be checked for its form (a URL, a path).
func withoutRefs(s string) string {
	refs, err := Refs(s)
	if err != nil || len(refs) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, r := range refs {
		b.WriteString(s[last:r.Start])
		b.WriteString("1")
		last = r.End
	}
	b.WriteString(s[last:])
	return b.String()
}

// newRefScope collects the variables and databases a spec declares.
func newRefScope(s *Spec) refScope {
	sc := refScope{vars: map[string]bool{}, secrets: map[string]bool{}, databases: map[string]bool{}}
	for _, vr := range s.Variables {
		sc.vars[vr.Name] = true
		sc.secrets[vr.Name] = vr.IsSecret()
	}
	for _, c := range s.Components {
		for _, m := range c.Migrations {
			sc.databases[m.Database] = true
		}
	}
	return sc
}

// templateFile parses a file marked template: true and checks what it
// refers to. ${var.NAME} is not how a template names a value, so it is
// refused rather than left as text.
func (v *specValidator) templateFile(field, resolved, rel string) {
	data, err := os.ReadFile(resolved)
	if err != nil {
		v.errorf(field, "%q: %v", rel, err)
		return
	}
	text := string(data)
	if refs, _ := Refs(text); len(refs) > 0 {
		v.errorf(field, "%s:%d: write {{ .%s.%s }} in a template, not %s", rel, lineAt(text, refs[0].Start), refs[0].Kind, refs[0].Name, text[refs[0].Start:refs[0].End])
		return
	}
	_, refs, err := ParseTemplate(rel, text)
	if err != nil {
		v.errorf(field, "template %v", err)
		return
	}
	for _, r := range refs {
		if msg := v.scope.unknown(r); msg != "" {
			v.errorf(field, "template %s: %s", rel, msg)
		} else if v.scope.secret(r) {
			v.errorf(field, "template %s: %s", rel, secretMsg(r))
		}
	}
}

// valuesFile checks the references of a chart's values file, naming the
// line of the values file each is on.
func (v *specValidator) valuesFile(field, resolved, rel string) {
	data, err := os.ReadFile(resolved)
	if err != nil {
		return // the chart's check reports an unreadable file
	}
	for i, line := range strings.Split(string(data), "\n") {
		refs, err := Refs(line)
		if err != nil {
			v.errorf(field, "%s:%d: %v", rel, i+1, err)
			continue
		}
		for _, r := range refs {
			if msg := v.scope.unknown(r); msg != "" {
				v.errorf(field, "%s:%d: %s", rel, i+1, msg)
			} else if v.scope.secret(r) {
				v.errorf(field, "%s:%d: %s", rel, i+1, secretMsg(r))
			}
		}
	}
}

// lineAt is the 1-based line of byte offset off in text.
func lineAt(text string, off int) int { return strings.Count(text[:off], "\n") + 1 }
