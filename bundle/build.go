package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/Masterminds/semver/v3"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ferry/bundle/image"
	"ferry/bundle/spec"
	"ferry/internal/oci"
	"ferry/updates"
	"ferry/verify"
)

// BuildOptions control Build.
type BuildOptions struct {
	// Spec is the validated ferry.yaml.
	Spec *spec.Spec
	// Signers sign the manifest; at least one is required.
	Signers []verify.Signer
	// Images controls registry access and platform selection.
	Images image.Options
	// Created is the bundle's creation time; zero means now. It is the only
	// input besides the signatures that makes two builds of the same spec
	// differ, so reproducible builds set it (SOURCE_DATE_EPOCH).
	Created time.Time
	// Workers is the number of hashing and compressing goroutines
	// (default: one per CPU).
	Workers int
	// Progress, when set, is called as content is processed: phase is
	// "scan" or "write", done and total are bytes.
	Progress func(phase string, done, total int64)
	// ImageProgress, when set, is called as the layers of a registry
	// image are fetched, with the image's source and its bytes fetched
	// and to fetch, from any goroutine.
	ImageProgress func(source string, done, total int64)
	// Base, when set, is the path of the bundle this one updates: content
	// the base carries is left out and named in the manifest's baseBlobs,
	// and the manifest names the base by its digest.
	Base string
	// AllowMigrationChange builds an update that changes a migration its
	// base carries, with a warning, rather than refusing it
	// (ErrMigrationChanged): hosts that applied the base's migration will
	// refuse the update.
	AllowMigrationChange bool
	// Chain, with Base, are the bundles that brought a host to the base
	// release, oldest first and Base last: a full bundle and the updates
	// after it. An update carries of a changed file only a patch against
	// the base release's copy, which, when Base is an update that did not
	// carry the file, an earlier bundle of the chain holds.
	Chain []string
	// Patch shapes the binary patches of files changed since the base;
	// the zero value is what ferry uses.
	Patch PatchOptions
	// Compress says when the bundle file is written in the compressed
	// form; the zero value writes it plain.
	Compress Compression
	// Rotations are key rotation statement files (verify.SignRotation)
	// for the bundle to carry, so that a host that trusts the keys the
	// first one was signed by accepts a bundle signed by the keys of the
	// last. They must follow each other without a gap, each signed by the
	// set before it, and Signers must satisfy the last; Build checks both.
	Rotations [][]byte
}

// PatchOptions shape the binary patches of an update bundle. Zero fields
// take the defaults; tests make them small, so that small files take the
// paths of large ones.
type PatchOptions struct {
	// WholeMax is the largest file, and base, patched whole as one
	// zstd-patch frame (default and at most updates.MaxPatchBase). A file larger
	// than that, or with a larger base, is patched by segments.
	WholeMax int64
	// SegmentSize and SegmentMargin shape segmented patches (defaults
	// updates.DefaultSegmentSize and updates.DefaultSegmentMargin, within
	// updates.MinSegmentSize to updates.MaxSegmentSize and at most
	// updates.MaxSegmentMargin).
	SegmentSize   int64
	SegmentMargin int64
}

// withDefaults fills the zero fields and checks the others.
func (p PatchOptions) withDefaults() (PatchOptions, error) {
	if p.WholeMax == 0 {
		p.WholeMax = updates.MaxPatchBase
	}
	if p.SegmentSize == 0 {
		p.SegmentSize = updates.DefaultSegmentSize
	}
	if p.SegmentMargin == 0 {
		p.SegmentMargin = updates.DefaultSegmentMargin
	}
	switch {
	case p.WholeMax < 0 || p.WholeMax > updates.MaxPatchBase:
		return p, fmt.Errorf("build: patch whole max %d is outside 0 to %d", p.WholeMax, updates.MaxPatchBase)
	case p.SegmentSize < updates.MinSegmentSize || p.SegmentSize > updates.MaxSegmentSize:
		return p, fmt.Errorf("build: patch segment size %d is outside %d to %d", p.SegmentSize, updates.MinSegmentSize, updates.MaxSegmentSize)
	case p.SegmentMargin < 0 || p.SegmentMargin > updates.MaxSegmentMargin:
		return p, fmt.Errorf("build: patch segment margin %d is outside 0 to %d", p.SegmentMargin, updates.MaxSegmentMargin)
	}
	return p, nil
}

