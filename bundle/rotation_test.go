package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"ferry/bundle"
	"ferry/fixtures"
	"ferry/verify"
)

// rotationKey is a key pair as a vendor keeps it: the public key's text
// (what a statement carries) and a signer.
type rotationKey struct {
	pub    []byte
	key    *verify.PublicKey
	signer verify.Signer
}

func newRotationKey(t testing.TB, typ verify.KeyType) rotationKey {
	t.Helper()
	pass := []byte("rotation test")
	priv, pub, err := verify.GenerateKey(typ, "Rotation <rotation@example.invalid>", pass)
	if err != nil {
		t.Fatal(err)
	}
	s, err := verify.LoadSigner(priv, pass)
	if err != nil {
		t.Fatal(err)
	}
	return rotationKey{pub: pub, key: s.Public(), signer: s}
}

func signRotation(t testing.TB, seq, threshold int, to []rotationKey, by ...rotationKey) []byte {
	t.Helper()
	var pubs [][]byte
	for _, k := range to {
		pubs = append(pubs, k.pub)
	}
	var signers []verify.Signer
	for _, k := range by {
		signers = append(signers, k.signer)
	}
	data, err := verify.SignRotation(seq, threshold, pubs, time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC), signers...)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func buildWithRotations(t testing.TB, dir string, signer verify.Signer, rotations ...[]byte) ([]byte, error) {
	t.Helper()
	p, err := fixtures.WriteProject(filepath.Join(dir, "project"), fixtures.ProjectOptions{FileSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := bundle.LoadSpec(p.SpecPath)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "app.ferry")
	if _, err := bundle.Build(context.Background(), out, bundle.BuildOptions{
		Spec: spec, Signers: []verify.Signer{signer}, Rotations: rotations, Created: time.Date(2027, 3, 2, 0, 0, 0, 0, time.UTC),
	}); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// TestRotationStatements: a bundle signed by today's key carries the
// statements that hand trust on to it from the key a host was given, two
// rotations back. Hosts anywhere on the chain accept it, each walking only
// the statements it has not applied; a host on another chain does not; a
// statement changed, dropped or misnamed is refused.
func TestRotationStatements(t *testing.T) {
	old := newRotationKey(t, verify.KeyECDSAP256)
	mid := newRotationKey(t, verify.KeyEd25519)
	next := newRotationKey(t, verify.KeyECDSAP256)
	other := newRotationKey(t, verify.KeyEd25519)
	rot1 := signRotation(t, 1, 1, []rotationKey{mid}, old)
	rot2 := signRotation(t, 2, 1, []rotationKey{next}, mid)

	data, err := buildWithRotations(t, t.TempDir(), next.signer, rot2, rot1) // given out of order
	if err != nil {
		t.Fatal(err)
	}
	at := func(seq int, keys ...rotationKey) verify.TrustSet {
		ts := verify.TrustSet{Sequence: seq}
		for _, k := range keys {
			ts.Keys = append(ts.Keys, k.key)
		}
		return ts
	}
	sequences := func(rs []*verify.Rotation) []int {
		var out []int
		for _, r := range rs {
			out = append(out, r.Sequence)
		}
		return out
	}
	for _, c := range []struct {
		name    string
		trust   verify.TrustSet
		applied []int
		seq     int
	}{
		{"a host given the first key", at(0, old), []int{1, 2}, 2},
		{"a host one rotation along", at(1, mid), []int{2}, 2},
		{"a host at the end of the chain", at(2, next), nil, 2},
		{"a host given today's key by hand", at(0, next), nil, 0},
	} {
		v, err := verifyBytes(data, c.trust, true)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := sequences(v.Rotations); !slices.Equal(got, c.applied) {
			t.Errorf("%s: applied statements %v, want %v", c.name, got, c.applied)
		}
		if v.Trust.Sequence != c.seq || len(v.SignedBy) != 1 || v.SignedBy[0] != next.key.ID() {
			t.Errorf("%s: verified at sequence %d, signed by %v", c.name, v.Trust.Sequence, v.SignedBy)
		}
		rd, err := bundle.Open(bytes.NewReader(data), c.trust)
		if err != nil {
			t.Fatalf("%s: Open: %v", c.name, err)
		}
		if got := sequences(rd.Rotations()); !slices.Equal(got, c.applied) || rd.Trust().Sequence != v.Trust.Sequence {
			t.Errorf("%s: the installing reader applied %v to sequence %d", c.name, got, rd.Trust().Sequence)
		}
	}

	_, err = verifyBytes(data, at(0, other), false)
	if !errors.Is(err, verify.ErrUntrustedKey) || !strings.Contains(err.Error(), "rotations/000001.json was not applied") {
		t.Errorf("a host on another chain: %v, want untrusted and the first statement named", err)
	}

	in, err := bundle.Inspect(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Rotations) != 2 || in.Rotations[0].Sequence != 1 || in.Rotations[1].KeyIDs[0] != next.key.ID() || in.Rotations[0].SignedBy[0] != old.key.ID() {
		t.Errorf("inspect: %+v", in.Rotations)
	}

	es := readEntries(t, data)
	idx := slices.IndexFunc(es, func(e tarEntry) bool { return e.name == "rotations/000001.json" })
	if idx < 0 || es[idx+1].name != "rotations/000002.json" {
		t.Fatalf("rotation entries not after the signatures: %v", names(es))
	}
	// Every byte of a statement is covered: its own signatures first, the
	// manifest's list of digests after.
	for i := 0; i < len(es[idx].data); i += 7 {
		bad := clone(es)
		b := bytes.Clone(bad[idx].data)
		b[i] ^= 0x01
		bad[idx].data = b
		if _, err := verifyBytes(writeEntries(t, bad), at(0, old), false); err == nil {
			t.Fatalf("statement 1 with byte %d changed was accepted", i)
		}
	}
	dropped := filterEntries(es, func(e tarEntry) bool { return e.name != "rotations/000001.json" })
	_, err = verifyBytes(writeEntries(t, dropped), at(1, mid), false)
	checkRefusal(t, err, bundle.ErrUnexpectedEntry, "rotations/")
	renamed := clone(es)
	renamed[idx].name = "rotations/000003.json"
	renamed[idx], renamed[idx+1] = renamed[idx+1], renamed[idx]
	_, err = verifyBytes(writeEntries(t, renamed), at(0, old), false)
	checkRefusal(t, err, verify.ErrRotation, "rotations/000003.json")
}

// TestRotationBuildRefusals: Build writes no bundle that a host walking its
// statements would refuse.
func TestRotationBuildRefusals(t *testing.T) {
	old := newRotationKey(t, verify.KeyEd25519)
	mid := newRotationKey(t, verify.KeyEd25519)
	next := newRotationKey(t, verify.KeyEd25519)
	rot1 := signRotation(t, 1, 1, []rotationKey{mid}, old)
	for _, c := range []struct {
		name      string
		signer    verify.Signer
		rotations [][]byte
	}{
		{"the second statement not signed by the first's keys", next.signer, [][]byte{rot1, signRotation(t, 2, 1, []rotationKey{next}, old)}},
		{"a gap in the sequence", next.signer, [][]byte{rot1, signRotation(t, 3, 1, []rotationKey{next}, mid)}},
		{"signed by a key the last statement does not name", old.signer, [][]byte{rot1}},
		{"a statement twice", mid.signer, [][]byte{rot1, rot1}},
	} {
		dir := t.TempDir()
		if _, err := buildWithRotations(t, dir, c.signer, c.rotations...); !errors.Is(err, bundle.ErrRotationChain) {
			t.Errorf("%s: %v, want ErrRotationChain", c.name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "app.ferry")); err == nil {
			t.Errorf("%s: a refused build left a bundle", c.name)
		}
	}
	if _, err := buildWithRotations(t, t.TempDir(), mid.signer, []byte("{}")); err == nil {
		t.Error("a malformed statement was carried")
	}
}

func names(es []tarEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.name)
	}
	return out
}
