package registry

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"ferry/internal/oci"
)

// maxIndexDepth bounds how deep indexes may nest. Content addressing rules
// out cycles, but not a long chain built to make the registry work hard.
const maxIndexDepth = 8

// snapshot is what one version of index.json makes available: the
// repositories and, for each, what a client may read from it. It is built
// once per version and never changed, so requests share it without locking.
type snapshot struct {
	repos map[string]*repository
	names []string // sorted, for the catalog
}

// repository is everything reachable from the images named after one
// repository path.
type repository struct {
	tags      map[string]string       // tag to manifest digest
	tagNames  []string                // sorted, for the tag list
	manifests map[string]string       // manifest or index digest to media type
	blobs     map[string]bool         // digests readable through the blobs endpoint
	referrers map[string][]descriptor // subject digest to manifests naming it
}

// loadedManifest is one manifest read from the store, shared by every
// repository that reaches it.
type loadedManifest struct {
	desc descriptor // media type from the content, size from the file
	m    *manifest
}

// snapshotBuilder reads each manifest at most once while a snapshot is built.
type snapshotBuilder struct {
	blobDir string
	log     *slog.Logger
	loaded  map[string]*loadedManifest // nil for a manifest that could not be used
}

func buildSnapshot(blobDir string, indexJSON []byte, log *slog.Logger) (*snapshot, error) {
	var top manifest
	if err := json.Unmarshal(indexJSON, &top); err != nil {
		return nil, fmt.Errorf("not an OCI image index: %w", err)
	}
	b := &snapshotBuilder{blobDir: blobDir, log: log, loaded: map[string]*loadedManifest{}}
	snap := &snapshot{repos: map[string]*repository{}}
	for _, d := range top.Manifests {
		refName := d.Annotations[oci.RefNameAnnotation]
		rn, err := oci.ParseRefName(refName)
		if err != nil {
			log.Warn("content store: image without a usable name is not served",
				"digest", d.Digest, "annotation", oci.RefNameAnnotation, "value", refName)
			continue
		}
		name, tag := rn.Repository, rn.Tag
		if parseDigest(d.Digest) != digestSHA256 {
			log.Warn("content store: image with an invalid digest is not served", "image", refName, "digest", d.Digest)
			continue
		}
		repo := snap.repos[name]
		if repo == nil {
			repo = &repository{
				tags:      map[string]string{},
				manifests: map[string]string{},
				blobs:     map[string]bool{},
				referrers: map[string][]descriptor{},
			}
			snap.repos[name] = repo
		}
		if !b.add(repo, d, 0) {
			log.Warn("content store: image manifest is missing or unreadable; the image is not served", "image", refName, "digest", d.Digest)
			continue
		}
		if tag != "" {
			if old, ok := repo.tags[tag]; ok && old != d.Digest {
				// The writer replaces an entry rather than adding a second
				// one, so this is a damaged index; the later entry wins, as
				// it would have been written last.
				log.Warn("content store: tag appears twice; serving the later entry", "image", refName, "digest", d.Digest, "earlier", old)
			}
			repo.tags[tag] = d.Digest
		}
	}
	for name, repo := range snap.repos {
		if len(repo.manifests) == 0 {
			delete(snap.repos, name) // every image of it was unreadable
			continue
		}
		snap.names = append(snap.names, name)
		for tag := range repo.tags {
			repo.tagNames = append(repo.tagNames, tag)
		}
		sort.Strings(repo.tagNames)
		for _, refs := range repo.referrers {
			slices.SortFunc(refs, func(a, b descriptor) int { return cmp.Compare(a.Digest, b.Digest) })
		}
	}
	sort.Strings(snap.names)
	return snap, nil
}

// add makes the manifest or index d, and everything it references, readable
// through repo. It reports whether d itself could be read.
func (b *snapshotBuilder) add(repo *repository, d descriptor, depth int) bool {
	if _, ok := repo.manifests[d.Digest]; ok {
		return true
	}
	lm := b.load(d)
	if lm == nil {
		return false
	}
	m := lm.m
	repo.manifests[d.Digest] = lm.desc.MediaType
	repo.blobs[d.Digest] = true
	if m.Subject != nil && parseDigest(m.Subject.Digest) == digestSHA256 {
		ref := lm.desc
		ref.ArtifactType = m.ArtifactType
		if ref.ArtifactType == "" && !isIndexMediaType(ref.MediaType) && m.Config != nil {
			// The specification's rule for images without an artifactType.
			ref.ArtifactType = m.Config.MediaType
		}
		ref.Annotations = m.Annotations
		repo.referrers[m.Subject.Digest] = append(repo.referrers[m.Subject.Digest], ref)
	}
	if isIndexMediaType(lm.desc.MediaType) {
		if depth >= maxIndexDepth {
			b.log.Warn("content store: indexes nested too deeply; deeper manifests are not served", "digest", d.Digest)
			return true
		}
		for _, child := range m.Manifests {
			if parseDigest(child.Digest) != digestSHA256 {
				continue
			}
			// An index may list platforms the bundle did not carry (a
			// bundle keeps only the platforms its spec names), so a missing
			// child is expected and only worth a debug line.
			if !b.add(repo, child, depth+1) {
				b.log.Debug("content store: index entry not in the store", "index", d.Digest, "digest", child.Digest)
			}
		}
		return true
	}
	if m.Config != nil && parseDigest(m.Config.Digest) == digestSHA256 {
		repo.blobs[m.Config.Digest] = true
	}
	for _, l := range m.Layers {
		if parseDigest(l.Digest) == digestSHA256 {
			repo.blobs[l.Digest] = true
		}
	}
	return true
}

// load reads and parses the manifest d names, checking its digest: a
// manifest decides which blobs a repository exposes, so a damaged one must
// not be believed. It returns nil, and remembers that, if the manifest is
// missing, too large, damaged or not a manifest.
func (b *snapshotBuilder) load(d descriptor) *loadedManifest {
	if lm, ok := b.loaded[d.Digest]; ok {
		return lm
	}
	lm, err := b.read(d)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		b.log.Warn("content store: manifest not served", "digest", d.Digest, "err", err)
	}
	b.loaded[d.Digest] = lm
	return lm
}

func (b *snapshotBuilder) read(d descriptor) (*loadedManifest, error) {
	f, err := os.Open(filepath.Join(b.blobDir, oci.Digest(d.Digest).Hex()))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxManifestSize {
		return nil, fmt.Errorf("larger than %d bytes", maxManifestSize)
	}
	if got := oci.FromBytes(data); got.String() != d.Digest {
		return nil, fmt.Errorf("content has digest %s", got)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not a manifest: %w", err)
	}
	// The media type inside the content is what the digest covers, so it
	// wins over the one in the referring descriptor; old Docker manifests
	// lack it, and then the descriptor's is all there is.
	mt := m.MediaType
	if mt == "" {
		mt = d.MediaType
	}
	if mt == "" {
		switch {
		case m.Manifests != nil && m.Config == nil:
			mt = mediaTypeOCIIndex
		default:
			mt = mediaTypeOCIManifest
		}
	}
	if !isIndexMediaType(mt) && !isManifestMediaType(mt) {
		return nil, fmt.Errorf("media type %q is not a manifest or an index", mt)
	}
	return &loadedManifest{
		desc: descriptor{MediaType: mt, Digest: d.Digest, Size: int64(len(data))},
		m:    &m,
	}, nil
}