// BuildResult describes a written bundle.
type BuildResult struct {
	Manifest *Manifest
	Digest   string
	// Size is the bundle file's size; PlainSize that of its tar archive,
	// the same unless Compressed.
	Size       int64
	PlainSize  int64
	Compressed bool
}

// Build fetches every source of the spec, content-addresses and, where it
// pays, compresses it, signs the manifest and writes the bundle to out
// atomically (temporary file, fsync, rename): a failed build leaves nothing.
func Build(ctx context.Context, out string, opts BuildOptions) (*BuildResult, error) {
	if opts.Spec == nil {
		return nil, errors.New("build: no spec")
	}
	if len(opts.Signers) == 0 {
		return nil, errors.New("build: at least one signing key is required")
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Now()
	}
	created = created.UTC().Truncate(time.Second)
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	opts.Workers = workers
	patch, err := opts.Patch.withDefaults()
	if err != nil {
		return nil, err
	}
	opts.Patch = patch

	staging, err := os.MkdirTemp(filepath.Dir(out), ".ferry-build-")
	if err != nil {
		return nil, fmt.Errorf("build: staging directory: %w", err)
	}
	defer os.RemoveAll(staging)
	// The layers of registry images are fetched ahead, all images at once,
	// into the staging directory. An update leaves this out: most of its
	// images' layers are in its base and are never read.
	if opts.Base == "" && opts.Images.Fetcher == nil {
		f := image.NewFetcher(ctx, image.FetchOptions{Dir: staging, Progress: opts.ImageProgress})
		defer f.Close()
		opts.Images.Fetcher = f
	}

	rotations, err := parseBuildRotations(opts.Rotations)
	if err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, opts: opts, staging: staging, blobs: map[string]*blob{}, mtime: created, rotations: rotations}
	start := time.Now()
	m, err := b.collect(created)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	for _, r := range rotations {
		m.Rotations = append(m.Rotations, digestBytes(r.File))
	}
	if opts.Base != "" {
		if err := b.readBase(m, opts.Base); err != nil {
			return nil, err
		}
		if err := b.readChain(opts.Chain); err != nil {
			return nil, err
		}
	} else if len(opts.Chain) > 0 {
		return nil, errors.New("build: a chain of bases needs its last bundle as Base")
	}
	slog.Debug("build: sources resolved", "blobs", len(b.order), "took", time.Since(start))
	res, err := b.write(out, m, workers)
	if err != nil {
		return nil, err
	}
	slog.Debug("build: bundle written", "bytes", res.Size, "took", time.Since(start))
	return res, nil
}

// blob is one piece of content on its way into the bundle.
type blob struct {
	source string // for errors: a path or an image reference
	open   Opener
	// image blobs are stored raw and their digest is known in advance;
	// checked ones were checked against it when fetched (image.Fetcher).
	image     bool
	checked   bool
	digest    string
	size      int64
	encoding  string
	stored    string // stored digest
	storedLen int64
	staged    string // path of the compressed form, when encoding is zstd
	// refs are the manifest fields to fill with the digest once known.
	refs []*string
	// sizeHint is the content size known before scanning (file size,
	// declared image blob size), used to reserve room for the manifest.
	sizeHint int64
	// done is closed when the blob has been scanned; err says how.
	done chan struct{}
	err  error
	// dest is the release path of a file blob: an update may patch it
	// against the base's file at the same path.
	dest string
	// patchBase is the base content a zstd-patch blob applies to.
	patchBase string
}

