// Command deltabench measures update bundles (bundle create --base) against
// full bundles of the same releases, for `make bench`:
//
//	deltabench [-dir DIR] [-size 50MiB] [-binary SIZE] [-layer SIZE]
//	           [-release 512MiB[,4GiB]] [-scenarios abcde] [-repeat 3] [-keep]
//
// Five scenarios, each a base release 1.0.0 and a release 1.1.0 made from
// the fixtures generators:
//
//	(a) image    an image of 10 layers of -layer bytes; 1.1.0 rebuilds the
//	             top layer with new content
//	(b) binary   bin/app, an executable-like file of -binary bytes, and a
//	             small etc/app.conf; 1.1.0 changes bin/app in place: four
//	             8-byte values and one 4 KiB block
//	(c) small    the fixtures project (fixtures.WriteProject); 1.1.0 adds
//	             one migration and changes 16 bytes of etc/api.conf
//	(d) many     64 files of -binary/16 bytes each; 1.1.0 changes every
//	             fourth in place, as (b) changes bin/app
//	(e) release  a release of -release bytes in 32 files and a small
//	             etc/app.conf; 1.1.0 changes 16 bytes of etc/app.conf and
//	             nothing else: what an update costs when one file of a
//	             large release changes. -release may list sizes
//	             (512MiB,4GiB): one (e) for each, with the target "apply
//	             <= changed alone + 1 s, the same at every size" judged at
//	             each
//
// For each it builds the base, the full bundle of 1.1.0 and the delta of
// 1.1.0 against the base, and prints the sizes, delta/full, and delta over
// the changed content: what the full bundle stores for the content that
// changed (for (a) the changed layer; for (b) bin/app zstd-compressed, which
// is what a delta without binary patching carries; for (c) the new migration
// files and the changed file; for (d) the changed files zstd-compressed).
// For (b) and (d) it also times the delta's build against zstd -3 and -12
// --patch-from making the patches of the changed files alone, one after
// another.
// Then it times installer.Install:
//
//	apply          the delta installed on a host running the base (the base
//	               is installed first, untimed)
//	changed alone  a first install, on an empty host, of a bundle that holds
//	               only the changed content: (a) an image of the changed
//	               layer alone, (b) bin/app of 1.1.0 alone, (c) the new
//	               migration (as migration 001 of a new database) and the
//	               changed etc/api.conf, (e) etc/app.conf of 1.1.0 alone;
//	               the base is installed first on another host, untimed,
//	               as for apply
//
// Both are the median of -repeat installs, taken in turns, each on a fresh
// host after sync(2), with the peak RSS of this process during the install
// (VmHWM, reset before each install through /proc/self/clear_refs). Both
// follow an install of the base, so that they start from the same state
// of the machine: on some machines, writes right after a large install and
// sync cost twice as much as on an idle disk (seen with a 1 GiB file), and
// timing only one of the two after the base would charge that to it.
//
// With -keep the run directory stays, with release.pub, the key the
// bundles are signed with, for ferry verify and ferry bundle inspect.
//
// Targets are printed next to the figures and judged on the last lines,
// "ok" or "MISSED"; a missed target does not change the exit status, which
// is non-zero only when a step fails.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ferry/bundle"
	"ferry/bundle/spec"
	"ferry/fixtures"
	"ferry/installer"
	"ferry/internal/oci"
	"ferry/verify"
)

// Targets of the issue "Incremental signed updates".
const (
	imageTarget  = 1.05            // (a) delta / changed layer
	binaryTarget = 0.10            // (b) delta / layer-level delta
	smallTarget  = 4 << 10         // (c) delta bytes: "a few KiB"
	applySlack   = 1 * time.Second // apply <= changed alone + applySlack
)

// What the scenarios are made of.
const (
	imageLayers = 10            // layers of the image of (a)
	manyFiles   = 64            // files of (d)
	manyShare   = 16            // each file of (d) is -binary / manyShare
	manyChanged = 4             // (d) changes every manyChanged-th file
	releaseFile = 32            // the large files of (e)
	layerShare  = 5             // -layer defaults to -size / layerShare
	confSize    = 16 << 10      // etc/app.conf of (b)
	patchBlock  = 4 << 10       // the block (b) replaces in bin/app
	patchValues = 4             // the 8-byte values (b) changes in bin/app
	platform    = "linux/amd64" // of the images, and the host's for Install
	baseVersion = "1.0.0"       // the release every delta updates
	nextVersion = "1.1.0"       // the release of the full and delta bundles
	// createdAt is every bundle's creation time, so that sizes are the
	// same on every run.
	createdAt = "2025-01-01T00:00:00Z"
)

