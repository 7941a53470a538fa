package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"ferry/bundle"
	"ferry/installer/state"
	"ferry/installer/store"
	"ferry/internal/atomicfile"
	"ferry/kube"
	"ferry/verify"
)

// Cluster installs a bundle's charts into Kubernetes; package kube/apply's
// Cluster, which links Helm, is the one ferry uses. Without one
// (Options.Cluster nil) a chart step keeps the chart in the store only.
type Cluster interface {
	// Registry is the address the cluster's nodes pull the bundle's
	// images from, which every image is pinned to.
	Registry() string
	// DefaultNamespace is where a chart that names no namespace goes.
	DefaultNamespace() (string, error)
	// Last is a release's last revision (Revision 0: none).
	Last(ctx context.Context, ns, name string) (kube.Release, error)
	// Apply installs or upgrades a chart and waits for it to be ready.
	Apply(ctx context.Context, ch kube.Chart) (kube.Release, error)
	// Restore puts a release back to revision (0: uninstalls it).
	Restore(ctx context.Context, ns, name string, revision int, timeout time.Duration) (kube.Release, error)
	// Drift lists how a release and its live resources differ from what
	// was installed with the manifest of that digest.
	Drift(ctx context.Context, ns, name, manifest string) ([]string, error)
}

// Journal records of chart steps. Before a transaction changes a Helm
// release it journals the release as it was, so that an undo, even one
// after a crash that left the release pending, can put it back.
const (
	chartBeforePrefix   = "chart-before:"
	chartRestoredPrefix = "chart-restored:"
)

// chartBefore is a release as it was before a transaction changed it.
type chartBefore struct {
	kube.Release
	Timeout time.Duration `json:"timeout"`
}

// chartOf is the chart of component c that step s installs.
func chartOf(c bundle.Component, s Step) (bundle.Chart, bool) {
	for _, ch := range c.Charts {
		if ch.Name+"-"+ch.Version == s.Name {
			return ch, true
		}
	}
	return bundle.Chart{}, false
}

// chartNamespace is the namespace chart ch is installed into.
func chartNamespace(cl Cluster, ch bundle.Chart) (string, error) {
	if ch.Namespace != "" {
		return ch.Namespace, nil
	}
	return cl.DefaultNamespace()
}

// chartInput reads what installing chart ch needs through open: its
// archive and its values files, expanded when the release has a site
// configuration.
func chartInput(ch bundle.Chart, open func(string) (io.ReadCloser, error)) (archive []byte, values [][]byte, err error) {
	read := func(d string) ([]byte, error) {
		rc, err := open(d)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}
	if archive, err = read(ch.Digest); err != nil {
		return nil, nil, fmt.Errorf("chart %s-%s: %w", ch.Name, ch.Version, err)
	}
	for _, v := range ch.Values {
		data, err := read(v)
		if err != nil {
			return nil, nil, fmt.Errorf("chart %s-%s: values %s: %w", ch.Name, ch.Version, v, err)
		}
		values = append(values, data)
	}
	return archive, values, nil
}

// chartImages are the images of the chosen components: those the
// release puts in the registry, and so the only ones a chart may name.
func chartImages(m *bundle.Manifest, components []string) []bundle.Image {
	var out []bundle.Image
	for _, c := range m.Components {
		if slices.Contains(components, c.Name) {
			out = append(out, c.Images...)
		}
	}
	return out
}

