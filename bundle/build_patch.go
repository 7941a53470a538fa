package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"

	"ferry/updates"
)

// patchKeep is how much smaller than the blob as it stands a patch must
// be to replace it: a patch costs the host a base read.
const patchKeep = 0.9

// patchJob is a changed file of an update that may travel as a patch
// against base, the base bundle's entry for the file at the same release
// path: whole when the file and its base are small enough to hold in
// memory, by segments otherwise.
type patchJob struct {
	bl   *blob
	base Entry
	// from is the bundle of the chain whose entry base is.
	from      string
	segmented bool
}

// patchJobs returns the patch jobs of the changed blobs of an update.
func (b *builder) patchJobs(changed []*blob) ([]patchJob, error) {
	var jobs []patchJob
	for _, bl := range changed {
		if bl.dest == "" || bl.image || bl.size == 0 {
			continue
		}
		bf, ok := b.baseFiles[bl.dest]
		if !ok || bf.Digest == bl.digest {
			continue
		}
		want, from, err := b.contentEntry(bf.Digest)
		if errors.Is(err, errNotPatchable) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p := b.opts.Patch
		switch {
		case bl.size <= p.WholeMax && want.Size <= p.WholeMax:
			jobs = append(jobs, patchJob{bl: bl, base: want, from: from})
		case updates.SegmentCount(bl.size, p.SegmentSize) <= updates.MaxSegments:
			jobs = append(jobs, patchJob{bl: bl, base: want, from: from, segmented: true})
		}
	}
	return jobs, nil
}

// stagedPatch is a patch written to the staging directory, with what the
// manifest says of it.
type stagedPatch struct {
	encoding  string
	path      string
	storedLen int64
	stored    string // digest of the patch
	base      string // content digest of its base
}

// patchWhole patches bl against the whole of its base, decoded at
// basePath, in memory, with enc. It returns nil when the patch is not
// clearly smaller than the blob as it stands.
func (b *builder) patchWhole(enc *updates.WholeEncoder, bl *blob, base Entry, basePath string) (*stagedPatch, error) {
	baseContent, err := os.ReadFile(basePath)
	if err != nil {
		return nil, err
	}
	content, err := readAllVerified(bl)
	if err != nil {
		return nil, err
	}
	patch, err := enc.Encode(baseContent, content)
	if err != nil {
		return nil, err
	}
	if float64(len(patch)) > patchKeep*float64(bl.storedLen) {
		return nil, nil
	}
	f, err := os.CreateTemp(b.staging, "patch-*.zst")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Write(patch); err != nil {
		return nil, err
	}
	return &stagedPatch{EncodingZstdPatch, f.Name(), int64(len(patch)), digestBytes(patch), base.Digest}, nil
}

// patchSegments patches bl by segments against its base, decoded at
// basePath for reading at offsets. Memory holds a segment and a base
// window for each of up to updates.MaxWorkers segments compressed at once. It
// returns nil when the patch is not clearly smaller than the blob as it
// stands.
func (b *builder) patchSegments(bl *blob, base Entry, basePath string) (*stagedPatch, error) {
	bf, err := os.Open(basePath)
	if err != nil {
		return nil, err
	}
	defer bf.Close()
	rc, err := bl.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(b.staging, "patch-*.seg.zst")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	keep := false
	defer func() {
		if !keep {
			os.Remove(f.Name())
		}
	}()
	p := b.opts.Patch
	enc := updates.Encoder{
		SegmentSize: p.SegmentSize,
		Margin:      p.SegmentMargin,
		Workers:     b.opts.Workers,
		Limit:       int64(patchKeep * float64(bl.storedLen)),
	}
	h := sha256.New()
	n, err := enc.Encode(b.ctx, f, io.TeeReader(rc, h), bl.size, io.NewSectionReader(bf, 0, base.Size))
	if errors.Is(err, updates.ErrTooLarge) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bl.source, err)
	}
	var one [1]byte
	if k, _ := rc.Read(one[:]); k > 0 || digestOf(h) != bl.digest {
		return nil, fmt.Errorf("%s: content changed while the bundle was being built", bl.source)
	}
	stored := sha256.New()
	if _, err := io.Copy(stored, io.NewSectionReader(f, 0, n)); err != nil {
		return nil, err
	}
	keep = true
	return &stagedPatch{EncodingZstdPatchSeg, f.Name(), n, digestOf(stored), base.Digest}, nil
}

