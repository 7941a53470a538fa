// Package apply installs a bundle's Helm charts into a Kubernetes cluster
// with Helm's action package: install or upgrade with every image pinned
// to the bundle's digests (kube.Pinner as the post-renderer), wait for
// readiness, and put a release back to an earlier revision. It is the
// one package of ferry that links Helm's action package and client-go's
// REST machinery, about 100 MB of binary, so that a build without
// Kubernetes support leaves it out.
package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/loader"
	helmkube "helm.sh/helm/v4/pkg/kube"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"

	"ferry/kube"
)

// Options say which cluster to reach and how to install.
type Options struct {
	// Kubeconfig is the kubeconfig file; empty means $KUBECONFIG, then
	// ~/.kube/config, then the in-cluster configuration.
	Kubeconfig string
	// Context is the kubeconfig context; empty means its current one.
	Context string
	// Registry is the address the cluster's nodes pull the bundle's
	// images from, such as "registry.local:5000".
	Registry string
	// TakeOwnership adopts resources that exist and are not the
	// release's (Helm's take-ownership) instead of refusing them.
	TakeOwnership bool
	// Log receives Helm's messages at debug level; nil discards them.
	Log *slog.Logger
}

// Cluster installs charts into one cluster.
type Cluster struct {
	opts Options
}

// New returns the Cluster that opts name. It does not reach it yet.
func New(opts Options) *Cluster {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Cluster{opts: opts}
}

// Registry is the address images are pinned to.
func (c *Cluster) Registry() string { return c.opts.Registry }

// config is Helm's configuration for releases in namespace ns, which
// keeps them as Secrets there, as the helm command does.
func (c *Cluster) config(ns string) (*action.Configuration, error) {
	flags := genericclioptions.NewConfigFlags(false)
	flags.Namespace = &ns
	if c.opts.Kubeconfig != "" {
		flags.KubeConfig = &c.opts.Kubeconfig
	}
	if c.opts.Context != "" {
		flags.Context = &c.opts.Context
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(c.opts.Log.Handler()))
	if err := cfg.Init(flags, ns, "secret"); err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return cfg, nil
}

// Last returns the release's last revision; a release that does not
// exist has Revision 0.
func (c *Cluster) Last(ctx context.Context, ns, name string) (kube.Release, error) {
	cfg, err := c.config(ns)
	if err != nil {
		return kube.Release{}, err
	}
	return last(cfg, ns, name)
}

func last(cfg *action.Configuration, ns, name string) (kube.Release, error) {
	r := kube.Release{Namespace: ns, Name: name}
	li, err := cfg.Releases.Last(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("release %s: %w", r.Key(), err)
	}
	rel, err := v1(li)
	if err != nil {
		return r, err
	}
	return describe(rel), nil
}

func describe(rel *releasev1.Release) kube.Release {
	r := kube.Release{Namespace: rel.Namespace, Name: rel.Name, Revision: rel.Version, Manifest: kube.ManifestDigest(rel.Manifest)}
	if rel.Info != nil {
		r.Status = string(rel.Info.Status)
	}
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		r.Chart = rel.Chart.Metadata.Name + "-" + rel.Chart.Metadata.Version
	}
	return r
}

func v1(r any) (*releasev1.Release, error) {
	switch r := r.(type) {
	case *releasev1.Release:
		return r, nil
	case releasev1.Release:
		return &r, nil
	}
	return nil, fmt.Errorf("helm release of unknown type %T", r)
}

