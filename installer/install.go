package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"ferry/bundle"
	"ferry/config"
	"ferry/installer/state"
	"ferry/installer/store"
	"ferry/internal/redact"
	"ferry/updates"
	"ferry/verify"
)

// Sentinel errors of installation; the command line gives each an exit
// code.
var (
	ErrNoTrust   = errors.New("no trusted keys")
	ErrNotNewer  = updates.ErrNotNewer
	ErrConflict  = updates.ErrConflict
	ErrCheckFail = errors.New("post-install check failed")
	ErrPlatform  = errors.New("bundle is not for this platform")
	ErrWrongBase = errors.New("update bundle does not apply to this host")
	ErrReplay    = updates.ErrReplay
)

// Options control Install, Update and their plans (PlanInstall, PlanUpdate).
type Options struct {
	// Root is the appliance directory (state.db, store, releases, current).
	Root string
	// Keys are the trusted public keys (PEM or armored bytes) of the
	// first install, which become the appliance's trust when it commits.
	// On an appliance that trusts keys, each must be one of them
	// (ErrKeyNotTrusted): trust grows only by `ferry trust add`. A key a
	// rotation statement retired is refused (ErrRetiredKey).
	Keys [][]byte
	// Threshold is the number of distinct trusted keys that must have
	// signed: on the first install it becomes the appliance's; later it
	// may raise the appliance's for this install, never lower it.
	Threshold int
	// Selection chooses optional components.
	Selection Selection
	// Keep is how many releases to keep (default 3).
	Keep int
	// Log receives progress; nil discards it.
	Log *slog.Logger
	// Platform is the host's "os/arch" (default: this binary's); images
	// of the chosen components must include it.
	Platform string
	// Appliers apply migrations and charts, by step kind (see Applier).
	Appliers map[string]Applier
	// Cluster installs the charts into Kubernetes, in the transaction;
	// nil keeps them in the store only.
	Cluster Cluster
	// ChartRegistry is, for a plan, the registry install's --registry
	// would pin the charts' images to. A plan renders the charts, as an
	// install into a cluster does before its first chart step, only when
	// it (or Cluster) is set: without a cluster the charts stay in the
	// store and no image is checked.
	ChartRegistry string
	// DSNs are PostgreSQL databases by logical name; every other database
	// of the bundle's migrations is embedded SQLite under <root>/data.
	DSNs map[string]string
	// License is a licence file given with the command (nil: the one
	// installed on the host, if any). It is installed when the install
	// succeeds.
	License []byte
	// Fingerprints are this host's fingerprints for licences bound to a
	// host; nil reads them from the host (see license.ReadHost).
	Fingerprints []string
	// Secrets are the secrets the command holds (its passphrase, say);
	// the DSNs are added to them. No text stored or returned holds them.
	Secrets *redact.Secrets
	// Config is what the operator gave for the bundle's variables (--set,
	// --values, the environment, a prompt); nil gives nothing, and the
	// values in force and the defaults apply.
	Config *config.Inputs
}

// withDSNs returns secrets and every DSN of dsns and its password.
func withDSNs(secrets *redact.Secrets, dsns map[string]string) *redact.Secrets {
	s := &redact.Secrets{}
	if secrets != nil {
		*s = *secrets
	}
	for _, dsn := range dsns {
		s.AddDSN(dsn)
	}
	return s
}

// Result says what an install did.
type Result struct {
	Plan *Plan
	// Config is the site configuration the release was installed with.
	Config    *config.Config
	NoOp      bool // the bundle was already installed and current
	Stored    int  // blobs written to the store
	Reused    int  // blobs the store already had
	ReleaseAt string
	Checks    []state.CheckResult
	// License is what the licence check decided (nil: no licence used).
	License *LicenseDecision
	// Images are the names of the installed images.
	Images []string
}

// releaseDir is where a release's files live.
func releaseDir(root, version string) string {
	return filepath.Join(root, "releases", version)
}

