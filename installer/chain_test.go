package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ferry/bundle"
	"ferry/fixtures"
	"ferry/verify"
)

// chainProject writes the fixtures project of version at dir; when conf is
// set, etc/api.conf (a file the vendor does not rebuild between versions)
// gets conf appended, a small change to a large file.
func chainProject(t *testing.T, dir, version, conf string) *bundle.BuildOptions {
	t.Helper()
	p, err := fixtures.WriteProject(dir, fixtures.ProjectOptions{Version: version, FileSize: 1 << 20})
	must(t, err)
	if conf != "" {
		f, err := os.OpenFile(filepath.Join(dir, "etc", "api.conf"), os.O_APPEND|os.O_WRONLY, 0)
		must(t, err)
		_, err = f.WriteString(conf)
		must(t, err)
		must(t, f.Close())
	}
	spec, err := bundle.LoadSpec(p.SpecPath)
	must(t, err)
	return &bundle.BuildOptions{Spec: spec}
}

func buildWith(t *testing.T, out string, key *verify.Signer, opts *bundle.BuildOptions) *bundle.BuildResult {
	t.Helper()
	opts.Signers = []verify.Signer{*key}
	res, err := bundle.Build(context.Background(), out, *opts)
	must(t, err)
	return res
}

// TestUpdateChain: an update names its base by content, so 1.2, built
// along the chain full 1.0 → update 1.1, applies on a host that got 1.1
// through the update and on one that installed another build of a full
// 1.1 of the same content; it is refused where the content of 1.1
// differs; and the chain lets it patch a file that 1.1's update did not
// carry, rather than carry it whole.
func TestUpdateChain(t *testing.T) {
	dir := t.TempDir()
	priv := newKey(t)
	key := signerOf(t, priv)
	pub := pubPEM(t, priv)
	const change = "# 1.2: one more line\n"

	full10 := filepath.Join(dir, "1.0.ferry")
	buildWith(t, full10, &key, chainProject(t, filepath.Join(dir, "p10"), "1.0.0", ""))
	upd11 := filepath.Join(dir, "1.1-update.ferry")
	o := chainProject(t, filepath.Join(dir, "p11"), "1.1.0", "")
	o.Base = full10
	buildWith(t, upd11, &key, o)
	full11 := filepath.Join(dir, "1.1.ferry") // another build of the same content
	o = chainProject(t, filepath.Join(dir, "p11"), "1.1.0", "")
	o.Created = time.Unix(1e9, 0)
	buildWith(t, full11, &key, o)
	other11 := filepath.Join(dir, "1.1-other.ferry") // 1.1 of other content
	buildWith(t, other11, &key, chainProject(t, filepath.Join(dir, "p11-other"), "1.1.0", "# other\n"))

	upd12 := filepath.Join(dir, "1.2-update.ferry")
	o = chainProject(t, filepath.Join(dir, "p12"), "1.2.0", change)
	o.Base, o.Chain = upd11, []string{full10}
	res := buildWith(t, upd12, &key, o)
	// Without the chain, the changed api.conf, which 1.1's update did not
	// carry, travels whole.
	o = chainProject(t, filepath.Join(dir, "p12"), "1.2.0", change)
	o.Base = upd11
	alone := buildWith(t, filepath.Join(dir, "1.2-alone.ferry"), &key, o)

	conf := func(r *bundle.BuildResult) (bundle.File, bundle.Entry) {
		for _, c := range r.Manifest.Components {
			for _, f := range c.Files {
				if f.Dest == "etc/api.conf" {
					e, _ := r.Manifest.EntryByDigest(f.Digest)
					return f, e
				}
			}
		}
		t.Fatal("no etc/api.conf")
		return bundle.File{}, bundle.Entry{}
	}
	f, e := conf(res)
	if !bundle.IsPatch(e.Encoding) || e.StoredSize > f.Size/20 {
		t.Errorf("along the chain, etc/api.conf (%d bytes, %d changed) travels as %s of %d bytes, want a patch of at most a twentieth", f.Size, len(change), e.Encoding, e.StoredSize)
	}
	if _, ea := conf(alone); bundle.IsPatch(ea.Encoding) || ea.StoredSize < f.Size/20 {
		t.Errorf("without the chain, etc/api.conf travels as %s of %d bytes: the test does not show what the chain saves", ea.Encoding, ea.StoredSize)
	}

	install := func(root string, paths ...string) error {
		for i, p := range paths {
			opts := Options{Root: root}
			if i == 0 {
				opts.Keys = [][]byte{pub}
			}
			if _, err := Update(context.Background(), p, opts); err != nil {
				return err
			}
		}
		return nil
	}
	if err := install(filepath.Join(dir, "by-updates"), full10, upd11, upd12); err != nil {
		t.Fatalf("1.2 on a host that got 1.1 by its update: %v", err)
	}
	if err := install(filepath.Join(dir, "by-full"), full11, upd12); err != nil {
		t.Fatalf("1.2 on a host that installed another build of 1.1: %v", err)
	}
	if err := install(filepath.Join(dir, "other"), other11, upd12); !errors.Is(err, ErrWrongBase) {
		t.Fatalf("1.2 on a host whose 1.1 has other content: %v, want ErrWrongBase", err)
	}
	checkInstalled(t, filepath.Join(dir, "by-full"), res.Manifest)
}

// TestContentIDReproducible: two builds of one spec at the same
// SOURCE_DATE_EPOCH are the same bundle, and builds at other times have
// the same content identity.
func TestContentIDReproducible(t *testing.T) {
	dir := t.TempDir()
	key := signerOf(t, newKey(t))
	id := func(name string, created time.Time) (string, string) {
		o := chainProject(t, filepath.Join(dir, "p"), "1.0.0", "")
		o.Created = created
		res := buildWith(t, filepath.Join(dir, name), &key, o)
		c, err := res.Manifest.ContentID()
		must(t, err)
		return res.Digest, c
	}
	d1, c1 := id("a.ferry", time.Unix(1700000000, 0))
	d2, c2 := id("b.ferry", time.Unix(1700000000, 0))
	d3, c3 := id("c.ferry", time.Unix(1800000000, 0))
	if d1 != d2 || c1 != c2 {
		t.Errorf("the same SOURCE_DATE_EPOCH: bundles %s and %s, contents %s and %s", d1, d2, c1, c2)
	}
	if d3 == d1 || c3 != c1 {
		t.Errorf("another time: bundle %s (was %s), content %s, want %s", d3, d1, c3, c1)
	}
}