// Apply installs the chart, or upgrades its release, with every image
// pinned, and waits until what it deployed is ready, within the chart's
// timeout. A failure leaves the release failed for the caller to put
// back (Restore): ferry rolls back the whole appliance release, not one
// chart. A release another operation left pending is refused (ErrPending).
func (c *Cluster) Apply(ctx context.Context, ch kube.Chart) (kube.Release, error) {
	cfg, err := c.config(ch.Namespace)
	if err != nil {
		return kube.Release{}, err
	}
	chrt, err := loader.LoadArchive(bytes.NewReader(ch.Archive))
	if err != nil {
		return kube.Release{}, fmt.Errorf("chart %s: %w", ch.Name, err)
	}
	vals := map[string]any{}
	for i, data := range ch.Values {
		v, err := common.ReadValues(data)
		if err != nil {
			return kube.Release{}, fmt.Errorf("chart %s: values file %d: %w", ch.Name, i+1, err)
		}
		vals = kube.MergeValues(vals, v)
	}
	pin := &kube.Pinner{Registry: c.opts.Registry, Chart: ch.Name, Images: ch.Images}
	cur, err := last(cfg, ch.Namespace, ch.Release)
	if err != nil {
		return kube.Release{}, err
	}
	if rcommon.Status(cur.Status).IsPending() {
		return cur, fmt.Errorf("%w: release %s of chart %s is %s (revision %d)", kube.ErrPending, cur.Key(), ch.Name, cur.Status, cur.Revision)
	}
	ctx, cancel := context.WithTimeout(ctx, ch.Timeout)
	defer cancel()
	var ri any
	if cur.Revision == 0 || cur.Status == string(rcommon.StatusUninstalled) {
		in := action.NewInstall(cfg)
		in.Namespace, in.ReleaseName = ch.Namespace, ch.Release
		in.CreateNamespace = true
		in.Timeout = ch.Timeout
		in.WaitStrategy = helmkube.StatusWatcherStrategy
		in.WaitForJobs = true
		in.PostRenderer = pin
		in.TakeOwnership = c.opts.TakeOwnership
		in.Replace = cur.Status == string(rcommon.StatusUninstalled)
		in.Description = ch.Description
		ri, err = in.RunWithContext(ctx, chrt, vals)
	} else {
		up := action.NewUpgrade(cfg)
		up.Namespace = ch.Namespace
		up.Timeout = ch.Timeout
		up.WaitStrategy = helmkube.StatusWatcherStrategy
		up.WaitForJobs = true
		up.PostRenderer = pin
		up.TakeOwnership = c.opts.TakeOwnership
		// The release's own resources are the signed release's: a field
		// someone changed since (drift, which ferry check reports) is
		// put back, not a conflict that stops the upgrade.
		up.ForceConflicts = true
		up.Description = ch.Description
		ri, err = up.RunWithContext(ctx, ch.Release, chrt, vals)
	}
	if err != nil {
		return cur, classify(ch, err)
	}
	rel, err := v1(ri)
	if err != nil {
		return cur, err
	}
	return describe(rel), nil
}

// classify gives Helm's errors ferry's classes.
func classify(ch kube.Chart, err error) error {
	var missing *kube.MissingError
	switch {
	case errors.As(err, &missing):
		return err
	case strings.Contains(err.Error(), "cannot be imported into the current release"):
		return fmt.Errorf("chart %s: %w: %w (install with --take-ownership to adopt them)", ch.Name, kube.ErrNotOwned, err)
	case strings.Contains(err.Error(), "another operation (install/upgrade/rollback) is in progress"):
		return fmt.Errorf("chart %s: %w: %w", ch.Name, kube.ErrPending, err)
	}
	return fmt.Errorf("%w: chart %s, release %s/%s: %w", kube.ErrChart, ch.Name, ch.Namespace, ch.Release, err)
}

// Restore puts release ns/name back to revision, or uninstalls it when
// revision is 0, waiting up to timeout, and returns the release as it
// is then. A release already there (its last revision is revision, or a
// deployed rollback to it) is left as it is, so that Restore may run
// again after a crash. It works from any status, pending ones included.
func (c *Cluster) Restore(ctx context.Context, ns, name string, revision int, timeout time.Duration) (kube.Release, error) {
	cfg, err := c.config(ns)
	if err != nil {
		return kube.Release{}, err
	}
	none := kube.Release{Namespace: ns, Name: name}
	li, err := cfg.Releases.Last(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		if revision == 0 {
			return none, nil
		}
		return none, fmt.Errorf("release %s/%s: revision %d to return to: the release is gone", ns, name, revision)
	}
	if err != nil {
		return none, fmt.Errorf("release %s/%s: %w", ns, name, err)
	}
	cur, err := v1(li)
	if err != nil {
		return none, err
	}
	if revision == 0 {
		un := action.NewUninstall(cfg)
		un.Timeout = timeout
		un.WaitStrategy = helmkube.StatusWatcherStrategy
		un.IgnoreNotFound = true
		un.Description = "ferry: rolled back"
		if _, err := un.Run(name); err != nil {
			return none, fmt.Errorf("uninstall release %s/%s: %w", ns, name, err)
		}
		return none, nil
	}
	if cur.Info != nil && cur.Info.Status == rcommon.StatusDeployed &&
		(cur.Version == revision || cur.Info.RollbackRevision == revision) {
		return describe(cur), nil
	}
	rb := action.NewRollback(cfg)
	rb.Version = revision
	rb.Timeout = timeout
	rb.WaitStrategy = helmkube.StatusWatcherStrategy
	rb.WaitForJobs = true
	rb.Description = fmt.Sprintf("ferry: back to revision %d", revision)
	rb.ForceConflicts = true // as an upgrade: drift is put back
	if err := rb.Run(name); err != nil {
		return none, fmt.Errorf("roll back release %s/%s to revision %d: %w", ns, name, revision, err)
	}
	return last(cfg, ns, name)
}

