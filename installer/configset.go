package installer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ferry/bundle"
	"ferry/config"
	"ferry/installer/state"
	"ferry/installer/store"
	"ferry/internal/redact"
)

// A configuration revision made on the appliance (`ferry config set`) is a
// release of its own: the release in force, the same signed manifest and
// components, under the name VERSION+config.N (semver build metadata, so
// it orders with its release and anti-rollback does not tell them apart),
// with its own directory and its own configuration. That makes a change
// of configuration what an update is, with nothing new to get right: its
// files are placed (shared with the release it comes from) and its
// templates rendered in a directory of its own, its charts applied with
// the new values, all journalled; activation switches `current`, which
// ferry serve follows by the same blue-green switch as a release; a crash
// at any point converges to the old or the new revision by the journal;
// `ferry rollback` and `ferry config rollback` return to a kept revision
// as to any kept release.

// ErrNoRevision reports a configuration revision that is not kept on the
// host.
var ErrNoRevision = errors.New("no such configuration revision on this host")

// txnConfig is the journal kind of a configuration revision.
const txnConfig = "config"

// ConfigOptions say what `ferry config set` gives and how to apply it.
type ConfigOptions struct {
	Root string
	// Config is what the operator gave; the values in force apply to the
	// rest.
	Config *config.Inputs
	// Appliers apply charts (with the new values), as for Install.
	Appliers map[string]Applier
	// Cluster upgrades the release's charts with the new values, in the
	// transaction, as Install's does; nil refuses a release that
	// installed charts into a cluster, which would keep the old values.
	Cluster Cluster
	// Keep is how many releases, revisions included, to keep (default 3).
	Keep    int
	Log     *slog.Logger
	Secrets *redact.Secrets
}

// ConfigResult says what ApplyConfig did.
type ConfigResult struct {
	// Release is the name of the new revision's release, VERSION+config.N;
	// empty when nothing changed.
	Release string
	Config  *config.Config
	// Changed names the variables whose value changed (a secret's name
	// only).
	Changed []string
	Checks  []state.CheckResult
}

// RevisionName is the name of configuration revision n of the release of
// bundle version: its version with "config.N" as build metadata.
func RevisionName(version string, n int) string {
	sep := "+"
	if strings.Contains(version, "+") {
		sep = "."
	}
	return version + sep + "config." + strconv.Itoa(n)
}

