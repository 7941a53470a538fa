package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/Masterminds/semver/v3"

	"ferry/bundle/spec"
	"ferry/internal/oci"
	"ferry/internal/strictjson"
	"ferry/verify"
)

// Format constants of bundle format v1 (docs/FORMAT.md).
const (
	ManifestMediaType = "application/vnd.ferry.manifest.v1+json"
	ManifestPath      = "manifest.json"
	LayoutPath        = "oci-layout"
	IndexPath         = "index.json"
	BlobDir           = "blobs/sha256/"
	ZstdSuffix        = ".zst"

	EncodingRaw       = "raw"
	EncodingZstd      = "zstd"
	EncodingZstdPatch = "zstd-patch"
	PatchSuffix       = ".patch.zst"
	// EncodingZstdPatchSeg is a segmented patch, for large files: see
	// patch_seg.go and docs/FORMAT.md.
	EncodingZstdPatchSeg = "zstd-patch-seg"
	PatchSegSuffix       = ".patch-seg.zst"
)

// Hard caps applied before any signature is checked, so that a hostile
// bundle cannot make ferry read or allocate without bound.
const (
	MaxManifestSize = 16 << 20
	MaxSignatures   = 32
	MaxEntries      = 1 << 20
	MaxBlobSize     = 1 << 42 // 4 TiB: larger sizes are certainly hostile
)

// Manifest is the signed table of contents of a bundle. Its canonical JSON
// encoding is what signatures cover; its SHA-256 is the bundle's identity.
type Manifest struct {
	MediaType     string     `json:"mediaType"`
	SchemaVersion int        `json:"schemaVersion"`
	Name          string     `json:"name"`
	Version       string     `json:"version"`
	Vendor        string     `json:"vendor,omitempty"`
	Created       time.Time  `json:"created"`
	Expires       *time.Time `json:"expires,omitempty"`
	Base          *Base      `json:"base,omitempty"`
	License       *License   `json:"license,omitempty"`
	// Variables are the bundle's site settings (spec.Variable); the
	// values a site gives them are checked against these on the host.
	Variables  []spec.Variable `json:"variables,omitempty"`
	Components []Component     `json:"components"`
	// Entries lists every tar entry that follows the signatures, in the
	// exact order in which they appear.
	Entries []Entry `json:"entries"`
	// BaseBlobs are the content digests, sorted, that an update bundle
	// does not carry because its base has them: the host must already hold
	// them, from installing the base.
	BaseBlobs []string `json:"baseBlobs,omitempty"`
	// Rotations are the SHA-256 digests of the key rotation statements
	// the bundle carries (docs/FORMAT.md section 3.1), in the order of
	// their entries: the statements a host walks are exactly those the
	// release was signed with.
	Rotations []string `json:"rotations,omitempty"`
}

// License is the bundle's licence policy: whether a licence is required,
// and the public keys (PEM or armored OpenPGP text) whose signatures a
// licence for this bundle must carry.
type License struct {
	Required bool     `json:"required,omitempty"`
	Keys     []string `json:"keys"`
}

// Base names the release an update applies to: the bundle it was built
// from, by manifest digest, and, in updates built since content identity,
// the release's content (Manifest.ContentID), which is what a host checks
// when it is set: any bundle of that content may have brought the host
// there. An update without Content applies only on a host that installed
// the bundle of Digest.
type Base struct {
	Digest  string `json:"digest"`
	Version string `json:"version"`
	Content string `json:"content,omitempty"`
}

// Component is one installable unit with its content, by digest.
type Component struct {
	Name       string         `json:"name"`
	DependsOn  []string       `json:"dependsOn,omitempty"`
	Optional   bool           `json:"optional,omitempty"`
	Images     []Image        `json:"images,omitempty"`
	Migrations []MigrationSet `json:"migrations,omitempty"`
	Files      []File         `json:"files,omitempty"`
	Charts     []Chart        `json:"charts,omitempty"`
	Services   []spec.Service `json:"services,omitempty"`
	Checks     []spec.Check   `json:"checks,omitempty"`
}