// usePatch makes bl travel as patch p.
func (b *builder) usePatch(bl *blob, p *stagedPatch) {
	if bl.staged != "" {
		os.Remove(bl.staged)
	}
	bl.encoding, bl.staged, bl.storedLen, bl.stored = p.encoding, p.path, p.storedLen, p.stored
	bl.patchBase = p.base
	b.fromBase[p.base] = true
}

// errNotPatchable: the base stores that content as a patch itself, so it
// cannot serve as a patch base without its own base.
var errNotPatchable = errors.New("base content is itself a patch")

// patchableEntry is the entry of the base bundle that holds the content
// with digest d, when it can serve as a patch base.
func patchableEntry(m *Manifest, d string) (Entry, error) {
	want, ok := m.EntryByDigest(d)
	if !ok || IsPatch(want.Encoding) {
		return Entry{}, errNotPatchable // from the base's own base, or a patch
	}
	return want, nil
}

// stageBaseBlobs decodes the entries want of the base bundle file at path
// into files in dir, in one pass over the bundle, and checks each against
// its digest. It returns the file of each entry by entry path. One pass
// matters: a base bundle is read as a stream, so finding each entry on its
// own would read the bundle up to it once per changed file.
func stageBaseBlobs(ctx context.Context, path string, want []Entry, dir string) (map[string]string, error) {
	left := map[string]Entry{}
	for _, e := range want {
		left[e.Path] = e
	}
	staged := map[string]string{}
	if len(left) == 0 {
		return staged, nil
	}
	f, err := OpenArchive(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(TarStream(f))
	for len(left) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("base bundle %s: %w", path, err)
		}
		e, ok := left[hdr.Name]
		if !ok {
			continue
		}
		delete(left, hdr.Name)
		file, err := stageBaseBlob(tr, e, dir)
		if err != nil {
			return nil, fmt.Errorf("base bundle %s: %w", path, err)
		}
		staged[e.Path] = file
	}
	for p := range left {
		return nil, fmt.Errorf("base bundle %s: no entry %s", path, p)
	}
	return staged, nil
}

// stageBaseBlob decodes entry e, read from r, into a new file in dir,
// checked as the installing Reader checks content (digestReader).
func stageBaseBlob(r io.Reader, e Entry, dir string) (string, error) {
	out, err := os.CreateTemp(dir, "base-*")
	if err != nil {
		return "", err
	}
	defer out.Close()
	r = io.LimitReader(r, e.StoredSize)
	if e.Encoding == EncodingZstd {
		dec, err := NewZstdReader(r)
		if err != nil {
			return "", err
		}
		defer dec.Close()
		r = io.LimitReader(dec, e.Size+1)
	}
	d := &digestReader{r: r, h: sha256.New(), entry: e.Path, want: e.Digest, size: e.Size, inflation: e.Encoding == EncodingZstd}
	if _, err := io.Copy(out, d); err != nil {
		return "", err
	}
	return out.Name(), nil
}

// readAllVerified reads a source whole and checks it is still what was
// scanned.
func readAllVerified(bl *blob) ([]byte, error) {
	rc, err := bl.open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(rc, bl.size+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) != bl.size || digestBytes(buf.Bytes()) != bl.digest {
		return nil, fmt.Errorf("%s: content changed while the bundle was being built", bl.source)
	}
	return buf.Bytes(), nil
}
