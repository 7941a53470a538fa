package installer

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"ferry/bundle"
	"ferry/installer/state"
	"ferry/installer/store"
	"ferry/internal/oci"
)

// Update applies the update bundle at path: a newer full bundle, or one
// built against the release the host runs (--base), whose content the
// store must still hold. It is Install, except that the bundle already
// applied and current is refused (ErrReplay) rather than a no-op, so that
// a script learns that the update it meant to apply changed nothing.
func Update(ctx context.Context, path string, opts Options) (*Result, error) {
	return install(ctx, path, opts, admission{update: true})
}

// checkBase: an update bundle applies only to the release it names,
// installed and current, whose content is still in the store.
func checkBase(db *state.DB, root string, m *bundle.Manifest, current string) error {
	if m.Base == nil {
		return nil
	}
	if current == "" {
		return fmt.Errorf("%w: it updates %s (%s), and nothing is installed; install the full bundle", ErrWrongBase, m.Base.Version, m.Base.Digest)
	}
	rel, err := db.Release(current)
	if err != nil {
		return err
	}
	if err := sameBase(m.Base, current, rel); err != nil {
		return err
	}
	st, err := store.Open(filepath.Join(root, "store"), false)
	if err != nil {
		return err
	}
	for _, d := range m.BaseBlobs {
		has, err := st.Has(d)
		if err != nil {
			return err
		}
		if !has {
			return fmt.Errorf("%w: content %s of the base is missing from the store (ferry check says more)", ErrWrongBase, d)
		}
	}
	return nil
}

// sameBase checks that rel, the host's current release, is the base an
// update names: by content when the update names it (any bundle of that
// content may have brought the host there), and otherwise, for updates
// built before content identity, by the digest of the bundle installed.
func sameBase(base *bundle.Base, current string, rel state.Release) error {
	if base.Content == "" {
		if rel.ManifestDigest != base.Digest {
			return fmt.Errorf("%w: it updates %s (bundle %s), this host runs %s (bundle %s)", ErrWrongBase, base.Version, base.Digest, current, rel.ManifestDigest)
		}
		return nil
	}
	m, err := bundle.ParseManifest(rel.Manifest)
	if err != nil {
		return fmt.Errorf("the manifest of release %s in the state: %w", current, err)
	}
	content, err := m.ContentID()
	if err != nil {
		return err
	}
	if content != base.Content {
		return fmt.Errorf("%w: it updates %s (content %s), this host runs %s (content %s)", ErrWrongBase, base.Version, base.Content, current, content)
	}
	return nil
}

// openBaseContent opens the store blob a patch applies to and re-hashes
// it, streaming, before any patching: the store may have been changed on
// disk since the blob was stored. The patch reader then reads it at
// offsets; the patched content is checked against its own digest, so a
// blob that changes after this check is refused too.
func openBaseContent(st *store.Store, d string) (bundle.PatchBaseContent, error) {
	f, err := st.Open(d)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, fi.Size()), make([]byte, 1<<20)); err != nil {
		f.Close()
		return nil, fmt.Errorf("the store's copy of %s: %w", d, err)
	}
	if oci.FromHash(h).String() != d {
		f.Close()
		return nil, fmt.Errorf("%w: the store's copy of %s is damaged (ferry check lists it)", ErrWrongBase, d)
	}
	return &storeBlob{File: f, size: fi.Size()}, nil
}

// storeBlob is a store blob open for reading at offsets, with its size.
type storeBlob struct {
	*os.File
	size int64
}

func (b *storeBlob) Size() int64 { return b.size }