// ApplyConfig makes a new configuration revision of the release in force
// with the values opts gives over the values in force, and makes it
// current: every value is checked before anything changes (the errors of
// an install, exit codes 100-104); then it is applied in one journalled
// transaction, as an update is, and committed once the release's checks
// pass. Values that change nothing make no revision.
func ApplyConfig(ctx context.Context, opts ConfigOptions) (*ConfigResult, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := state.Open(opts.Root, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetSecrets(opts.Secrets)
	u := newUndoer(opts.Root, nil, log)
	u.charts = opts.Cluster
	if err := finishInterrupted(db, opts.Root, log, u); err != nil {
		return nil, err
	}
	current, err := db.Current()
	if err != nil {
		return nil, err
	}
	if current == "" {
		return nil, fmt.Errorf("%w: no release is installed", ErrNoRelease)
	}
	rel, err := db.Release(current)
	if err != nil {
		return nil, err
	}
	m, err := parseStored(rel)
	if err != nil {
		return nil, err
	}
	if len(m.Variables) == 0 {
		return nil, fmt.Errorf("%w: release %s declares no variables", config.ErrInput, current)
	}
	prev, err := StoredConfig(rel)
	if err != nil {
		return nil, err
	}
	// The databases stay as the release has them: those it embeds, and
	// the others (given a DSN at install, which ferry does not keep).
	remote := map[string]string{}
	for _, comp := range m.Components {
		for _, ms := range comp.Migrations {
			if prev == nil {
				continue
			}
			if _, ok := prev.Databases[ms.Database]; !ok {
				remote[ms.Database] = ""
			}
		}
	}
	c, err := resolveConfig(db, m, opts.Root, current, opts.Config, remote)
	if err != nil {
		return nil, err
	}
	opened, err := unseal(opts.Root, prev)
	if err != nil {
		return nil, err
	}
	res := &ConfigResult{Config: c, Changed: changedValues(opened, c)}
	if len(res.Changed) == 0 {
		return res, nil
	}
	if len(rel.Charts) > 0 && opts.Cluster == nil {
		return nil, fmt.Errorf("release %s installed charts into Kubernetes, whose values change with the configuration: give --registry and --kubeconfig (and --context)", current)
	}
	name := RevisionName(m.Version, c.Revision)
	plan, err := MakePlan(m, rel.ManifestDigest, Selection{Components: rel.Components})
	if err != nil {
		return nil, err
	}
	plan = revisionPlan(plan, name)

	txn, err := db.BeginTxn("config", name, rel.ManifestDigest)
	if err != nil {
		return nil, err
	}
	if err := db.RecordStep(txn.ID, stepPrevious, "done", current); err != nil {
		return nil, err
	}
	r := &run{db: db, txn: txn, crashAt: crashStep(), secrets: opts.Secrets, cfg: c}
	res.Checks, err = r.applyConfig(ctx, opts, rel, m, name, plan)
	if err != nil {
		if aerr := abort(db, opts.Root, txn, err, u); aerr != nil {
			return res, fmt.Errorf("%w; undoing it failed too: %v", err, aerr) //nolint:errorlint // the cause decides the exit code
		}
		return res, fmt.Errorf("%w (rolled back: %s is current again)", err, current)
	}
	res.Release = name
	audit := configAudit(name, c)
	audit["changed"] = strings.Join(res.Changed, ", ")
	audit["from"] = current
	_ = db.Audit("config.applied", audit)
	if err := retain(db, opts.Root, opts.Keep); err != nil {
		log.Warn("retention", "error", err)
	}
	return res, nil
}

// applyConfig runs the revision's transaction: its release recorded, its
// files placed and rendered, its charts applied, activation, the checks,
// the commit.
func (r *run) applyConfig(ctx context.Context, opts ConfigOptions, from state.Release, m *bundle.Manifest, name string, plan *Plan) ([]state.CheckResult, error) {
	db, root := r.db, opts.Root
	cfgJSON, err := storedConfigJSON(root, r.cfg)
	if err != nil {
		return nil, err
	}
	if err := db.PutRelease(state.Release{
		Version: name, ManifestDigest: from.ManifestDigest, Manifest: from.Manifest, Signatures: from.Signatures,
		Components: from.Components, Status: statusInstalling, Created: from.Created, Installed: time.Now().UTC(),
		Config: cfgJSON,
	}); err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(root, "store"), false)
	if err != nil {
		return nil, err
	}
	// The steps see the revision as the release they place: its name is
	// the directory, the chart release's version and ${ferry.version}.
	rm := *m
	rm.Version = name
	byName := map[string]bundle.Component{}
	for _, c := range m.Components {
		byName[c.Name] = c
	}
	sh, err := newSharer(db, name, r.crashPoint)
	if err != nil {
		return nil, err
	}
	if err := r.checkCharts(opts.Cluster, st, root, &rm, plan); err != nil {
		return nil, err
	}
	if err := r.runLevels(ctx, plan, func(s Step) error {
		if f, ok := templateFile(byName[s.Component], s); ok {
			return r.render(ctx, st, root, name, f)
		}
		if s.Kind == StepChart && opts.Cluster != nil {
			return r.chart(ctx, opts.Cluster, st, root, &rm, plan, byName[s.Component], s)
		}
		return runStep(ctx, st, &r.refs, sh, opts.Appliers, root, &rm, byName[s.Component], s, r.cfg)
	}); err != nil {
		return nil, err
	}
	if err := r.step("activate:"+name, func() error { return activate(db, root, name) }); err != nil {
		return nil, err
	}
	var checks []state.CheckResult
	if err := r.step(stepChecks, func() error {
		checks = runChecks(ctx, root, name, plan, byName, r.secrets, r.cfg)
		if rel, err := db.Release(name); err == nil {
			rel.Checks = checks
			_ = db.PutRelease(rel)
		}
		for _, c := range checks {
			if !c.OK {
				return fmt.Errorf("%w: %s: %s", ErrCheckFail, c.Name, c.Detail)
			}
		}
		return nil
	}); err != nil {
		return checks, err
	}
	r.crashPoint()
	return checks, commit(db, r.txn, "")
}

// revisionPlan is the plan of a configuration revision: the release's
// steps less those the configuration cannot change (its images and its
// migrations, which the release applied already), activating name.
func revisionPlan(p *Plan, name string) *Plan {
	out := *p
	out.Version = name
	out.Steps = nil
	for _, s := range p.Steps {
		switch s.Kind {
		case StepImage, StepMigrations:
			continue
		case StepActivate:
			s.Name = name
		}
		out.Steps = append(out.Steps, s)
	}
	return &out
}

