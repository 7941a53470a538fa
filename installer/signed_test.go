package installer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ferry/bundle"
	"ferry/installer/state"
	"ferry/internal/atomicfile"
	"ferry/internal/testenv"
)

// craftSigned rewrites the manifest of bundle b with edit and signs the
// result with priv alone, as a vendor whose key the host trusts (or a
// thief of that key) could: everything else of the bundle is kept.
func craftSigned(t *testing.T, b testBundle, priv *ecdsa.PrivateKey, name string, edit func(m *bundle.Manifest)) string {
	t.Helper()
	data, err := os.ReadFile(b.path)
	must(t, err)
	type entry struct {
		name string
		data []byte
	}
	var entries []entry
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		body, err := io.ReadAll(tr)
		must(t, err)
		entries = append(entries, entry{hdr.Name, body})
	}
	m, err := bundle.ParseManifest(entries[0].data)
	must(t, err)
	edit(m)
	raw, err := m.Marshal()
	must(t, err)
	sig, err := signerOf(t, priv).Sign(raw)
	must(t, err)
	out := []entry{{bundle.ManifestPath, raw}, {sig.FileName(), sig.Data}}
	for _, e := range entries[1:] {
		if !strings.HasPrefix(e.name, "signatures/") {
			out = append(out, e)
		}
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range out {
		must(t, tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.data))}))
		_, err := tw.Write(e.data)
		must(t, err)
	}
	must(t, tw.Close())
	path := filepath.Join(filepath.Dir(b.path), name+".ferry")
	must(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

// component returns the named component of m, for editing.
func component(t *testing.T, m *bundle.Manifest, name string) *bundle.Component {
	t.Helper()
	for i := range m.Components {
		if m.Components[i].Name == name {
			return &m.Components[i]
		}
	}
	t.Fatalf("no component %s", name)
	return nil
}

// refusedUnwritten checks that a crafted bundle signed by a trusted key is
// refused by verify and by install as a malformed manifest, and that the
// install wrote nothing: no release directory, nothing named "escape"
// anywhere under dir.
func refusedUnwritten(t *testing.T, dir, root, path string, pub []byte) {
	t.Helper()
	trust := trustOf(t, pub)
	if _, err := bundle.VerifyFile(context.Background(), path, bundle.VerifyOptions{Trust: trust}); !errors.Is(err, bundle.ErrMalformedManifest) {
		t.Errorf("verify: got %v, want %v", err, bundle.ErrMalformedManifest)
	}
	_, err := Install(context.Background(), path, Options{Root: root, Keys: [][]byte{pub}})
	if !errors.Is(err, bundle.ErrMalformedManifest) {
		t.Errorf("install: got %v, want %v", err, bundle.ErrMalformedManifest)
	}
	if _, err := os.Stat(filepath.Join(root, "releases")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused bundle left a releases directory (%v)", err)
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "escape") {
			t.Errorf("written: %s", p)
		}
		return nil
	})
}

// TestSignedReservedDest: a manifest signed by a trusted key whose file
// is placed at .ferry/services/evil.json, ferry's own directory in a
// release, is refused by verify and install; nothing is written.
func TestSignedReservedDest(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	b := buildBundle(t, dir, "1.0.0", key)
	path := craftSigned(t, b, key, "reserved", func(m *bundle.Manifest) {
		c := component(t, m, "api")
		f := c.Files[0]
		f.Dest = ".ferry/services/escape.json"
		c.Files = append(c.Files, f)
	})
	refusedUnwritten(t, dir, filepath.Join(dir, "root"), path, b.pub)
}

