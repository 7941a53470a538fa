package installer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mathrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ferry/bundle"
	"ferry/config"
	"ferry/fixtures"
	"ferry/installer/state"
	"ferry/internal/testenv"
	"ferry/verify"
)

// testBundle builds a fixtures project of the given version, signed by a
// fresh in-memory key, and returns the bundle path and the public key.
type testBundle struct {
	path string
	pub  []byte
	res  *bundle.BuildResult
}

func buildBundle(t testing.TB, dir, version string, priv *ecdsa.PrivateKey) testBundle {
	t.Helper()
	return buildBundleSize(t, dir, version, priv, 32<<10)
}

func buildBundleSize(t testing.TB, dir, version string, key any, fileSize int64) testBundle {
	t.Helper()
	return buildSigned(t, dir, version, key.(*ecdsa.PrivateKey), fileSize)
}

// buildSigned builds the fixtures project at version with files of
// fileSize, signed by priv and carrying the rotation statements.
func buildSigned(t testing.TB, dir, version string, priv *ecdsa.PrivateKey, fileSize int64, rotations ...[]byte) testBundle {
	t.Helper()
	p, err := fixtures.WriteProject(filepath.Join(dir, "project-"+version), fixtures.ProjectOptions{Version: version, FileSize: fileSize})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := bundle.LoadSpec(p.SpecPath)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "app-"+version+".ferry")
	res, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: spec, Signers: []verify.Signer{signerOf(t, priv)}, Rotations: rotations})
	if err != nil {
		t.Fatal(err)
	}
	return testBundle{path: out, pub: pubPEM(t, priv), res: res}
}

func signerOf(t testing.TB, key *ecdsa.PrivateKey) verify.Signer {
	t.Helper()
	s, err := verify.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pubPEM is the PEM text of key's public key, as a vendor ships it.
func pubPEM(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	b := buildBundle(t, dir, "1.0.0", newKey(t))
	res, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}})
	if err != nil {
		t.Fatal(err)
	}
	if res.NoOp || res.Stored == 0 {
		t.Fatalf("result %+v", res)
	}
	checkInstalled(t, root, b.res.Manifest)

	// Reinstalling is a no-op, and fast.
	start := time.Now()
	res, err = Install(context.Background(), b.path, Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NoOp || time.Since(start) > 2*time.Second {
		t.Fatalf("reinstall: no-op %v after %s", res.NoOp, time.Since(start))
	}
}

func TestInstallRefusedChangesNothing(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	b := buildBundle(t, dir, "1.0.0", newKey(t))
	data, err := os.ReadFile(b.path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)*3/5] ^= 0x10
	bad := filepath.Join(dir, "bad.ferry")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(context.Background(), bad, Options{Root: root, Keys: [][]byte{b.pub}}); err == nil {
		t.Fatal("a tampered bundle was installed")
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		switch e.Name() {
		case "state.db", "ferry.lock":
		default:
			t.Errorf("a refused bundle left %s in the root", e.Name())
		}
	}
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rels, _ := db.Releases()
	trust, _ := db.Trust()
	log, _ := db.AuditLog()
	if len(rels) != 0 || len(trust) != 0 {
		t.Fatalf("a refused bundle left %d releases and %d trusted keys", len(rels), len(trust))
	}
	if len(log) == 0 || log[len(log)-1].Event != "install.refused" {
		t.Fatalf("the refusal is not in the audit log: %+v", log)
	}
}

func TestInstallNewerAndRefuseOlder(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	b2 := buildBundle(t, dir, "1.1.0", key)
	if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
		t.Fatal(err)
	}
	res, err := Install(context.Background(), b2.path, Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reused == 0 {
		t.Error("content shared with 1.0.0 was stored again")
	}
	checkInstalled(t, root, b2.res.Manifest)
	if _, err := Install(context.Background(), b1.path, Options{Root: root}); !errors.Is(err, ErrNotNewer) {
		t.Fatalf("downgrade: got %v, want %v", err, ErrNotNewer)
	}
}

