package config

import (
	"errors"
	"fmt"
	"sort"

	"ferry/bundle/spec"
)

// Value is one variable's value on a site and where it came from.
type Value struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Value is the text of the value; empty when Set is false.
	Value string `json:"value"`
	// Set is false for a variable that is neither required nor has a
	// default, and was given no value: it is empty where it is used.
	Set    bool   `json:"set"`
	Source Source `json:"source"`
	// Sealed is a secret's value as the state keeps it, encrypted to the
	// host key (config/sealed); Value is then empty.
	Sealed []byte `json:"sealed,omitempty"`
}

// Config is the values of one configuration revision: one per variable
// the release declares, in the order it declares them.
type Config struct {
	// Revision counts the configurations of an appliance from 1.
	Revision int     `json:"revision"`
	Values   []Value `json:"values"`
	// Databases are ${ferry.db.NAME}: the path of each embedded SQLite
	// database of the release's migrations. A database given a DSN is not
	// listed: a DSN holds a password (see DSNs).
	Databases map[string]string `json:"databases,omitempty"`
	// DSNs are the PostgreSQL databases of the release's migrations given
	// a DSN, by logical name: a service gets each whole as FERRY_DB_NAME
	// in its environment, as it gets a secret. They are stored only
	// sealed (SealedDSNs), never in the clear.
	DSNs       map[string]string `json:"-"`
	SealedDSNs map[string][]byte `json:"sealedDSNs,omitempty"`
	// Sites is this site and its peers (the sites key of a values file),
	// nil when the appliance stands alone.
	Sites *Sites `json:"sites,omitempty"`
}

// Lookup returns the value of the variable name.
func (c *Config) Lookup(name string) (Value, bool) {
	if c == nil {
		return Value{}, false
	}
	for _, v := range c.Values {
		if v.Name == name {
			return v, true
		}
	}
	return Value{}, false
}

// Prompter asks for the value of a required variable on a terminal (a
// secret without echo). It returns an error when there is no terminal.
type Prompter func(v spec.Variable) (string, error)

// Inputs are the values an operator gave, and the configuration in force.
type Inputs struct {
	// Files are --values files, in the order given: a later one wins.
	Files []string
	// Set are --set NAME=VALUE arguments.
	Set []string
	// Environ is the process environment, read for FERRY_VAR_NAME.
	Environ []string
	// Prompt asks for required values still missing; nil: no terminal.
	Prompt Prompter
	// Previous is the configuration in force (nil on a first install):
	// what a site set keeps its value when nothing newer is given.
	Previous *Config
}

// Errors are the values refused by one resolution, in the order of the
// variables; the first decides the exit code.
type Errors []*Error

func (e Errors) Error() string {
	errs := make([]error, len(e))
	for i, x := range e {
		errs[i] = x
	}
	return errors.Join(errs...).Error()
}

// Unwrap gives the errors to errors.Is and errors.As.
func (e Errors) Unwrap() []error {
	errs := make([]error, len(e))
	for i, x := range e {
		errs[i] = x
	}
	return errs
}