func main() {
	dir := flag.String("dir", "out/deltabench", "work directory; each run makes a fresh directory inside it and removes it at the end")
	size := flag.String("size", "50MiB", "scale: the size of bin/app in (b); each layer of (a) is a fifth of it")
	binary := flag.String("binary", "", "size of bin/app in (b) (default: -size)")
	layer := flag.String("layer", "", "size of each of the 10 layers in (a) (default: -size / 5)")
	release := flag.String("release", "512MiB", "sizes of the release of (e), comma-separated: one (e) for each (512MiB,4GiB for the 4 GiB figure)")
	only := flag.String("scenarios", "abcde", "the scenarios to run, by letter")
	repeat := flag.Int("repeat", 3, "installs per timing; the median is printed")
	keep := flag.Bool("keep", false, "keep the run directory (bundles, projects)")
	flag.Parse()

	cfg, err := newConfig(*dir, *size, *binary, *layer, *repeat)
	if err == nil {
		err = cfg.setRelease(*release, *only)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deltabench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, *keep, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "deltabench:", err)
		os.Exit(1)
	}
}

// config is what a run measures, from the flags.
type config struct {
	dir    string
	binary int64
	layer  int64
	repeat int
	// releases are the sizes of the release of (e); scenarios the letters
	// of the scenarios to run (all when empty).
	releases  []int64
	scenarios string
}

// setRelease sets the sizes of (e) and the scenarios to run.
func (c *config) setRelease(sizes, scenarios string) error {
	c.releases = nil
	for _, f := range strings.Split(sizes, ",") {
		n, err := spec.ParseSize(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("-release: %w", err)
		}
		if n < releaseFile*(64<<10) {
			return fmt.Errorf("-release %s: give at least %s", f, size(releaseFile*(64<<10)))
		}
		c.releases = append(c.releases, n)
	}
	for _, r := range scenarios {
		if r < 'a' || r > 'e' {
			return fmt.Errorf("-scenarios %q: letters a to e", scenarios)
		}
	}
	c.scenarios = scenarios
	return nil
}

// runs says whether scenario letter is to run.
func (c config) runs(letter rune) bool {
	return c.scenarios == "" || strings.ContainsRune(c.scenarios, letter)
}

func newConfig(dir, size, binary, layer string, repeat int) (config, error) {
	cfg := config{dir: dir, repeat: repeat}
	scale, err := spec.ParseSize(size)
	if err != nil {
		return cfg, fmt.Errorf("-size: %w", err)
	}
	cfg.binary, cfg.layer = scale, scale/layerShare
	if binary != "" {
		if cfg.binary, err = spec.ParseSize(binary); err != nil {
			return cfg, fmt.Errorf("-binary: %w", err)
		}
	}
	if layer != "" {
		if cfg.layer, err = spec.ParseSize(layer); err != nil {
			return cfg, fmt.Errorf("-layer: %w", err)
		}
	}
	switch {
	case repeat < 1:
		return cfg, errors.New("-repeat must be at least 1")
	case cfg.binary < 64<<10:
		return cfg, fmt.Errorf("bin/app of %d bytes is too small to change in place: give -binary 64KiB or more", cfg.binary)
	case cfg.layer < 4<<10:
		return cfg, fmt.Errorf("layers of %d bytes are too small: give -layer 4KiB or more", cfg.layer)
	}
	return cfg, nil
}

// scenario is a base release, its successor and a release of the changed
// content alone, as ferry.yaml projects.
type scenario struct {
	key   string // "(a)"
	title string
	// base, next and alone are spec paths.
	base, next, alone string
	// changed are the content digests of what changed between base and
	// next; changedWhat says what that is in the output.
	changed     []string
	changedWhat string
	aloneWhat   string
	// patched is the digest of a changed file that should travel as a
	// binary patch, for the note on how the delta carries it.
	patched string
	// patchFiles are the base and next versions of the changed files that
	// should travel as patches, for zstd --patch-from; patchWhat names
	// them in the output.
	patchFiles [][2]string
	patchWhat  string
	// release is the size of the release of (e), 0 for the others.
	release int64
}

// outcome is what was measured for one scenario.
type outcome struct {
	sc           *scenario
	full, delta  *bundle.BuildResult
	changedBytes int64
	parts        parts
	apply, alone timing
	notes        []string
	// build is how long the delta took to build; zstd the same patch made
	// by zstd --patch-from, for comparison.
	build time.Duration
	zstd  []patchFrom
}

type timing struct {
	median time.Duration
	peak   int64 // KiB; -1 when it could not be measured
}

