package installer

import (
	"os"

	"ferry/bundle"
	"ferry/verify"
)

// bundleReader is a bundle file opened for a verified read.
type bundleReader struct {
	*bundle.Reader
	f *os.File
}

func openBundle(path string, trust verify.TrustSet) (*bundleReader, error) {
	f, err := os.Open(path)
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
