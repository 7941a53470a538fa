package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ferry/verify"
)

// BuildOptions control Build.
type BuildOptions struct {
	// Spec is the validated ferry.yaml.
	Spec *Spec
	// Signers sign the manifest; at least one is required.
	Signers []verify.Signer
	// Images controls registry access and platform selection.
	Images ImageOptions
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
}

// BuildResult describes a written bundle.
type BuildResult struct {
	Manifest *Manifest
	Digest   string
	Size     int64
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

	staging, err := os.MkdirTemp(filepath.Dir(out), ".ferry-build-")
	if err != nil {
		return nil, fmt.Errorf("build: staging directory: %w", err)
	}
	defer os.RemoveAll(staging)

	b := &builder{ctx: ctx, opts: opts, staging: staging, blobs: map[string]*blob{}}
	start := time.Now()
	m, err := b.collect(created)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	slog.Debug("build: sources resolved", "blobs", len(b.order), "took", time.Since(start))
	start = time.Now()
	if err := b.scan(workers); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	slog.Debug("build: content hashed and compressed", "workers", workers, "took", time.Since(start))
	start = time.Now()
	if err := b.finish(m); err != nil {
		return nil, err
	}
	raw, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	sigs, err := signAll(raw, opts.Signers)
	if err != nil {
		return nil, err
	}
	size, err := b.write(out, raw, sigs, m, created)
	if err != nil {
		return nil, err
	}
	slog.Debug("build: bundle written", "bytes", size, "took", time.Since(start))
	return &BuildResult{Manifest: m, Digest: ManifestDigest(raw), Size: size}, nil
}

// blob is one piece of content on its way into the bundle.
type blob struct {
	source string // for errors: a path or an image reference
	open   Opener
	// image blobs are stored raw and their digest is known in advance.
	image     bool
	digest    string
	size      int64
	encoding  string
	stored    string // stored digest
	storedLen int64
	staged    string // path of the compressed form, when encoding is zstd
	// refs are the manifest fields to fill with the digest once known.
	refs []*string
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
	index  []byte
}

func (b *builder) add(key string, bl *blob, ref *string) {
	if old, ok := b.blobs[key]; ok {
		if ref != nil {
			old.refs = append(old.refs, ref)
		}
		return
	}
	if ref != nil {
		bl.refs = append(bl.refs, ref)
	}
	b.blobs[key] = bl
	b.order = append(b.order, bl)
}

func (b *builder) addFile(path string, ref *string) {
	b.add("file:"+path, &blob{source: path, open: fileOpener(path)}, ref)
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
		SchemaVersion: 1,
		Name:          s.Metadata.Name,
		Version:       s.Metadata.Version,
		Vendor:        s.Metadata.Vendor,
		Created:       created,
		Components:    make([]Component, len(s.Components)),
	}
	if s.Metadata.Expires != nil {
		t := s.Metadata.Expires.UTC()
		m.Expires = &t
	}
	imageNames := map[string]string{}
	for ci, cs := range s.Components {
		c := &m.Components[ci]
		c.Name, c.DependsOn, c.Optional = cs.Name, cs.DependsOn, cs.Optional
		c.Services, c.Checks = cs.Services, cs.Checks

		imgOpts := b.opts.Images
		if len(cs.Platforms) > 0 {
			imgOpts.Platforms = cs.Platforms
		}
		for _, is := range cs.Images {
			ri, err := ResolveImage(b.ctx, is, s.Dir, imgOpts)
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
					open:   ib.Open, image: true,
					digest: ib.Digest.String(), size: ib.Size,
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
			mode, err := FileMode(fs.Mode)
			if err != nil {
				return nil, fmt.Errorf("component %s: file %s: %w", cs.Name, fs.Dest, err)
			}
			c.Files[fi] = File{Dest: fs.Dest, Mode: fmt.Sprintf("%04o", mode.Perm())}
			b.addFile(filepath.Join(s.Dir, fs.Src), &c.Files[fi].Digest)
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
			c.Charts[hi] = Chart{Name: ch.Name, Version: ch.Version, AppVersion: ch.AppVersion}
			archive := ch.Archive
			b.add("chart:"+hs.Path, &blob{
				source: hs.Path,
				open:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(archive)), nil },
			}, &c.Charts[hi].Digest)
			if hs.Values != "" {
				b.addFile(filepath.Join(s.Dir, hs.Values), &c.Charts[hi].Values)
			}
		}
		if len(c.Charts) == 0 {
			c.Charts = nil
		}
	}
	return m, nil
}

// scan hashes every non-image blob and compresses the ones for which it
// pays, in parallel.
func (b *builder) scan(workers int) error {
	var todo []*blob
	sizes := map[*blob]int64{}
	var total int64
	for _, bl := range b.order {
		if !bl.image {
			todo = append(todo, bl)
			if n, err := statSource(bl); err == nil {
				sizes[bl] = n
				total += n
			}
		}
	}
	// Largest first, so that no worker starts a big file when the others
	// are nearly done.
	sort.SliceStable(todo, func(i, j int) bool { return sizes[todo[i]] > sizes[todo[j]] })
	var done int64
	var mu sync.Mutex
	report := func(n int64) {
		if b.opts.Progress == nil {
			return
		}
		mu.Lock()
		done += n
		d := done
		mu.Unlock()
		b.opts.Progress("scan", d, total)
	}
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	work := make(chan *blob)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			c := newCompressor()
			defer c.close()
			for bl := range work {
				if err := c.scan(ctx, bl, b.staging, report); err != nil {
					errs <- fmt.Errorf("%s: %w", bl.source, err)
					cancel()
					return
				}
			}
		})
	}
