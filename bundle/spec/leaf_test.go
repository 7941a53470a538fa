package spec

import (
	"testing"

	"ferry/internal/testenv"
)

// TestLeaf keeps the package a leaf, as its doc promises: besides the
// standard library it links YAML, semantic versions, byte sizes and
// ferry's internal leaves, and never what reads images, charts or keys
// (go-containerregistry above all), which rollout would then link too.
func TestLeaf(t *testing.T) {
	testenv.OnlyDeps(t,
		"github.com/goccy/go-yaml",
		"github.com/Masterminds/semver/v3",
		"github.com/dustin/go-humanize",
		"ferry/internal/yamlnode",
		"ferry/internal/oci",
	)
}
