package kube

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader"
	"helm.sh/helm/v4/pkg/engine"
)

// RenderOptions is what rendering a chart without a cluster needs.
type RenderOptions struct {
	// Release and Namespace are the release's name and namespace, which
	// templates may use.
	Release   string
	Namespace string
	// Values are the contents of the values files, in the order they
	// apply: a later file overrides an earlier one, as helm's -f.
	Values [][]byte
}

// Render renders a packaged chart with Helm's engine, offline: no cluster
// is asked (lookup finds nothing, capabilities are Helm's defaults), which
// is what a plan can know. It returns the rendered templates as one
// multi-document stream, each document after a "# Source:" line and in
// template order, the form a post-renderer receives. The archive must
// come from a verified bundle.
func Render(archive []byte, opts RenderOptions) ([]byte, error) {
	ch, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	vals := map[string]any{}
	for i, data := range opts.Values {
		v, err := common.ReadValues(data)
		if err != nil {
			return nil, fmt.Errorf("values file %d: %w", i+1, err)
		}
		vals = MergeValues(vals, v)
	}
	rv, err := util.ToRenderValues(ch, vals, common.ReleaseOptions{
		Name: opts.Release, Namespace: opts.Namespace, IsInstall: true, Revision: 1,
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	files, err := engine.Render(ch, rv)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	var out bytes.Buffer
	for _, name := range slices.Sorted(maps.Keys(files)) {
		content := files[name]
		base := path.Base(name)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" || strings.TrimSpace(content) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, strings.TrimRight(content, "\n"))
	}
	return out.Bytes(), nil
}

// MergeValues merges src into dst the way helm merges -f files: nested
// mappings merge, anything else in src replaces what dst had.
func MergeValues(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = MergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

// ManifestDigest is the SHA-256 of a release's manifest, "sha256:HEX":
// what ferry records when it installs a chart and compares when it
// checks for drift.
func ManifestDigest(manifest string) string {
	sum := sha256.Sum256([]byte(manifest))
	return "sha256:" + hex.EncodeToString(sum[:])
}
