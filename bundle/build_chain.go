package bundle

import (
	"fmt"
)

// chainBundle is one bundle of the chain that brought a host to the base
// release.
type chainBundle struct {
	path     string
	manifest *Manifest
	digest   string
}

// readChain reads the bundles before the base, oldest first, and checks
// that they are a chain: each update after the first applies to the
// release of the bundle before it. They are kept newest first, after the
// base, for contentEntry.
func (b *builder) readChain(paths []string) error {
	for i := len(paths) - 1; i >= 0; i-- {
		f, err := OpenArchive(paths[i])
		if err != nil {
			return fmt.Errorf("base bundle: %w", err)
		}
		in, err := Inspect(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("base bundle %s: %w", paths[i], err)
		}
		next := b.chain[len(b.chain)-1]
		if err := follows(next, in.Manifest, in.Digest); err != nil {
			return fmt.Errorf("base bundles: %s does not follow %s: %w", next.path, paths[i], err)
		}
		b.chain = append(b.chain, chainBundle{path: paths[i], manifest: in.Manifest, digest: in.Digest})
	}
	return nil
}

// follows checks that next, a bundle of the chain, updates the release of
// prev (manifest m, digest d), or is a full bundle of the same product.
func follows(next chainBundle, m *Manifest, d string) error {
	nm := next.manifest
	if nm.Name != m.Name {
		return fmt.Errorf("%s is not %s", m.Name, nm.Name)
	}
	if nm.Base == nil {
		return fmt.Errorf("%s %s is a full bundle: give it alone", nm.Name, nm.Version)
	}
	if nm.Base.Content != "" {
		c, err := m.ContentID()
		if err != nil {
			return err
		}
		if c != nm.Base.Content {
			return fmt.Errorf("%s %s updates release content %s, %s %s has %s", nm.Name, nm.Version, nm.Base.Content, m.Name, m.Version, c)
		}
		return nil
	}
	if nm.Base.Digest != d {
		return fmt.Errorf("%s %s updates bundle %s, this is %s", nm.Name, nm.Version, nm.Base.Digest, d)
	}
	return nil
}

// contentEntry finds the entry that carries content d whole (raw or
// compressed, not patched) in the bundles of the chain, newest first, and
// the bundle's path.
func (b *builder) contentEntry(d string) (Entry, string, error) {
	for _, c := range b.chain {
		e, err := patchableEntry(c.manifest, d)
		if err == nil {
			return e, c.path, nil
		}
	}
	return Entry{}, "", errNotPatchable
}
