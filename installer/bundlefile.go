package installer

import (
	"ferry/bundle"
	"ferry/verify"
)

// bundleReader is a bundle file (plain, in an installer or in parts)
// opened for a verified read.
type bundleReader struct {
	*bundle.Reader
	f *bundle.Archive
}

func openBundle(path string, trust verify.TrustSet) (*bundleReader, error) {
	f, err := bundle.OpenArchive(path)
	if err != nil {
		return nil, err
	}
	r, err := bundle.Open(f, trust)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &bundleReader{Reader: r, f: f}, nil
}

func (b *bundleReader) close() { b.f.Close() }
