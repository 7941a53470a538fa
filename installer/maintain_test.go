package installer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ferry/bundle"
	"ferry/fixtures"
	"ferry/installer/migrate"
	"ferry/installer/state"
	"ferry/installer/store"
	"ferry/verify"
)

// TestRetentionAndGC installs four versions keeping three: the oldest
// release goes, gc removes what only it used, and never a blob a kept
// release needs.
func TestRetentionAndGC(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	var bundles []testBundle
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "1.3.0"} {
		b := buildBundle(t, dir, v, key)
		bundles = append(bundles, b)
		if _, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}, Keep: 3}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	rels, _ := db.Releases()
	db.Close()
	if len(rels) != 3 || rels[0].Version != "1.1.0" {
		t.Fatalf("kept %d releases from %v", len(rels), rels[0].Version)
	}
	if _, err := os.Stat(releaseDir(root, "1.0.0")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the release directory of 1.0.0 was kept")
	}
	res, err := GC(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) == 0 {
		t.Fatal("gc removed nothing, though 1.0.0 had content of its own")
	}
	// Everything the kept releases use is still there and intact.
	if drift, err := Check(context.Background(), root); err != nil {
		t.Fatalf("after gc: %v %+v", err, drift)
	}
	checkInstalled(t, root, bundles[3].res.Manifest)
	st, err := store.Open(filepath.Join(root, "store"), false)
	if err != nil {
		t.Fatal(err)
	}
	refs, _ := st.Refs()
	for _, r := range refs {
		if r.Name == "wf/api:1.0.0" || r.Name == "wf/worker:1.0.0" {
			t.Errorf("gc kept the image name %s of a removed release", r.Name)
		}
	}
}

func TestCheckFindsDrift(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	b := buildBundle(t, dir, "1.0.0", newKey(t))
	if _, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
		t.Fatal(err)
	}
	rel := releaseDir(root, "1.0.0")
	must(t, os.WriteFile(filepath.Join(rel, "etc", "api.conf"), []byte("changed"), 0o644))
	must(t, os.Remove(filepath.Join(rel, "bin", "api")))
	must(t, os.WriteFile(filepath.Join(rel, "bin", "implant"), []byte("x"), 0o755))
	st, err := store.Open(filepath.Join(root, "store"), false)
	must(t, err)
	refs, _ := st.Refs()
	p, err := st.Path(refs[0].Digest)
	must(t, err)
	must(t, os.WriteFile(p, []byte("{}"), 0o644))

	drift, err := Check(context.Background(), root)
	if !errors.Is(err, ErrDrift) {
		t.Fatalf("got %v, want %v", err, ErrDrift)
	}
	kinds := map[string]string{}
	for _, d := range drift {
		kinds[d.Path] = d.Kind
	}
	if kinds["etc/api.conf"] != "changed" || kinds["bin/api"] != "missing" || kinds["bin/implant"] != "extra" {
		t.Fatalf("drift %+v", drift)
	}
	changedBlob := false
	for _, d := range drift {
		changedBlob = changedBlob || (d.Path == p && d.Kind == store.DriftChanged)
	}
	if !changedBlob {
		t.Fatalf("a changed store blob was not reported: %+v", drift)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRollbackAndHighWaterMark(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	b2 := buildBundle(t, dir, "1.1.0", key)
	for _, b := range []testBundle{b1, b2} {
		if _, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
			t.Fatal(err)
		}
	}
	to, err := Rollback(context.Background(), root, RollbackOptions{})
	if err != nil || to != "1.0.0" {
		t.Fatalf("rollback to %q: %v", to, err)
	}
	checkInstalled(t, root, b1.res.Manifest)
	if _, err := Rollback(context.Background(), root, RollbackOptions{To: "0.9.0"}); !errors.Is(err, ErrNoRelease) {
		t.Fatalf("rollback to an unknown release: %v", err)
	}
	// Forward again to the kept newer release: allowed, it is not below
	// the highest version ever installed.
	if _, err := Install(context.Background(), b2.path, Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, root, b2.res.Manifest)

	// Once 1.0.0 is gone, its bundle stays refused: the high-water mark
	// does not depend on kept releases.
	db, err := state.Open(root, false)
	must(t, err)
	must(t, db.DeleteRelease("1.0.0"))
	db.Close()
	if _, err := Install(context.Background(), b1.path, Options{Root: root}); !errors.Is(err, ErrNotNewer) {
		t.Fatalf("got %v, want %v", err, ErrNotNewer)
	}
}