// run measures every scenario in a fresh directory inside cfg.dir and
// writes the report to w.
func run(ctx context.Context, cfg config, keep bool, w io.Writer) error {
	if err := os.MkdirAll(cfg.dir, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp(cfg.dir, "run-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintln(os.Stderr, "deltabench: keeping", work)
	} else {
		defer os.RemoveAll(work)
	}
	start := time.Now()
	outs, err := measureAll(ctx, cfg, work)
	if err != nil {
		return err
	}
	return report(w, cfg, outs, time.Since(start))
}

// measureAll makes a signing key and measures the scenarios in work.
func measureAll(ctx context.Context, cfg config, work string) ([]*outcome, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := verify.NewSigner(key)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	// With -keep, the bundles can be checked with ferry verify --key.
	if err := os.WriteFile(filepath.Join(work, "release.pub"), pub, 0o644); err != nil {
		return nil, err
	}

	type maker struct {
		letter rune
		dir    string
		make   func(string, config) (*scenario, error)
	}
	var makers []maker
	for i, mk := range []func(string, config) (*scenario, error){imageScenario, binaryScenario, smallScenario, manyScenario} {
		makers = append(makers, maker{rune('a' + i), string(rune('a' + i)), mk})
	}
	for _, n := range cfg.releases {
		makers = append(makers, maker{'e', "e-" + strconv.FormatInt(n, 10), releaseScenario(n)})
	}
	var outs []*outcome
	for _, mk := range makers {
		if !cfg.runs(mk.letter) {
			continue
		}
		dir := filepath.Join(work, mk.dir)
		sc, err := mk.make(dir, cfg)
		if err != nil {
			return nil, fmt.Errorf("scenario %c: %w", mk.letter, err)
		}
		fmt.Fprintf(os.Stderr, "deltabench: %s %s\n", sc.key, sc.title)
		out, err := measure(ctx, cfg, dir, sc, signer, pub)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", sc.key, sc.title, err)
		}
		outs = append(outs, out)
	}
	return outs, nil
}

// measure builds the bundles of sc and times their installs.
func measure(ctx context.Context, cfg config, dir string, sc *scenario, signer verify.Signer, pub []byte) (*outcome, error) {
	out := &outcome{sc: sc}
	basePath := filepath.Join(dir, "base.ferry")
	fullPath := filepath.Join(dir, "full.ferry")
	deltaPath := filepath.Join(dir, "delta.ferry")
	alonePath := filepath.Join(dir, "alone.ferry")
	var err error
	if _, err = build(ctx, sc.base, basePath, "", signer); err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	if out.full, err = build(ctx, sc.next, fullPath, "", signer); err != nil {
		return nil, fmt.Errorf("full: %w", err)
	}
	start := time.Now()
	if out.delta, err = build(ctx, sc.next, deltaPath, basePath, signer); err != nil {
		return nil, fmt.Errorf("delta: %w", err)
	}
	out.build = time.Since(start)
	if len(sc.patchFiles) > 0 {
		if out.zstd, err = zstdPatchFrom(ctx, dir, sc.patchFiles); err != nil {
			return nil, err
		}
	}
	if _, err = build(ctx, sc.alone, alonePath, "", signer); err != nil {
		return nil, fmt.Errorf("changed alone: %w", err)
	}
	for _, d := range sc.changed {
		e, ok := out.full.Manifest.EntryByDigest(d)
		if !ok {
			return nil, fmt.Errorf("changed content %s is not in the full bundle", d)
		}
		out.changedBytes += e.StoredSize
	}
	if out.parts, err = readParts(deltaPath); err != nil {
		return nil, err
	}
	out.notes = patchNotes(sc, out)

	// The two are timed in turns, so that a change in the machine's load
	// during the run weighs on both alike.
	var apply, alone []sample
	for i := range cfg.repeat {
		s, err := timeInstall(ctx, filepath.Join(dir, "apply-"+strconv.Itoa(i)), basePath, deltaPath, pub)
		if err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		apply = append(apply, s)
		if s, err = timeAlone(ctx, filepath.Join(dir, "alone-"+strconv.Itoa(i)), basePath, alonePath, pub); err != nil {
			return nil, fmt.Errorf("changed alone: %w", err)
		}
		alone = append(alone, s)
	}
	out.apply, out.alone = summarise(apply), summarise(alone)
	return out, nil
}

// build writes the bundle of the spec at specPath to out; base, when set,
// makes it an update of that bundle. The creation time is fixed, so sizes
// are the same on every run. The file is compressed as `ferry bundle
// create` does by default.
func build(ctx context.Context, specPath, out, base string, signer verify.Signer) (*bundle.BuildResult, error) {
	spec, err := bundle.LoadSpec(specPath)
	if err != nil {
		return nil, err
	}
	created, _ := time.Parse(time.RFC3339, createdAt)
	return bundle.Build(ctx, out, bundle.BuildOptions{
		Spec: spec, Signers: []verify.Signer{signer}, Created: created, Base: base,
		Compress: bundle.CompressAuto,
	})
}

// patchNotes says how the delta carries the file that should be a patch,
// and why when it is not one.
func patchNotes(sc *scenario, out *outcome) []string {
	if sc.patched == "" {
		return nil
	}
	full, _ := out.full.Manifest.EntryByDigest(sc.patched)
	e, ok := out.delta.Manifest.EntryByDigest(sc.patched)
	switch {
	case !ok:
		return []string{"the changed file is not carried by the delta"}
	case bundle.IsPatch(e.Encoding):
		return []string{fmt.Sprintf("the changed file travels as a %s entry of %s against the base's", e.Encoding, size(e.StoredSize))}
	default:
		return []string{fmt.Sprintf("the changed file travels whole (%s, %s; %s in the full bundle): a patch was not below 0.9 of it",
			e.Encoding, size(e.StoredSize), size(full.StoredSize))}
	}
}