// checkChartImages renders every chart of the plan offline and refuses
// the install, before any chart reaches the cluster, when one names an
// image the bundle does not carry (kube.ErrMissingImage). Images are
// pinned to registry; namespace is where a chart goes.
func checkChartImages(registry string, namespace func(bundle.Chart) (string, error), m *bundle.Manifest, plan *Plan, opener func(bundle.Component) func(string) (io.ReadCloser, error)) error {
	images := chartImages(m, plan.Components)
	for _, c := range m.Components {
		if !slices.Contains(plan.Components, c.Name) {
			continue
		}
		for _, ch := range c.Charts {
			archive, values, err := chartInput(ch, opener(c))
			if err != nil {
				return err
			}
			ns, err := namespace(ch)
			if err != nil {
				return err
			}
			rendered, err := kube.Render(archive, kube.RenderOptions{Release: ch.ReleaseName(), Namespace: ns, Values: values})
			if err != nil {
				return fmt.Errorf("chart %s-%s of component %s: %w", ch.Name, ch.Version, c.Name, err)
			}
			p := &kube.Pinner{Registry: registry, Chart: ch.Name + "-" + ch.Version, Images: images}
			if _, _, err := p.Pin(rendered); err != nil {
				return fmt.Errorf("component %s: %w", c.Name, err)
			}
		}
	}
	return nil
}

// chartOpener reads the blobs of component c's charts, with the values
// files expanded with the release's site configuration.
func (r *run) chartOpener(st *store.Store, root, version string) func(bundle.Component) func(string) (io.ReadCloser, error) {
	return func(c bundle.Component) func(string) (io.ReadCloser, error) {
		open := func(d string) (io.ReadCloser, error) { return st.Open(d) }
		if r.cfg != nil {
			return chartValuesOpener(open, c, r.cfg, ReleaseBuiltins(r.cfg, root, version))
		}
		return open
	}
}

// checkCharts is checkChartImages as a journalled step, when there is a
// cluster and the plan has charts.
func (r *run) checkCharts(cl Cluster, st *store.Store, root string, m *bundle.Manifest, plan *Plan) error {
	if cl == nil || !slices.ContainsFunc(plan.Steps, func(s Step) bool { return s.Kind == StepChart }) {
		return nil
	}
	return r.step("charts-images", func() error {
		namespace := func(ch bundle.Chart) (string, error) { return chartNamespace(cl, ch) }
		return checkChartImages(cl.Registry(), namespace, m, plan, r.chartOpener(st, root, m.Version))
	})
}

// chart runs one chart step: it journals the release as it was, then
// installs or upgrades it, and records in the release what it became.
func (r *run) chart(ctx context.Context, cl Cluster, st *store.Store, root string, m *bundle.Manifest, plan *Plan, c bundle.Component, s Step) error {
	images := chartImages(m, plan.Components)
	open := r.chartOpener(st, root, m.Version)(c)
	ch, ok := chartOf(c, s)
	if !ok {
		return fmt.Errorf("chart %s is not in component %s", s.Name, c.Name)
	}
	if err := requireBlobs(st, s.Digests); err != nil {
		return err
	}
	ns, err := chartNamespace(cl, ch)
	if err != nil {
		return err
	}
	name := ch.ReleaseName()
	if err := r.journalBefore(ctx, cl, ns, name, ch.InstallTimeout()); err != nil {
		return err
	}
	archive, values, err := chartInput(ch, open)
	if err != nil {
		return err
	}
	r.crashPoint() // journalled as it was, not yet changed
	rel, err := cl.Apply(ctx, kube.Chart{
		Namespace: ns, Release: name, Name: ch.Name + "-" + ch.Version,
		Archive: archive, Values: values, Timeout: ch.InstallTimeout(), Images: images,
		Description: fmt.Sprintf("ferry %s %s %s", r.txn.Kind, m.Name, m.Version),
	})
	if err != nil {
		_ = r.db.Audit("chart.failed", map[string]string{"version": m.Version, "chart": ch.Name + "-" + ch.Version, "release": ns + "/" + name, "error": err.Error()})
		return err
	}
	_ = r.db.Audit("chart.applied", map[string]string{"version": m.Version, "chart": ch.Name + "-" + ch.Version,
		"release": rel.Key(), "revision": fmt.Sprint(rel.Revision), "manifest": rel.Manifest})
	r.crashPoint() // changed, not yet recorded
	return r.recordChart(m.Version, state.ChartRelease{
		Component: c.Name, Chart: ch.Name + "-" + ch.Version, Namespace: ns, Release: name,
		Revision: rel.Revision, Manifest: rel.Manifest, Timeout: ch.InstallTimeout(),
	})
}

