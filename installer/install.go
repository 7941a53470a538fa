package installer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"golang.org/x/sync/errgroup"

	"ferry/bundle"
	"ferry/installer/state"
	"ferry/installer/store"
	"ferry/internal/redact"
	"ferry/verify"
)

// Sentinel errors of installation; the command line gives each an exit
// code.
var (
	ErrNoTrust   = errors.New("no trusted keys")
	ErrNotNewer  = errors.New("bundle is not newer than the installed release")
	ErrConflict  = errors.New("version already installed from another bundle")
	ErrCheckFail = errors.New("post-install check failed")
	ErrPlatform  = errors.New("bundle is not for this platform")
	ErrWrongBase = errors.New("update bundle does not apply to this host")
	ErrReplay    = errors.New("this update is already applied")
)

// Options control Install.
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
	// RefuseReplay makes re-applying the current bundle an error (ErrReplay)
	// instead of a no-op: `ferry update apply` says so.
	RefuseReplay bool
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
	Plan      *Plan
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
// nothing but the audit log.
func Install(ctx context.Context, path string, opts Options) (*Result, error) {
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
	if err := recover(db, opts.Root, log, u); err != nil {
		return nil, err
	}
	host, err := trustSet(db, opts)
	if err != nil {
		return nil, refuse(db, path, err)
	}
	trust := host.TrustSet

	// Signatures and manifest first: a reinstall of the current bundle is
	// a no-op that needs no more than this.
	head, err := openBundle(path, trust)
	if err != nil {
		return nil, refuse(db, path, err)
	}
	m, digest, rotations := head.Manifest(), head.Digest(), head.Rotations()
	head.close()
	current, _ := db.Current()
	if rel, err := db.Release(m.Version); err == nil {
		if rel.ManifestDigest != digest {
			return nil, refuse(db, path, fmt.Errorf("%w: %s %s is installed from bundle %s, this is %s", ErrConflict, m.Name, m.Version, rel.ManifestDigest, digest))
		}
		if current == m.Version && rel.Status == statusActive {
			if opts.RefuseReplay {
				return nil, refuse(db, path, fmt.Errorf("%w: %s %s (%s) is current", ErrReplay, m.Name, m.Version, digest))
			}
			_ = db.Audit("install.noop", map[string]string{"version": m.Version, "bundle": digest})
			return &Result{NoOp: true, ReleaseAt: releaseDir(opts.Root, m.Version)}, nil
		}
	}
	if current != "" {
		if err := newerThan(m.Version, current); err != nil {
			return nil, refuse(db, path, err)
		}
	}
	if err := notBelowHighest(db, m.Version); err != nil {
		return nil, refuse(db, path, err)
	}
	if err := checkBase(db, opts.Root, m, current); err != nil {
		return nil, refuse(db, path, err)
	}
	clock, err := observeClock(db, log)
	if err != nil {
		return nil, err
	}
	if err := checkBundleExpiry(m, clock); err != nil {
		return nil, refuse(db, path, err)
	}
	fps := opts.Fingerprints
	if fps == nil {
		fps = hostFingerprints()
	}
	lic, err := checkLicense(db, m, opts.License, clock, fps, log)
	if err != nil {
		return nil, refuse(db, path, err)
	}
	sel, err := entitle(m, opts.Selection, lic)
	if err != nil {
		return nil, refuse(db, path, err)
	}
	if lic != nil && len(lic.Skipped) > 0 {
		log.Warn("optional components not covered by the licence are skipped", "components", lic.Skipped, "license", lic.License.ID)
	}
	plan, err := MakePlan(m, digest, sel)
	if err != nil {
		return nil, err
	}
	if err := checkPlatform(m, plan, opts.Platform); err != nil {
		return nil, refuse(db, path, err)
	}
	if err := currentHost().checkAccounts(plan); err != nil {
		return nil, refuse(db, path, err)
	}

	// The whole bundle is verified before anything is placed, so a bad
	// entry at the end leaves no content of it on the host.
	log.Info("verifying", "bundle", path)
	if _, err := bundle.VerifyFile(ctx, path, bundle.VerifyOptions{Trust: trust}); err != nil {
		return nil, refuse(db, path, err)
	}

	if err := createServiceUser(ctx, db, plan, log); err != nil {
		return nil, err
	}

	txn, err := db.BeginTxn("install", m.Version, digest)
	if err != nil {
		return nil, err
	}
	if err := db.RecordStep(txn.ID, stepPrevious, "done", current); err != nil {
		return nil, err
	}
	if err := journalTrust(db, txn, host.first); err != nil {
		return nil, err
	}
	if err := journalRotation(db, txn, trust, rotations); err != nil {
		return nil, err
	}
	r := &run{db: db, txn: txn, crashAt: crashStep(), secrets: secrets}
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
		if aerr := abort(db, opts.Root, txn, err, u); aerr != nil {
			return res, fmt.Errorf("%w; undoing it failed too: %v", err, aerr)
		}
		if current != "" {
			return res, fmt.Errorf("%w (rolled back: %s is current again)", err, current)
		}
		return res, err
	}
	if err := recordLicense(db, lic, m.Version, clock, log); err != nil {
		return res, err
	}
	res.License = lic
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
	if err := db.PutRelease(state.Release{
		Version: m.Version, ManifestDigest: rd.Digest(), Manifest: rd.RawManifest(),
		Components: plan.Components, Status: statusInstalling, Created: m.Created, Installed: time.Now().UTC(),
	}); err != nil {
		return nil, err
	}
	res := &Result{Plan: plan, ReleaseAt: releaseDir(root, m.Version)}
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
	if err := r.runLevels(ctx, plan, func(s Step) error {
		return runStep(ctx, st, &r.refs, opts.Appliers, root, m, byName[s.Component], s)
	}); err != nil {
		return nil, err
	}
	if err := r.step("activate:"+m.Version, func() error {
		return activate(db, root, m.Version)
	}); err != nil {
		return nil, err
	}
	// The declared checks decide: the install commits only once they pass;
	// a failure returns the host to the release it replaced.
	if err := r.step(stepChecks, func() error {
		res.Checks = runChecks(ctx, root, m.Version, plan, byName, r.secrets)
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
	if err := commit(db, r.txn); err != nil {
		return nil, err
	}
	_ = db.Audit("install.committed", map[string]string{"version": m.Version, "bundle": rd.Digest(),
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
		if err == io.EOF {
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

// newerThan refuses a bundle whose version is not above the current one:
// going back is `ferry rollback`, to a kept release.
func newerThan(version, current string) error {
	v, err := semver.StrictNewVersion(version)
	if err != nil {
		return err
	}
	c, err := semver.StrictNewVersion(current)
	if err != nil {
		return err
	}
	if !v.GreaterThan(c) {
		return fmt.Errorf("%w: %s is installed, this bundle is %s", ErrNotNewer, current, version)
	}
	return nil
}

// highestMark is the state mark that holds the highest version ever
// activated: anti-rollback must survive the removal of old releases.
const highestMark = "highest-version"

// notBelowHighest refuses a version older than the highest ever activated
// on this host.
func notBelowHighest(db *state.DB, version string) error {
	b, err := db.Mark(highestMark)
	if err != nil || b == nil {
		return err
	}
	v, err := semver.StrictNewVersion(version)
	if err != nil {
		return err
	}
	h, err := semver.StrictNewVersion(string(b))
	if err != nil {
		return fmt.Errorf("the highest-version mark in the state is damaged: %w", err)
	}
	if v.LessThan(h) {
		return fmt.Errorf("%w: %s has been installed on this host, this bundle is %s (go back with ferry rollback)", ErrNotNewer, h, version)
	}
	return nil
}

// raiseHighest records version as the highest ever activated, if it is.
func raiseHighest(db *state.DB, version string) error {
	if err := notBelowHighest(db, version); err != nil {
		return nil // an older release re-activated by rollback
	}
	return db.SetMark(highestMark, []byte(version))
}

// refuse records a refused bundle in the audit log, the only trace a
// refusal leaves, and returns err.
func refuse(db *state.DB, path string, err error) error {
	_ = db.Audit("install.refused", map[string]string{"bundle": filepath.Base(path), "error": err.Error()})
	return err
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

// checkBase: an update bundle applies only to the exact release it names,
// installed and current, whose content is still in the store.
func checkBase(db *state.DB, root string, m *bundle.Manifest, current string) error {
	if m.Base == nil {
		return nil
	}
	if current == "" {
		return fmt.Errorf("%w: it updates %s (%s), and nothing is installed; install the full bundle", ErrWrongBase, m.Base.Version, m.Base.Digest)
	}
	rel, err := db.Release(current)
	if err != nil {
		return err
	}
	if rel.ManifestDigest != m.Base.Digest {
		return fmt.Errorf("%w: it updates %s (%s), this host runs %s (%s)", ErrWrongBase, m.Base.Version, m.Base.Digest, current, rel.ManifestDigest)
	}
	st, err := store.Open(filepath.Join(root, "store"), false)
	if err != nil {
		return err
	}
	for _, d := range m.BaseBlobs {
		has, err := st.Has(d)
		if err != nil {
			return err
		}
		if !has {
			return fmt.Errorf("%w: content %s of the base is missing from the store (ferry check says more)", ErrWrongBase, d)
		}
	}
	return nil
}

// openBaseContent opens the store blob a patch applies to and re-hashes
// it, streaming, before any patching: the store may have been changed on
// disk since the blob was stored. The patch reader then reads it at
// offsets; the patched content is checked against its own digest, so a
// blob that changes after this check is refused too.
func openBaseContent(st *store.Store, d string) (bundle.PatchBaseContent, error) {
	f, err := st.Open(d)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, fi.Size()), make([]byte, 1<<20)); err != nil {
		f.Close()
		return nil, fmt.Errorf("the store's copy of %s: %w", d, err)
	}
	if "sha256:"+hex.EncodeToString(h.Sum(nil)) != d {
		f.Close()
		return nil, fmt.Errorf("%w: the store's copy of %s is damaged (ferry check lists it)", ErrWrongBase, d)
	}
	return &storeBlob{File: f, size: fi.Size()}, nil
}

// storeBlob is a store blob open for reading at offsets, with its size.
type storeBlob struct {
	*os.File
	size int64
}

func (b *storeBlob) Size() int64 { return b.size }
