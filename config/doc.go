// Package config gives a bundle's variables (spec.Variable) their values
// on one site, says where each value came from, and puts the values where
// the bundle uses them: ${var.NAME} and ${ferry.NAME} in services, checks
// and chart values, and template files rendered with text/template.
//
// A value is always text; its variable's type says how it reads. Values
// are resolved from, lowest precedence first, the variable's default, the
// value in force on the appliance, --values files, FERRY_VAR_NAME and
// --set, and last a prompt for a required value still missing. Every
// value is checked against its variable before anything uses it; a value
// refused is an *Error naming the variable, the value's source and what
// was expected, never a secret's text.
package config
