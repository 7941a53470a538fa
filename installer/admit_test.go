package installer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"ferry/installer/migrate"
)

// stateBytes is state.db as it is on disk: a plan must leave it so.
func stateBytes(t *testing.T, root string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "state.db"))
	must(t, err)
	return b
}

// planAndApply plans the bundle at path on root (an update when update is
// set), checks that the plan changed nothing and refused it with want,
// then applies it and checks that apply refused it with want too.
func planAndApply(t *testing.T, root, path string, update bool, want error) {
	t.Helper()
	ctx := context.Background()
	plan, apply := PlanInstall, Install
	if update {
		plan, apply = PlanUpdate, Update
	}
	before := stateBytes(t, root)
	if _, err := plan(ctx, path, Options{Root: root}); !errors.Is(err, want) {
		t.Fatalf("plan %s: %v, want %v", filepath.Base(path), err, want)
	}
	if !bytes.Equal(stateBytes(t, root), before) {
		t.Fatalf("plan %s changed state.db", filepath.Base(path))
	}
	if _, err := apply(ctx, path, Options{Root: root}); !errors.Is(err, want) {
		t.Fatalf("apply %s: %v, want %v", filepath.Base(path), err, want)
	}
}

// TestPlanRefusesWhatApplyRefuses: plan and update plan run apply's
// admission, so that they refuse a bundle apply would refuse, with the
// same error, and change nothing.
func TestPlanRefusesWhatApplyRefuses(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	b2 := buildBundle(t, dir, "1.1.0", key)
	root := filepath.Join(dir, "root")
	must2(t)(Install(ctx, b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}))
	must2(t)(Install(ctx, b2.path, Options{Root: root}))

	t.Run("not newer", func(t *testing.T) { planAndApply(t, root, b1.path, true, ErrNotNewer) })
	t.Run("replay", func(t *testing.T) { planAndApply(t, root, b2.path, true, ErrReplay) })
	t.Run("same version, another bundle", func(t *testing.T) {
		again := buildBundleSize(t, filepath.Join(dir, "again"), "1.1.0", key, 16<<10)
		planAndApply(t, root, again.path, false, ErrConflict)
	})
	t.Run("reinstall is a no-op", func(t *testing.T) {
		if p, err := PlanInstall(ctx, b2.path, Options{Root: root}); err != nil || p.Version != "1.1.0" {
			t.Fatalf("plan of the current bundle: %+v, %v", p, err)
		}
	})

	t.Run("another base", func(t *testing.T) {
		other := buildBundle(t, filepath.Join(dir, "other"), "1.0.1", key)
		delta := buildDelta(t, dir, "1.2.0", key, b1)
		wrong := filepath.Join(dir, "wrong")
		must2(t)(Install(ctx, other.path, Options{Root: wrong, Keys: [][]byte{other.pub}}))
		planAndApply(t, wrong, delta.path, true, ErrWrongBase)
	})

	t.Run("changed applied migration", func(t *testing.T) {
		mroot := filepath.Join(dir, "mroot")
		v1 := filepath.Join(dir, "m1.ferry")
		buildSpec(t, migrationProject(t, filepath.Join(dir, "m1"), "1.0.0", 2, false), v1, "", key)
		must2(t)(Install(ctx, v1, Options{Root: mroot, Keys: [][]byte{pubPEM(t, key)}}))
		spec := migrationProject(t, filepath.Join(dir, "m2"), "1.1.0", 3, false)
		files, _ := filepath.Glob(filepath.Join(dir, "m2", "migrations", "001_*.up.sql"))
		if len(files) != 1 {
			t.Fatalf("migration 1 of the fixtures: %v", files)
		}
		changed := files[0]
		old, err := os.ReadFile(changed)
		must(t, err)
		must(t, os.WriteFile(changed, append(old, []byte("\n-- changed after release\n")...), 0o644))
		v2 := filepath.Join(dir, "m2.ferry")
		buildSpec(t, spec, v2, "", key)
		planAndApply(t, mroot, v2, true, migrate.ErrDrift)
	})
}

// TestPlanReportsEveryRefusal: a plan goes on past a refusal to the
// checks that do not depend on it and reports them all, in the order
// apply checks them; apply stops at the first.
func TestPlanReportsEveryRefusal(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	b2 := buildBundle(t, dir, "1.1.0", key)
	root := filepath.Join(dir, "root")
	must2(t)(Install(ctx, b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}))
	must2(t)(Install(ctx, b2.path, Options{Root: root}))

	opts := Options{Root: root, Platform: "linux/riscv64"}
	_, err := PlanUpdate(ctx, b1.path, opts)
	var all Refusals
	if !errors.As(err, &all) || len(all) != 2 || !errors.Is(all[0], ErrNotNewer) || !errors.Is(all[1], ErrPlatform) {
		t.Fatalf("plan: %v, want the refusals [%v %v]", err, ErrNotNewer, ErrPlatform)
	}
	_, err = Update(ctx, b1.path, opts)
	if !errors.Is(err, ErrNotNewer) || errors.Is(err, ErrPlatform) {
		t.Fatalf("apply: %v, want %v alone", err, ErrNotNewer)
	}
}

// TestPlanOnNewRoot: on a root with nothing installed a plan judges the
// bundle as a first install: refused without a key, admitted with one,
// and the root is left as it was.
func TestPlanOnNewRoot(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b := buildBundle(t, dir, "1.0.0", newKey(t))
	root := filepath.Join(dir, "root")
	if _, err := PlanInstall(ctx, b.path, Options{Root: root}); !errors.Is(err, ErrNoTrust) {
		t.Fatalf("no key: %v, want %v", err, ErrNoTrust)
	}
	if _, err := PlanInstall(ctx, b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
		t.Fatalf("with the key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "state.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a plan made state.db: %v", err)
	}
}

// must2 fails t on the error of a call returning a value and an error.
func must2(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		must(t, err)
	}
}
