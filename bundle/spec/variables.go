package spec

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"ferry/internal/yamlnode"
)

// Variable types: what a site's value of a variable must be.
const (
	TypeString   = "string"   // any text
	TypeInt      = "int"      // a decimal integer (64 bits)
	TypeBool     = "bool"     // true or false
	TypeEnum     = "enum"     // one of Values
	TypeAddress  = "address"  // host:port, the port from 1 to 65535
	TypeDuration = "duration" // a Go duration, not negative
	TypeSecret   = "secret"   // text that is never shown
	TypeFile     = "file"     // an absolute path of a regular file on the appliance
)

// VariableTypes lists the types in the order the reference gives them.
var variableTypes = []string{TypeString, TypeInt, TypeBool, TypeEnum, TypeAddress, TypeDuration, TypeSecret, TypeFile}

// MaxVariables bounds the variables of a bundle; MaxValueLen bounds a
// value (a default here, a site's value in package config): values are
// settings, not content.
const (
	MaxVariables = 256
	MaxValueLen  = 64 << 10
)

// variableNameRE is a variable's name: it is written in references
// (${var.NAME}), in FERRY_VAR_NAME (upper-cased) and in values files.
var variableNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Variable is a setting that differs from site to site, declared by the
// vendor and given a value on the appliance (package config). A value is
// always carried as text; Type says how it reads.
type Variable struct {
	Name        string  `yaml:"name" json:"name"`
	Type        string  `yaml:"type" json:"type"`
	Default     *Scalar `yaml:"default,omitempty" json:"default,omitempty"`
	Description string  `yaml:"description,omitempty" json:"description,omitempty"`
	// Required asks the site for a value: one without a default and
	// without Required has the empty value when the site gives none.
	Required bool `yaml:"required,omitempty" json:"required,omitempty"`
	// Min and Max bound an int.
	Min *int64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max *int64 `yaml:"max,omitempty" json:"max,omitempty"`
	// Pattern is a regular expression (RE2) a string or secret must match
	// as a whole.
	Pattern string `yaml:"pattern,omitempty" json:"pattern,omitempty"`
	// Values are the choices of an enum.
	Values []Scalar `yaml:"values,omitempty" json:"values,omitempty"`
}

// Scalar is a value written in YAML as any scalar (a string, a number, a
// boolean), kept as its text: "2", "true", "0.0.0.0:8080". YAML's reading
// of on, off or 1.10 as something else never changes a value.
type Scalar string

// UnmarshalYAML keeps the scalar's text as written.
func (s *Scalar) UnmarshalYAML(node ast.Node) error {
	text, ok := yamlnode.Text(node)
	if !ok {
		return &specNodeError{node: node, err: errors.New("expected a single value, not a list or a mapping")}
	}
	*s = Scalar(text)
	return nil
}

// IsSecret reports whether the variable's value is never shown.
func (v *Variable) IsSecret() bool { return v.Type == TypeSecret }

// ValueProblem classifies why a value is refused, so that callers map each
// class to its own exit code.
type ValueProblem int

// Classes of ValueError.
const (
	ProblemType    ValueProblem = iota + 1 // not of the variable's type
	ProblemRange                           // outside min..max
	ProblemPattern                         // does not match the pattern
	ProblemEnum                            // not one of the enum's values
)

// ValueError is a value a variable does not accept: Expected says what
// it would. It never holds the value itself, which may be a secret.
type ValueError struct {
	Problem  ValueProblem
	Expected string
}

func (e *ValueError) Error() string { return "expected " + e.Expected }

// CheckValue checks value against the variable's type and constraints.
func (v *Variable) CheckValue(value string) *ValueError {
	if len(value) > MaxValueLen {
		return &ValueError{ProblemType, fmt.Sprintf("at most %d bytes", MaxValueLen)}
	}
	switch v.Type {
	case TypeString, TypeSecret:
		if v.Pattern != "" {
			re, err := compilePattern(v.Pattern)
			if err != nil || !re.MatchString(value) {
				return &ValueError{ProblemPattern, fmt.Sprintf("a value matching the pattern %s", v.Pattern)}
			}
		}
	case TypeInt:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return &ValueError{ProblemType, "an integer, such as 2"}
		}
		if (v.Min != nil && n < *v.Min) || (v.Max != nil && n > *v.Max) {
			return &ValueError{ProblemRange, "an integer " + v.rangeText()}
		}
	case TypeBool:
		if value != "true" && value != "false" {
			return &ValueError{ProblemType, "true or false"}
		}
	case TypeEnum:
		for _, c := range v.Values {
			if string(c) == value {
				return nil
			}
		}
		return &ValueError{ProblemEnum, "one of " + v.choices()}
	case TypeAddress:
		if err := checkListen(value); err != nil {
			return &ValueError{ProblemType, "an address host:port, such as 0.0.0.0:8080, the port from 1 to 65535"}
		}
	case TypeDuration:
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return &ValueError{ProblemType, "a duration with a unit, such as 30s or 5m"}
		}
	case TypeFile:
		if !strings.HasPrefix(value, "/") || strings.ContainsRune(value, 0) {
			return &ValueError{ProblemType, "an absolute path of a file on this host, such as /etc/pki/ca.pem"}
		}
	default:
		return &ValueError{ProblemType, "a variable of a known type"}
	}
	return nil
}