// changedValues names the variables whose value differs between the
// configurations a and b, in b's order.
func changedValues(a, b *config.Config) []string {
	var out []string
	for _, v := range b.Values {
		old, ok := a.Lookup(v.Name)
		if !ok || old.Set != v.Set || old.Value != v.Value {
			out = append(out, v.Name)
		}
	}
	return out
}

// maxRevision is the highest configuration revision of the releases kept
// on the host, 0 for none: a new revision is numbered after it, so that a
// number names one configuration even after a rollback.
func maxRevision(db *state.DB) (int, error) {
	rels, err := db.Releases()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, rel := range rels {
		c, err := StoredConfig(rel)
		if err != nil {
			return 0, err
		}
		if c != nil {
			n = max(n, c.Revision)
		}
	}
	return n, nil
}

// ConfigRollbackOptions say which revision `ferry config rollback` returns
// to.
type ConfigRollbackOptions struct {
	// To is the revision; 0 is the one before the revision in force among
	// those of the same bundle kept on the host.
	To int
	// DSNs, Cluster, Log and Secrets are as for Rollback.
	DSNs    map[string]string
	Cluster Cluster
	Log     *slog.Logger
	Secrets *redact.Secrets
}

// RollbackConfig makes a kept configuration revision current again, by
// Rollback to the release that holds it: its files, service definitions
// and chart values come back with it. It returns that release's name.
func RollbackConfig(ctx context.Context, root string, opts ConfigRollbackOptions) (string, error) {
	target, from, err := revisionTarget(root, opts.To)
	if err != nil {
		return "", err
	}
	got, err := Rollback(ctx, root, RollbackOptions{To: target, DSNs: opts.DSNs, Cluster: opts.Cluster, Log: opts.Log, Secrets: opts.Secrets,
		Reason: fmt.Sprintf("configuration rolled back from revision %d", from)})
	if err != nil {
		return "", err
	}
	db, err := state.Open(root, false)
	if err == nil {
		defer db.Close()
		if rel, rerr := db.Release(got); rerr == nil {
			if c, _ := StoredConfig(rel); c != nil {
				_ = db.Audit("config.applied", map[string]string{"version": got, "revision": strconv.Itoa(c.Revision),
					"reason": fmt.Sprintf("rollback from revision %d", from)})
			}
		}
	}
	return got, nil
}

// revisionTarget is the release holding revision to (0: the previous
// revision of the bundle in force) and the revision in force.
func revisionTarget(root string, to int) (string, int, error) {
	db, err := state.OpenReadOnly(root)
	if err != nil {
		return "", 0, err
	}
	defer db.Close()
	current, err := db.Current()
	if err != nil {
		return "", 0, err
	}
	if current == "" {
		return "", 0, fmt.Errorf("%w: no release is installed", ErrNoRelease)
	}
	rels, err := db.Releases()
	if err != nil {
		return "", 0, err
	}
	var cur state.Release
	revs := map[string]int{}
	var kept []string
	for _, rel := range rels {
		c, err := StoredConfig(rel)
		if err != nil {
			return "", 0, err
		}
		if rel.Version == current {
			cur = rel
		}
		if c == nil || (rel.Status != statusActive && rel.Status != statusInactive) {
			continue
		}
		revs[rel.Version] = c.Revision
		kept = append(kept, strconv.Itoa(c.Revision))
	}
	from, ok := revs[current]
	if !ok {
		return "", 0, fmt.Errorf("%w: release %s has no configuration", ErrNoRevision, current)
	}
	best, bestRev := "", 0
	for _, rel := range rels {
		n, ok := revs[rel.Version]
		switch {
		case !ok:
		case to != 0 && n == to:
			if rel.Version == current {
				return "", 0, fmt.Errorf("revision %d is already in force", to)
			}
			return rel.Version, from, nil
		case to == 0 && rel.ManifestDigest == cur.ManifestDigest && n < from && n > bestRev:
			best, bestRev = rel.Version, n
		}
	}
	if to != 0 {
		return "", 0, fmt.Errorf("%w: revision %d (kept: %s)", ErrNoRevision, to, strings.Join(kept, ", "))
	}
	if best == "" {
		return "", 0, fmt.Errorf("%w: no revision of release %s before revision %d is kept (kept: %s); ferry rollback returns to an earlier release", ErrNoRevision, current, from, strings.Join(kept, ", "))
	}
	return best, from, nil
}