// parts is what a bundle file is made of, in bytes.
type parts struct {
	manifest, signatures, padding, layout, content int64
	contentEntries                                 int
	tar                                            int64 // headers, block padding and the end-of-archive blocks
	// plain is the size of the tar archive when the file is compressed,
	// and 0 when it is not.
	plain int64
}

func readParts(path string) (parts, error) {
	var p parts
	f, err := os.Open(path)
	if err != nil {
		return p, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return p, err
	}
	file := bundle.TarStream(f)
	plain := &countReader{r: file}
	tr := tar.NewReader(plain)
	var sum int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return p, fmt.Errorf("%s: %w", path, err)
		}
		sum += hdr.Size
		switch {
		case hdr.Name == bundle.ManifestPath:
			p.manifest += hdr.Size
		case hdr.Name == bundle.PaddingPath:
			p.padding += hdr.Size
		case hdr.Name == bundle.LayoutPath || hdr.Name == bundle.IndexPath:
			p.layout += hdr.Size
		case strings.HasPrefix(hdr.Name, bundle.BlobDir):
			p.content += hdr.Size
			p.contentEntries++
		default:
			p.signatures += hdr.Size
		}
	}
	if _, err := io.Copy(io.Discard, plain); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	p.tar = plain.n - sum
	if file.Compressed() {
		p.plain = plain.n
	} else if plain.n != fi.Size() {
		return p, fmt.Errorf("%s: read %d bytes of %d", path, plain.n, fi.Size())
	}
	return p, nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// timeAlone installs bundlePath on a fresh, empty host at root, after
// installing base (untimed) on another, as timeInstall does before an
// apply; both hosts are removed afterwards.
func timeAlone(ctx context.Context, root, base, bundlePath string, pub []byte) (sample, error) {
	scratch := root + "-base"
	defer os.RemoveAll(scratch)
	if _, err := installer.Install(ctx, base, installer.Options{Root: scratch, Platform: platform, Keys: [][]byte{pub}}); err != nil {
		return sample{}, fmt.Errorf("install the base: %w", err)
	}
	return timeInstall(ctx, root, "", bundlePath, pub)
}

// sample is one timed install.
type sample struct {
	took time.Duration
	peak int64 // KiB; -1 when it could not be measured
}

// timeInstall installs bundlePath on a fresh host at root: an empty one
// when base is empty, else one where base was installed first (untimed).
// The host is removed afterwards.
func timeInstall(ctx context.Context, root, base, bundlePath string, pub []byte) (sample, error) {
	defer os.RemoveAll(root)
	opts := installer.Options{Root: root, Platform: platform}
	if base != "" {
		if _, err := installer.Install(ctx, base, installer.Options{Root: root, Platform: platform, Keys: [][]byte{pub}}); err != nil {
			return sample{}, fmt.Errorf("install the base: %w", err)
		}
	} else {
		opts.Keys = [][]byte{pub}
	}
	syscall.Sync()
	measured := resetPeakRSS()
	start := time.Now()
	res, err := installer.Install(ctx, bundlePath, opts)
	s := sample{took: time.Since(start), peak: -1}
	if err != nil {
		return s, err
	}
	if res.NoOp {
		return s, fmt.Errorf("install of %s on %s did nothing", bundlePath, root)
	}
	if measured {
		s.peak = peakRSS()
	}
	return s, nil
}

// summarise is the median time and the largest peak RSS of samples.
func summarise(samples []sample) timing {
	var times []time.Duration
	t := timing{}
	for _, s := range samples {
		times = append(times, s.took)
		if s.peak < 0 || t.peak < 0 {
			t.peak = -1
		} else {
			t.peak = max(t.peak, s.peak)
		}
	}
	slices.Sort(times)
	t.median = times[(len(times)-1)/2]
	return t
}

// resetPeakRSS returns the heap this process no longer uses to the system
// and resets its VmHWM to the current RSS, so that the next reading is the
// peak of what runs in between; false when the kernel does not allow it.
func resetPeakRSS() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS is this process's VmHWM in KiB, -1 when unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// ---- scenarios ----

