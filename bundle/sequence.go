package bundle

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"strings"

	"ferry/verify"
)

// trustedHead reads the head of a bundle and checks it: signature entries
// in canonical form, the rotation statements walked from trust (which may
// move trust on to the keys that sign today), enough valid signatures of
// the resulting set, the manifest, and that the manifest lists exactly the
// statements carried. It returns the trust set the bundle verified against
// and the statements applied to reach it.
func trustedHead(w *walker, trust verify.TrustSet) (*trustedBundleHead, error) {
	head, err := readHead(w)
	if err != nil {
		return nil, err
	}
	for _, sig := range head.Signatures {
		if err := sig.CheckCanonical(head.RawManifest); err != nil {
			return nil, newError(verify.ErrBadSignature, sig.FileName(), err)
		}
	}
	walk, err := walkRotations(head, trust)
	if err != nil {
		return nil, err
	}
	signedBy, err := walk.trust.Verify(head.RawManifest, head.Signatures)
	if err != nil {
		if walk.stopped != nil {
			// The signature's error is the failure; why the walk
			// stopped is context, kept out of the chain so that a
			// rotation error in it cannot change the exit code.
			return nil, fmt.Errorf("%w (%v)", err, walk.stopped) //nolint:errorlint // see above
		}
		return nil, err
	}
	m, err := ParseManifest(head.RawManifest)
	if err != nil {
		return nil, err
	}
	if err := checkRotationList(m, head); err != nil {
		return nil, err
	}
	return &trustedBundleHead{Head: head, manifest: m, signedBy: signedBy, trust: walk.trust, rotations: walk.applied}, nil
}

// trustedBundleHead is a head whose signatures verified.
type trustedBundleHead struct {
	*Head
	manifest  *Manifest
	signedBy  []string
	trust     verify.TrustSet
	rotations []*verify.Rotation
}

// walkRotations applies the head's rotation statements to trust, in
// sequence order, as far as they go: each must be signed by the set before
// it. A statement that is not (another product's keys, a chain that starts
// after the host's place in it) ends the walk without failing it; the
// manifest's signatures decide, and the reason is returned to explain a
// refusal. A statement that is malformed, misnamed, or that names a
// trusted key whose signature does not verify fails at once: it was
// tampered with.
func walkRotations(head *Head, trust verify.TrustSet) (rotationWalk, error) {
	walk := rotationWalk{trust: trust}
	for i, data := range head.Rotations {
		r, err := verify.ParseRotation(data)
		if err != nil {
			return rotationWalk{}, newError(verify.ErrRotation, head.RotationNames[i], err)
		}
		if want := RotationEntryPath(r.Sequence); head.RotationNames[i] != want {
			return rotationWalk{}, newError(verify.ErrRotation, head.RotationNames[i], fmt.Errorf("the statement has sequence %d: its entry is %s", r.Sequence, want))
		}
	}
	for i, data := range head.Rotations {
		next, step, err := verify.WalkRotations(walk.trust, [][]byte{data})
		switch {
		case errors.Is(err, verify.ErrBadSignature):
			return rotationWalk{}, newError(verify.ErrRotation, head.RotationNames[i], err)
		case err != nil:
			walk.stopped = fmt.Errorf("rotation statement %s was not applied: %w", head.RotationNames[i], err)
			return walk, nil
		}
		walk.trust, walk.applied = next, append(walk.applied, step...)
	}
	return walk, nil
}

// rotationWalk is how far a bundle's rotation statements took trust: the
// resulting set, the statements applied, and why the walk stopped short,
// if it did.
type rotationWalk struct {
	trust   verify.TrustSet
	applied []*verify.Rotation
	stopped error
}

// checkRotationList requires the signed manifest to list exactly the
// statements the head carries, in order.
func checkRotationList(m *Manifest, head *Head) error {
	if len(m.Rotations) != len(head.Rotations) {
		return newError(ErrUnexpectedEntry, rotationDir, fmt.Errorf("the bundle carries %d rotation statements, the manifest lists %d", len(head.Rotations), len(m.Rotations)))
	}
	for i, data := range head.Rotations {
		if got := digestBytes(data); got != m.Rotations[i] {
			return newError(ErrDigestMismatch, head.RotationNames[i], fmt.Errorf("sha256 %s, the manifest lists %s", got, m.Rotations[i]))
		}
	}
	return nil
}

// sequence walks the content entries of a bundle in manifest order. It is
// the one place that decides which entry comes next and, when another one
// is found, says precisely what is wrong.
type sequence struct {
	w        *walker
	m        *Manifest
	pending  *tar.Header // the first content header, read with the head
	index    int         // position of the entry last returned
	expected map[string]int
	seen     map[string]bool
}

func newSequence(w *walker, m *Manifest, first *tar.Header) *sequence {
	s := &sequence{w: w, m: m, pending: first, index: -1,
		expected: make(map[string]int, len(m.Entries)), seen: make(map[string]bool, len(m.Entries))}
	for i, e := range m.Entries {
		s.expected[e.Path] = i
	}
	return s
}

// next moves to the next entry and returns it, its header checked against
// the manifest (name, place, size). After the last entry it checks that
// the archive ends properly and returns io.EOF. Errors concern position
// s.index.
func (s *sequence) next() (Entry, error) {
	s.index++
	hdr := s.pending
	s.pending = nil
	if hdr == nil {
		h, err := s.w.next()
		if errors.Is(err, io.EOF) {
			if s.index < len(s.m.Entries) {
				return Entry{}, newError(ErrMissingEntry, s.m.Entries[s.index].Path, nil)
			}
			return Entry{}, io.EOF
		}
		if err != nil {
			return Entry{}, err
		}
		hdr = h
	}
	if s.index >= len(s.m.Entries) {
		if s.seen[hdr.Name] || hdr.Name == ManifestPath || strings.HasPrefix(hdr.Name, signatureDir) || strings.HasPrefix(hdr.Name, rotationDir) {
			return Entry{}, newError(ErrDuplicateEntry, hdr.Name, nil)
		}
		return Entry{}, newError(ErrUnexpectedEntry, hdr.Name, fmt.Errorf("not listed in the manifest"))
	}
	want := s.m.Entries[s.index]
	if err := placeEntry(hdr.Name, s.index, want, s.expected, s.seen); err != nil {
		return Entry{}, err
	}
	s.seen[hdr.Name] = true
	if hdr.Size != want.StoredSize {
		return Entry{}, newError(ErrSizeMismatch, hdr.Name, fmt.Errorf("tar header says %d bytes, the manifest %d", hdr.Size, want.StoredSize))
	}
	return want, nil
}

// placeEntry checks that the entry found is the one the manifest expects at
// position i, and says precisely what is wrong when it is not.
func placeEntry(name string, i int, want Entry, expected map[string]int, seen map[string]bool) error {
	if name == want.Path {
		return nil
	}
	if seen[name] || name == ManifestPath {
		return newError(ErrDuplicateEntry, name, nil)
	}
	if strings.HasPrefix(name, signatureDir) {
		return newError(ErrMisorderedEntry, name, fmt.Errorf("signatures must directly follow %s", ManifestPath))
	}
	if strings.HasPrefix(name, rotationDir) {
		return newError(ErrMisorderedEntry, name, fmt.Errorf("rotation statements must directly follow the signatures"))
	}
	if j, ok := expected[name]; ok {
		return newError(ErrMisorderedEntry, name, fmt.Errorf("listed at position %d, found at %d where %q belongs", j, i, want.Path))
	}
	return newError(ErrUnexpectedEntry, name, fmt.Errorf("not listed in the manifest (expected %q)", want.Path))
}