// TestHighWaterMarkAlone: after a rollback the current release is below
// the highest ever installed, so a bundle between the two is newer than
// the current one and only the high-water mark refuses it.
func TestHighWaterMarkAlone(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	b10 := buildBundle(t, dir, "1.0.0", key)
	b12 := buildBundle(t, dir, "1.2.0", key)
	b11 := buildBundle(t, dir, "1.1.0", key)
	for _, b := range []testBundle{b10, b12} {
		if _, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
			t.Fatal(err)
		}
	}
	if to, err := Rollback(context.Background(), root, RollbackOptions{To: "1.0.0"}); err != nil || to != "1.0.0" {
		t.Fatalf("rollback to %q: %v", to, err)
	}
	_, err := Install(context.Background(), b11.path, Options{Root: root})
	if !errors.Is(err, ErrNotNewer) || !strings.Contains(err.Error(), "1.2.0 has been installed on this host") {
		t.Fatalf("got %v, want %v naming the high-water mark 1.2.0", err, ErrNotNewer)
	}
	checkInstalled(t, root, b10.res.Manifest)
	if _, err := os.Stat(releaseDir(root, "1.1.0")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused release left a directory: %v", err)
	}
	db, err := state.OpenReadOnly(root)
	must(t, err)
	defer db.Close()
	if mark, _ := db.Mark(highestMark); string(mark) != "1.2.0" {
		t.Fatalf("highest mark %q, want 1.2.0", mark)
	}
}

// TestRollbackCrash: a rollback killed at its activation step leaves the
// host on one of the two releases, and the kept release intact.
func TestRollbackCrash(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	b2 := buildBundle(t, dir, "1.1.0", key)
	for _, b := range []testBundle{b1, b2} {
		if _, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(crashEnv, "0")
	db, err := state.Open(root, false)
	must(t, err)
	txn, err := db.BeginTxn("rollback", "1.0.0", "sha256:x")
	must(t, err)
	must(t, db.RecordStep(txn.ID, stepPrevious, "done", "1.1.0"))
	must(t, db.RecordStep(txn.ID, "activate:1.0.0", "started", ""))
	db.Close()
	// The next command recovers: the rollback did not commit, 1.1.0 stays.
	if o := crashAndRecover(t, root); o.committed || o.current != "1.1.0" {
		t.Fatalf("expected %+v", o)
	}
	if _, err := Install(context.Background(), b2.path, Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, root, b2.res.Manifest)
	if _, err := os.Stat(releaseDir(root, "1.0.0")); err != nil {
		t.Fatalf("the kept release was removed by recovery: %v", err)
	}
}

func buildDelta(t *testing.T, dir, version string, key *ecdsa.PrivateKey, base testBundle) testBundle {
	t.Helper()
	p, err := fixtures.WriteProject(filepath.Join(dir, "delta-"+version), fixtures.ProjectOptions{Version: version, FileSize: 32 << 10})
	must(t, err)
	spec, err := bundle.LoadSpec(p.SpecPath)
	must(t, err)
	signer, err := verify.NewSigner(key)
	must(t, err)
	out := filepath.Join(dir, "app-"+version+"-delta.ferry")
	res, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: spec, Signers: []verify.Signer{signer}, Base: base.path})
	must(t, err)
	return testBundle{path: out, pub: base.pub, res: res}
}