type builder struct {
	ctx     context.Context
	opts    BuildOptions
	staging string
	// blobs are keyed by source (path or image digest) so that a file named
	// twice is read once; content dedupe by digest happens in finish.
	blobs  map[string]*blob
	order  []*blob
	images []Image
	// layout are the oci-layout and index.json entries (none without
	// images), and index the bytes of index.json.
	layout []Entry
	index  []byte
	mtime  time.Time
	// base is the content of the bundle this one updates; fromBase what
	// of it this bundle uses and so leaves out; baseFiles its files by
	// release path, and baseManifest the whole.
	base         map[string]bool
	fromBase     map[string]bool
	baseFiles    map[string]File
	baseManifest *Manifest
	// chain are the bundles whose entries may hold the base release's
	// content, the base first and then back along its chain.
	chain []chainBundle
	// rotations are the statements to carry, in sequence order.
	rotations []*verify.Rotation
}

// readBase reads the manifest of the base bundle: the content it carries
// (or names from its own base) need not travel again.
func (b *builder) readBase(m *Manifest, path string) error {
	f, err := OpenArchive(path) // a bundle, an installer or a first part
	if err != nil {
		return fmt.Errorf("base bundle: %w", err)
	}
	defer f.Close()
	in, err := Inspect(f)
	if err != nil {
		return fmt.Errorf("base bundle %s: %w", path, err)
	}
	bm := in.Manifest
	if bm.Name != m.Name {
		return fmt.Errorf("base bundle %s is %s, not %s", path, bm.Name, m.Name)
	}
	bv, _ := semver.StrictNewVersion(bm.Version)
	if v, _ := semver.StrictNewVersion(m.Version); !v.GreaterThan(bv) {
		return fmt.Errorf("version %s is not newer than the base's %s", m.Version, bm.Version)
	}
	content, err := bm.ContentID()
	if err != nil {
		return err
	}
	m.Base = &Base{Digest: in.Digest, Version: bm.Version, Content: content}
	b.base, b.fromBase = map[string]bool{}, map[string]bool{}
	for _, e := range bm.Entries {
		if e.Path != IndexPath && e.Path != LayoutPath {
			b.base[e.Digest] = true
		}
	}
	for _, d := range bm.BaseBlobs {
		b.base[d] = true
	}
	b.chain = []chainBundle{{path: path, manifest: bm, digest: in.Digest}}
	b.baseManifest, b.baseFiles = bm, map[string]File{}
	for _, c := range bm.Components {
		for _, f := range c.Files {
			b.baseFiles[f.Dest] = f
		}
	}
	return nil
}

// add records a source once per key and returns its blob; ref, when set,
// receives the content digest once it is known.
func (b *builder) add(key string, bl *blob, ref *string) *blob {
	if old, ok := b.blobs[key]; ok {
		if ref != nil {
			old.refs = append(old.refs, ref)
		}
		return old
	}
	if ref != nil {
		bl.refs = append(bl.refs, ref)
	}
	b.blobs[key] = bl
	b.order = append(b.order, bl)
	return bl
}

func (b *builder) addFile(path string, ref *string) *blob {
	var hint int64
	if fi, err := os.Stat(path); err == nil {
		hint = fi.Size()
	}
	return b.add("file:"+path, &blob{source: path, open: fileOpener(path), sizeHint: hint}, ref)
}

func fileOpener(path string) Opener {
	return func() (io.ReadCloser, error) { return os.Open(path) }
}