feed:
	for _, bl := range todo {
		select {
		case work <- bl:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return b.ctx.Err()
}

func statSource(bl *blob) (int64, error) {
	if len(bl.source) > 0 && filepath.IsAbs(bl.source) {
		fi, err := os.Stat(bl.source)
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	}
	return 0, errors.New("not a file")
}

// finish fills the manifest's digests, dedupes content, and lays out the
// OCI index and the entry list.
func (b *builder) finish(m *Manifest) error {
	byDigest := map[string]*blob{}
	for _, bl := range b.order {
		if bl.image {
			// Image blobs are stored exactly as they are.
			bl.encoding, bl.stored, bl.storedLen = EncodingRaw, bl.digest, bl.size
		}
		for _, r := range bl.refs {
			*r = bl.digest
		}
		if prev, ok := byDigest[bl.digest]; ok {
			// Same content from two sources: keep one, preferring an image
			// blob (stored raw, as image digests require).
			if bl.image && !prev.image {
				byDigest[bl.digest] = bl
			}
			continue
		}
		byDigest[bl.digest] = bl
	}
	for ci := range m.Components {
		for fi := range m.Components[ci].Files {
			f := &m.Components[ci].Files[fi]
			f.Size = byDigest[f.Digest].size
		}
	}
	if len(b.images) > 0 {
		layout := []byte(`{"imageLayoutVersion":"1.0.0"}`)
		index, err := ociIndex(b.images)
		if err != nil {
			return err
		}
		b.index = index
		m.Entries = append(m.Entries, rawEntry(LayoutPath, layout), rawEntry(IndexPath, index))
	}
	digests := make([]string, 0, len(byDigest))
	for d := range byDigest {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	b.order = b.order[:0]
	for _, d := range digests {
		bl := byDigest[d]
		b.order = append(b.order, bl)
		m.Entries = append(m.Entries, Entry{
			Path: BlobEntryPath(bl.digest, bl.encoding), Digest: bl.digest, Size: bl.size,
			Encoding: bl.encoding, StoredDigest: bl.stored, StoredSize: bl.storedLen,
		})
	}
	if _, err := ParseManifest(mustMarshal(m)); err != nil {
		return fmt.Errorf("build: the manifest does not pass its own checks: %w", err)
	}
	return nil
}

func mustMarshal(m *Manifest) []byte {
	raw, err := m.Marshal()
	if err != nil {
		return nil
	}
	return raw
}

func rawEntry(path string, data []byte) Entry {
	sum := sha256.Sum256(data)
	d := "sha256:" + fmt.Sprintf("%x", sum[:])
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
			Annotations: map[string]string{"org.opencontainers.image.ref.name": img.Name},
		})
	}
	sort.Slice(ds, func(i, j int) bool {
		return ds[i].Annotations["org.opencontainers.image.ref.name"] < ds[j].Annotations["org.opencontainers.image.ref.name"]
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

// write assembles the tar: manifest, signatures, OCI layout files, blobs in
// manifest order. Every blob is hashed again as it is written, so a source
// that changed since it was scanned fails the build.
func (b *builder) write(out string, raw []byte, sigs []verify.Signature, m *Manifest, mtime time.Time) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(out), ".ferry-bundle-*.tmp")
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", out, err)
	}
	tmp := f.Name()
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	cw := &countWriter{w: f}
	tw := tar.NewWriter(cw)
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(tarHeader(name, int64(len(data)), mtime)); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := put(ManifestPath, raw); err != nil {
		return 0, err
	}
	for _, s := range sigs {
		if err := put(s.FileName(), s.Data); err != nil {
			return 0, err
		}
	}
	if b.index != nil {
		if err := put(LayoutPath, []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
			return 0, err
		}
		if err := put(IndexPath, b.index); err != nil {
			return 0, err
		}
	}
	var total, done int64
	for _, bl := range b.order {
		total += bl.storedLen
	}
	buf := make([]byte, chunkSize)
	for _, bl := range b.order {
		if err := b.ctx.Err(); err != nil {
			return 0, err
		}
		if err := tw.WriteHeader(tarHeader(BlobEntryPath(bl.digest, bl.encoding), bl.storedLen, mtime)); err != nil {
			return 0, err
		}
		if err := copyBlob(tw, bl, buf); err != nil {
			return 0, err
		}
		done += bl.storedLen
		if b.opts.Progress != nil {
			b.opts.Progress("write", done, total)
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return 0, err
	}
	committed = true
	syncDir(filepath.Dir(out))
	return cw.n, nil
}

// copyBlob writes one blob's stored bytes and checks them against the
// digest the manifest signs.
func copyBlob(w io.Writer, bl *blob, buf []byte) error {
	var rc io.ReadCloser
	var err error
	if bl.staged != "" {
		rc, err = os.Open(bl.staged)
	} else {
		rc, err = bl.open()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", bl.source, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(rc, bl.storedLen), buf)
	if err != nil {
		return fmt.Errorf("%s: %w", bl.source, err)
	}
	if n != bl.storedLen || digestOf(h) != bl.stored {
		return fmt.Errorf("%s: content changed while the bundle was being built (expected %s, %d bytes)", bl.source, bl.stored, bl.storedLen)
	}
	var one [1]byte
	if k, _ := rc.Read(one[:]); k > 0 {
		return fmt.Errorf("%s: content grew while the bundle was being built", bl.source)
	}
	return nil
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

// syncDir makes a rename durable; errors are ignored because not every
// file system supports syncing a directory.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