// Image is an image in the bundle's OCI layout, served under Name.
type Image struct {
	Name         string   `json:"name"`
	Source       string   `json:"source"`
	Digest       string   `json:"digest"`
	MediaType    string   `json:"mediaType"`
	Size         int64    `json:"size"`
	SourceDigest string   `json:"sourceDigest,omitempty"`
	Platforms    []string `json:"platforms,omitempty"`
	// Blobs are the digests of every blob of the image (indexes,
	// manifests, configs, layers), sorted, so that what belongs to an
	// image is known from the manifest alone.
	Blobs []string `json:"blobs"`
}

// MigrationSet is the ordered migrations of one logical database.
type MigrationSet struct {
	Database string      `json:"database"`
	Steps    []Migration `json:"steps"`
}

// Migration is one numbered migration; Up and Down are blob digests.
type Migration struct {
	Version int    `json:"version"`
	Name    string `json:"name"`
	Up      string `json:"up"`
	Down    string `json:"down,omitempty"`
}

// File is one file of the release directory.
type File struct {
	Dest   string `json:"dest"`
	Mode   string `json:"mode"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	// Template marks a text/template the install renders with the site's
	// values; Digest is the template's, the rendered file's is recorded
	// in the state when it is rendered.
	Template bool `json:"template,omitempty"`
}

// Chart is a packaged Helm chart, the digests of its values files in the
// order they apply, and how it is installed. Namespace, Release and
// Timeout are absent in manifests made before they existed, and when the
// spec leaves them to their defaults (see ReleaseName and InstallTimeout).
type Chart struct {
	Name       string          `json:"name"`
	Version    string          `json:"version"`
	AppVersion string          `json:"appVersion,omitempty"`
	Digest     string          `json:"digest"`
	Values     spec.ValueFiles `json:"values,omitempty"`
	Namespace  string          `json:"namespace,omitempty"`
	Release    string          `json:"release,omitempty"`
	Timeout    spec.Duration   `json:"timeout,omitempty"`
}

// ReleaseName is the Helm release the chart is installed as: Release, or
// the chart's name.
func (c Chart) ReleaseName() string {
	if c.Release != "" {
		return c.Release
	}
	return c.Name
}

// InstallTimeout bounds the chart's install or upgrade and its wait:
// Timeout, or spec.DefaultChartTimeout.
func (c Chart) InstallTimeout() time.Duration {
	if c.Timeout > 0 {
		return time.Duration(c.Timeout)
	}
	return time.Duration(spec.DefaultChartTimeout)
}

// Entry is one tar entry after the signatures. Digest and Size describe the
// content; StoredDigest and StoredSize the bytes in the tar, which differ
// only when Encoding is zstd.
type Entry struct {
	Path         string `json:"path"`
	Digest       string `json:"digest"`
	Size         int64  `json:"size"`
	Encoding     string `json:"encoding"`
	StoredDigest string `json:"storedDigest"`
	StoredSize   int64  `json:"storedSize"`
	// PatchBase is, for a zstd-patch or zstd-patch-seg entry, the digest
	// of the content the patch applies to: one of the manifest's baseBlobs.
	PatchBase string `json:"patchBase,omitempty"`
}

// Marshal returns the canonical encoding of m: compact JSON with fields in
// declaration order. ParseManifest accepts only bytes that re-encode to
// themselves, so one manifest has exactly one byte form.
func (m *Manifest) Marshal() ([]byte, error) { return strictjson.MarshalCanonical(m) }

// ManifestDigest returns the manifest's identity: the digest of its
// canonical bytes.
func ManifestDigest(raw []byte) string { return digestBytes(raw) }

// digestBytes is the "sha256:<hex>" digest of b, the form every digest in
// a bundle takes.
func digestBytes(b []byte) string { return oci.FromBytes(b).String() }

// ParseManifest decodes and checks a manifest. It must only be called on
// bytes whose signatures have been verified, or for display.
func ParseManifest(raw []byte) (*Manifest, error) {
	if len(raw) > MaxManifestSize {
		return nil, newError(ErrTooLarge, ManifestPath, fmt.Errorf("%d bytes, more than the %d allowed", len(raw), MaxManifestSize))
	}
	if err := checkFormatVersion(raw); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, newError(ErrMalformedManifest, ManifestPath, err)
	}
	if dec.More() {
		return nil, newError(ErrMalformedManifest, ManifestPath, fmt.Errorf("data after the JSON object"))
	}
	canon, err := m.Marshal()
	if err != nil {
		return nil, newError(ErrMalformedManifest, ManifestPath, err)
	}
	if !bytes.Equal(canon, raw) {
		return nil, newError(ErrMalformedManifest, ManifestPath, fmt.Errorf("not in canonical form (compact JSON, fields in order, no duplicates)"))
	}
	if err := m.check(); err != nil {
		return nil, newError(ErrMalformedManifest, ManifestPath, err)
	}
	return &m, nil
}

// SchemaVersion is the manifest schema this ferry writes and the newest
// it reads (docs/FORMAT.md, "Format versions").
const SchemaVersion = 1

// checkFormatVersion reads only the manifest's mediaType and
// schemaVersion, leniently, before the strict decoding: a manifest of a
// newer format holds members this ferry does not know, and the strict
// decoder would call it malformed ("unknown field") instead of saying
// that ferry must be upgraded.
func checkFormatVersion(raw []byte) error {
	var v struct {
		MediaType     string `json:"mediaType"`
		SchemaVersion int    `json:"schemaVersion"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return nil // the strict decoding says what is wrong
	}
	if v.SchemaVersion > SchemaVersion {
		return newError(ErrNewerFormat, ManifestPath, fmt.Errorf("schemaVersion %d (%s), and this ferry reads up to %d: upgrade ferry on this host", v.SchemaVersion, v.MediaType, SchemaVersion))
	}
	return nil
}