// collect resolves every source of the spec and builds the manifest's
// components, with digests left to fill.
func (b *builder) collect(created time.Time) (*Manifest, error) {
	s := b.opts.Spec
	m := &Manifest{
		MediaType:     ManifestMediaType,
		SchemaVersion: SchemaVersion,
		Name:          s.Metadata.Name,
		Version:       s.Metadata.Version,
		Vendor:        s.Metadata.Vendor,
		Created:       created,
		Variables:     s.Variables,
		Components:    make([]Component, len(s.Components)),
	}
	if s.Metadata.Expires != nil {
		t := s.Metadata.Expires.UTC()
		m.Expires = &t
	}
	if s.License != nil {
		m.License = &License{Required: s.License.Required}
		for _, k := range s.License.Keys {
			data, err := os.ReadFile(filepath.Join(s.Dir, k))
			if err != nil {
				return nil, fmt.Errorf("license key: %w", err)
			}
			if _, err := verify.ParsePublicKey(data); err != nil {
				return nil, fmt.Errorf("license key %s: %w", k, err)
			}
			m.License.Keys = append(m.License.Keys, string(data))
		}
	}
	imageNames := map[string]string{}
	resolved := b.resolveImages()
	for ci, cs := range s.Components {
		c := &m.Components[ci]
		c.Name, c.DependsOn, c.Optional = cs.Name, cs.DependsOn, cs.Optional
		c.Services, c.Checks = cs.Services, cs.Checks

		for _, r := range resolved[ci] {
			ri, err := r.ri, r.err
			if err != nil {
				return nil, fmt.Errorf("component %s: %w", cs.Name, err)
			}
			d := ri.Descriptor.Digest.String()
			if prev, ok := imageNames[ri.Name]; ok && prev != d {
				return nil, fmt.Errorf("component %s: image name %s is used for two different images (%s and %s)", cs.Name, ri.Name, prev, d)
			}
			imageNames[ri.Name] = d
			img := Image{
				Name: ri.Name, Source: ri.Source, Digest: d,
				MediaType: string(ri.Descriptor.MediaType), Size: ri.Descriptor.Size,
				Platforms: ri.Platforms,
			}
			if ri.SourceDigest != (v1.Hash{}) && ri.SourceDigest != ri.Descriptor.Digest {
				img.SourceDigest = ri.SourceDigest.String()
			}
			for _, ib := range ri.Blobs {
				img.Blobs = append(img.Blobs, ib.Digest.String())
			}
			sort.Strings(img.Blobs)
			c.Images = append(c.Images, img)
			b.images = append(b.images, img)
			for _, ib := range ri.Blobs {
				b.add("image:"+ib.Digest.String(), &blob{
					source: ri.Source + " blob " + ib.Digest.String(),
					open:   ib.Open, image: true, checked: ib.Checked,
					digest: ib.Digest.String(), size: ib.Size, sizeHint: ib.Size,
				}, nil)
			}
		}
		// Slices are sized first: the builder keeps pointers into them.
		if len(cs.Migrations) > 0 {
			c.Migrations = make([]MigrationSet, len(cs.Migrations))
		}
		for mi, ms := range cs.Migrations {
			files, err := LoadMigrations(filepath.Join(s.Dir, ms.Path))
			if err != nil {
				return nil, fmt.Errorf("component %s: migrations %s: %w", cs.Name, ms.Database, err)
			}
			c.Migrations[mi] = MigrationSet{Database: ms.Database, Steps: make([]Migration, len(files))}
			for fi, f := range files {
				st := &c.Migrations[mi].Steps[fi]
				st.Version, st.Name = f.Version, f.Name
				b.addFile(f.UpPath, &st.Up)
				if f.DownPath != "" {
					b.addFile(f.DownPath, &st.Down)
				}
			}
		}
		c.Files = make([]File, len(cs.Files))
		for fi, fs := range cs.Files {
			mode, err := spec.FileMode(fs.Mode)
			if err != nil {
				return nil, fmt.Errorf("component %s: file %s: %w", cs.Name, fs.Dest, err)
			}
			c.Files[fi] = File{Dest: fs.Dest, Mode: fmt.Sprintf("%04o", mode.Perm()), Template: fs.Template}
			b.addFile(filepath.Join(s.Dir, fs.Src), &c.Files[fi].Digest).dest = fs.Dest
		}
		if len(c.Files) == 0 {
			c.Files = nil
		}
		c.Charts = make([]Chart, len(cs.Charts))
		for hi, hs := range cs.Charts {
			ch, err := LoadChart(filepath.Join(s.Dir, hs.Path))
			if err != nil {
				return nil, fmt.Errorf("component %s: chart %s: %w", cs.Name, hs.Path, err)
			}
			c.Charts[hi] = Chart{Name: ch.Name, Version: ch.Version, AppVersion: ch.AppVersion,
				Namespace: hs.Namespace, Release: hs.Release, Timeout: hs.Timeout}
			if err := checkChartInstall(c.Charts[hi]); err != nil {
				return nil, fmt.Errorf("component %s: chart %s: %w", cs.Name, hs.Path, err)
			}
			archive := ch.Archive
			b.add("chart:"+hs.Path, &blob{
				source:   hs.Path,
				open:     func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(archive)), nil },
				sizeHint: int64(len(archive)),
			}, &c.Charts[hi].Digest)
			if len(hs.Values) > 0 {
				c.Charts[hi].Values = make(spec.ValueFiles, len(hs.Values))
				for vi, vf := range hs.Values {
					b.addFile(filepath.Join(s.Dir, vf), &c.Charts[hi].Values[vi])
				}
			}
		}
		if len(c.Charts) == 0 {
			c.Charts = nil
		}
	}
	if len(b.images) > 0 {
		index, err := ociIndex(b.images)
		if err != nil {
			return nil, err
		}
		b.layout = []Entry{rawEntry(LayoutPath, []byte(ociLayout)), rawEntry(IndexPath, index)}
		b.index = index
	}
	return m, nil
}

