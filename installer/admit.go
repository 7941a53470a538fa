package installer

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"ferry/bundle"
	"ferry/config"
	"ferry/installer/migrate"
	"ferry/installer/state"
	"ferry/verify"
)

// admission says how admit runs.
type admission struct {
	// update is set for an update (apply or plan): the bundle already
	// applied and current is a replay (ErrReplay), not a no-op.
	update bool
	// audit is set when a refusal is recorded in the audit log: for apply,
	// not for a plan, which changes nothing.
	audit bool
	// plan is set for a plan: nothing is written (the clock is read, not
	// raised), the migrations the databases applied are compared with the
	// bundle's (apply finds a difference while it migrates), and every
	// refusal found is reported, not only the first.
	plan bool
}

// admitted is a bundle admit let through, with what applying it needs.
type admitted struct {
	trust     installTrust
	manifest  *bundle.Manifest
	digest    string
	rotations []*verify.Rotation
	// current is the release the host ran when the bundle was admitted.
	current string
	clock   Clock
	license *LicenseDecision
	plan    *Plan
	// config is the site configuration the bundle will be installed with.
	config *config.Config
	// noop is set when the bundle is installed and current already.
	noop bool
}

// admit decides whether the bundle at path may be installed on the host
// of db, in the order that costs least first: trust and threshold, the
// signed manifest, the version (conflict, replay, anti-rollback), the
// base of an update, the bundle's expiry by the clock rule, the licence,
// the plan, the platform and service accounts, and last the whole
// bundle's content. A refusal is recorded in the audit log once (when
// how.audit), as the only trace it leaves.
//
// Apply stops at the first refusal. A plan goes on through the checks that
// do not depend on the refused one and reports all it found (Refusals when
// more than one), so that an operator fixes them in one round.
func admit(ctx context.Context, db *state.DB, path string, opts Options, how admission, log *slog.Logger) (*admitted, error) {
	r := &refusals{all: how.plan}
	refuse := func() error {
		err := r.err()
		if how.audit {
			return refuse(db, path, err)
		}
		return err
	}
	host, err := trustSet(db, opts)
	if err != nil {
		r.add(err)
		return nil, refuse()
	}
	// Signatures and manifest first: a reinstall of the current bundle is
	// a no-op that needs no more than this.
	head, err := openBundle(path, host.TrustSet)
	if err != nil {
		r.add(err)
		return nil, refuse()
	}
	m := head.Manifest()
	a := &admitted{trust: host, manifest: m, digest: head.Digest(), rotations: head.Rotations()}
	head.close()
	a.current, _ = db.Current()
	noop, err := checkVersion(db, m, a.digest, a.current, how.update)
	if noop {
		a.noop = true
		return a, nil
	}
	if !r.add(err) || !r.add(checkBase(db, opts.Root, m, a.current)) {
		return nil, refuse()
	}
	if how.plan {
		a.clock, err = ReadClock(db, time.Now())
	} else {
		a.clock, err = observeClock(db, log)
	}
	if err != nil {
		return nil, err
	}
	if !r.add(checkBundleExpiry(m, a.clock)) {
		return nil, refuse()
	}
	fps := opts.Fingerprints
	if fps == nil {
		fps = hostFingerprints()
	}
	a.license, err = checkLicense(db, m, opts.License, a.clock, fps, log)
	if !r.add(err) {
		return nil, refuse()
	}
	sel, err := entitle(m, opts.Selection, a.license)
	if !r.add(err) {
		return nil, refuse()
	}
	if err != nil {
		sel = opts.Selection // a plan goes on with the selection asked for
	}
	if lic := a.license; lic != nil && len(lic.Skipped) > 0 {
		log.Warn("optional components not covered by the licence are skipped", "components", lic.Skipped, "license", lic.License.ID)
	}
	if a.plan, err = MakePlan(m, a.digest, sel); err != nil {
		r.errs = append(r.errs, err) // not a refusal of the bundle: not audited
		return nil, r.err()
	}
	if !r.add(checkPlatform(m, a.plan, opts.Platform)) || !r.add(currentHost().checkAccounts(a.plan)) {
		return nil, refuse()
	}
	// The site's values are checked before anything changes.
	if a.config, err = resolveConfig(db, m, opts.Root, a.current, opts.Config, opts.DSNs); !r.add(err) {
		return nil, refuse()
	}
	if how.plan && !r.add(checkMigrated(ctx, opts, a.plan, m)) {
		return nil, refuse()
	}
	// The whole bundle is verified before anything is placed, so a bad
	// entry at the end leaves no content of it on the host.
	if len(r.errs) == 0 {
		log.Info("verifying", "bundle", path)
		_, err := bundle.VerifyFile(ctx, path, bundle.VerifyOptions{Trust: host.TrustSet})
		r.add(err)
	}
	if len(r.errs) > 0 {
		return nil, refuse()
	}
	return a, nil
}