func TestInstallDelta(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	other := buildBundle(t, filepath.Join(dir, "other"), "1.0.1", key)
	d2 := buildDelta(t, dir, "1.1.0", key, b1)

	// On a host without the base, or with another release, it is refused.
	fresh := filepath.Join(dir, "fresh")
	if _, err := Install(context.Background(), d2.path, Options{Root: fresh, Keys: [][]byte{b1.pub}}); !errors.Is(err, ErrWrongBase) {
		t.Fatalf("delta on an empty host: %v", err)
	}
	wrong := filepath.Join(dir, "wrong")
	if _, err := Install(context.Background(), other.path, Options{Root: wrong, Keys: [][]byte{other.pub}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(context.Background(), d2.path, Options{Root: wrong}); !errors.Is(err, ErrWrongBase) {
		t.Fatalf("delta on another base: %v", err)
	}

	root := filepath.Join(dir, "root")
	if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(context.Background(), d2.path, Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, root, d2.res.Manifest)
	if drift, err := Check(context.Background(), root); err != nil {
		t.Fatalf("%v %+v", err, drift)
	}
}

// TestFailedCheckRollsBack: an update whose declared check fails after
// activation returns the host to the release it replaced, by itself.
func TestFailedCheckRollsBack(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
		t.Fatal(err)
	}
	p, err := fixtures.WriteProject(filepath.Join(dir, "bad"), fixtures.ProjectOptions{Version: "1.1.0", FileSize: 32 << 10})
	must(t, err)
	specData, err := os.ReadFile(p.SpecPath)
	must(t, err)
	bad := strings.Replace(string(specData), "test, -s, etc/api.conf", "test, -s, etc/missing.conf", 1)
	if bad == string(specData) {
		t.Fatal("the fixture's check was not found")
	}
	must(t, os.WriteFile(p.SpecPath, []byte(bad), 0o644))
	spec, err := bundle.LoadSpec(p.SpecPath)
	must(t, err)
	signer, err := verify.NewSigner(key)
	must(t, err)
	out := filepath.Join(dir, "bad.ferry")
	_, err = bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: spec, Signers: []verify.Signer{signer}})
	must(t, err)

	_, err = Install(context.Background(), out, Options{Root: root})
	if !errors.Is(err, ErrCheckFail) || !strings.Contains(err.Error(), "1.0.0 is current again") {
		t.Fatalf("got %v", err)
	}
	checkInstalled(t, root, b1.res.Manifest)
	if _, err := os.Stat(releaseDir(root, "1.1.0")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the failed release's directory was kept")
	}
	db, err := state.OpenReadOnly(root)
	must(t, err)
	defer db.Close()
	txns, _ := db.Txns()
	last := txns[len(txns)-1]
	if last.State != "aborted" || !strings.Contains(last.Reason, "etc/missing.conf") {
		t.Fatalf("the cause is not recorded: %+v", last)
	}
	// The failed version did not raise the anti-rollback mark.
	if mark, _ := db.Mark(highestMark); string(mark) != "1.0.0" {
		t.Fatalf("highest mark %q", mark)
	}
}

// patchProject writes a project whose bin/app is content; a second version
// changes a few bytes of it, so an update carries it as a patch.
func patchProject(t *testing.T, dir, version string, content []byte) string {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "bin", "app"), content, 0o755))
	spec := "apiVersion: ferry/v1\nkind: Bundle\nmetadata: {name: patched, version: " + version + "}\n" +
		"components:\n  - name: app\n    files:\n      - {src: bin/app, dest: bin/app, mode: \"0755\"}\n"
	must(t, os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec), 0o644))
	return filepath.Join(dir, "ferry.yaml")
}

func buildSpec(t *testing.T, specPath, out, base string, key *ecdsa.PrivateKey) *bundle.BuildResult {
	t.Helper()
	spec, err := bundle.LoadSpec(specPath)
	must(t, err)
	signer, err := verify.NewSigner(key)
	must(t, err)
	res, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: spec, Signers: []verify.Signer{signer}, Base: base})
	must(t, err)
	return res
}

