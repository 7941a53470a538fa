package bundle_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ferry/bundle"
	"ferry/verify"
)

// releaseKey is a signing key with its public key file bytes, as
// `ferry installer build --key` reads them.
type releaseKey struct {
	signer verify.Signer
	pub    []byte
}

func newReleaseKey(t testing.TB) releaseKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := verify.NewSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	return releaseKey{signer: s, pub: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}
}

func (k releaseKey) trust(t testing.TB) verify.TrustSet {
	pk, err := verify.ParsePublicKey(k.pub)
	if err != nil {
		t.Fatal(err)
	}
	return verify.TrustSet{Keys: []*verify.PublicKey{pk}, Threshold: 1}
}

// signedBundle builds a small bundle signed by key and returns its bytes.
func signedBundle(t testing.TB, key releaseKey) []byte {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"ferry.yaml": `apiVersion: ferry/v1
kind: Bundle
metadata: {name: carried, version: 1.0.0}
components:
  - name: app
    files:
      - {src: app.conf, dest: etc/app.conf}
      - {src: data.bin, dest: share/data.bin}
`,
		"app.conf": strings.Repeat("listen = 127.0.0.1:8080\n", 50),
		"data.bin": string(randomBytes(t, 20<<10)),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := bundle.LoadSpec(filepath.Join(dir, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "carried.ferry")
	if _, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: spec, Signers: []verify.Signer{key.signer}}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeExecutable starts like an ELF binary; nothing runs it here (the
// command-line tests run real installers).
func fakeExecutable(t testing.TB) []byte {
	return append([]byte{0x7f, 'E', 'L', 'F'}, randomBytes(t, 40<<10)...)
}

// writeInstaller writes an installer of exe, keys and bundleData to a file.
func writeInstaller(t testing.TB, exe []byte, keys [][]byte, bundleData []byte) (string, *bundle.InstallerResult) {
	t.Helper()
	var buf bytes.Buffer
	res, err := bundle.WriteInstaller(context.Background(), &buf, bundle.InstallerOptions{
		Executable: bytes.NewReader(exe), Keys: keys, Bundle: bytes.NewReader(bundleData),
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "installer")
	if err := os.WriteFile(path, buf.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, res
}

func TestInstallerRoundTrip(t *testing.T) {
	key := newReleaseKey(t)
	other := newReleaseKey(t)
	data := signedBundle(t, key)
	exe := fakeExecutable(t)
	path, res := writeInstaller(t, exe, [][]byte{key.pub, other.pub}, data)

	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != int64(len(whole)) || res.KeysOffset != int64(len(exe)) || res.BundleLength != int64(len(data)) {
		t.Fatalf("result %+v for a %d-byte file", res.Trailer, len(whole))
	}
	if !bytes.Equal(whole[res.BundleOffset:res.BundleOffset+res.BundleLength], data) {
		t.Fatal("the bundle is not carried byte for byte")
	}

	a, err := bundle.OpenArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	p := a.Payload()
	if p == nil || len(p.Keys) != 2 || !bytes.Equal(p.Keys[0], key.pub) || !bytes.Equal(p.Keys[1], other.pub) {
		t.Fatalf("payload keys: %+v", p)
	}
	if p.ManifestDigest != res.Verified.Digest || a.Size() != int64(len(data)) {
		t.Fatalf("payload %s of %d bytes, want %s of %d", p.ManifestDigest, a.Size(), res.Verified.Digest, len(data))
	}
	if !strings.Contains(a.String(), "installer") {
		t.Errorf("description %q", a.String())
	}
	got, err := io.ReadAll(a)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("sequential read of the payload differs from the bundle (%v)", err)
	}
	mid := make([]byte, 1000)
	if _, err := a.ReadAt(mid, 5000); err != nil || !bytes.Equal(mid, data[5000:6000]) {
		t.Fatalf("ReadAt in the payload differs from the bundle (%v)", err)
	}

	v, err := bundle.VerifyFile(context.Background(), path, bundle.VerifyOptions{Trust: key.trust(t), Deep: true})
	if err != nil || v.Digest != res.Verified.Digest || v.Size != int64(len(data)) {
		t.Fatalf("verify from the installer: %v", err)
	}
	in, err := bundle.InspectFile(path)
	if err != nil || in.Digest != v.Digest {
		t.Fatalf("inspect from the installer: %v", err)
	}
	readAllEntries(t, path, key.trust(t))

	// An installer made from an installer carries only the executable part.
	ex, err := bundle.OpenExecutable(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	exeAgain, err := io.ReadAll(ex)
	if err != nil || !bytes.Equal(exeAgain, exe) {
		t.Fatalf("executable part of the installer: %d bytes, want %d (%v)", len(exeAgain), len(exe), err)
	}
}

// readAllEntries reads a bundle through the installing reader, as
// installer.Install does.
func readAllEntries(t *testing.T, path string, ts verify.TrustSet) {
	t.Helper()
	a, err := bundle.OpenArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r, err := bundle.Open(a, ts)
	if err != nil {
		t.Fatal(err)
	}
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.Content()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteInstallerRefuses(t *testing.T) {
	key, other := newReleaseKey(t), newReleaseKey(t)
	data := signedBundle(t, key)
	exe := fakeExecutable(t)
	cases := []struct {
		name string
		opts bundle.InstallerOptions
	}{
		{"keys that did not sign the bundle", bundle.InstallerOptions{Keys: [][]byte{other.pub}}},
		{"no key", bundle.InstallerOptions{}},
		{"not a key", bundle.InstallerOptions{Keys: [][]byte{[]byte("hello")}}},
		{"a damaged bundle", bundle.InstallerOptions{Keys: [][]byte{key.pub}, Bundle: bytes.NewReader(data[:len(data)-1024])}},
		{"an empty executable", bundle.InstallerOptions{Keys: [][]byte{key.pub}, Executable: bytes.NewReader(nil)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.opts.Bundle == nil {
				c.opts.Bundle = bytes.NewReader(data)
			}
			if c.opts.Executable == nil {
				c.opts.Executable = bytes.NewReader(exe)
			}
			if _, err := bundle.WriteInstaller(context.Background(), io.Discard, c.opts); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestOpenExecutableRefusesOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.OpenExecutable(path); err == nil {
		t.Fatal("a text file was accepted as an executable")
	}
}

// TestInstallerTamper changes bytes in every region of an installer. A
// change to the trailer, the keys or the bundle is refused before the
// bundle could be installed; the executable bytes are not covered (the
// installer file as a whole is checked out of band, see SECURITY.md).
func TestInstallerTamper(t *testing.T) {
	key := newReleaseKey(t)
	data := signedBundle(t, key)
	path, res := writeInstaller(t, fakeExecutable(t), [][]byte{key.pub}, data)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ts := key.trust(t)
	size := int64(len(orig))
	trailerAt := size - bundle.TrailerSize

	check := func(t *testing.T, off int64) error {
		t.Helper()
		changed := bytes.Clone(orig)
		changed[off] ^= 0x01
		if err := os.WriteFile(path, changed, 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := bundle.VerifyFile(context.Background(), path, bundle.VerifyOptions{Trust: ts})
		return err
	}

	t.Run("trailer", func(t *testing.T) {
		for off := trailerAt; off < size; off++ {
			err := check(t, off)
			if !errors.Is(err, bundle.ErrDamagedTrailer) && !errors.Is(err, bundle.ErrNotInstaller) {
				t.Fatalf("byte %d of the trailer: %v", off-trailerAt, err)
			}
		}
	})
	t.Run("keys", func(t *testing.T) {
		for off := res.KeysOffset; off < res.BundleOffset; off += 7 {
			if err := check(t, off); !errors.Is(err, bundle.ErrKeysMismatch) {
				t.Fatalf("byte %d of the keys block: %v", off-res.KeysOffset, err)
			}
		}
	})
	t.Run("bundle", func(t *testing.T) {
		for off := res.BundleOffset; off < trailerAt; off += 61 {
			if err := check(t, off); err == nil {
				t.Fatalf("byte %d of the bundle: accepted", off-res.BundleOffset)
			}
		}
		manifestByte := res.BundleOffset + 512 + 10
		if err := check(t, manifestByte); !errors.Is(err, bundle.ErrPayloadMismatch) {
			t.Fatalf("a manifest byte: %v", err)
		}
	})
	t.Run("executable", func(t *testing.T) {
		if err := check(t, 100); err != nil {
			t.Fatalf("the executable part is not covered by the trailer, but: %v", err)
		}
	})
	t.Run("length", func(t *testing.T) {
		for _, b := range [][]byte{orig[:size-1], append(bytes.Clone(orig), 0), orig[res.KeysOffset:]} {
			if err := os.WriteFile(path, b, 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := bundle.VerifyFile(context.Background(), path, bundle.VerifyOptions{Trust: ts}); err == nil {
				t.Fatalf("a %d-byte installer (from %d) was accepted", len(b), size)
			}
		}
	})
}

// TestInstallerKeysSwapped: an attacker who replaces the embedded keys and
// forges a consistent trailer still cannot make the bundle verify, because
// the bundle is signed by the release key; only a re-signed bundle would,
// and that is the whole-file rewrite SECURITY.md leaves to out-of-band
// checks of the installer file.
func TestInstallerKeysSwapped(t *testing.T) {
	key, attacker := newReleaseKey(t), newReleaseKey(t)
	path, _ := writeInstaller(t, fakeExecutable(t), [][]byte{key.pub}, signedBundle(t, key))
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Rebuild the tail with the attacker's key and a recomputed trailer.
	a, err := bundle.OpenArchive(path)
	if err != nil {
		t.Fatal(err)
	}
	p := *a.Payload()
	a.Close()
	forged := forgeKeys(t, orig, p, attacker.pub)
	if err := os.WriteFile(path, forged, 0o755); err != nil {
		t.Fatal(err)
	}
	a, err = bundle.OpenArchive(path)
	if err != nil {
		t.Fatalf("a consistent forged installer should open: %v", err)
	}
	keys := a.Payload().Keys
	a.Close()
	pk, err := verify.ParsePublicKey(keys[0])
	if err != nil {
		t.Fatal(err)
	}
	_, err = bundle.VerifyFile(context.Background(), path, bundle.VerifyOptions{Trust: verify.TrustSet{Keys: []*verify.PublicKey{pk}, Threshold: 1}})
	if !errors.Is(err, verify.ErrUntrustedKey) {
		t.Fatalf("the bundle verified with the attacker's embedded key: %v", err)
	}
}

// forgeKeys rewrites an installer with another keys block, written by
// hand in the documented format, and a trailer recomputed to match.
func forgeKeys(t *testing.T, orig []byte, p bundle.Payload, pub []byte) []byte {
	t.Helper()
	block, err := json.Marshal(map[string][][]byte{"keys": {pub}})
	if err != nil {
		t.Fatal(err)
	}
	out := append(bytes.Clone(orig[:p.KeysOffset]), block...)
	bundleAt := int64(len(out))
	out = append(out, orig[p.BundleOffset:p.BundleOffset+p.BundleLength]...)
	tr := bundle.Trailer{KeysOffset: p.KeysOffset, KeysLength: int64(len(block)), BundleOffset: bundleAt,
		BundleLength: p.BundleLength, KeysSHA256: sha256.Sum256(block), ManifestDigest: p.ManifestDigest}
	trailer, err := tr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return append(out, trailer...)
}