// imageScenario: an image of imageLayers layers, of which 1.1.0 rebuilds
// the top one.
func imageScenario(dir string, cfg config) (*scenario, error) {
	sc := &scenario{
		key: "(a)", title: fmt.Sprintf("image of %d layers of %s, the top one changed", imageLayers, size(cfg.layer)),
		changedWhat: "changed layer (stored)",
		aloneWhat:   "a first install of a bundle holding an image of the changed layer alone",
	}
	// layers writes the layers of a version into blobDir: the same content
	// for every version but the top layer's.
	layers := func(blobDir, top string) ([]v1.Layer, error) {
		var ls []v1.Layer
		for j := range imageLayers {
			name := "app"
			if j == imageLayers-1 {
				name = top
			}
			l, err := fixtures.FileLayer(blobDir, name, j, cfg.layer)
			if err != nil {
				return nil, err
			}
			ls = append(ls, l)
		}
		return ls, nil
	}
	write := func(sub, name, version string, ls []v1.Layer) (string, error) {
		img, err := fixtures.Image(platform, ls...)
		if err != nil {
			return "", err
		}
		project := filepath.Join(dir, sub)
		if err := fixtures.WriteOCILayout(filepath.Join(project, "layout"), map[string]any{"app": img}); err != nil {
			return "", err
		}
		spec := specHeader(name, version) + `  - name: images
    platforms: [` + platform + `]
    images:
      - {source: "oci:layout:app", name: "bench/app:` + version + `"}
`
		return writeSpec(project, spec)
	}
	blobDir := func(sub string) (string, error) {
		d := filepath.Join(dir, sub, "layout", "blobs", "sha256")
		return d, os.MkdirAll(d, 0o755)
	}

	var err error
	for _, v := range []struct {
		sub, top, version string
		spec              *string
	}{{"base", "app", baseVersion, &sc.base}, {"next", "app-" + nextVersion, nextVersion, &sc.next}} {
		bd, err := blobDir(v.sub)
		if err != nil {
			return nil, err
		}
		ls, err := layers(bd, v.top)
		if err != nil {
			return nil, err
		}
		if v.sub == "next" {
			d, err := ls[imageLayers-1].Digest()
			if err != nil {
				return nil, err
			}
			sc.changed = []string{d.String()}
		}
		if *v.spec, err = write(v.sub, "bench-image", v.version, ls); err != nil {
			return nil, err
		}
	}
	bd, err := blobDir("alone")
	if err != nil {
		return nil, err
	}
	top, err := fixtures.FileLayer(bd, "app-"+nextVersion, imageLayers-1, cfg.layer)
	if err != nil {
		return nil, err
	}
	if sc.alone, err = write("alone", "bench-image-alone", nextVersion, []v1.Layer{top}); err != nil {
		return nil, err
	}
	return sc, nil
}