// Resolve gives every variable its value from in, by precedence, and
// checks each against its variable. A name given that vars does not
// declare is refused (ErrInput), as is any value that does not fit; all
// refusals are reported at once (Errors). The result's Revision is the
// previous one's plus one.
func Resolve(vars []spec.Variable, in Inputs) (*Config, error) {
	declared := map[string]*spec.Variable{}
	names := make([]string, len(vars))
	for i := range vars {
		declared[vars[i].Name] = &vars[i]
		names[i] = vars[i].Name
	}
	chosen := map[string]given{}
	// offArgs holds the secrets refused on the command line: not also
	// reported as missing.
	offArgs := map[string]bool{}
	var errs Errors
	take := func(list []given) {
		for _, g := range list {
			v, ok := declared[g.name]
			if !ok {
				errs = append(errs, &Error{Variable: g.name, Source: g.source, Expected: "a variable this bundle declares" + declaredList(names), Err: ErrInput})
				continue
			}
			if v.IsSecret() && g.source.Kind == FromFlag {
				// Refused, so that the habit does not stick: every user
				// of the host reads a command line in /proc/PID/cmdline.
				errs = append(errs, &Error{Variable: g.name, Source: g.source, Value: Redacted, Err: ErrSecretOnCommandLine,
					Expected: "a secret off the command line, which every user of the host can read: give it with " +
						EnvName(g.name) + ", --values FILE, --set " + g.name + "=@FILE or at the prompt"})
				offArgs[g.name] = true
				continue
			}
			chosen[g.name] = g
		}
	}
	if p := in.Previous; p != nil {
		var prev []given
		for _, v := range p.Values {
			if _, ok := declared[v.Name]; !ok || !v.Set || v.Source.Kind == FromDefault {
				continue // dropped with its variable, or the bundle's own
			}
			src := v.Source
			if src.Kind != FromPrevious {
				src = Source{Kind: FromPrevious, Where: fmt.Sprintf("revision %d, %s", p.Revision, src)}
			}
			prev = append(prev, given{name: v.Name, value: v.Value, source: src})
		}
		take(prev)
	}
	for _, f := range in.Files {
		list, err := readValuesFile(f)
		if err != nil {
			return nil, err
		}
		take(list)
	}
	take(fromEnviron(in.Environ, names))
	set, err := parseSet(in.Set)
	if err != nil {
		return nil, err
	}
	take(set)
	sites, err := resolveSites(in.Files, in.Previous)
	if err != nil {
		return nil, err
	}

	c := &Config{Revision: 1, Sites: sites}
	if in.Previous != nil {
		c.Revision = in.Previous.Revision + 1
	}
	for i := range vars {
		v := &vars[i]
		val := Value{Name: v.Name, Type: v.Type}
		g, ok := chosen[v.Name]
		switch {
		case ok:
		case v.Default != nil:
			g, ok = given{name: v.Name, value: string(*v.Default), source: Source{Kind: FromDefault}}, true
		case v.Required && in.Prompt != nil:
			text, perr := in.Prompt(*v)
			if perr == nil {
				g, ok = given{name: v.Name, value: text, source: Source{Kind: FromPrompt}}, true
				break
			}
			if !errors.Is(perr, errNoTerminal) {
				return nil, fmt.Errorf("asking for %s: %w", v.Name, perr)
			}
		}
		if !ok {
			switch {
			case !v.Required || offArgs[v.Name]:
			case v.IsSecret():
				errs = append(errs, &Error{Variable: v.Name, Expected: fmt.Sprintf("a value (required): give it with %s, --values FILE or --set %s=@FILE", EnvName(v.Name), v.Name), Err: ErrRequired})
			default:
				errs = append(errs, &Error{Variable: v.Name, Expected: fmt.Sprintf("a value (required): give it with --set %s=VALUE, --values FILE or %s", v.Name, EnvName(v.Name)), Err: ErrRequired})
			}
			c.Values = append(c.Values, val)
			continue
		}
		if verr := v.CheckValue(g.value); verr != nil {
			errs = append(errs, &Error{Variable: v.Name, Source: g.source, Value: shown(v.IsSecret(), g.value), Expected: verr.Expected, Err: problemClass(verr.Problem)})
			continue
		}
		val.Value, val.Set, val.Source = g.value, true, g.source
		c.Values = append(c.Values, val)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

func problemClass(p spec.ValueProblem) error {
	switch p {
	case spec.ProblemRange:
		return ErrRange
	case spec.ProblemPattern, spec.ProblemEnum:
		return ErrNotAllowed
	}
	return ErrType
}

func declaredList(names []string) string {
	if len(names) == 0 {
		return " (it declares none)"
	}
	s := append([]string(nil), names...)
	sort.Strings(s)
	out := " ("
	for i, n := range s {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out + ")"
}

// NoTerminal is the error a Prompter returns when it cannot ask: the
// value is then reported missing (ErrRequired).
func NoTerminal() error { return errNoTerminal }
