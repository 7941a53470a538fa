//go:build tools

package registry

// The conformance suite is a program that TestConformance builds; this import
// records it as a dependency of the module so go.mod keeps requiring it.
import _ "github.com/opencontainers/distribution-spec/conformance"