// binaryScenario: bin/app of cfg.binary bytes, changed in place by 1.1.0.
func binaryScenario(dir string, cfg config) (*scenario, error) {
	sc := &scenario{
		key: "(b)", title: fmt.Sprintf("bin/app of %s with %d bytes changed in place", size(cfg.binary), patchBlock+8*patchValues),
		changedWhat: "layer-level delta: bin/app (zstd)",
		aloneWhat:   "a first install of a bundle holding bin/app of " + nextVersion + " alone",
	}
	spec := func(name, version string, conf bool) string {
		s := specHeader(name, version) + `  - name: app
    files:
      - {src: bin/app, dest: bin/app, mode: "0755"}
`
		if conf {
			s += "      - {src: etc/app.conf, dest: etc/app.conf}\n"
		}
		return s
	}
	base := filepath.Join(dir, "base")
	if err := fixtures.WriteFile(filepath.Join(base, "bin", "app"), fixtures.KindBinary, cfg.binary, "deltabench/bin/app"); err != nil {
		return nil, err
	}
	content, err := os.ReadFile(filepath.Join(base, "bin", "app"))
	if err != nil {
		return nil, err
	}
	changeInPlace(content)
	sc.changed = []string{oci.FromBytes(content).String()}
	sc.patched = sc.changed[0]
	sc.patchFiles = [][2]string{{filepath.Join(base, "bin", "app"), filepath.Join(dir, "next", "bin", "app")}}
	sc.patchWhat = "bin/app"
	for _, p := range []struct {
		sub, name, version string
		conf               bool
		spec               *string
	}{
		{"base", "bench-binary", baseVersion, true, &sc.base},
		{"next", "bench-binary", nextVersion, true, &sc.next},
		{"alone", "bench-binary-alone", nextVersion, false, &sc.alone},
	} {
		project := filepath.Join(dir, p.sub)
		if p.sub != "base" {
			if err := writeFile(filepath.Join(project, "bin", "app"), content); err != nil {
				return nil, err
			}
		}
		if p.conf {
			if err := fixtures.WriteFile(filepath.Join(project, "etc", "app.conf"), fixtures.KindText, confSize, "deltabench/etc/app.conf"); err != nil {
				return nil, err
			}
		}
		if *p.spec, err = writeSpec(project, spec(p.name, p.version, p.conf)); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

// changeInPlace makes the changes of a small patch release: patchValues
// 8-byte values spread over the file (a constant, an address) and one
// patchBlock-byte block in the middle (a recompiled function), all with
// new bytes from a fixed seed.
func changeInPlace(b []byte) {
	seed := sha256.Sum256([]byte("deltabench/patch"))
	next := func(p []byte) {
		for i := range p {
			if i%len(seed) == 0 {
				seed = sha256.Sum256(seed[:])
			}
			p[i] = seed[i%len(seed)]
		}
	}
	for i := 1; i <= patchValues; i++ {
		off := len(b) * i / (patchValues + 1)
		next(b[off : off+8])
	}
	mid := len(b)/2 + 4096
	next(b[mid : mid+patchBlock])
}

// smallScenario: the fixtures project; 1.1.0 adds one migration and
// changes one file, nothing else.
func smallScenario(dir string, cfg config) (*scenario, error) {
	sc := &scenario{
		key: "(c)", title: "fixtures project with one new migration and one changed file",
		changedWhat: "new migration and changed file (stored)",
		aloneWhat:   "a first install of a bundle holding the new migration (as 001 of a new database) and the changed file alone",
	}
	const migrations = 3
	base, next := filepath.Join(dir, "base"), filepath.Join(dir, "next")
	for _, d := range []string{base, next} {
		// Both versions are written as 1.0.0, so that only what this
		// scenario changes differs; 1.1.0's spec is edited below.
		p, err := fixtures.WriteProject(d, fixtures.ProjectOptions{Version: baseVersion})
		if err != nil {
			return nil, err
		}
		if d == base {
			sc.base = p.SpecPath
			continue
		}
		sc.next = p.SpecPath
		spec, err := os.ReadFile(p.SpecPath)
		if err != nil {
			return nil, err
		}
		edited := strings.Replace(string(spec), "\n  version: "+baseVersion+"\n", "\n  version: "+nextVersion+"\n", 1)
		if edited == string(spec) {
			return nil, fmt.Errorf("%s: no metadata version %s to change", p.SpecPath, baseVersion)
		}
		if err := os.WriteFile(p.SpecPath, []byte(edited), 0o644); err != nil {
			return nil, err
		}
	}

	// One new migration.
	migDir := filepath.Join(next, "migrations", "app")
	before, err := os.ReadDir(migDir)
	if err != nil {
		return nil, err
	}
	if len(before) != 2*migrations {
		return nil, fmt.Errorf("%s: %d files, want %d", migDir, len(before), 2*migrations)
	}
	if err := fixtures.WriteMigrations(migDir, migrations+1); err != nil {
		return nil, err
	}
	after, err := os.ReadDir(migDir)
	if err != nil {
		return nil, err
	}
	alone := filepath.Join(dir, "alone")
	for _, e := range after {
		if slices.ContainsFunc(before, func(b os.DirEntry) bool { return b.Name() == e.Name() }) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(migDir, e.Name()))
		if err != nil {
			return nil, err
		}
		sc.changed = append(sc.changed, digest(data))
		// In the alone bundle it is the first migration of a new
		// database.
		_, rest, _ := strings.Cut(e.Name(), "_")
		if err := writeFile(filepath.Join(alone, "migrations", "app", "001_"+rest), data); err != nil {
			return nil, err
		}
	}

	// One changed file: 16 bytes in the middle of etc/api.conf.
	conf := filepath.Join(next, "etc", "api.conf")
	data, err := os.ReadFile(conf)
	if err != nil {
		return nil, err
	}
	copy(data[len(data)/2:], "# changed in 1.1")
	if err := writeFile(conf, data); err != nil {
		return nil, err
	}
	sc.changed = append(sc.changed, digest(data))
	if err := writeFile(filepath.Join(alone, "etc", "api.conf"), data); err != nil {
		return nil, err
	}
	spec := specHeader("bench-small-alone", nextVersion) + `  - name: database
    migrations:
      - {database: app, path: migrations/app}
  - name: api
    dependsOn: [database]
    files:
      - {src: etc/api.conf, dest: etc/api.conf}
`
	if sc.alone, err = writeSpec(alone, spec); err != nil {
		return nil, err
	}
	return sc, nil
}

// manyScenario: manyFiles files of cfg.binary/manyShare bytes each; 1.1.0
// changes every manyChanged-th of them in place, as (b) changes bin/app.
// It measures an update of many changed files, each a patch of its own.
func manyScenario(dir string, cfg config) (*scenario, error) {
	each := max(16<<10, cfg.binary/manyShare)
	n := (manyFiles + manyChanged - 1) / manyChanged // files 0, manyChanged, 2*manyChanged, …
	sc := &scenario{
		key: "(d)", title: fmt.Sprintf("%d files of %s, %d of them changed in place as bin/app in (b)", manyFiles, size(each), n),
		changedWhat: "layer-level delta: the changed files (zstd)",
		aloneWhat:   "a first install of a bundle holding the changed files of " + nextVersion + " alone",
		patchWhat:   fmt.Sprintf("%d changed files", n),
	}
	var files, changed strings.Builder
	for i := range manyFiles {
		name := fmt.Sprintf("lib/part%02d.so", i)
		base := filepath.Join(dir, "base", name)
		if err := fixtures.WriteFile(base, fixtures.KindBinary, each, "deltabench/"+name); err != nil {
			return nil, err
		}
		content, err := os.ReadFile(base)
		if err != nil {
			return nil, err
		}
		line := fmt.Sprintf("      - {src: %s, dest: %s}\n", name, name)
		files.WriteString(line)
		if i%manyChanged == 0 {
			changeInPlace(content)
			sc.changed = append(sc.changed, digest(content))
			next := filepath.Join(dir, "next", name)
			sc.patchFiles = append(sc.patchFiles, [2]string{base, next})
			if err := writeFile(filepath.Join(dir, "alone", name), content); err != nil {
				return nil, err
			}
			changed.WriteString(line)
		}
		if err := writeFile(filepath.Join(dir, "next", name), content); err != nil {
			return nil, err
		}
	}
	var err error
	for _, p := range []struct {
		sub, name, version, files string
		spec                      *string
	}{
		{"base", "bench-many", baseVersion, files.String(), &sc.base},
		{"next", "bench-many", nextVersion, files.String(), &sc.next},
		{"alone", "bench-many-alone", nextVersion, changed.String(), &sc.alone},
	} {
		if *p.spec, err = writeSpec(filepath.Join(dir, p.sub), specHeader(p.name, p.version)+"  - name: app\n    files:\n"+p.files); err != nil {
			return nil, err
		}
	}
	return sc, nil
}

// releaseScenario: a release of total bytes in releaseFile files and a
// small etc/app.conf, of which 1.1.0 changes 16 bytes of etc/app.conf.
// It measures what an update costs when one small file of a large release
// changes: the unchanged files are placed again, by sharing or copying.
func releaseScenario(total int64) func(string, config) (*scenario, error) {
	return func(dir string, cfg config) (*scenario, error) {
		each := total / releaseFile
		sc := &scenario{
			key: "(e)", title: fmt.Sprintf("release of %s in %d files of %s, 16 bytes of etc/app.conf changed", size(each*releaseFile), releaseFile, size(each)),
			changedWhat: "changed file (stored)",
			aloneWhat:   "a first install of a bundle holding etc/app.conf of " + nextVersion + " alone",
			release:     each * releaseFile,
		}
		var files strings.Builder
		for i := range releaseFile {
			name := fmt.Sprintf("lib/part%02d.bin", i)
			base := filepath.Join(dir, "base", name)
			if err := fixtures.WriteFile(base, fixtures.KindBinary, each, "deltabench/"+name); err != nil {
				return nil, err
			}
			// The same content in 1.1.0, without writing it twice.
			next := filepath.Join(dir, "next", name)
			if err := os.MkdirAll(filepath.Dir(next), 0o755); err != nil {
				return nil, err
			}
			if err := os.Link(base, next); err != nil {
				return nil, err
			}
			fmt.Fprintf(&files, "      - {src: %s, dest: %s, mode: \"0755\"}\n", name, name)
		}
		conf := filepath.Join(dir, "base", "etc", "app.conf")
		if err := fixtures.WriteFile(conf, fixtures.KindText, confSize, "deltabench/etc/app.conf"); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(conf)
		if err != nil {
			return nil, err
		}
		copy(data[len(data)/2:], "# changed in 1.1")
		sc.changed = []string{digest(data)}
		for _, sub := range []string{"next", "alone"} {
			if err := writeFile(filepath.Join(dir, sub, "etc", "app.conf"), data); err != nil {
				return nil, err
			}
		}
		const confLine = "      - {src: etc/app.conf, dest: etc/app.conf}\n"
		for _, p := range []struct {
			sub, name, version, files string
			spec                      *string
		}{
			{"base", "bench-release", baseVersion, files.String() + confLine, &sc.base},
			{"next", "bench-release", nextVersion, files.String() + confLine, &sc.next},
			{"alone", "bench-release-alone", nextVersion, confLine, &sc.alone},
		} {
			if *p.spec, err = writeSpec(filepath.Join(dir, p.sub), specHeader(p.name, p.version)+"  - name: app\n    files:\n"+p.files); err != nil {
				return nil, err
			}
		}
		return sc, nil
	}
}

// carriedSize is what the entries of m for the contents digests take in
// the bundle.
func carriedSize(m *bundle.Manifest, digests []string) int64 {
	var n int64
	for _, d := range digests {
		if e, ok := m.EntryByDigest(d); ok {
			n += e.StoredSize
		}
	}
	return n
}

func specHeader(name, version string) string {
	return `apiVersion: ferry/v1
kind: Bundle
metadata:
  name: ` + name + `
  version: ` + version + `
  vendor: Example Corp
components:
`
}

func writeSpec(dir, spec string) (string, error) {
	path := filepath.Join(dir, "ferry.yaml")
	return path, writeFile(path, []byte(spec))
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func digest(b []byte) string { return oci.FromBytes(b).String() }

// ---- report ----

// target is one judged figure.
type target struct {
	name   string
	figure string
	ok     bool
}

func report(w io.Writer, cfg config, outs []*outcome, took time.Duration) error {
	var b bytes.Buffer
	var releases []string
	for _, n := range cfg.releases {
		releases = append(releases, size(n))
	}
	fmt.Fprintf(&b, "\nferry deltabench — bin/app %s, %d layers of %s, release of (e) %s, %d cores, median of %d installs\n",
		size(cfg.binary), imageLayers, size(cfg.layer), strings.Join(releases, " and "), runtime.NumCPU(), cfg.repeat)
	var targets []target
	var first *outcome // the first (e), that the others are compared with
	for _, o := range outs {
		sc := o.sc
		full, delta := o.full.Size, o.delta.Size
		fmt.Fprintf(&b, "\n%s %s\n", sc.key, sc.title)
		row(&b, "full bundle", bytesFig(full), "")
		row(&b, "delta bundle", bytesFig(delta), "")
		row(&b, "  made of", "", o.parts.String())
		row(&b, "delta / full", fmt.Sprintf("%.4f", ratio(delta, full)), "")
		row(&b, sc.changedWhat, bytesFig(o.changedBytes), "")
		r := ratio(delta, o.changedBytes)
		switch sc.key {
		case "(a)":
			row(&b, "delta / changed", fmt.Sprintf("%.3fx", r), fmt.Sprintf("(target <= %.2fx)", imageTarget))
			targets = append(targets, target{"(a) delta <= 1.05x the changed layer", fmt.Sprintf("%.3fx", r), r <= imageTarget})
		case "(b)":
			row(&b, "delta / changed", fmt.Sprintf("%.3fx", r), fmt.Sprintf("(target <= %.2fx)", binaryTarget))
			targets = append(targets, target{"(b) delta <= 0.10x the layer-level delta", fmt.Sprintf("%.3fx", r), r <= binaryTarget})
		case "(c)":
			row(&b, "delta / changed", fmt.Sprintf("%.3fx", r), fmt.Sprintf("(target: delta <= %s)", size(smallTarget)))
			targets = append(targets, target{"(c) delta <= " + size(smallTarget), size(delta), delta <= smallTarget})
		default:
			row(&b, "delta / changed", fmt.Sprintf("%.3fx", r), "")
		}
		for _, n := range o.notes {
			row(&b, "note", "", n)
		}
		row(&b, "build the delta bundle", secs(o.build), "")
		if carried := carriedSize(o.delta.Manifest, sc.changed); len(o.zstd) > 0 {
			for _, z := range o.zstd {
				row(&b, fmt.Sprintf("zstd -%d --patch-from (%s)", z.level, sc.patchWhat), secs(z.took),
					fmt.Sprintf("patches %s; ferry's build takes %.1fx as long, its entries for them are %.2fx the size", size(z.size), o.build.Seconds()/z.took.Seconds(), ratio(carried, z.size)))
			}
		}
		row(&b, "apply delta on the base", secs(o.apply.median), "peak RSS "+kib(o.apply.peak))
		row(&b, "changed alone", secs(o.alone.median), "peak RSS "+kib(o.alone.peak)+"  ("+sc.aloneWhat+")")
		diff := o.apply.median - o.alone.median
		if sc.key == "(e)" {
			verdict := "MET"
			if diff > applySlack {
				verdict = "MISSED"
			}
			row(&b, "apply - changed alone", fmt.Sprintf("%+.2f s", diff.Seconds()), verdict+" (target: <= 1 s more than the changed file alone, the same at 512 MiB and 4 GiB)")
			if first == nil {
				first = o
			} else {
				grow := diff - (first.apply.median - first.alone.median)
				row(&b, "  growth from the "+size(first.sc.release)+" release", fmt.Sprintf("%+.2f s", grow.Seconds()), "")
			}
			targets = append(targets, target{fmt.Sprintf("(e) %s: apply <= changed alone + 1 s", size(sc.release)), fmt.Sprintf("%+.2f s", diff.Seconds()), diff <= applySlack})
			continue
		}
		row(&b, "apply - changed alone", fmt.Sprintf("%+.2f s", diff.Seconds()), "(target <= +1 s)")
		targets = append(targets, target{sc.key + " apply <= changed alone + 1 s", fmt.Sprintf("%+.2f s", diff.Seconds()), diff <= applySlack})
	}
	fmt.Fprintf(&b, "\ntargets\n")
	for _, t := range targets {
		verdict := "ok"
		if !t.ok {
			verdict = "MISSED"
		}
		fmt.Fprintf(&b, "  %-44s %14s  %s\n", t.name, t.figure, verdict)
	}
	fmt.Fprintf(&b, "\ndeltabench took %s\n", took.Round(100*time.Millisecond))
	_, err := w.Write(b.Bytes())
	return err
}

// row writes one figure, aligned; a row without a figure is a note under
// the one above.
func row(w io.Writer, label, figure, note string) {
	line := fmt.Sprintf("  %-40s %22s  %s", label, figure, note)
	if figure == "" {
		line = fmt.Sprintf("  %-40s %s", label, note)
	}
	fmt.Fprintln(w, strings.TrimRight(line, " "))
}

func (p parts) String() string {
	form := ""
	if p.plain > 0 {
		form = fmt.Sprintf("zstd-compressed from %d B of tar: ", p.plain)
	}
	return form + fmt.Sprintf("manifest %d B, signatures %d B, padding %d B, oci-layout+index.json %d B, content %d B in %d entries, tar headers and end %d B",
		p.manifest, p.signatures, p.padding, p.layout, p.content, p.contentEntries, p.tar)
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func bytesFig(n int64) string { return fmt.Sprintf("%d B (%s)", n, size(n)) }

// size writes n bytes in the largest binary unit that keeps it above 1.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

func kib(k int64) string {
	if k < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f MiB", float64(k)/1024)
}
