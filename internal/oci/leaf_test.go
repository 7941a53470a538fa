package oci

import (
	"testing"

	"ferry/internal/testenv"
)

// TestLeaf keeps the package on the standard library alone: every layer,
// the leaf bundle/spec too, uses it, and an import of a registry client
// here would link that client into all of them.
func TestLeaf(t *testing.T) {
	testenv.OnlyDeps(t)
}
