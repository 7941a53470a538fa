package config

import (
	"errors"
	"fmt"
	"strconv"
)

// Classes of refused values; cmd/ferry maps each to its exit code.
var (
	// ErrRequired: a required variable has no value and there is no
	// terminal to ask for one.
	ErrRequired = errors.New("required value missing")
	// ErrType: a value is not of its variable's type.
	ErrType = errors.New("value of the wrong type")
	// ErrRange: an int is outside its variable's min and max.
	ErrRange = errors.New("value out of range")
	// ErrNotAllowed: a value does not match its variable's pattern, or
	// is not one of an enum's values.
	ErrNotAllowed = errors.New("value not allowed")
	// ErrInput: what gave the values cannot be used: a name the bundle
	// does not declare, --set without NAME=, a values file that is not a
	// YAML mapping of names to values.
	ErrInput = errors.New("unusable configuration input")
	// ErrSecretOnCommandLine: a secret's value was given on the command
	// line (--set NAME=VALUE), where every user of the host can read it.
	ErrSecretOnCommandLine = errors.New("secret value on the command line")
)

// Error is one value refused: which variable, where the value came from,
// the value (redacted for a secret) and what was expected.
type Error struct {
	Variable string
	Source   Source
	// Value is the value as given, or "(secret)"; empty when there is
	// none (a required value missing).
	Value    string
	Expected string
	Err      error // one of the classes above
}

func (e *Error) Error() string {
	s := "variable " + e.Variable
	if e.Source.Kind != "" {
		s += " (" + e.Source.String() + ")"
	}
	if e.Value != "" {
		s += ": " + e.Value
	}
	return s + ": expected " + e.Expected
}

func (e *Error) Unwrap() error { return e.Err }

// Redacted is how a secret's value is shown.
const Redacted = "(secret)"

// shown is value as an error or a listing may show it.
func shown(secret bool, value string) string {
	if secret {
		return Redacted
	}
	return strconv.Quote(value)
}

// inputError is an ErrInput about no particular variable.
func inputError(where, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInput, where, fmt.Sprintf(format, args...))
}
