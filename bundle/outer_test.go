package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"ferry/bundle"
	"ferry/bundle/spec"
	"ferry/fixtures"
	"ferry/verify"
)

// packedDelta builds the fixtures project 1.0.0 and an update to 1.1.0
// that adds one migration, as a small update does, with the given
// compression; both are signed with the ed25519 key, so that two builds
// are byte for byte the same.
type packedDelta struct {
	dir        string
	base       *fixtureBundle
	spec       *spec.Spec
	path       string
	data       []byte
	res        *bundle.BuildResult
	signers    []verify.Signer
	created    time.Time
	trustedSet verify.TrustSet
}

func newPackedDelta(t *testing.T, c bundle.Compression) *packedDelta {
	t.Helper()
	k := keys(t)
	d := &packedDelta{dir: t.TempDir(), signers: k.signers[1:2], created: time.Unix(1700000000, 0), trustedSet: trust(t, 2, 1)}
	var err error
	if d.base, err = buildProject(d.dir, d.signers, fixtures.ProjectOptions{Version: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(d.dir, "project", "ferry.yaml")
	spec, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	next := strings.Replace(string(spec), "\n  version: 1.0.0\n", "\n  version: 1.1.0\n", 1)
	if next == string(spec) {
		t.Fatalf("%s has no version 1.0.0 to change", specPath)
	}
	if err := os.WriteFile(specPath, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fixtures.WriteMigrations(filepath.Join(d.dir, "project", "migrations", "app"), 4); err != nil {
		t.Fatal(err)
	}
	if d.spec, err = bundle.LoadSpec(specPath); err != nil {
		t.Fatal(err)
	}
	d.path = filepath.Join(d.dir, "delta.ferry")
	d.res, d.data = d.build(t, d.path, d.base.path, c)
	return d
}

func (d *packedDelta) build(t *testing.T, out, base string, c bundle.Compression) (*bundle.BuildResult, []byte) {
	t.Helper()
	res, err := bundle.Build(context.Background(), out, bundle.BuildOptions{
		Spec: d.spec, Signers: d.signers, Created: d.created, Base: base, Compress: c,
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != res.Size {
		t.Fatalf("%s: %d bytes on disk, the build says %d", out, len(data), res.Size)
	}
	return res, data
}

func unpack(t *testing.T, data []byte) []byte {
	t.Helper()
	dec, err := zstd.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	plain, err := io.ReadAll(dec)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}

// TestCompressedForm: an update is written compressed by CompressAuto,
// is the same bundle as its plain form, and every reader takes it.
func TestCompressedForm(t *testing.T) {
	d := newPackedDelta(t, bundle.CompressAuto)
	if !d.res.Compressed || !bundle.IsCompressed(d.data) {
		t.Fatalf("CompressAuto left an update of %d bytes plain", d.res.PlainSize)
	}
	if float64(d.res.Size) > 0.9*float64(d.res.PlainSize) {
		t.Fatalf("kept a compressed form of %d bytes for %d plain", d.res.Size, d.res.PlainSize)
	}
	t.Logf("update: %d bytes compressed, %d plain", d.res.Size, d.res.PlainSize)

	// The same bytes on every build.
	_, again := d.build(t, filepath.Join(d.dir, "again.ferry"), d.base.path, bundle.CompressAuto)
	if !bytes.Equal(again, d.data) {
		t.Fatal("two builds of the same update differ")
	}
	// Its plain form is the bundle that CompressNever writes.
	plainRes, plain := d.build(t, filepath.Join(d.dir, "plain.ferry"), d.base.path, bundle.CompressNever)
	if plainRes.Compressed || bundle.IsCompressed(plain) || plainRes.Size != d.res.PlainSize {
		t.Fatalf("CompressNever: compressed %v, %d bytes, want plain %d", plainRes.Compressed, plainRes.Size, d.res.PlainSize)
	}
	if !bytes.Equal(unpack(t, d.data), plain) {
		t.Fatal("the compressed form does not decompress to the plain bundle")
	}

	for _, deep := range []bool{false, true} {
		v, err := bundle.VerifyFile(context.Background(), d.path, bundle.VerifyOptions{Trust: d.trustedSet, Deep: deep})
		if err != nil {
			t.Fatalf("deep=%v: %v", deep, err)
		}
		if v.Digest != d.res.Digest {
			t.Fatalf("verified %s, built %s", v.Digest, d.res.Digest)
		}
	}
	in, err := bundle.InspectFile(d.path)
	if err != nil {
		t.Fatal(err)
	}
	if !in.Compressed || in.Digest != d.res.Digest {
		t.Fatalf("inspect: compressed %v, digest %s", in.Compressed, in.Digest)
	}
	// The installing reader yields the same entries from both forms.
	fromPacked, err := readPatched(d.data, d.trustedSet, nil)
	if err != nil {
		t.Fatal(err)
	}
	fromPlain, err := readPatched(plain, d.trustedSet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromPacked) != len(fromPlain) || len(fromPacked) == 0 {
		t.Fatalf("%d entries from the compressed form, %d from the plain one", len(fromPacked), len(fromPlain))
	}
	for digest, b := range fromPlain {
		if !bytes.Equal(fromPacked[digest], b) {
			t.Fatalf("entry %s differs between the forms", digest)
		}
	}
	// A compressed update serves as the base of the next one.
	next, err := fixtures.WriteProject(filepath.Join(d.dir, "project-3"), fixtures.ProjectOptions{Version: "1.2.0"})
	if err != nil {
		t.Fatal(err)
	}
	// with the base's four migrations: a base migration may not go
	if err := fixtures.WriteMigrations(filepath.Join(d.dir, "project-3", "migrations", "app"), 4); err != nil {
		t.Fatal(err)
	}
	d.spec, err = bundle.LoadSpec(next.SpecPath)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := d.build(t, filepath.Join(d.dir, "next.ferry"), d.path, bundle.CompressAuto)
	if res.Manifest.Base == nil || res.Manifest.Base.Digest != d.res.Digest {
		t.Fatalf("the next update names base %+v, want %s", res.Manifest.Base, d.res.Digest)
	}
}

// TestCompressionChoice: CompressAuto leaves full bundles plain,
// CompressAlways compresses them, and ParseCompression reads the flag.
func TestCompressionChoice(t *testing.T) {
	f := fixture(t)
	if bundle.IsCompressed(f.data) || f.res.Compressed {
		t.Fatal("the default build is compressed")
	}
	d := &packedDelta{dir: t.TempDir(), signers: keys(t).signers[1:2], created: time.Unix(1700000000, 0)}
	p, err := fixtures.WriteProject(filepath.Join(d.dir, "project"), fixtures.ProjectOptions{Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if d.spec, err = bundle.LoadSpec(p.SpecPath); err != nil {
		t.Fatal(err)
	}
	auto, _ := d.build(t, filepath.Join(d.dir, "auto.ferry"), "", bundle.CompressAuto)
	if auto.Compressed {
		t.Fatal("CompressAuto compressed a full bundle")
	}
	always, data := d.build(t, filepath.Join(d.dir, "always.ferry"), "", bundle.CompressAlways)
	if !always.Compressed || !bundle.IsCompressed(data) {
		t.Fatal("CompressAlways left the bundle plain")
	}
	v, err := verifyBytes(data, trust(t, 2, 1), true)
	if err != nil {
		t.Fatal(err)
	}
	if v.Digest != auto.Digest {
		t.Fatalf("the compressed full bundle verifies as %s, the plain one is %s", v.Digest, auto.Digest)
	}
	for s, want := range map[string]bundle.Compression{"auto": bundle.CompressAuto, "always": bundle.CompressAlways, "never": bundle.CompressNever} {
		got, err := bundle.ParseCompression(s)
		if err != nil || got != want || got.String() != s {
			t.Errorf("ParseCompression(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := bundle.ParseCompression("gzip"); err == nil {
		t.Error("ParseCompression took gzip")
	}
}

// TestCompressedTamper: no changed, cut or added byte of a compressed
// bundle is accepted as another bundle. A flip is refused, or it is in
// bits zstd's decoder does not depend on (a zstd stream, like a tar
// header, has more than one encoding of the same bytes) and the archive
// inside is exactly the original; cuts are refused as truncation, and
// bytes after the stream as damage.
func TestCompressedTamper(t *testing.T) {
	d := newPackedDelta(t, bundle.CompressAuto)
	plain := unpack(t, d.data)
	n := len(d.data)
	refused, same := 0, 0
	for _, pos := range tamperPositions(n) {
		data := bytes.Clone(d.data)
		data[pos] ^= 0x01
		v, err := verifyBytes(data, d.trustedSet, true)
		if err == nil {
			archive, rerr := io.ReadAll(bundle.TarStream(bytes.NewReader(data)))
			if rerr != nil || !bytes.Equal(archive, plain) || v.Digest != d.res.Digest {
				t.Errorf("flip at byte %d of %d accepted as another archive (%s)", pos, n, v.Digest)
			}
			same++
			continue
		}
		var be *bundle.Error
		if !errors.As(err, &be) && !errors.Is(err, verify.ErrBadSignature) {
			t.Errorf("flip at byte %d: an error that is no refusal: %v", pos, err)
		}
		refused++
	}
	t.Logf("%d single-byte flips of %d bytes refused, %d decoded to the same archive", refused, n, same)
	if same > refused/20 {
		t.Errorf("%d flips decoded to the same archive: more than redundancy explains", same)
	}

	for _, cut := range tamperPositions(n) {
		_, err := verifyBytes(d.data[:cut], d.trustedSet, false)
		if err == nil {
			t.Fatalf("cut at byte %d of %d accepted", cut, n)
		}
		if cut > 16 && !errors.Is(err, bundle.ErrTruncated) && !errors.Is(err, bundle.ErrDamagedCompression) {
			t.Errorf("cut at byte %d: got %v, want %v", cut, err, bundle.ErrTruncated)
		}
	}

	for name, tail := range map[string][]byte{
		"garbage": []byte("appended"),
		"zeros":   make([]byte, 1024),
	} {
		_, err := verifyBytes(append(bytes.Clone(d.data), tail...), d.trustedSet, false)
		if !errors.Is(err, bundle.ErrDamagedCompression) {
			t.Errorf("%s after the stream: got %v, want %v", name, err, bundle.ErrDamagedCompression)
		}
	}
	// A second frame whose content is more than the end padding tar
	// allows is data after the end; a skippable frame carries nothing.
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	zeros := enc.EncodeAll(make([]byte, 64<<10), nil)
	if _, err := verifyBytes(append(bytes.Clone(d.data), zeros...), d.trustedSet, false); !errors.Is(err, bundle.ErrTrailingData) {
		t.Errorf("a frame of 64 KiB of zeros after the bundle: got %v, want %v", err, bundle.ErrTrailingData)
	}
	skippable := []byte{0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 'n', 'o', 't', 'e'}
	v, err := verifyBytes(append(bytes.Clone(d.data), skippable...), d.trustedSet, false)
	if err != nil || v.Digest != d.res.Digest {
		t.Errorf("a skippable frame after the bundle: %v", err)
	}
}

// tamperPositions are the offsets a tamper test of an n-byte compressed
// file tries: every byte of the first and last 512 (frame and block
// headers, the checksum) and 1000 spread evenly between.
func tamperPositions(n int) []int {
	var ps []int
	for i := range n {
		if i < 512 || i >= n-512 || i%max(1, n/1000) == 0 {
			ps = append(ps, i)
		}
	}
	return ps
}

// TestCompressedParts: a compressed bundle split into parts reads as one,
// and a damaged part is reported as such even when it holds the first
// tar header, which compression can move out of the first part.
func TestCompressedParts(t *testing.T) {
	d := newPackedDelta(t, bundle.CompressAuto)
	dir := t.TempDir()
	parts, err := bundle.SplitFile(context.Background(), d.path, dir, 512)
	if err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, filepath.Base(bundle.PartName(filepath.Base(d.path), 0)))
	v, err := bundle.VerifyFile(context.Background(), first, bundle.VerifyOptions{Trust: d.trustedSet})
	if err != nil || v.Digest != d.res.Digest {
		t.Fatalf("verify the parts of %d: %v", len(parts), err)
	}
	second := filepath.Join(dir, filepath.Base(bundle.PartName(filepath.Base(d.path), 1)))
	data, err := os.ReadFile(second)
	if err != nil {
		t.Fatal(err)
	}
	data[100] ^= 0x01
	if err := os.WriteFile(second, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = bundle.VerifyFile(context.Background(), first, bundle.VerifyOptions{Trust: d.trustedSet})
	if !errors.Is(err, bundle.ErrDamagedPart) || errors.Is(err, bundle.ErrNotABundle) {
		t.Fatalf("a damaged second part: got %v, want %v alone", err, bundle.ErrDamagedPart)
	}
}