// journalBefore journals release ns/name as it is, once per transaction:
// after a crash the first record is the one that counts.
func (r *run) journalBefore(ctx context.Context, cl Cluster, ns, name string, timeout time.Duration) error {
	key := chartBeforePrefix + ns + "/" + name
	if d, err := stepDetail(r.db, r.txn, key); err != nil || d != "" {
		return err
	}
	before, err := cl.Last(ctx, ns, name)
	if err != nil {
		return err
	}
	return recordDetail(r.db, r.txn, key, chartBefore{Release: before, Timeout: timeout})
}

// recordChart keeps what a chart became in the release's row.
func (r *run) recordChart(version string, c state.ChartRelease) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rel, err := r.db.Release(version)
	if err != nil {
		return err
	}
	rel.Charts = slices.DeleteFunc(rel.Charts, func(o state.ChartRelease) bool {
		return o.Namespace == c.Namespace && o.Release == c.Release
	})
	rel.Charts = append(rel.Charts, c)
	return r.db.PutRelease(rel)
}

// restoreCharts puts back every Helm release transaction txn changed,
// newest change first, to what it journalled before changing it. A
// release restored already (an undo that a crash interrupted) is not
// touched again. Without a cluster it refuses: the cluster would stay
// on the new release while the host goes back.
func restoreCharts(ctx context.Context, cl Cluster, db *state.DB, txn state.Txn) error {
	steps, err := db.Steps(txn.ID)
	if err != nil {
		return err
	}
	restored := map[string]bool{}
	var before []string
	for _, s := range steps {
		if k, ok := strings.CutPrefix(s.Name, chartRestoredPrefix); ok {
			restored[k] = true
		}
		if k, ok := strings.CutPrefix(s.Name, chartBeforePrefix); ok && !slices.Contains(before, k) {
			before = append(before, k)
		}
	}
	for i := len(before) - 1; i >= 0; i-- {
		key := before[i]
		if restored[key] {
			continue
		}
		if cl == nil {
			return fmt.Errorf("the %s of %s changed the Kubernetes release %s: give --kubeconfig (and --context) to put it back", txn.Kind, txn.Version, key)
		}
		var b chartBefore
		if _, err := readDetail(db, txn, chartBeforePrefix+key, &b); err != nil {
			return err
		}
		timeout := b.Timeout
		if timeout <= 0 {
			timeout = time.Duration(5 * time.Minute)
		}
		rel, err := cl.Restore(ctx, b.Namespace, b.Name, b.Revision, timeout)
		if err != nil {
			return fmt.Errorf("putting back the Kubernetes release %s: %w", key, err)
		}
		_ = db.Audit("chart.restored", map[string]string{"version": txn.Version, "release": key, "revision": fmt.Sprint(rel.Revision), "to": fmt.Sprint(b.Revision)})
		if err := db.RecordStep(txn.ID, chartRestoredPrefix+key, "done", fmt.Sprint(b.Revision)); err != nil {
			return err
		}
	}
	return nil
}