// TestPatchUpdate: a changed file travels as a zstd patch against the
// base's file, and the host rebuilds it exactly; a damaged base in the
// store is refused, with nothing changed.
func TestPatchUpdate(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	content := make([]byte, 3<<20)
	must(t, fixtures.WriteFile(filepath.Join(dir, "seed"), "random", int64(len(content)), "patch"))
	content, _ = os.ReadFile(filepath.Join(dir, "seed"))
	v1 := buildSpec(t, patchProject(t, filepath.Join(dir, "p1"), "1.0.0", content), filepath.Join(dir, "v1.ferry"), "", key)
	changed := bytes.Clone(content)
	copy(changed[1<<20:], "a few changed bytes in the middle")
	changed = append(changed, "and some more at the end"...)
	v2 := buildSpec(t, patchProject(t, filepath.Join(dir, "p2"), "1.1.0", changed), filepath.Join(dir, "v2.ferry"), filepath.Join(dir, "v1.ferry"), key)

	var patch *bundle.Entry
	for i, e := range v2.Manifest.Entries {
		if e.Encoding == bundle.EncodingZstdPatch {
			patch = &v2.Manifest.Entries[i]
		}
	}
	if patch == nil || patch.StoredSize > 64<<10 {
		t.Fatalf("no small patch in the update: %+v", v2.Manifest.Entries)
	}
	t.Logf("a %d-byte file changed in two places travels as a %d-byte patch; the full bundle is %d bytes", len(changed), patch.StoredSize, v1.Size)

	pub := pubPEM(t, key)
	root := filepath.Join(dir, "root")
	if _, err := Install(context.Background(), filepath.Join(dir, "v1.ferry"), Options{Root: root, Keys: [][]byte{pub}}); err != nil {
		t.Fatal(err)
	}
	// A damaged base blob in the store: the patch cannot reproduce the
	// signed digest, the update is refused and 1.0.0 stays.
	damaged := filepath.Join(dir, "damaged")
	must(t, os.CopyFS(damaged, os.DirFS(root)))
	st, err := store.Open(filepath.Join(damaged, "store"), false)
	must(t, err)
	p, err := st.Path(patch.PatchBase)
	must(t, err)
	broken := bytes.Clone(content)
	broken[10] ^= 1
	must(t, os.WriteFile(p, broken, 0o644))
	if _, err := Install(context.Background(), filepath.Join(dir, "v2.ferry"), Options{Root: damaged}); err == nil {
		t.Fatal("an update against a damaged base was installed")
	}
	checkInstalled(t, damaged, v1.Manifest)

	if _, err := Install(context.Background(), filepath.Join(dir, "v2.ferry"), Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, root, v2.Manifest)
	got, err := os.ReadFile(filepath.Join(root, "current", "bin", "app"))
	must(t, err)
	if !bytes.Equal(got, changed) {
		t.Fatal("the patched file differs")
	}
}

// migrationProject writes a project with migrations 1..n for database
// "app" and a check that passes unless failCheck.
func migrationProject(t *testing.T, dir, version string, n int, failCheck bool) string {
	t.Helper()
	must(t, fixtures.WriteMigrations(filepath.Join(dir, "migrations"), n))
	must(t, os.WriteFile(filepath.Join(dir, "app.conf"), []byte("v="+version+"\n"), 0o644))
	check := "app.conf"
	if failCheck {
		check = "missing.conf"
	}
	spec := "apiVersion: ferry/v1\nkind: Bundle\nmetadata: {name: withdb, version: " + version + "}\n" +
		"components:\n  - name: db\n    migrations: [{database: app, path: migrations}]\n" +
		"  - name: app\n    dependsOn: [db]\n    files: [{src: app.conf, dest: app.conf}]\n" +
		"    checks: [{command: [test, -s, " + check + "]}]\n"
	must(t, os.WriteFile(filepath.Join(dir, "ferry.yaml"), []byte(spec), 0o644))
	return filepath.Join(dir, "ferry.yaml")
}