// ociLayout is the oci-layout file of every bundle with images.
const ociLayout = `{"imageLayoutVersion":"1.0.0"}`

func rawEntry(path string, data []byte) Entry {
	d := digestBytes(data)
	return Entry{Path: path, Digest: d, Size: int64(len(data)), Encoding: EncodingRaw, StoredDigest: d, StoredSize: int64(len(data))}
}

// ociIndex is the index.json of the bundle's OCI image layout: one
// descriptor per image name, so that skopeo, crane and oras can use an
// extracted bundle as it is.
func ociIndex(images []Image) ([]byte, error) {
	type descriptor struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int64             `json:"size"`
		Annotations map[string]string `json:"annotations"`
	}
	seen := map[string]bool{}
	var ds []descriptor
	for _, img := range images {
		if seen[img.Name] {
			continue
		}
		seen[img.Name] = true
		ds = append(ds, descriptor{
			MediaType: img.MediaType, Digest: img.Digest, Size: img.Size,
			Annotations: map[string]string{oci.RefNameAnnotation: img.Name},
		})
	}
	sort.Slice(ds, func(i, j int) bool {
		return ds[i].Annotations[oci.RefNameAnnotation] < ds[j].Annotations[oci.RefNameAnnotation]
	})
	return json.Marshal(struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}{2, "application/vnd.oci.image.index.v1+json", ds})
}

// signAll signs the manifest with every signer; a key used twice is an
// error rather than a signature that would count once anyway.
func signAll(raw []byte, signers []verify.Signer) ([]verify.Signature, error) {
	var sigs []verify.Signature
	seen := map[string]bool{}
	for _, s := range signers {
		id := s.Public().ID()
		if seen[id] {
			return nil, fmt.Errorf("sign: key %s given twice", id)
		}
		seen[id] = true
		sig, err := s.Sign(raw)
		if err != nil {
			return nil, fmt.Errorf("sign with key %s: %w", id, err)
		}
		sigs = append(sigs, sig)
	}
	sort.Slice(sigs, func(i, j int) bool { return sigs[i].FileName() < sigs[j].FileName() })
	return sigs, nil
}

// tarHeader is the header of every bundle entry: a regular file with fixed
// owner and mode, so that the same content gives the same bytes.
func tarHeader(name string, size int64, mtime time.Time) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     size,
		Mode:     0o644,
		ModTime:  mtime,
		Format:   tar.FormatPAX,
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