// TestCrashLoop kills the installer at every journalled step (a hook that
// SIGKILLs the process, as a power cut would), of a first install and of
// an update; the next command must commit the install if it had reached
// its commit point and roll it back if not, as the journal left by the
// crash says (see expectOutcome); installing again then gives exactly an
// uninterrupted install's result.
func TestCrashLoop(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	b1 := buildBundle(t, dir, "1.0.0", key)
	b2 := buildBundle(t, dir, "1.1.0", key)
	crashes, outcomes := 0, map[bool]int{}
	for k := 1; ; k++ {
		root := filepath.Join(dir, fmt.Sprintf("first-%d", k))
		if !installInChild(t, root, b1.path, k, 0, b1.pub) {
			break
		}
		crashes++
		outcomes[crashAndRecover(t, root).committed]++
		if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
			t.Fatalf("crash at step %d of a first install, then install: %v", k, err)
		}
		checkInstalled(t, root, b1.res.Manifest)
		os.RemoveAll(root)
	}
	for k := 1; ; k++ {
		root := filepath.Join(dir, fmt.Sprintf("root-%d", k))
		if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
			t.Fatal(err)
		}
		killed := installInChild(t, root, b2.path, k, 0, nil)
		if !killed {
			break
		}
		crashes++
		// Before recovery, the interrupted update left `current` on one
		// release or the other, whole.
		checkCurrent(t, root, "1.0.0", "1.1.0")
		outcomes[crashAndRecover(t, root).committed]++
		if _, err := Install(context.Background(), b2.path, Options{Root: root}); err != nil {
			t.Fatalf("crash at step %d, then install: %v", k, err)
		}
		checkInstalled(t, root, b2.res.Manifest)
		os.RemoveAll(root)
	}
	if crashes < 10 || outcomes[true] < 2 || outcomes[false] < 8 {
		t.Fatalf("only %d crash points (%d committed, %d rolled back)", crashes, outcomes[true], outcomes[false])
	}

	// Then SIGKILL at random moments of the update.
	start := time.Now()
	if installInChild(t, filepath.Join(dir, "timing"), b1.path, 0, 0, b1.pub) {
		t.Fatal("the timing run was killed")
	}
	span := time.Since(start)
	kills := randomKills()
	for i := range kills {
		root := filepath.Join(dir, fmt.Sprintf("random-%d", i))
		if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(mathrand.Int64N(int64(span)))
		installInChild(t, root, b2.path, 0, delay, nil)
		checkCurrent(t, root, "1.0.0", "1.1.0")
		crashAndRecover(t, root)
		if _, err := Install(context.Background(), b2.path, Options{Root: root}); err != nil {
			t.Fatalf("kill after %s, then install: %v", delay, err)
		}
		checkInstalled(t, root, b2.res.Manifest)
		os.RemoveAll(root)
	}
	t.Logf("%d crash points at steps (%d committed, %d rolled back) and %d random kills, each recovered as its journal said", crashes, outcomes[true], outcomes[false], kills)
}

// randomKills is how many random SIGKILLs TestCrashLoop sends: a short
// run by default, FERRY_CRASH_LOOPS for the long campaign (make crash).
func randomKills() int {
	if n, err := strconv.Atoi(os.Getenv("FERRY_CRASH_LOOPS")); err == nil && n > 0 {
		return n
	}
	return 45
}

// checkCurrent: after a crash, `current` is either the old release (whole)
// or the new one, and no trace of a half-installed release is visible.
func checkCurrent(t *testing.T, root, old, newer string) {
	t.Helper()
	link, err := os.Readlink(filepath.Join(root, "current"))
	if err != nil {
		t.Fatal(err)
	}
	if link != filepath.Join("releases", old) && link != filepath.Join("releases", newer) {
		t.Fatalf("current -> %s", link)
	}
}

// checkInstalled compares the installed release with the manifest: every
// file with its digest and mode, current, and the state.
func checkInstalled(t *testing.T, root string, m *bundle.Manifest) {
	t.Helper()
	link, err := os.Readlink(filepath.Join(root, "current"))
	if err != nil || link != filepath.Join("releases", m.Version) {
		t.Fatalf("current -> %q (%v), want releases/%s", link, err, m.Version)
	}
	want := map[string]bool{}
	for _, c := range m.Components {
		for _, f := range c.Files {
			want[f.Dest] = true
			path := filepath.Join(root, "current", f.Dest)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if "sha256:"+hex.EncodeToString(sum[:]) != f.Digest {
				t.Errorf("%s: content differs", f.Dest)
			}
			fi, _ := os.Stat(path)
			if mode, _ := strconv.ParseUint(f.Mode, 8, 32); fi.Mode().Perm() != fs.FileMode(mode) {
				t.Errorf("%s: mode %v, want %s", f.Dest, fi.Mode().Perm(), f.Mode)
			}
		}
	}
	_ = filepath.WalkDir(filepath.Join(root, "releases", m.Version), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".ferry-tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if cur, _ := db.Current(); cur != m.Version {
		t.Fatalf("state says current %q, want %s", cur, m.Version)
	}
	if _, open, _ := db.OpenTxn(); open {
		t.Fatal("a transaction is still open")
	}
	if err := db.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
}