// TestSignedTraversalNames: every name in a signed manifest that becomes
// a path on the host is checked at verify time by the rule the build
// applies; one that leads out of its directory is refused by verify and
// install, although a trusted key signed it, and nothing is written.
func TestSignedTraversalNames(t *testing.T) {
	const up = "../../../../../../escape"
	cases := map[string]func(m *bundle.Manifest){
		"service":   func(m *bundle.Manifest) { component(t, m, "api").Services[0].Name = up },
		"database":  func(m *bundle.Manifest) { component(t, m, "database").Migrations[0].Database = up },
		"chart":     func(m *bundle.Manifest) { component(t, m, "charts").Charts[0].Name = up },
		"file dest": func(m *bundle.Manifest) { component(t, m, "api").Files[0].Dest = up },
		"component": func(m *bundle.Manifest) { component(t, m, "api").Name = up },
	}
	dir := t.TempDir()
	key := newKey(t)
	b := buildBundle(t, dir, "1.0.0", key)
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			// The root is deep in sub so that an escape lands where the
			// walk finds it.
			sub := t.TempDir()
			path := craftSigned(t, b, key, strings.ReplaceAll(name, " ", "-"), edit)
			refusedUnwritten(t, sub, filepath.Join(sub, "a", "b", "c", "root"), path, b.pub)
		})
	}
}

// TestCheckCoversMetadata: ferry check reports what is put in ferry's own
// directory of a release, a service definition planted or "edited" under
// .ferry/services, and a directory that holds no signed file.
func TestCheckCoversMetadata(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	b := buildBundle(t, dir, "1.0.0", newKey(t))
	if _, err := Install(context.Background(), b.path, Options{Root: root, Keys: [][]byte{b.pub}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(context.Background(), root); err != nil {
		t.Fatalf("fresh install: %v", err)
	}
	services := filepath.Join(releaseDir(root, "1.0.0"), ".ferry", "services")
	must(t, os.MkdirAll(services, 0o755))
	def := `{"component": "api", "service": {"name": "api", "command": ["/bin/sh", "-c", "id > /tmp/owned"]}}`
	must(t, os.WriteFile(filepath.Join(services, "api.json"), []byte(def), 0o644))
	must(t, os.WriteFile(filepath.Join(services, "x.json"), []byte(strings.ReplaceAll(def, `"api"`, `"x"`)), 0o644))
	must(t, os.Mkdir(filepath.Join(releaseDir(root, "1.0.0"), "spare"), 0o755))

	drift, err := Check(context.Background(), root)
	if !errors.Is(err, ErrDrift) {
		t.Fatalf("got %v, want %v", err, ErrDrift)
	}
	kinds := map[string]string{}
	for _, d := range drift {
		kinds[d.Path] = d.Kind
	}
	for _, p := range []string{".ferry/services/api.json", ".ferry/services/x.json", "spare"} {
		if kinds[p] != "extra" {
			t.Errorf("%s: %q, want extra; drift %+v", p, kinds[p], drift)
		}
	}
}

// TestPlantedSymlinkNoEscape: a symlink planted inside the root where the
// next release's writes go (its release directory, pointing outside the
// root; its bin/, pointing into the current release; the store's
// blobs/sha256/, pointing to another directory) does not redirect them:
// the install is refused as unsafe, nothing is written through the link,
// and the current release is whole.
func TestPlantedSymlinkNoEscape(t *testing.T) {
	// Each case plants its link and returns the directory a redirected
	// write would reach, and how to take the link away again.
	cases := map[string]func(t *testing.T, root, elsewhere string) (through string, undo func()){
		"release dir outside the root": func(t *testing.T, root, elsewhere string) (string, func()) {
			link := filepath.Join(root, "releases", "1.1.0")
			must(t, os.Symlink(elsewhere, link))
			return elsewhere, func() { os.Remove(link) }
		},
		"bin into the current release": func(t *testing.T, root, _ string) (string, func()) {
			must(t, os.MkdirAll(filepath.Join(root, "releases", "1.1.0"), 0o755))
			link := filepath.Join(root, "releases", "1.1.0", "bin")
			must(t, os.Symlink("../1.0.0/bin", link))
			return filepath.Join(root, "releases", "1.0.0", "bin"), func() { os.RemoveAll(filepath.Join(root, "releases", "1.1.0")) }
		},
		"store blobs elsewhere": func(t *testing.T, root, _ string) (string, func()) {
			blobs := filepath.Join(root, "store", "blobs", "sha256")
			must(t, os.Rename(blobs, blobs+".real"))
			must(t, os.Symlink("sha256.real", blobs))
			return blobs + ".real", func() {
				must(t, os.Remove(blobs))
				must(t, os.Rename(blobs+".real", blobs))
			}
		},
	}
	for name, plant := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "root")
			key := newKey(t)
			b1, b2 := buildBundle(t, dir, "1.0.0", key), buildBundle(t, dir, "1.1.0", key)
			if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
				t.Fatal(err)
			}
			elsewhere := filepath.Join(dir, "elsewhere")
			must(t, os.Mkdir(elsewhere, 0o700))
			through, undo := plant(t, root, elsewhere)
			before := dirNames(t, through)

			_, err := Install(context.Background(), b2.path, Options{Root: root})
			if unsafe := errors.Is(err, state.ErrUnsafeRoot) || errors.Is(err, atomicfile.ErrLinkInPath); !unsafe || !strings.Contains(err.Error(), "symlink") {
				t.Errorf("got %v, want %v naming the symlink", err, state.ErrUnsafeRoot)
			}
			if after := dirNames(t, through); !slices.Equal(before, after) {
				t.Errorf("written through the link into %s: %v, before %v", through, after, before)
			}
			undo()
			checkInstalled(t, root, b1.res.Manifest)
			if drift, err := Check(context.Background(), root); err != nil {
				t.Errorf("the current release changed: %v %+v", err, drift)
			}
		})
	}
}

