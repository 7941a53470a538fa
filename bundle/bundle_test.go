package bundle_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ferry/bundle"
	"ferry/fixtures"
	"ferry/verify"
)

// testKeys are generated once per test binary: key derivation is slow by
// design (scrypt) and every test needs the same few keys.
type testKeys struct {
	signers []verify.Signer
	pubs    []*verify.PublicKey
}

var (
	keysOnce sync.Once
	keysVal  testKeys
	keysErr  error
)

// keys returns three in-memory sigstore-style keys (ECDSA, Ed25519,
// ECDSA) and, once asked for, an OpenPGP key; generating encrypted keys is
// slow by design and is tested in package verify.
func keys(t testing.TB) testKeys {
	t.Helper()
	keysOnce.Do(func() {
		for i := range 3 {
			var priv crypto.PrivateKey
			if i == 1 {
				_, priv, keysErr = ed25519.GenerateKey(rand.Reader)
			} else {
				priv, keysErr = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			}
			if keysErr != nil {
				return
			}
			s, err := verify.NewSigner(priv)
			if err != nil {
				keysErr = err
				return
			}
			keysVal.signers = append(keysVal.signers, s)
			keysVal.pubs = append(keysVal.pubs, s.Public())
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keysVal
}

// openpgpSigner is a real, passphrase-protected OpenPGP key.
func openpgpSigner(t testing.TB) verify.Signer {
	t.Helper()
	pass := []byte("test passphrase")
	priv, _, err := verify.GenerateKey(verify.KeyOpenPGP, "Test <test@example.invalid>", pass)
	if err != nil {
		t.Fatal(err)
	}
	s, err := verify.LoadSigner(priv, pass)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixtureBundle is a bundle built once from the fixtures project, signed by
// the first two test keys.
type fixtureBundle struct {
	dir  string
	path string
	data []byte
	res  *bundle.BuildResult
}

var (
	fixtureOnce sync.Once
	fixtureVal  *fixtureBundle
	fixtureErr  error
)

func fixture(t testing.TB) *fixtureBundle {
	t.Helper()
	k := keys(t)
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ferry-bundle-test-")
		if err != nil {
			fixtureErr = err
			return
		}
		fixtureVal, fixtureErr = buildProject(dir, k.signers[:2], fixtures.ProjectOptions{FileSize: 96 << 10})
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureVal
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureVal != nil {
		os.RemoveAll(fixtureVal.dir)
	}
	os.Exit(code)
}

func buildProject(dir string, signers []verify.Signer, opts fixtures.ProjectOptions) (*fixtureBundle, error) {
	p, err := fixtures.WriteProject(filepath.Join(dir, "project"), opts)
	if err != nil {
		return nil, err
	}
	spec, err := bundle.LoadSpec(p.SpecPath)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "app.ferry")
	res, err := bundle.Build(context.Background(), out, bundle.BuildOptions{
		Spec: spec, Signers: signers, Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	return &fixtureBundle{dir: dir, path: out, data: data, res: res}, nil
}

func trust(t testing.TB, n, threshold int) verify.TrustSet {
	return verify.TrustSet{Keys: keys(t).pubs[:n], Threshold: threshold}
}

func verifyBytes(data []byte, ts verify.TrustSet, deep bool) (*bundle.Verified, error) {
	return bundle.Verify(context.Background(), bytes.NewReader(data), bundle.VerifyOptions{Trust: ts, Deep: deep})
}

func TestBuildAndVerify(t *testing.T) {
	f := fixture(t)
	for _, deep := range []bool{false, true} {
		v, err := verifyBytes(f.data, trust(t, 2, 2), deep)
		if err != nil {
			t.Fatalf("deep=%v: %v", deep, err)
		}
		if v.Digest != f.res.Digest {
			t.Errorf("digest %s, built %s", v.Digest, f.res.Digest)
		}
		if len(v.SignedBy) != 2 {
			t.Errorf("signed by %v, want both keys", v.SignedBy)
		}
		if v.Size != int64(len(f.data)) {
			t.Errorf("read %d bytes of %d", v.Size, len(f.data))
		}
	}
	m := f.res.Manifest
	var kinds = map[string]int{}
	for _, c := range m.Components {
		kinds["images"] += len(c.Images)
		kinds["files"] += len(c.Files)
		kinds["charts"] += len(c.Charts)
		kinds["migrations"] += len(c.Migrations)
		kinds["services"] += len(c.Services)
	}
	for _, k := range []string{"images", "files", "charts", "migrations", "services"} {
		if kinds[k] == 0 {
			t.Errorf("the fixture bundle has no %s", k)
		}
	}
	var zstd int
	for _, e := range m.Entries {
		if e.Encoding == bundle.EncodingZstd {
			zstd++
		}
	}
	if zstd == 0 {
		t.Error("no entry was compressed; text files and migrations should be")
	}
}

func TestBuildIsReproducible(t *testing.T) {
	k := keys(t)
	// Ed25519 signatures are deterministic, so the whole file must be.
	a, err := buildProject(t.TempDir(), k.signers[1:2], fixtures.ProjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildProject(t.TempDir(), k.signers[1:2], fixtures.ProjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.data, b.data) {
		t.Fatalf("two builds of the same project differ (%d and %d bytes)", len(a.data), len(b.data))
	}
}

func TestSharedContentStoredOnce(t *testing.T) {
	f := fixture(t)
	seen := map[string]bool{}
	for _, e := range f.res.Manifest.Entries {
		if seen[e.Digest] {
			t.Errorf("content %s stored twice", e.Digest)
		}
		seen[e.Digest] = true
	}
}

func TestInspect(t *testing.T) {
	f := fixture(t)
	in, err := bundle.Inspect(bytes.NewReader(f.data))
	if err != nil {
		t.Fatal(err)
	}
	if in.Digest != f.res.Digest || len(in.Signatures) != 2 {
		t.Fatalf("inspect: digest %s, %d signatures", in.Digest, len(in.Signatures))
	}
	pos := map[string]int{}
	for i, n := range in.Order {
		pos[n] = i
	}
	for _, c := range in.Manifest.Components {
		for _, d := range c.DependsOn {
			if pos[d] > pos[c.Name] {
				t.Errorf("%s ordered before its dependency %s", c.Name, d)
			}
		}
	}
}

// TestSignatureRefusals covers the trust outcomes of part 6.
func TestSignatureRefusals(t *testing.T) {
	f := fixture(t)
	k := keys(t)
	entries := readEntries(t, f.data)
	noSigs := writeEntries(t, filterEntries(entries, func(e tarEntry) bool { return !isSignature(e.name) }))
	cases := []struct {
		name string
		data []byte
		ts   verify.TrustSet
		want error
	}{
		{"no signature", noSigs, trust(t, 2, 1), verify.ErrNoSignature},
		{"untrusted key", f.data, verify.TrustSet{Keys: k.pubs[2:3]}, verify.ErrUntrustedKey},
		{"below threshold", f.data, verify.TrustSet{Keys: k.pubs, Threshold: 3}, verify.ErrBelowThreshold},
		{"bad signature", flipIn(t, f.data, signatureName(t, entries, 0), 10), trust(t, 2, 1), verify.ErrBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifyBytes(tc.data, tc.ts, false)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("one of two keys meets threshold 1", func(t *testing.T) {
		if _, err := verifyBytes(f.data, verify.TrustSet{Keys: k.pubs[1:]}, false); err != nil {
			t.Fatal(err)
		}
	})
}

// TestStructureRefusals covers the entry-level refusals of part 6: each
// case changes the archive around a validly signed manifest.
func TestStructureRefusals(t *testing.T) {
	f := fixture(t)
	entries := readEntries(t, f.data)
	first := firstBlob(t, entries)
	blobA, blobB := entries[first], entries[first+1]
	cases := []struct {
		name  string
		edit  func([]tarEntry) []tarEntry
		want  error
		entry string
	}{
		{"unknown entry", func(es []tarEntry) []tarEntry {
			return insert(es, len(es), tarEntry{name: "blobs/sha256/extra", data: []byte("x")})
		}, bundle.ErrUnexpectedEntry, "blobs/sha256/extra"},
		{"unknown entry in the middle", func(es []tarEntry) []tarEntry {
			return insert(es, first+1, tarEntry{name: "evil.sh", data: []byte("x")})
		}, bundle.ErrUnexpectedEntry, "evil.sh"},
		{"duplicate entry", func(es []tarEntry) []tarEntry { return insert(es, first+1, blobA) }, bundle.ErrDuplicateEntry, blobA.name},
		{"duplicate at the end", func(es []tarEntry) []tarEntry { return insert(es, len(es), blobA) }, bundle.ErrDuplicateEntry, blobA.name},
		{"duplicate manifest", func(es []tarEntry) []tarEntry { return insert(es, first, es[0]) }, bundle.ErrDuplicateEntry, bundle.ManifestPath},
		{"missing entry", func(es []tarEntry) []tarEntry { return es[:len(es)-1] }, bundle.ErrMissingEntry, entries[len(entries)-1].name},
		{"misordered entries", func(es []tarEntry) []tarEntry {
			es = clone(es)
			es[first], es[first+1] = es[first+1], es[first]
			return es
		}, bundle.ErrMisorderedEntry, blobB.name},
		{"symlink", func(es []tarEntry) []tarEntry {
			es = clone(es)
			es[first] = tarEntry{name: blobA.name, typ: tar.TypeSymlink, link: "/etc/passwd"}
			return es
		}, bundle.ErrForbiddenEntry, blobA.name},
		{"hard link", func(es []tarEntry) []tarEntry {
			es = clone(es)
			es[first] = tarEntry{name: blobA.name, typ: tar.TypeLink, link: bundle.ManifestPath}
			return es
		}, bundle.ErrForbiddenEntry, blobA.name},
		{"device", func(es []tarEntry) []tarEntry {
			es = clone(es)
			es[first] = tarEntry{name: blobA.name, typ: tar.TypeChar}
			return es
		}, bundle.ErrForbiddenEntry, blobA.name},
		{"directory", func(es []tarEntry) []tarEntry { return insert(es, first, tarEntry{name: "blobs/", typ: tar.TypeDir}) }, bundle.ErrForbiddenEntry, "blobs/"},
		{"absolute path", func(es []tarEntry) []tarEntry {
			return insert(es, first, tarEntry{name: "/etc/cron.d/x", data: []byte("x")})
		}, bundle.ErrForbiddenEntry, "/etc/cron.d/x"},
		{"dot-dot path", func(es []tarEntry) []tarEntry {
			return insert(es, first, tarEntry{name: "../../x", data: []byte("x")})
		}, bundle.ErrForbiddenEntry, "../../x"},
		{"size mismatch", func(es []tarEntry) []tarEntry {
			es = clone(es)
			es[first].data = append(bytes.Clone(es[first].data), 0)
			return es
		}, bundle.ErrSizeMismatch, blobA.name},
		{"signature after content", func(es []tarEntry) []tarEntry {
			es = clone(es)
			sig := es[1]
			es = append(es[:1:1], es[2:]...)
			return insert(es, first, sig)
		}, bundle.ErrMisorderedEntry, entries[1].name},
		{"pax attribute", func(es []tarEntry) []tarEntry {
			es = clone(es)
			es[first].pax = map[string]string{"SCHILY.xattr.user.x": "1"}
			return es
		}, bundle.ErrForbiddenEntry, blobA.name},
		{"manifest not first", func(es []tarEntry) []tarEntry { return append(clone(es[1:2]), es...) }, bundle.ErrNotABundle, entries[1].name},
		{"padding twice", func(es []tarEntry) []tarEntry {
			return insert(es, paddingAt(t, es), tarEntry{name: bundle.PaddingPath, data: make([]byte, 10)})
		}, bundle.ErrMisorderedEntry, bundle.PaddingPath},
		{"padding not zero", func(es []tarEntry) []tarEntry {
			es = clone(es)
			i := paddingAt(t, es)
			es[i].data = append(make([]byte, 100), 1)
			return es
		}, bundle.ErrDigestMismatch, bundle.PaddingPath},
		{"padding among content", func(es []tarEntry) []tarEntry {
			return insert(es, first+1, tarEntry{name: bundle.PaddingPath, data: make([]byte, 10)})
		}, bundle.ErrUnexpectedEntry, bundle.PaddingPath},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := writeEntries(t, tc.edit(entries))
			_, err := verifyBytes(data, trust(t, 2, 1), false)
			checkRefusal(t, err, tc.want, tc.entry)
		})
	}
}

// TestPaddingIsOptional: the padding entry only fills the room reserved
// for the manifest; a bundle without it, or with more of it, is the same.
func TestPaddingIsOptional(t *testing.T) {
	f := fixture(t)
	entries := readEntries(t, f.data)
	i := paddingAt(t, entries)
	for name, es := range map[string][]tarEntry{
		"without": append(clone(entries[:i]), entries[i+1:]...),
		"longer":  append(append(clone(entries[:i]), tarEntry{name: bundle.PaddingPath, data: make([]byte, 5000)}), entries[i+1:]...),
	} {
		if _, err := verifyBytes(writeEntries(t, es), trust(t, 2, 1), false); err != nil {
			t.Errorf("%s padding: %v", name, err)
		}
	}
}

func paddingAt(t testing.TB, es []tarEntry) int {
	for i, e := range es {
		if e.name == bundle.PaddingPath {
			return i
		}
	}
	t.Fatal("no padding entry in the fixture bundle")
	return 0
}

// TestStreamRefusals covers truncation and trailing data.
func TestStreamRefusals(t *testing.T) {
	f := fixture(t)
	n := len(f.data)
	t.Run("trailing data", func(t *testing.T) {
		data := append(bytes.Clone(f.data), []byte("appended")...)
		_, err := verifyBytes(data, trust(t, 2, 1), false)
		checkRefusal(t, err, bundle.ErrTrailingData, "")
	})
	t.Run("too much zero padding", func(t *testing.T) {
		data := append(bytes.Clone(f.data), make([]byte, 64<<10)...)
		_, err := verifyBytes(data, trust(t, 2, 1), false)
		checkRefusal(t, err, bundle.ErrTrailingData, "")
	})
	t.Run("record padding is fine", func(t *testing.T) {
		data := append(bytes.Clone(f.data), make([]byte, 8192)...)
		if _, err := verifyBytes(data, trust(t, 2, 1), false); err != nil {
			t.Fatal(err)
		}
	})
	// Truncated anywhere: every cut must be refused, never accepted.
	for _, cut := range []int{0, 100, 512, 1024, n / 3, n / 2, n - 1536, n - 1024, n - 512, n - 1} {
		t.Run(fmt.Sprintf("truncated at %d", cut), func(t *testing.T) {
			_, err := verifyBytes(f.data[:cut], trust(t, 2, 1), false)
			if err == nil {
				t.Fatal("a truncated bundle was accepted")
			}
			if cut > 2048 && cut < n-1024 && !errors.Is(err, bundle.ErrTruncated) {
				t.Fatalf("got %v, want %v", err, bundle.ErrTruncated)
			}
		})
	}
}

// TestTamperMatrix flips one byte at many positions across every entry
// (headers, content, padding): verification must always fail, and name the
// entry when the flip is in an entry's content.
func TestTamperMatrix(t *testing.T) {
	f := fixture(t)
	tamperMatrix(t, f.data, trust(t, 2, 1))
}

// TestTamperMatrixOpenPGP does the same with an OpenPGP signature, whose
// encoding has bytes no signature covers (armor checksum, packet framing,
// hash tag): they must not change unnoticed either.
func TestTamperMatrixOpenPGP(t *testing.T) {
	pgp := openpgpSigner(t)
	b, err := buildProject(t.TempDir(), []verify.Signer{pgp, keys(t).signers[0]}, fixtures.ProjectOptions{FileSize: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	tamperMatrix(t, b.data, verify.TrustSet{Keys: []*verify.PublicKey{pgp.Public(), keys(t).pubs[0]}})
	for _, s := range entrySpans(t, b.data) {
		if !strings.HasSuffix(s.name, ".asc") {
			continue
		}
		for pos := s.data; pos < s.data+s.size; pos++ {
			data := bytes.Clone(b.data)
			data[pos] ^= 0x01
			if _, err := verifyBytes(data, verify.TrustSet{Keys: []*verify.PublicKey{pgp.Public()}}, false); err == nil {
				t.Errorf("flip at byte %d of %s accepted", pos-s.data, s.name)
			}
		}
	}
}

func tamperMatrix(t *testing.T, bundleData []byte, ts verify.TrustSet) {
	f := struct{ data []byte }{bundleData}
	spans := entrySpans(t, f.data)
	checked := 0
	for _, s := range spans {
		positions := []int64{s.header, s.header + 100, s.header + 124, s.header + 148}
		if s.size > 0 {
			positions = append(positions, s.data, s.data+s.size/2, s.data+s.size-1)
		}
		if pad := roundBlock(s.data+s.size) - (s.data + s.size); pad > 0 {
			positions = append(positions, s.data+s.size)
		}
		for _, pos := range positions {
			data := bytes.Clone(f.data)
			data[pos] ^= 0x01
			_, err := verifyBytes(data, ts, false)
			if err == nil {
				t.Errorf("flip at %d (entry %s) accepted", pos, s.name)
				continue
			}
			checked++
			if pos < s.header+blockSizeForTest && s.header > 0 && !errors.Is(err, bundle.ErrCorruptHeader) {
				t.Errorf("flip at %d in the header of %s: got %v, want %v", pos, s.name, err, bundle.ErrCorruptHeader)
			}
			inContent := pos >= s.data && pos < s.data+s.size
			if inContent && !isSignature(s.name) && s.name != bundle.ManifestPath {
				checkRefusal(t, err, bundle.ErrDigestMismatch, s.name)
			}
			if inContent && (isSignature(s.name) || s.name == bundle.ManifestPath) && !errors.Is(err, verify.ErrBadSignature) {
				t.Errorf("flip at %d in %s: got %v, want a bad signature", pos, s.name, err)
			}
		}
	}
	// And evenly spread positions through the whole file, end marker included.
	for i := 0; i < 200; i++ {
		pos := i * (len(f.data) - 1) / 199
		data := bytes.Clone(f.data)
		data[pos] ^= 0x80
		if _, err := verifyBytes(data, ts, false); err == nil {
			t.Errorf("flip at %d of %d accepted", pos, len(f.data))
		}
		checked++
	}
	t.Logf("%d single-byte flips refused", checked)
}

// TestSignedButMalformed covers manifests that are validly signed yet
// wrong: a compressed entry that inflates past its size, and bad JSON.
func TestSignedButMalformed(t *testing.T) {
	f := fixture(t)
	k := keys(t)
	entries := readEntries(t, f.data)
	m, err := bundle.ParseManifest(entries[0].data)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("zstd inflates past its declared size", func(t *testing.T) {
		mm := *m
		mm.Entries = append([]bundle.Entry(nil), m.Entries...)
		found := false
		for i, e := range mm.Entries {
			if e.Encoding == bundle.EncodingZstd && e.Size > 10 {
				mm.Entries[i].Size = e.Size - 10
				found = true
				break
			}
		}
		if !found {
			t.Fatal("no zstd entry in the fixture")
		}
		raw, err := mm.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		data := resign(t, entries, raw, k.signers[0])
		if _, err := verifyBytes(data, trust(t, 1, 1), false); err != nil {
			t.Fatalf("stored digests still match, plain verify must pass: %v", err)
		}
		_, err = verifyBytes(data, trust(t, 1, 1), true)
		if !errors.Is(err, bundle.ErrInflation) {
			t.Fatalf("got %v, want %v", err, bundle.ErrInflation)
		}
	})
	for name, raw := range map[string][]byte{
		"not json":       []byte("not json"),
		"unknown field":  bytes.Replace(entries[0].data, []byte(`"schemaVersion":1`), []byte(`"schemaVersion":1,"x":1`), 1),
		"not canonical":  append(bytes.Clone(entries[0].data), '\n'),
		"bad media type": bytes.Replace(entries[0].data, []byte(bundle.ManifestMediaType), []byte("application/json"), 1),
	} {
		t.Run(name, func(t *testing.T) {
			data := resign(t, entries, raw, k.signers[0])
			_, err := verifyBytes(data, trust(t, 1, 1), false)
			checkRefusal(t, err, bundle.ErrMalformedManifest, bundle.ManifestPath)
		})
	}
	t.Run("manifest over the cap", func(t *testing.T) {
		es := clone(entries)
		es[0].data = make([]byte, bundle.MaxManifestSize+1)
		_, err := verifyBytes(writeEntries(t, es), trust(t, 1, 1), false)
		checkRefusal(t, err, bundle.ErrTooLarge, bundle.ManifestPath)
	})
}

// TestVerifyFromFile reads through VerifyFile with a single worker too.
func TestVerifyWorkers(t *testing.T) {
	f := fixture(t)
	for _, w := range []int{1, 3} {
		if _, err := bundle.VerifyFile(context.Background(), f.path, bundle.VerifyOptions{Trust: trust(t, 2, 1), Workers: w}); err != nil {
			t.Fatalf("workers=%d: %v", w, err)
		}
	}
}

func checkRefusal(t *testing.T, err, want error, entry string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	if entry == "" {
		return
	}
	var be *bundle.Error
	if !errors.As(err, &be) || be.Entry != entry {
		t.Fatalf("error %q does not name entry %q", err, entry)
	}
}

// --- tar surgery -----------------------------------------------------------

type tarEntry struct {
	name string
	typ  byte
	link string
	data []byte
	pax  map[string]string
}

func readEntries(t testing.TB, data []byte) []tarEntry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{name: hdr.Name, typ: hdr.Typeflag, data: b})
	}
}

func writeEntries(t testing.TB, es []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.link, Mode: 0o644, PAXRecords: e.pax}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// resign replaces the manifest with raw, signed by s alone.
func resign(t testing.TB, es []tarEntry, raw []byte, s verify.Signer) []byte {
	t.Helper()
	sig, err := s.Sign(raw)
	if err != nil {
		t.Fatal(err)
	}
	out := []tarEntry{{name: bundle.ManifestPath, data: raw}, {name: sig.FileName(), data: sig.Data}}
	out = append(out, filterEntries(es[1:], func(e tarEntry) bool { return !isSignature(e.name) })...)
	return writeEntries(t, out)
}

func filterEntries(es []tarEntry, keep func(tarEntry) bool) []tarEntry {
	var out []tarEntry
	for _, e := range es {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

func clone(es []tarEntry) []tarEntry { return append([]tarEntry(nil), es...) }

func insert(es []tarEntry, i int, e tarEntry) []tarEntry {
	out := append(clone(es[:i]), e)
	return append(out, es[i:]...)
}

func isSignature(name string) bool { return len(name) > 11 && name[:11] == "signatures/" }

func firstBlob(t testing.TB, es []tarEntry) int {
	for i, e := range es {
		if len(e.name) > 13 && e.name[:13] == "blobs/sha256/" {
			return i
		}
	}
	t.Fatal("no blob entries")
	return 0
}

func signatureName(t testing.TB, es []tarEntry, n int) string {
	for _, e := range es {
		if isSignature(e.name) {
			if n == 0 {
				return e.name
			}
			n--
		}
	}
	t.Fatal("no signature entry")
	return ""
}

// flipIn flips one bit at offset off of the named entry's content.
func flipIn(t testing.TB, data []byte, name string, off int64) []byte {
	for _, s := range entrySpans(t, data) {
		if s.name == name {
			out := bytes.Clone(data)
			out[s.data+off] ^= 0x01
			return out
		}
	}
	t.Fatalf("no entry %s", name)
	return nil
}

type span struct {
	name               string
	header, data, size int64
}

// entrySpans locates every entry's header and content in the file.
func entrySpans(t testing.TB, data []byte) []span {
	t.Helper()
	cr := &countingReader{r: bytes.NewReader(data)}
	tr := tar.NewReader(cr)
	var out []span
	prevEnd := int64(0)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		dataStart := cr.n
		header := roundBlock(prevEnd)
		out = append(out, span{name: hdr.Name, header: header, data: dataStart, size: hdr.Size})
		if _, err := io.Copy(io.Discard, tr); err != nil {
			t.Fatal(err)
		}
		prevEnd = dataStart + hdr.Size
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

const blockSizeForTest = 512

func roundBlock(n int64) int64 { return (n + 511) / 512 * 512 }