// installInChild runs Install in a child process that kills itself at step
// k (when k > 0) or is killed after delay (when delay > 0); it reports
// whether the child was killed (false: it finished first).
func installInChild(t *testing.T, root, path string, k int, delay time.Duration, key []byte) bool {
	env := []string{"FERRY_CHILD_BUNDLE=" + path}
	if key != nil {
		kf := filepath.Join(t.TempDir(), "key.pub")
		if err := os.WriteFile(kf, key, 0o644); err != nil {
			t.Fatal(err)
		}
		env = append(env, "FERRY_CHILD_KEY="+kf)
	}
	return runInChild(t, root, env, k, delay)
}

// childRollbackReason is the reason a rollback in a child is given, as
// ferry serve gives the cause of the rollout it aborted.
const childRollbackReason = "rollout aborted: error rate 0.4 above 0.05"

// rollbackInChild is installInChild for `ferry rollback --to to`.
func rollbackInChild(t *testing.T, root, to string, k int, delay time.Duration) bool {
	return runInChild(t, root, []string{"FERRY_CHILD_ROLLBACK_TO=" + to, "FERRY_CHILD_ROLLBACK_REASON=" + childRollbackReason}, k, delay)
}

func runInChild(t *testing.T, root string, env []string, k int, delay time.Duration) bool {
	if k > 0 && !crashHook {
		// Without the hook the child would never crash and a crash loop
		// would find no crash points.
		testenv.SkipOrFail(t, "killing ferry at a journalled step needs the crash-injection hook: go test -tags ferrycrash (make test-go and make crash pass it)")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInstallChild$")
	cmd.Env = append(os.Environ(), "FERRY_INSTALL_CHILD=1", "FERRY_CHILD_ROOT="+root,
		crashEnv+"="+strconv.Itoa(k), "GORACE=atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if delay > 0 {
		timer := time.AfterFunc(delay, func() { _ = cmd.Process.Kill() })
		defer timer.Stop()
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

// TestInstallChild is the child side of installInChild.
func TestInstallChild(t *testing.T) {
	if os.Getenv("FERRY_INSTALL_CHILD") != "1" {
		return // a child process of the crash tests, not a test of its own
	}
	if set := os.Getenv("FERRY_CHILD_CONFIG_SET"); set != "" {
		if _, err := ApplyConfig(context.Background(), ConfigOptions{Root: os.Getenv("FERRY_CHILD_ROOT"), Config: &config.Inputs{Set: []string{set}}}); err != nil {
			t.Fatal(err)
		}
		return
	}
	if to := os.Getenv("FERRY_CHILD_ROLLBACK_TO"); to != "" {
		if _, err := Rollback(context.Background(), os.Getenv("FERRY_CHILD_ROOT"), RollbackOptions{To: to, Reason: os.Getenv("FERRY_CHILD_ROLLBACK_REASON")}); err != nil {
			t.Fatal(err)
		}
		return
	}
	opts := Options{Root: os.Getenv("FERRY_CHILD_ROOT")}
	if kf := os.Getenv("FERRY_CHILD_KEY"); kf != "" {
		key, err := os.ReadFile(kf)
		if err != nil {
			t.Fatal(err)
		}
		opts.Keys = [][]byte{key}
	}
	if _, err := Install(context.Background(), os.Getenv("FERRY_CHILD_BUNDLE"), opts); err != nil {
		t.Fatal(err)
	}
}

// recordingApplier records the steps it was asked to apply and reads their
// content, as a database or Helm applier would.
type recordingApplier struct {
	mu    sync.Mutex
	steps []string
	bytes int
}

func (a *recordingApplier) Apply(ctx context.Context, s Step, c bundle.Component, version string, open func(string) (io.ReadCloser, error)) error {
	for _, d := range s.Digests {
		rc, err := open(d)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.bytes += len(b)
		a.mu.Unlock()
	}
	a.mu.Lock()
	a.steps = append(a.steps, s.ID())
	a.mu.Unlock()
	return nil
}

func TestAppliers(t *testing.T) {
	dir := t.TempDir()
	b := buildBundle(t, dir, "1.0.0", newKey(t))
	a := &recordingApplier{}
	_, err := Install(context.Background(), b.path, Options{Root: filepath.Join(dir, "root"), Keys: [][]byte{b.pub},
		Appliers: map[string]Applier{StepMigrations: a, StepChart: a}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.steps) != 3 || a.bytes == 0 {
		t.Fatalf("applied %v (%d bytes), want the migrations and both charts", a.steps, a.bytes)
	}
}
