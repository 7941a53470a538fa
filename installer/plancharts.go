package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"

	"ferry/bundle"
	"ferry/installer/store"
)

// checkPlanCharts is the check an install into a cluster runs before its
// first chart step (checkChartImages), for a plan given the registry
// (opts.ChartRegistry, or Cluster's): it renders every chart of the
// chosen components offline, with the bundle's values files expanded
// with the site configuration as install would, and refuses a chart that
// names an image the bundle does not carry (kube.ErrMissingImage). The
// charts are read from the bundle, verified as they stream; what an
// update bundle leaves out, from the store of its base on root.
func checkPlanCharts(ctx context.Context, path string, opts Options, a *admitted) error {
	registry, root := opts.ChartRegistry, opts.Root
	if opts.Cluster != nil {
		registry = opts.Cluster.Registry()
	}
	m, plan := a.manifest, a.plan
	if registry == "" {
		return nil
	}
	want := map[string]bool{}
	for _, c := range m.Components {
		if !slices.Contains(plan.Components, c.Name) {
			continue
		}
		for _, ch := range c.Charts {
			want[ch.Digest] = true
			for _, v := range ch.Values {
				want[v] = true
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	blobs, err := readBlobs(ctx, path, a, want)
	if err != nil {
		return err
	}
	open := func(d string) (io.ReadCloser, error) {
		if data, ok := blobs[d]; ok {
			return io.NopCloser(bytes.NewReader(data)), nil
		}
		return nil, fmt.Errorf("blob %s is neither in the bundle nor in the store of %s", d, root)
	}
	if len(blobs) < len(want) {
		st, err := store.Open(filepath.Join(root, "store"), false)
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, store.ErrNotLayout) {
			return err
		}
		if st != nil {
			open = func(d string) (io.ReadCloser, error) {
				if data, ok := blobs[d]; ok {
					return io.NopCloser(bytes.NewReader(data)), nil
				}
				return st.Open(d)
			}
		}
	}
	opener := func(c bundle.Component) func(string) (io.ReadCloser, error) {
		if a.config != nil {
			return chartValuesOpener(open, c, a.config, ReleaseBuiltins(a.config, root, m.Version))
		}
		return open
	}
	// Without a cluster to ask for its default namespace, a plan renders
	// in "default": the namespace only reaches the templates.
	namespace := func(ch bundle.Chart) (string, error) {
		if opts.Cluster != nil {
			return chartNamespace(opts.Cluster, ch)
		}
		if ch.Namespace != "" {
			return ch.Namespace, nil
		}
		return "default", nil
	}
	return checkChartImages(registry, namespace, m, plan, opener)
}

// readBlobs reads the blobs of want that the bundle at path carries,
// each checked against the signed manifest as it streams.
func readBlobs(ctx context.Context, path string, a *admitted, want map[string]bool) (map[string][]byte, error) {
	rd, err := openBundle(path, a.trust.TrustSet)
	if err != nil {
		return nil, err
	}
	defer rd.close()
	out := map[string][]byte{}
	for len(out) < len(want) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		// A patch needs its base: what an update patched is read from the
		// store, as install reads it.
		if !want[e.Digest] || out[e.Digest] != nil || bundle.IsPatch(e.Encoding) {
			continue
		}
		rc, err := rd.Content()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		out[e.Digest] = data
	}
	return out, nil
}