// dirNames lists the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestUnsafeRootRefused: an existing root, or releases/, store/ or run/
// in it, that its group or others may write, or that another user owns,
// is refused with an error naming the path and the command that fixes
// it, and nothing in it changes.
func TestUnsafeRootRefused(t *testing.T) {
	cases := map[string]struct {
		spoil func(root string) error
		fix   string
	}{
		"root world-writable":     {func(root string) error { return os.Chmod(root, 0o777) }, "chmod go-w " + "ROOT"},
		"releases group-writable": {func(root string) error { return os.Chmod(filepath.Join(root, "releases"), 0o775) }, "chmod go-w ROOT/releases"},
		"store world-writable":    {func(root string) error { return os.Chmod(filepath.Join(root, "store"), 0o757) }, "chmod go-w ROOT/store"},
		"run group-writable": {func(root string) error {
			if err := os.Mkdir(filepath.Join(root, "run"), 0o750); err != nil {
				return err
			}
			return os.Chmod(filepath.Join(root, "run"), 0o770)
		}, "chmod go-w ROOT/run"},
		"root owned by another user": {func(root string) error { return os.Chown(root, 65534, 65534) }, "chown -R"},
		"store a symlink": {func(root string) error {
			store := filepath.Join(root, "store")
			if err := os.Rename(store, store+".real"); err != nil {
				return err
			}
			return os.Symlink("store.real", store)
		}, "mv ROOT/store"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(name, "another user") {
				testenv.Root(t, "giving the root to another user")
			}
			dir := t.TempDir()
			root := filepath.Join(dir, "root")
			key := newKey(t)
			b1, b2 := buildBundle(t, dir, "1.0.0", key), buildBundle(t, dir, "1.1.0", key)
			if _, err := Install(context.Background(), b1.path, Options{Root: root, Keys: [][]byte{b1.pub}}); err != nil {
				t.Fatal(err)
			}
			must(t, tc.spoil(root))
			before, err := os.ReadFile(filepath.Join(root, "state.db"))
			must(t, err)
			fix := strings.ReplaceAll(tc.fix, "ROOT", root)
			_, err = Install(context.Background(), b2.path, Options{Root: root})
			if !errors.Is(err, state.ErrUnsafeRoot) || !strings.Contains(err.Error(), fix) {
				t.Fatalf("install: got %v, want %v with the fix %q", err, state.ErrUnsafeRoot, fix)
			}
			if _, err := state.OpenReadOnly(root); !errors.Is(err, state.ErrUnsafeRoot) {
				t.Errorf("read-only open: got %v, want %v", err, state.ErrUnsafeRoot)
			}
			after, _ := os.ReadFile(filepath.Join(root, "state.db"))
			if !bytes.Equal(before, after) {
				t.Error("state.db changed")
			}
			if _, err := os.Stat(filepath.Join(root, "releases", "1.1.0")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("1.1.0 was placed (%v)", err)
			}
		})
	}
}
