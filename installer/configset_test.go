package installer

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"ferry/bundle"
	"ferry/config"
	"ferry/installer/state"
	"ferry/verify"
)

// buildConfigured builds a bundle with a variable used by a template file
// and a check, signed by key.
func buildConfigured(t *testing.T, dir string, key *ecdsa.PrivateKey) testBundle {
	t.Helper()
	p := filepath.Join(dir, "configured")
	if err := os.MkdirAll(filepath.Join(p, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"ferry.yaml": `apiVersion: ferry/v1
kind: Bundle
metadata: {name: configured, version: 1.0.0}
variables:
  - {name: greeting, type: string, pattern: "[a-z]+", default: one}
components:
  - name: app
    files:
      - {src: etc/plain.txt, dest: etc/plain.txt}
      - {src: etc/greeting.conf, dest: etc/greeting.conf, template: true}
    checks:
      - {command: [/bin/sh, -c, "grep -q '${var.greeting}' etc/greeting.conf"]}
`,
		"etc/plain.txt":     "the same in every revision\n",
		"etc/greeting.conf": "greeting = {{ .var.greeting }}\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(p, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := bundle.LoadSpec(filepath.Join(p, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "configured.ferry")
	res, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: spec, Signers: []verify.Signer{signerOf(t, key)}})
	if err != nil {
		t.Fatal(err)
	}
	return testBundle{path: out, pub: pubPEM(t, key), res: res}
}

// checkRevision: the release in force is name, its rendered file holds
// greeting, and ferry check finds nothing.
func checkRevision(t *testing.T, root, name, greeting string) {
	t.Helper()
	link, err := os.Readlink(filepath.Join(root, "current"))
	if err != nil || link != filepath.Join("releases", name) {
		t.Fatalf("current -> %q (%v), want releases/%s", link, err, name)
	}
	conf, err := os.ReadFile(filepath.Join(root, "current", "etc", "greeting.conf"))
	if err != nil || string(conf) != "greeting = "+greeting+"\n" {
		t.Fatalf("rendered file %q (%v), want greeting %s", conf, err, greeting)
	}
	drift, err := Check(context.Background(), root)
	if err != nil || len(drift) > 0 {
		t.Fatalf("check: %v %+v", err, drift)
	}
}

// TestConfigSet: a new revision is a release of its own, with its own
// directory and rendered files; a refused value and values that change
// nothing leave the host as it was; config rollback returns to the
// revision before, and ferry rollback goes past the revisions of the
// release in force.
func TestConfigSet(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	b := buildConfigured(t, dir, newKey(t))
	ctx := context.Background()
	if _, err := Install(ctx, b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
		t.Fatal(err)
	}
	set := func(v string) (*ConfigResult, error) {
		return ApplyConfig(ctx, ConfigOptions{Root: root, Config: &config.Inputs{Set: []string{v}}})
	}
	if _, err := set("greeting=NO"); !errors.Is(err, config.ErrNotAllowed) {
		t.Fatalf("a value against the pattern: %v", err)
	}
	if res, err := set("greeting=one"); err != nil || res.Release != "" {
		t.Fatalf("the value in force: %+v %v", res, err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "releases"))
	if len(entries) != 1 {
		t.Fatalf("releases after refused and unchanged values: %v", entries)
	}
	res, err := set("greeting=two")
	if err != nil {
		t.Fatal(err)
	}
	if res.Release != "1.0.0+config.2" || res.Config.Revision != 2 || fmt.Sprint(res.Changed) != "[greeting]" {
		t.Fatalf("result %+v", res)
	}
	checkRevision(t, root, "1.0.0+config.2", "two")
	if _, err := set("greeting=three"); err != nil {
		t.Fatal(err)
	}
	checkRevision(t, root, "1.0.0+config.3", "three")
	if got, err := RollbackConfig(ctx, root, ConfigRollbackOptions{}); err != nil || got != "1.0.0+config.2" {
		t.Fatalf("config rollback: %q %v", got, err)
	}
	checkRevision(t, root, "1.0.0+config.2", "two")
	if _, err := RollbackConfig(ctx, root, ConfigRollbackOptions{To: 7}); !errors.Is(err, ErrNoRevision) {
		t.Fatalf("config rollback --to 7: %v", err)
	}
	if res, err := set("greeting=four"); err != nil || res.Config.Revision != 4 {
		t.Fatalf("a revision after a rollback: %+v %v", res, err)
	}
	// Reinstalling the bundle whose revision is in force changes nothing.
	if res, err := Install(ctx, b.path, Options{Root: root}); err != nil || !res.NoOp {
		t.Fatalf("reinstall over a revision: %+v %v", res, err)
	}
	// Three kept releases: the revision in force and the two before it.
	db, err := state.OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	rels, err := db.Releases()
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rels {
		names = append(names, r.Version)
	}
	if fmt.Sprint(names) != "[1.0.0+config.2 1.0.0+config.3 1.0.0+config.4]" {
		t.Fatalf("kept releases %v", names)
	}
}

// TestConfigSetCrashLoop kills `config set` at each of its journalled
// steps: recovery converges to the old revision or the new one, whole, as
// the journal says (the commit point is the checks passing after
// activation), and setting the value again gives exactly the result of
// an uninterrupted one.
func TestConfigSetCrashLoop(t *testing.T) {
	dir := t.TempDir()
	b := buildConfigured(t, dir, newKey(t))
	crashes, outcomes := 0, map[bool]int{}
	for k := 1; k < 100; k++ {
		root := filepath.Join(dir, fmt.Sprintf("root-%d", k))
		if _, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
			t.Fatal(err)
		}
		if !runInChild(t, root, []string{"FERRY_CHILD_CONFIG_SET=greeting=two"}, k, 0) {
			checkRevision(t, root, "1.0.0+config.2", "two")
			break
		}
		crashes++
		checkCurrent(t, root, "1.0.0", "1.0.0+config.2")
		o := crashAndRecover(t, root)
		outcomes[o.committed]++
		if o.committed {
			checkRevision(t, root, "1.0.0+config.2", "two")
		} else {
			checkRevision(t, root, "1.0.0", "one")
		}
		if _, err := ApplyConfig(context.Background(), ConfigOptions{Root: root, Config: &config.Inputs{Set: []string{"greeting=two"}}}); err != nil {
			t.Fatalf("crash at step %d, then config set: %v", k, err)
		}
		checkRevision(t, root, "1.0.0+config.2", "two")
		os.RemoveAll(root)
	}
	if crashes < 4 || outcomes[true] < 1 || outcomes[false] < 3 {
		t.Fatalf("only %d crash points (%d committed, %d rolled back)", crashes, outcomes[true], outcomes[false])
	}
	t.Logf("%d crash points (%d committed, %d rolled back)", crashes, outcomes[true], outcomes[false])
}