func (v *Variable) rangeText() string {
	switch {
	case v.Min != nil && v.Max != nil:
		return fmt.Sprintf("from %d to %d", *v.Min, *v.Max)
	case v.Min != nil:
		return fmt.Sprintf("of at least %d", *v.Min)
	case v.Max != nil:
		return fmt.Sprintf("of at most %d", *v.Max)
	}
	return ""
}

func (v *Variable) choices() string {
	s := make([]string, len(v.Values))
	for i, c := range v.Values {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// compilePattern compiles a pattern anchored at both ends: a pattern
// says what the whole value looks like.
func compilePattern(p string) (*regexp.Regexp, error) {
	return regexp.Compile(`^(?:` + p + `)$`)
}

// CheckVariableName checks a variable's name.
func CheckVariableName(s string) error {
	if !variableNameRE.MatchString(s) {
		return fmt.Errorf("%q is not a variable name: lowercase letters, digits and _, starting with a letter, at most 63 characters", s)
	}
	return nil
}

// variables checks the declarations: names, types, constraints that fit
// the type, and a default the variable itself accepts.
func (v *specValidator) variables(vars []Variable) {
	if len(vars) > MaxVariables {
		v.errorf("variables", "%d variables, more than the %d allowed", len(vars), MaxVariables)
		return
	}
	seen := make(map[string]string)
	for i := range vars {
		vr := &vars[i]
		f := fmt.Sprintf("variables[%d]", i)
		if err := CheckVariableName(vr.Name); err != nil {
			v.errorf(f+".name", "%v", err)
		} else if prev, dup := seen[vr.Name]; dup {
			v.errorf(f+".name", "duplicate variable %q (also %s)", vr.Name, prev)
		} else {
			seen[vr.Name] = f
		}
		known := false
		for _, t := range variableTypes {
			known = known || t == vr.Type
		}
		if !known {
			v.errorf(f+".type", "%q is not a variable type: use one of %s", vr.Type, strings.Join(variableTypes, ", "))
			continue
		}
		if (vr.Min != nil || vr.Max != nil) && vr.Type != TypeInt {
			v.errorf(f, "min and max bound an int, not a %s", vr.Type)
		}
		if vr.Min != nil && vr.Max != nil && *vr.Min > *vr.Max {
			v.errorf(f+".max", "%d is below min %d", *vr.Max, *vr.Min)
		}
		if vr.Pattern != "" {
			if vr.Type != TypeString && vr.Type != TypeSecret {
				v.errorf(f+".pattern", "a pattern applies to a string or a secret, not a %s", vr.Type)
			} else if _, err := compilePattern(vr.Pattern); err != nil {
				v.errorf(f+".pattern", "%q is not a regular expression: %v", vr.Pattern, err)
			}
		}
		switch {
		case vr.Type == TypeEnum && len(vr.Values) == 0:
			v.errorf(f+".values", "is required for an enum: the values a site may choose, such as [off, on]")
		case vr.Type != TypeEnum && len(vr.Values) > 0:
			v.errorf(f+".values", "values are the choices of an enum, not of a %s", vr.Type)
		}
		if vr.Default != nil {
			switch {
			case vr.Type == TypeSecret:
				v.errorf(f+".default", "a secret has no default: a value in the bundle is the same at every site, and not secret")
			case vr.Required:
				v.errorf(f+".required", "a variable with a default always has a value: remove required or the default")
			default:
				if err := vr.CheckValue(string(*vr.Default)); err != nil {
					v.errorf(f+".default", "%q does not fit the variable: %v", string(*vr.Default), err)
				}
			}
		}
	}
}

// CheckVariables checks declarations read from elsewhere than a spec
// file (a bundle's manifest) by the rules of the loader.
func CheckVariables(vars []Variable) error {
	v := &specValidator{}
	v.variables(vars)
	if len(v.errs) == 0 {
		return nil
	}
	errs := make([]error, len(v.errs))
	for i, e := range v.errs {
		errs[i] = errors.New(e.Field + ": " + e.Msg)
	}
	return errors.Join(errs...)
}