// TestUpgradeRollsBackMigrations: a failed upgrade runs the down
// migrations it applied, newest first, and the database is back at the
// version the previous release expects.
func TestUpgradeRollsBackMigrations(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	pub := pubPEM(t, key)
	buildSpec(t, migrationProject(t, filepath.Join(dir, "p1"), "1.0.0", 2, false), filepath.Join(dir, "v1.ferry"), "", key)
	buildSpec(t, migrationProject(t, filepath.Join(dir, "p2"), "1.1.0", 4, true), filepath.Join(dir, "v2.ferry"), "", key)
	buildSpec(t, migrationProject(t, filepath.Join(dir, "p3"), "1.2.0", 4, false), filepath.Join(dir, "v3.ferry"), "", key)
	if _, err := Install(context.Background(), filepath.Join(dir, "v1.ferry"), Options{Root: root, Keys: [][]byte{pub}}); err != nil {
		t.Fatal(err)
	}
	dbs := &migrate.Databases{Root: root}
	if v, dirty, err := dbs.Version(context.Background(), "app"); err != nil || v != 2 || dirty {
		t.Fatalf("after 1.0.0: version %d dirty %v: %v", v, dirty, err)
	}
	if _, err := Install(context.Background(), filepath.Join(dir, "v2.ferry"), Options{Root: root}); !errors.Is(err, ErrCheckFail) {
		t.Fatalf("got %v, want %v", err, ErrCheckFail)
	}
	if v, dirty, err := dbs.Version(context.Background(), "app"); err != nil || v != 2 || dirty {
		t.Fatalf("after the failed 1.1.0: version %d dirty %v: %v, want 2", v, dirty, err)
	}
	if _, err := Install(context.Background(), filepath.Join(dir, "v3.ferry"), Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	if v, _, err := dbs.Version(context.Background(), "app"); err != nil || v != 4 {
		t.Fatalf("after 1.2.0: version %d: %v, want 4", v, err)
	}
}

// TestRollbackMovesSchemas: `ferry rollback` takes the databases to the
// schema of the release it makes current, down and up again, and a
// rollback killed at any step leaves the host on one release with that
// release's schema, never a mix.
func TestRollbackMovesSchemas(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	pub := pubPEM(t, key)
	v1 := filepath.Join(dir, "v1.ferry")
	v2 := filepath.Join(dir, "v2.ferry")
	buildSpec(t, migrationProject(t, filepath.Join(dir, "p1"), "1.0.0", 2, false), v1, "", key)
	buildSpec(t, migrationProject(t, filepath.Join(dir, "p2"), "1.1.0", 4, false), v2, "", key)
	setup := func(root string) {
		t.Helper()
		if _, err := Install(context.Background(), v1, Options{Root: root, Keys: [][]byte{pub}}); err != nil {
			t.Fatal(err)
		}
		if _, err := Install(context.Background(), v2, Options{Root: root}); err != nil {
			t.Fatal(err)
		}
	}
	schemaOf := map[string]int{"1.0.0": 2, "1.1.0": 4}
	// consistent recovers the root with a read of its state (any command
	// does) and checks that the schema is the current release's.
	consistent := func(root string) string {
		t.Helper()
		if _, err := Rollback(context.Background(), root, RollbackOptions{To: "no-such"}); !errors.Is(err, ErrNoRelease) {
			t.Fatalf("recovering command: %v", err)
		}
		db, err := state.OpenReadOnly(root)
		must(t, err)
		cur, err := db.Current()
		db.Close()
		must(t, err)
		v, dirty, err := (&migrate.Databases{Root: root}).Version(context.Background(), "app")
		if err != nil || dirty || v != schemaOf[cur] {
			t.Fatalf("current %s with schema version %d (dirty %v, %v), want %d", cur, v, dirty, err, schemaOf[cur])
		}
		return cur
	}

	root := filepath.Join(dir, "root")
	setup(root)
	if to, err := Rollback(context.Background(), root, RollbackOptions{}); err != nil || to != "1.0.0" {
		t.Fatalf("rollback: %q %v", to, err)
	}
	if cur := consistent(root); cur != "1.0.0" {
		t.Fatalf("current %s after rollback", cur)
	}
	if to, err := Rollback(context.Background(), root, RollbackOptions{To: "1.1.0"}); err != nil || to != "1.1.0" {
		t.Fatalf("forward again: %q %v", to, err)
	}
	if cur := consistent(root); cur != "1.1.0" {
		t.Fatalf("current %s after going forward", cur)
	}

	crashes, outcomes := 0, map[bool]int{}
	for k := 1; ; k++ {
		root := filepath.Join(dir, fmt.Sprintf("crash-%d", k))
		setup(root)
		if !rollbackInChild(t, root, "1.0.0", k, 0) {
			break
		}
		crashes++
		want := expectOutcome(t, root)
		consistent(root)
		checkOutcome(t, root, want)
		checkRollbackReason(t, root, k)
		outcomes[want.committed]++
		if _, err := Rollback(context.Background(), root, RollbackOptions{To: "1.0.0"}); err != nil && !strings.Contains(err.Error(), "already current") {
			t.Fatalf("rollback after a crash at step %d: %v", k, err)
		}
		if cur := consistent(root); cur != "1.0.0" {
			t.Fatalf("crash at step %d: current %s after the second rollback", k, cur)
		}
	}
	if crashes < 3 || outcomes[true] == 0 || outcomes[false] == 0 {
		t.Fatalf("only %d crash points in a rollback (%d committed, %d rolled back)", crashes, outcomes[true], outcomes[false])
	}
	for i := range 10 {
		root := filepath.Join(dir, fmt.Sprintf("random-%d", i))
		setup(root)
		rollbackInChild(t, root, "1.0.0", 0, time.Duration(mathrand.Int64N(int64(150*time.Millisecond))))
		want := expectOutcome(t, root)
		consistent(root)
		checkOutcome(t, root, want)
	}
	t.Logf("%d crash points and 10 random kills in rollbacks, each consistent", crashes)
}

// checkRollbackReason checks that the rollback a crash at step k
// interrupted kept the reason it was given, committed or rolled back by
// the recovery.
func checkRollbackReason(t *testing.T, root string, k int) {
	t.Helper()
	db, err := state.OpenReadOnly(root)
	must(t, err)
	defer db.Close()
	txns, err := db.Txns()
	must(t, err)
	for i := len(txns) - 1; i >= 0; i-- {
		if txns[i].Kind == "rollback" {
			if !strings.Contains(txns[i].Reason, childRollbackReason) {
				t.Fatalf("crash at step %d: the recovered rollback (%s) has reason %q, want it to keep %q", k, txns[i].State, txns[i].Reason, childRollbackReason)
			}
			return
		}
	}
	t.Fatalf("crash at step %d: no rollback transaction in history", k)
}

// TestRollbackFailedDownMigration: when a down migration fails, the
// rollback migrates back up what it had run down and the host stays, whole,
// on the release it started from.
func TestRollbackFailedDownMigration(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	pub := pubPEM(t, key)
	v1 := filepath.Join(dir, "v1.ferry")
	v2 := filepath.Join(dir, "v2.ferry")
	buildSpec(t, migrationProject(t, filepath.Join(dir, "p1"), "1.0.0", 2, false), v1, "", key)
	spec2 := migrationProject(t, filepath.Join(dir, "p2"), "1.1.0", 4, false)
	downs, err := filepath.Glob(filepath.Join(dir, "p2", "migrations", "003_*.down.sql"))
	must(t, err)
	if len(downs) != 1 {
		t.Fatalf("down files of 003: %v", downs)
	}
	must(t, os.WriteFile(downs[0], []byte("THIS IS NOT SQL;\n"), 0o644))
	buildSpec(t, spec2, v2, "", key)
	if _, err := Install(context.Background(), v1, Options{Root: root, Keys: [][]byte{pub}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(context.Background(), v2, Options{Root: root}); err != nil {
		t.Fatal(err)
	}
	_, err = Rollback(context.Background(), root, RollbackOptions{})
	if err == nil || !strings.Contains(err.Error(), "003_") {
		t.Fatalf("rollback with a failing down migration: %v", err)
	}
	v, dirty, err := (&migrate.Databases{Root: root}).Version(context.Background(), "app")
	if err != nil || dirty || v != 4 {
		t.Fatalf("schema version %d dirty %v (%v), want 4: the reverted 004 was not migrated up again", v, dirty, err)
	}
	db, err := state.OpenReadOnly(root)
	must(t, err)
	defer db.Close()
	if cur, _ := db.Current(); cur != "1.1.0" {
		t.Fatalf("current %s, want 1.1.0", cur)
	}
	txns, _ := db.Txns()
	if last := txns[len(txns)-1]; last.Kind != "rollback" || last.State != "aborted" || !strings.Contains(last.Reason, "003_") {
		t.Fatalf("the cause is not recorded: %+v", last)
	}
}