// moveCharts moves the Helm releases with a rollback from release from
// to release to: each chart of to back to the revision it was installed
// as, and each chart only from has uninstalled. Every release it changes
// is journalled first, so that a failure, or a crash, puts it back.
func (r *run) moveCharts(ctx context.Context, cl Cluster, from, to state.Release) error {
	if len(from.Charts) == 0 && len(to.Charts) == 0 {
		return nil
	}
	if cl == nil {
		return fmt.Errorf("releases %s and %s install charts into Kubernetes: give --kubeconfig (and --context) to move them", from.Version, to.Version)
	}
	keep := map[string]bool{}
	for _, c := range to.Charts {
		keep[c.Namespace+"/"+c.Release] = true
	}
	for i := len(from.Charts) - 1; i >= 0; i-- {
		c := from.Charts[i]
		if keep[c.Namespace+"/"+c.Release] {
			continue
		}
		if err := r.moveChart(ctx, cl, to.Version, c, 0); err != nil {
			return err
		}
	}
	for _, c := range to.Charts {
		if err := r.moveChart(ctx, cl, to.Version, c, c.Revision); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) moveChart(ctx context.Context, cl Cluster, version string, c state.ChartRelease, revision int) error {
	return r.step("chart:"+c.Namespace+"/"+c.Release, func() error {
		if err := r.journalBefore(ctx, cl, c.Namespace, c.Release, c.Timeout); err != nil {
			return err
		}
		rel, err := cl.Restore(ctx, c.Namespace, c.Release, revision, c.Timeout)
		if err != nil {
			return err
		}
		_ = r.db.Audit("chart.rollback", map[string]string{"version": version, "chart": c.Chart,
			"release": c.Namespace + "/" + c.Release, "revision": fmt.Sprint(rel.Revision), "to": fmt.Sprint(revision)})
		return nil
	})
}

// CheckCharts compares the current release's charts with the cluster:
// each Helm release must be deployed with the manifest ferry installed,
// and its live resources must still hold what that manifest sets. It
// returns ErrDrift (with the list) when anything differs, as Check.
func CheckCharts(ctx context.Context, root string, cl Cluster) ([]Drift, error) {
	db, err := state.OpenReadOnly(root)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	current, err := db.Current()
	if err != nil || current == "" {
		return nil, err
	}
	rel, err := db.Release(current)
	if err != nil {
		return nil, err
	}
	var drift []Drift
	for _, c := range rel.Charts {
		diffs, err := cl.Drift(ctx, c.Namespace, c.Release, c.Manifest)
		if err != nil {
			return nil, fmt.Errorf("chart %s, release %s/%s: %w", c.Chart, c.Namespace, c.Release, err)
		}
		for _, d := range diffs {
			drift = append(drift, Drift{Release: current, Path: "chart " + c.Namespace + "/" + c.Release, Kind: "changed", Detail: d})
		}
	}
	if len(drift) > 0 {
		return drift, fmt.Errorf("%w: %d differences in the cluster", ErrDrift, len(drift))
	}
	return nil, nil
}

// ExtractedChart is a chart ExtractCharts wrote.
type ExtractedChart struct {
	Component string   `json:"component"`
	Chart     string   `json:"chart"` // name-version
	Archive   string   `json:"archive"`
	Values    []string `json:"values,omitempty"`
}

// ExtractCharts verifies the bundle at path against trust and writes
// each chart it carries into dir as NAME-VERSION.tgz, with its values
// files as NAME-VERSION.values-N.yaml in the order they apply: what
// `helm install -f` takes. Every byte written was checked against the
// signed manifest as it streamed.
func ExtractCharts(ctx context.Context, path string, trust verify.TrustSet, dir string) ([]ExtractedChart, error) {
	rd, err := openBundle(path, trust)
	if err != nil {
		return nil, err
	}
	defer rd.close()
	want := map[string][]string{}
	var out []ExtractedChart
	for _, c := range rd.Manifest().Components {
		for _, ch := range c.Charts {
			e := ExtractedChart{Component: c.Name, Chart: ch.Name + "-" + ch.Version, Archive: filepath.Join(dir, ch.Name+"-"+ch.Version+".tgz")}
			want[ch.Digest] = append(want[ch.Digest], e.Archive)
			for i, v := range ch.Values {
				name := filepath.Join(dir, fmt.Sprintf("%s-%s.values-%d.yaml", ch.Name, ch.Version, i+1))
				e.Values = append(e.Values, name)
				want[v] = append(want[v], name)
			}
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	for len(want) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the bundle ends before its charts' content (an update bundle leaves out what its base has: extract from the full bundle)", path)
		}
		if err != nil {
			return nil, err
		}
		names, ok := want[e.Digest]
		if !ok {
			continue
		}
		delete(want, e.Digest)
		rc, err := rd.Content()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			if err := atomicfile.Write(name, 0o644, func(w io.Writer) error {
				_, err := w.Write(data)
				return err
			}); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