// DefaultNamespace is the namespace of the kubeconfig's context (or of
// the pod, in the cluster): where a chart that names none is installed.
func (c *Cluster) DefaultNamespace() (string, error) {
	flags := genericclioptions.NewConfigFlags(false)
	if c.opts.Kubeconfig != "" {
		flags.KubeConfig = &c.opts.Kubeconfig
	}
	if c.opts.Context != "" {
		flags.Context = &c.opts.Context
	}
	ns, _, err := flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("kubernetes: the context's namespace: %w", err)
	}
	return ns, nil
}

// Drift compares release ns/name with what ferry installed (manifest is
// the digest it recorded) and with the cluster: the release must be
// deployed with that manifest, and every field each of its resources
// sets must still hold that value in the live object, so that an edit
// with kubectl, or a resource deleted, shows. Fields the manifest leaves
// out (defaults, status, what controllers add) are not compared. It
// returns one line per difference.
func (c *Cluster) Drift(ctx context.Context, ns, name, manifest string) ([]string, error) {
	cfg, err := c.config(ns)
	if err != nil {
		return nil, err
	}
	li, err := cfg.Releases.Last(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return []string{"the release is gone"}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("release %s/%s: %w", ns, name, err)
	}
	rel, err := v1(li)
	if err != nil {
		return nil, err
	}
	var out []string
	cur := describe(rel)
	if cur.Status != string(rcommon.StatusDeployed) {
		out = append(out, fmt.Sprintf("revision %d is %s", cur.Revision, cur.Status))
	}
	if cur.Manifest != manifest {
		out = append(out, fmt.Sprintf("revision %d's manifest is not the one ferry installed (%s, not %s)", cur.Revision, cur.Manifest, manifest))
	}
	resources, err := cfg.KubeClient.Build(bytes.NewBufferString(rel.Manifest), false)
	if err != nil {
		return nil, fmt.Errorf("release %s/%s: its manifest: %w", ns, name, err)
	}
	for _, info := range resources {
		what := info.Mapping.GroupVersionKind.Kind + "/" + info.Name
		live, err := resource.NewHelper(info.Client, info.Mapping).Get(info.Namespace, info.Name)
		if apierrors.IsNotFound(err) {
			out = append(out, what+": missing")
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("release %s/%s: %s: %w", ns, name, what, err)
		}
		want, err := plain(info.Object)
		if err != nil {
			return nil, err
		}
		have, err := plain(live)
		if err != nil {
			return nil, err
		}
		delete(want, "metadata")
		for _, d := range differences("", want, have) {
			out = append(out, what+": "+d)
		}
	}
	return out, nil
}

// plain is an object as JSON reads it: maps, lists, strings, float64s.
func plain(obj any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(data, &m)
}

// differences lists the fields of want that have does not hold with the
// same value, by their path.
func differences(path string, want, have any) []string {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s is %v", strings.TrimPrefix(path, "."), have)}
		}
		var out []string
		for _, k := range slices.Sorted(maps.Keys(w)) {
			out = append(out, differences(path+"."+k, w[k], h[k])...)
		}
		return out
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return []string{fmt.Sprintf("%s has %d entries, ferry installed %d", strings.TrimPrefix(path, "."), len(h), len(w))}
		}
		var out []string
		for i := range w {
			out = append(out, differences(fmt.Sprintf("%s[%d]", path, i), w[i], h[i])...)
		}
		return out
	}
	if fmt.Sprint(want) != fmt.Sprint(have) {
		return []string{fmt.Sprintf("%s is %v, ferry installed %v", strings.TrimPrefix(path, "."), have, want)}
	}
	return nil
}