// Install verifies the bundle at path against the appliance's trusted keys
// and threshold (opts.Keys on the first install), then installs it as a
// new release and activates it. A bundle that fails verification changes
// nothing but the audit log. The bundle already installed and current is
// a no-op (Update refuses it instead).
func Install(ctx context.Context, path string, opts Options) (*Result, error) {
	return install(ctx, path, opts, admission{})
}

// install is Install and Update: it finishes what an interrupted ferry
// left, admits the bundle (see admit) and applies it.
func install(ctx context.Context, path string, opts Options, how admission) (*Result, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := state.Open(opts.Root, true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	secrets := withDSNs(opts.Secrets, opts.DSNs)
	db.SetSecrets(secrets)
	u := newUndoer(opts.Root, opts.DSNs, log)
	u.charts = opts.Cluster
	if err := finishInterrupted(db, opts.Root, log, u); err != nil {
		return nil, err
	}
	how.audit = true
	a, err := admit(ctx, db, path, opts, how, log)
	if err != nil {
		return nil, err
	}
	if a.noop {
		_ = db.Audit("install.noop", map[string]string{"version": a.manifest.Version, "bundle": a.digest, "outcome": OutcomeAccepted})
		return &Result{NoOp: true, ReleaseAt: releaseDir(opts.Root, a.manifest.Version)}, nil
	}
	return apply(ctx, db, path, a, opts, secrets, log)
}

// apply installs an admitted bundle in one journalled transaction: a
// failure before its commit point undoes it, and the release it replaced
// is current again.
func apply(ctx context.Context, db *state.DB, path string, a *admitted, opts Options, secrets *redact.Secrets, log *slog.Logger) (*Result, error) {
	m, plan, trust := a.manifest, a.plan, a.trust.TrustSet
	if err := createServiceUser(ctx, db, plan, log); err != nil {
		return nil, err
	}
	if err := ensureHostKey(db, opts.Root, a.current == "", log); err != nil {
		return nil, err
	}
	txn, err := db.BeginTxn("install", m.Version, a.digest)
	if err != nil {
		return nil, err
	}
	if err := db.RecordStep(txn.ID, stepPrevious, "done", a.current); err != nil {
		return nil, err
	}
	if err := journalTrust(db, txn, a.trust.first); err != nil {
		return nil, err
	}
	if err := journalRotation(db, txn, trust, a.rotations); err != nil {
		return nil, err
	}
	u := newUndoer(opts.Root, opts.DSNs, log)
	u.charts = opts.Cluster
	r := &run{db: db, txn: txn, crashAt: crashStep(), secrets: secrets, cfg: a.config}
	if opts.Appliers[StepMigrations] == nil {
		appliers := map[string]Applier{}
		for k, v := range opts.Appliers {
			appliers[k] = v
		}
		appliers[StepMigrations] = &migrationApplier{dbs: u.dbs, db: db, txn: txn, applied: map[string][]int{}}
		opts.Appliers = appliers
	}
	res, err := r.install(ctx, path, trust, plan, opts, log)
	if err != nil {
		u = newUndoer(opts.Root, opts.DSNs, log) // the store exists now
		u.charts = opts.Cluster
		if aerr := abort(db, opts.Root, txn, err, u); aerr != nil {
			// The install's error decides the exit code; the undo's is
			// told, not wrapped, so that it cannot classify first.
			return res, fmt.Errorf("%w; undoing it failed too: %v", err, aerr) //nolint:errorlint // see above
		}
		if a.current != "" {
			return res, fmt.Errorf("%w (rolled back: %s is current again)", err, a.current)
		}
		return res, err
	}
	if err := recordLicense(db, a.license, m.Version, a.clock, log); err != nil {
		return res, err
	}
	res.License = a.license
	if err := retain(db, opts.Root, opts.Keep); err != nil {
		log.Warn("retention", "error", err)
	}
	return res, nil
}

const (
	statusInstalling = "installing"
	statusActive     = "active"
	statusInactive   = "inactive"
	statusFailed     = "failed"
)

// run is one transaction in progress.
type run struct {
	db  *state.DB
	txn state.Txn
	// secrets are scrubbed from what the checks said.
	secrets *redact.Secrets
	// cfg is the site configuration the release is installed with.
	cfg *config.Config
	// refs serialises changes to the store's image names.
	refs sync.Mutex

	mu sync.Mutex
	// steps counts the steps started; crashAt is the test hook that
	// simulates a crash at one of them (see crashStep).
	steps, crashAt int
}

// runLevels runs the component steps of the plan level by level: the
// components of one level depend only on earlier levels, so they run in
// parallel (bounded by the number of CPUs), each its own steps in order.
func (r *run) runLevels(ctx context.Context, plan *Plan, do func(Step) error) error {
	byComponent := map[string][]Step{}
	for _, s := range plan.Steps {
		if s.Component != "" && s.Kind != StepCheck {
			byComponent[s.Component] = append(byComponent[s.Component], s)
		}
	}
	for _, level := range plan.Levels {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(runtime.GOMAXPROCS(0))
		for _, name := range level {
			steps := byComponent[name]
			g.Go(func() error {
				for _, s := range steps {
					if err := gctx.Err(); err != nil {
						return err
					}
					if err := r.step(s.ID(), func() error { return do(s) }); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return nil
}

// install runs the plan inside the transaction.
func (r *run) install(ctx context.Context, path string, trust verify.TrustSet, plan *Plan, opts Options, log *slog.Logger) (*Result, error) {
	db := r.db
	root := opts.Root
	st, err := store.Open(filepath.Join(root, "store"), true)
	if err != nil {
		return nil, err
	}
	rd, err := openBundle(path, trust)
	if err != nil {
		return nil, err
	}
	defer rd.close()
	// The plan, the journal and the checks so far are of the manifest
	// read when the install began; the file must still be that bundle.
	if rd.Digest() != r.txn.BundleDigest {
		return nil, fmt.Errorf("bundle %s changed while it was being installed: its manifest is %s, the install began with %s", path, rd.Digest(), r.txn.BundleDigest)
	}
	m := rd.Manifest()
	cfgJSON, err := storedConfigJSON(root, r.cfg)
	if err != nil {
		return nil, err
	}
	if err := db.PutRelease(state.Release{
		Version: m.Version, ManifestDigest: rd.Digest(), Manifest: rd.RawManifest(),
		Components: plan.Components, Status: statusInstalling, Created: m.Created, Installed: time.Now().UTC(),
		Config: cfgJSON,
	}); err != nil {
		return nil, err
	}
	res := &Result{Plan: plan, Config: r.cfg, ReleaseAt: releaseDir(root, m.Version)}
	for _, c := range installedComponents(m, state.Release{Components: plan.Components}) {
		for _, img := range c.Images {
			res.Images = append(res.Images, img.Name)
		}
	}

	// One pass over the bundle places every needed blob in the store, each
	// checked against the signed manifest as it streams.
	if err := r.step("content", func() error {
		stored, reused, err := storeContent(ctx, rd, st, plan, m)
		res.Stored, res.Reused = stored, reused
		log.Info("content stored", "new", stored, "reused", reused)
		return err
	}); err != nil {
		return nil, err
	}
	byName := map[string]bundle.Component{}
	for _, c := range m.Components {
		byName[c.Name] = c
	}
	sh, err := newSharer(db, m.Version, r.crashPoint)
	if err != nil {
		return nil, err
	}
	if err := r.checkCharts(opts.Cluster, st, root, m, plan); err != nil {
		return nil, err
	}
	if err := r.runLevels(ctx, plan, func(s Step) error {
		if f, ok := templateFile(byName[s.Component], s); ok {
			return r.render(ctx, st, root, m.Version, f)
		}
		if s.Kind == StepChart && opts.Cluster != nil {
			return r.chart(ctx, opts.Cluster, st, root, m, plan, byName[s.Component], s)
		}
		return runStep(ctx, st, &r.refs, sh, opts.Appliers, root, m, byName[s.Component], s, r.cfg)
	}); err != nil {
		return nil, err
	}
	log.Info("files placed", sh.counts()...)
	if err := r.step("activate:"+m.Version, func() error {
		return activate(db, root, m.Version)
	}); err != nil {
		return nil, err
	}
	// The declared checks decide: the install commits only once they pass;
	// a failure returns the host to the release it replaced.
	if err := r.step(stepChecks, func() error {
		res.Checks = runChecks(ctx, root, m.Version, plan, byName, r.secrets, r.cfg)
		if rel, err := db.Release(m.Version); err == nil {
			rel.Checks = res.Checks
			_ = db.PutRelease(rel)
		}
		for _, c := range res.Checks {
			if !c.OK {
				return fmt.Errorf("%w: %s: %s", ErrCheckFail, c.Name, c.Detail)
			}
		}
		return nil
	}); err != nil {
		return res, err
	}
	r.crashPoint()
	if err := commit(db, r.txn, ""); err != nil {
		return nil, err
	}
	if r.cfg != nil && len(r.cfg.Values) > 0 {
		_ = db.Audit("config.applied", configAudit(m.Version, r.cfg))
	}
	_ = db.Audit("install.committed", map[string]string{"version": m.Version, "bundle": rd.Digest(), "outcome": OutcomeAccepted,
		"signed-by": strings.Join(rd.SignedBy(), ","), "threshold": strconv.Itoa(max(1, rd.Trust().Threshold))})
	return res, nil
}

// step runs fn once per transaction: a step already done (the install is
// resuming after a crash) is skipped; every step is journalled before and
// after it runs.
func (r *run) step(name string, fn func() error) error {
	done, err := r.db.StepDone(r.txn.ID, name)
	if err != nil || done {
		return err
	}
	if err := r.db.RecordStep(r.txn.ID, name, "started", ""); err != nil {
		return err
	}
	r.crashPoint()
	if err := fn(); err != nil {
		_ = r.db.RecordStep(r.txn.ID, name, "failed", err.Error())
		return fmt.Errorf("step %s: %w", name, err)
	}
	return r.db.RecordStep(r.txn.ID, name, "done", "")
}

// storeContent streams the bundle once and puts every blob the plan needs
// into the store (and every blob of its images).
func storeContent(ctx context.Context, rd *bundleReader, st *store.Store, plan *Plan, m *bundle.Manifest) (stored, reused int, err error) {
	rd.PatchBase = func(d string) (bundle.PatchBaseContent, error) { return openBaseContent(st, d) }
	need := map[string]bool{}
	for _, d := range plan.Needed() {
		need[d] = true
	}
	for {
		if err := ctx.Err(); err != nil {
			return stored, reused, err
		}
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return stored, reused, nil
		}
		if err != nil {
			return stored, reused, err
		}
		if !need[e.Digest] || e.Path == bundle.IndexPath || e.Path == bundle.LayoutPath {
			continue
		}
		if has, err := st.Has(e.Digest); err != nil {
			return stored, reused, err
		} else if has {
			reused++
			continue
		}
		c, err := rd.Content()
		if err != nil {
			return stored, reused, err
		}
		written, err := st.Put(e.Digest, e.Size, c)
		c.Close()
		if err != nil {
			return stored, reused, err
		}
		if written {
			stored++
		} else {
			reused++
		}
	}
}

// checkPlatform refuses a bundle whose images cannot run here: every image
// of a chosen component that names its platforms must include this host's.
func checkPlatform(m *bundle.Manifest, plan *Plan, platform string) error {
	if platform == "" {
		platform = runtime.GOOS + "/" + runtime.GOARCH
	}
	chosen := map[string]bool{}
	for _, c := range plan.Components {
		chosen[c] = true
	}
	for _, c := range m.Components {
		if !chosen[c.Name] {
			continue
		}
		for _, img := range c.Images {
			if len(img.Platforms) == 0 {
				continue
			}
			ok := false
			for _, p := range img.Platforms {
				ok = ok || p == platform || strings.HasPrefix(p, platform+"/")
			}
			if !ok {
				return fmt.Errorf("%w: image %s of component %s is for %s, this host is %s", ErrPlatform, img.Name, c.Name, strings.Join(img.Platforms, ", "), platform)
			}
		}
	}
	return nil
}
