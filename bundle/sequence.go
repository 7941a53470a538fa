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
// in canonical form, signatures against trust, and only then the manifest.
// Every reader of bundle content starts here.
func trustedHead(w *walker, trust verify.TrustSet) (*Head, *Manifest, []string, error) {
	head, err := readHead(w)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, sig := range head.Signatures {
		if err := sig.CheckCanonical(head.RawManifest); err != nil {
			return nil, nil, nil, newError(verify.ErrBadSignature, sig.FileName(), err)
		}
	}
	signedBy, err := trust.Verify(head.RawManifest, head.Signatures)
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := ParseManifest(head.RawManifest)
	if err != nil {
		return nil, nil, nil, err
	}
	return head, m, signedBy, nil
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
		if s.seen[hdr.Name] || hdr.Name == ManifestPath || strings.HasPrefix(hdr.Name, signatureDir) {
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
	if j, ok := expected[name]; ok {
		return newError(ErrMisorderedEntry, name, fmt.Errorf("listed at position %d, found at %d where %q belongs", j, i, want.Path))
	}
	return newError(ErrUnexpectedEntry, name, fmt.Errorf("not listed in the manifest (expected %q)", want.Path))
}