// EntryByDigest returns the entry holding the content with digest d.
func (m *Manifest) EntryByDigest(d string) (Entry, bool) {
	for _, e := range m.Entries {
		if e.Digest == d && e.Path != IndexPath && e.Path != LayoutPath {
			return e, true
		}
	}
	return Entry{}, false
}

// IsPatch reports whether entries of encoding enc are patches, which
// decode only against their base content.
func IsPatch(enc string) bool { return enc == EncodingZstdPatch || enc == EncodingZstdPatchSeg }

// BlobEntryPath is the tar path of a blob with content digest d stored with
// encoding enc.
func BlobEntryPath(d, enc string) string {
	p := BlobDir + oci.Digest(d).Hex()
	switch enc {
	case EncodingZstd:
		p += ZstdSuffix
	case EncodingZstdPatch:
		p += PatchSuffix
	case EncodingZstdPatchSeg:
		p += PatchSegSuffix
	}
	return p
}

// check enforces the structural rules of docs/FORMAT.md that the type
// system does not: known values, consistent entries, references that
// resolve, dependencies that exist and do not cycle.
func (m *Manifest) check() error {
	if m.MediaType != ManifestMediaType {
		return fmt.Errorf("mediaType %q, want %q", m.MediaType, ManifestMediaType)
	}
	if m.SchemaVersion != SchemaVersion {
		return fmt.Errorf("schemaVersion %d is not supported (this ferry reads %d)", m.SchemaVersion, SchemaVersion)
	}
	if !validName(m.Name) {
		return fmt.Errorf("name %q is not a valid bundle name", m.Name)
	}
	if _, err := semver.StrictNewVersion(m.Version); err != nil {
		return fmt.Errorf("version %q: %w", m.Version, err)
	}
	if m.Base != nil && (!oci.ValidDigest(m.Base.Digest) || m.Base.Version == "") {
		return fmt.Errorf("base: digest %q and version %q must both be set", m.Base.Digest, m.Base.Version)
	}
	if m.Base != nil && m.Base.Content != "" && !oci.ValidDigest(m.Base.Content) {
		return fmt.Errorf("base: content %q is not a digest", m.Base.Content)
	}
	if m.Base == nil && len(m.BaseBlobs) > 0 {
		return fmt.Errorf("baseBlobs without a base")
	}
	if m.Base != nil {
		bv, err := semver.StrictNewVersion(m.Base.Version)
		if err != nil {
			return fmt.Errorf("base version %q: %w", m.Base.Version, err)
		}
		if v, _ := semver.StrictNewVersion(m.Version); !v.GreaterThan(bv) {
			return fmt.Errorf("version %s is not newer than its base %s", m.Version, m.Base.Version)
		}
	}
	if l := m.License; l != nil {
		if len(l.Keys) == 0 || len(l.Keys) > spec.MaxLicenseKeys {
			return fmt.Errorf("license: %d keys; want 1 to %d", len(l.Keys), spec.MaxLicenseKeys)
		}
		for i, k := range l.Keys {
			if len(k) > spec.MaxLicenseKeySize {
				return fmt.Errorf("license key %d: %d bytes, more than the %d allowed", i, len(k), spec.MaxLicenseKeySize)
			}
			if _, err := verify.ParsePublicKey([]byte(k)); err != nil {
				return fmt.Errorf("license key %d: %w", i, err)
			}
		}
	}
	if err := spec.CheckVariables(m.Variables); err != nil {
		return fmt.Errorf("variables: %w", err)
	}
	if len(m.Entries) > MaxEntries {
		return fmt.Errorf("%d entries, more than the %d allowed", len(m.Entries), MaxEntries)
	}
	blobs := make(map[string]bool, len(m.Entries))
	paths := make(map[string]bool, len(m.Entries))
	hasLayout, hasIndex := false, false
	for i, e := range m.Entries {
		if paths[e.Path] {
			return fmt.Errorf("entries[%d]: path %q listed twice", i, e.Path)
		}
		paths[e.Path] = true
		if !oci.ValidDigest(e.Digest) || !oci.ValidDigest(e.StoredDigest) {
			return fmt.Errorf("entries[%d] %q: digests must be sha256:<64 hex>", i, e.Path)
		}
		if e.Size < 0 || e.StoredSize < 0 || e.Size > MaxBlobSize || e.StoredSize > MaxBlobSize {
			return fmt.Errorf("entries[%d] %q: size out of range", i, e.Path)
		}
		switch e.Encoding {
		case EncodingRaw:
			if e.StoredDigest != e.Digest || e.StoredSize != e.Size {
				return fmt.Errorf("entries[%d] %q: a raw entry's stored digest and size must equal its content's", i, e.Path)
			}
		case EncodingZstd:
		case EncodingZstdPatch, EncodingZstdPatchSeg:
			if !oci.ValidDigest(e.PatchBase) {
				return fmt.Errorf("entries[%d] %q: a patch names its base content", i, e.Path)
			}
		default:
			return fmt.Errorf("entries[%d] %q: unknown encoding %q", i, e.Path, e.Encoding)
		}
		switch e.Path {
		case LayoutPath:
			hasLayout = true
			if i != 0 || e.Encoding != EncodingRaw {
				return fmt.Errorf("entries[%d]: %s must be the first entry, stored raw", i, LayoutPath)
			}
		case IndexPath:
			hasIndex = true
			if i != 1 || e.Encoding != EncodingRaw {
				return fmt.Errorf("entries[%d]: %s must follow %s, stored raw", i, IndexPath, LayoutPath)
			}
		default:
			if e.Path != BlobEntryPath(e.Digest, e.Encoding) {
				return fmt.Errorf("entries[%d]: path %q does not match its digest and encoding (want %q)", i, e.Path, BlobEntryPath(e.Digest, e.Encoding))
			}
			if blobs[e.Digest] {
				return fmt.Errorf("entries[%d]: content %s stored twice", i, e.Digest)
			}
			blobs[e.Digest] = true
		}
	}
	if hasLayout != hasIndex {
		return fmt.Errorf("entries: %s and %s go together", LayoutPath, IndexPath)
	}
	for i, d := range m.BaseBlobs {
		if !oci.ValidDigest(d) || (i > 0 && m.BaseBlobs[i-1] >= d) {
			return fmt.Errorf("baseBlobs[%d]: %q: digests must be valid, sorted and distinct", i, d)
		}
		if blobs[d] {
			return fmt.Errorf("baseBlobs[%d]: %s is also carried in the bundle", i, d)
		}
	}
	if len(m.Rotations) > verify.MaxRotations {
		return fmt.Errorf("rotations: %d, at most %d", len(m.Rotations), verify.MaxRotations)
	}
	for i, d := range m.Rotations {
		if !oci.ValidDigest(d) {
			return fmt.Errorf("rotations[%d]: %q is not a sha256 digest", i, d)
		}
	}
	fromBase := make(map[string]bool, len(m.BaseBlobs))
	for _, d := range m.BaseBlobs {
		fromBase[d] = true
	}
	for i, e := range m.Entries {
		if !IsPatch(e.Encoding) && e.PatchBase != "" {
			return fmt.Errorf("entries[%d] %q: patchBase on an entry that is not a patch", i, e.Path)
		}
		if IsPatch(e.Encoding) && !fromBase[e.PatchBase] {
			return fmt.Errorf("entries[%d] %q: patch base %s is not among the base blobs", i, e.Path, e.PatchBase)
		}
	}
	need := func(where, d string) error {
		if !blobs[d] && !fromBase[d] {
			return fmt.Errorf("%s: blob %s is not among the entries", where, d)
		}
		return nil
	}
	names := make(map[string]bool, len(m.Components))
	for _, c := range m.Components {
		if !validName(c.Name) || names[c.Name] {
			return fmt.Errorf("component %q: invalid or duplicate name", c.Name)
		}
		names[c.Name] = true
		for _, img := range c.Images {
			if !hasIndex {
				return fmt.Errorf("component %s: images without an %s", c.Name, IndexPath)
			}
			if err := need("component "+c.Name+" image "+img.Name, img.Digest); err != nil {
				return err
			}
			top := false
			for _, d := range img.Blobs {
				if err := need("component "+c.Name+" image "+img.Name, d); err != nil {
					return err
				}
				top = top || d == img.Digest
			}
			if !top {
				return fmt.Errorf("component %s image %s: its blobs do not include its own digest", c.Name, img.Name)
			}
		}
		for _, ms := range c.Migrations {
			for _, s := range ms.Steps {
				if err := need(fmt.Sprintf("component %s migration %d", c.Name, s.Version), s.Up); err != nil {
					return err
				}
				if s.Down != "" {
					if err := need(fmt.Sprintf("component %s migration %d (down)", c.Name, s.Version), s.Down); err != nil {
						return err
					}
				}
			}
		}
		for _, f := range c.Files {
			if err := need("component "+c.Name+" file "+f.Dest, f.Digest); err != nil {
				return err
			}
		}
		for _, ch := range c.Charts {
			if err := need("component "+c.Name+" chart "+ch.Name, ch.Digest); err != nil {
				return err
			}
			for _, v := range ch.Values {
				if err := need("component "+c.Name+" chart "+ch.Name+" values", v); err != nil {
					return err
				}
			}
		}
	}
	if err := m.checkNames(); err != nil {
		return err
	}
	specs := make([]spec.Component, len(m.Components))
	for i, c := range m.Components {
		specs[i] = spec.Component{Name: c.Name, DependsOn: c.DependsOn}
		for _, d := range c.DependsOn {
			if !names[d] {
				return fmt.Errorf("component %s depends on unknown component %q", c.Name, d)
			}
		}
	}
	if _, err := spec.ComponentOrder(specs); err != nil {
		return err
	}
	return nil
}

// ComponentDigests returns the distinct content digests a component uses.
func (c *Component) ComponentDigests() []string {
	seen := map[string]bool{}
	var out []string
	add := func(d string) {
		if d != "" && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for _, img := range c.Images {
		for _, d := range img.Blobs {
			add(d)
		}
	}
	for _, ms := range c.Migrations {
		for _, s := range ms.Steps {
			add(s.Up)
			add(s.Down)
		}
	}
	for _, f := range c.Files {
		add(f.Digest)
	}
	for _, ch := range c.Charts {
		add(ch.Digest)
		for _, v := range ch.Values {
			add(v)
		}
	}
	return out
}

// Order returns the manifest's components in install order.
func (m *Manifest) Order() ([]Component, error) {
	specs := make([]spec.Component, len(m.Components))
	byName := make(map[string]Component, len(m.Components))
	for i, c := range m.Components {
		specs[i] = spec.Component{Name: c.Name, DependsOn: c.DependsOn}
		byName[c.Name] = c
	}
	names, err := spec.ComponentOrder(specs)
	if err != nil {
		return nil, err
	}
	out := make([]Component, len(names))
	for i, n := range names {
		out[i] = byName[n]
	}
	return out, nil
}