// checkMigrated compares what each database of the plan applied with the
// bundle's migrations, reading only: a released migration that changed is
// refused (migrate.ErrDrift), as applying the bundle would. A database
// that cannot be read (a PostgreSQL one given no DSN) is left to apply.
func checkMigrated(ctx context.Context, opts Options, p *Plan, m *bundle.Manifest) error {
	chosen := map[string]bool{}
	for _, c := range p.Components {
		chosen[c] = true
	}
	dbs := &migrate.Databases{Root: opts.Root, DSNs: opts.DSNs}
	var errs []error
	for _, c := range m.Components {
		if !chosen[c.Name] {
			continue
		}
		for _, ms := range c.Migrations {
			if err := dbs.CheckApplied(ctx, ms.Database, ms.Steps); errors.Is(err, migrate.ErrDrift) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Refusals are the reasons admission refused a bundle, in the order it
// checked them: a plan reports every refusal it finds, and the first
// decides the exit code.
type Refusals []error

func (r Refusals) Error() string   { return errors.Join(r...).Error() }
func (r Refusals) Unwrap() []error { return r }

// refusals collects the refusals of one admission.
type refusals struct {
	all  bool
	errs []error
}

// add records err, if there is one, and reports whether admission goes
// on: past no refusal, and for a plan (all) past any.
func (r *refusals) add(err error) bool {
	if err == nil {
		return true
	}
	r.errs = append(r.errs, err)
	return r.all
}

// err is the refusal, or all of them when there are several.
func (r *refusals) err() error {
	if len(r.errs) == 1 {
		return r.errs[0]
	}
	return Refusals(r.errs)
}

// PlanInstall runs Install's admission of the bundle at path against the
// appliance at opts.Root and returns the plan Install would run, changing
// nothing: it refuses what Install would, with the same errors, and also a
// migration a database applied that the bundle changed. On a root with no
// state yet it judges the bundle as a first install, by opts.Keys.
func PlanInstall(ctx context.Context, path string, opts Options) (*Plan, error) {
	return planOn(ctx, path, opts, admission{plan: true})
}

// PlanUpdate is PlanInstall for Update: the bundle already applied is
// refused (ErrReplay).
func PlanUpdate(ctx context.Context, path string, opts Options) (*Plan, error) {
	return planOn(ctx, path, opts, admission{plan: true, update: true})
}

func planOn(ctx context.Context, path string, opts Options, how admission) (*Plan, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, closeDB, err := openForPlan(opts.Root)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	a, err := admit(ctx, db, path, opts, how, log)
	if err != nil {
		return nil, err
	}
	if a.noop {
		return MakePlan(a.manifest, a.digest, opts.Selection)
	}
	if err := checkPlanCharts(ctx, path, opts, a); err != nil {
		return nil, err
	}
	if len(a.manifest.Variables) > 0 {
		r := config.NewReport(a.manifest.Version, a.config, a.manifest.Variables)
		a.plan.Config = &r
	}
	return a.plan, nil
}

// openForPlan opens the state at root for reading. A root with no state
// yet is judged as install would judge it, as an empty one: made in a
// temporary directory, which cleanup removes.
func openForPlan(root string) (db *state.DB, cleanup func(), err error) {
	if _, err := os.Stat(filepath.Join(root, "state.db")); !errors.Is(err, fs.ErrNotExist) {
		db, err := state.OpenReadOnly(root)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { db.Close() }, nil
	}
	dir, err := os.MkdirTemp("", "ferry-plan-")
	if err != nil {
		return nil, nil, err
	}
	if db, err = state.Open(dir, true); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return db, func() { db.Close(); os.RemoveAll(dir) }, nil
}
