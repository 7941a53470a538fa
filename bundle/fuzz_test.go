package bundle_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"ferry/bundle"
	"ferry/verify"
)

// FuzzParseManifest: any bytes either fail to parse or parse into a
// manifest whose canonical encoding is exactly those bytes.
func FuzzParseManifest(f *testing.F) {
	fx := fixture(f)
	raw := readEntries(f, fx.data)[0].data
	f.Add(raw)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"mediaType":"application/vnd.ferry.manifest.v1+json","schemaVersion":1}`))
	f.Add(bytes.Replace(raw, []byte(`"encoding":"raw"`), []byte(`"encoding":"gzip"`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := bundle.ParseManifest(data)
		if err != nil {
			return
		}
		again, err := m.Marshal()
		if err != nil {
			t.Fatalf("parsed manifest does not marshal: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted a non-canonical manifest")
		}
		if _, err := m.Order(); err != nil {
			t.Fatalf("accepted a manifest whose components cannot be ordered: %v", err)
		}
	})
}

// FuzzVerify feeds mutated bundles to the verifier and to the reader the
// installer uses: they must never panic or hang, must agree, and must accept
// only the original bytes (a mutation that verifies must leave every signed
// byte unchanged).
func FuzzVerify(f *testing.F) {
	fx := smallBundle(f)
	ts := trust(f, 2, 1)
	f.Add(fx.data[:1024], 0, byte(0))
	f.Add(fx.data, len(fx.data)/2, byte(1))
	f.Add(fx.data, 600, byte(0x80))
	f.Add([]byte{}, 0, byte(0))
	// The same bundle in the compressed form (FORMAT §1.1).
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		f.Fatal(err)
	}
	packed := enc.EncodeAll(fx.data, nil)
	enc.Close()
	f.Add(packed, len(packed)/2, byte(1))
	f.Add(packed, 6, byte(0x10))
	f.Add(packed[:len(packed)-3], 0, byte(0))
	// A bundle signed by a key the trust set reaches only through a
	// rotation statement signed by one of its keys (FORMAT §3.1).
	old, next := newRotationKey(f, verify.KeyEd25519), newRotationKey(f, verify.KeyEd25519)
	ts.Keys = append(ts.Keys, old.key)
	rotated, err := buildWithRotations(f, f.TempDir(), next.signer, signRotation(f, 1, 1, []rotationKey{next}, old))
	if err != nil {
		f.Fatal(err)
	}
	rotatedDigest := bundle.ManifestDigest(readEntries(f, rotated)[0].data)
	f.Add(rotated, 0, byte(0))
	f.Add(rotated, 1536, byte(0x04))
	f.Fuzz(func(t *testing.T, data []byte, pos int, flip byte) {
		if len(data) > 0 && pos >= 0 {
			data = bytes.Clone(data)
			data[pos%len(data)] ^= flip
		}
		_, _ = bundle.Inspect(bytes.NewReader(data))
		_, readErr := readAll(data, ts)
		v, err := bundle.Verify(context.Background(), bytes.NewReader(data), bundle.VerifyOptions{Trust: ts, Deep: true})
		if (err == nil) != (readErr == nil) {
			t.Fatalf("the verifier and the installing reader disagree: %v / %v", err, readErr)
		}
		if err != nil {
			return
		}
		if v.Digest != fx.res.Digest && v.Digest != rotatedDigest {
			t.Fatalf("accepted a bundle with another manifest (%s)", v.Digest)
		}
	})
}

// smallBundle is a bundle of a few kilobytes with every kind of entry
// except images, so that the fuzzer's mutations are cheap and dense.
func smallBundle(f testing.TB) *fixtureBundle {
	dir := f.TempDir()
	files := map[string]string{
		"ferry.yaml": `apiVersion: ferry/v1
kind: Bundle
metadata: {name: small, version: 1.0.0}
components:
  - name: db
    migrations: [{database: app, path: migrations}]
  - name: app
    dependsOn: [db]
    files:
      - {src: app.conf, dest: etc/app.conf}
      - {src: run.sh, dest: bin/run, mode: "0755"}
`,
		"migrations/001_init.up.sql":   "CREATE TABLE t (id INTEGER PRIMARY KEY);\n",
		"migrations/001_init.down.sql": "DROP TABLE t;\n",
		"app.conf":                     strings.Repeat("listen = 127.0.0.1:8080\nworkers = 4\n", 40),
		"run.sh":                       "#!/bin/sh\nexec sleep 1\n",
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	spec, err := bundle.LoadSpec(filepath.Join(dir, "ferry.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	out := filepath.Join(dir, "small.ferry")
	res, err := bundle.Build(context.Background(), out, bundle.BuildOptions{Spec: spec, Signers: keys(f).signers[:2]})
	if err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		f.Fatal(err)
	}
	return &fixtureBundle{dir: dir, path: out, data: data, res: res}
}
