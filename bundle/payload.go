package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"ferry/internal/oci"
	"ferry/verify"
)

// An installer is a ferry executable that carries a bundle and the release
// public keys that verify it, appended to the executable's own bytes:
//
//	executable ‖ keys block ‖ bundle ‖ trailer
//
// The fixed-size trailer at the very end says where the keys block and the
// bundle are and holds their checksums, so that the bundle is read in place
// and a changed byte in the trailer, the keys or the bundle is refused
// before anything is installed. docs/FORMAT.md section 7 is the normative
// description.

// TrailerSize is the size of an installer's trailer.
const TrailerSize = 144

// Installer format constants.
const (
	trailerMagic   = "FERRYINS"
	trailerVersion = 1

	// MaxKeysBlock bounds the keys block, read whole before the bundle.
	MaxKeysBlock = 4 << 20
	// MaxEmbeddedKeys bounds the number of keys an installer carries.
	MaxEmbeddedKeys = 16
)

// Offsets of the trailer's fields.
const (
	trailerVersionAt  = 8
	trailerReservedAt = 12
	trailerKeysAt     = 16
	trailerBundleAt   = 32
	trailerKeysSumAt  = 48
	trailerDigestAt   = 80
	trailerSumAt      = 112
)

// Sentinel errors of installers; the command line gives each an exit code.
var (
	ErrNotInstaller    = errors.New("not a ferry installer")
	ErrDamagedTrailer  = errors.New("installer trailer is damaged")
	ErrKeysMismatch    = errors.New("embedded keys do not match the installer trailer")
	ErrPayloadMismatch = errors.New("embedded bundle does not match the installer trailer")
	// ErrDamagedInstaller is an installer whose file was cut short or had
	// bytes appended: its payload follows the executable, but no trailer
	// ends the file.
	ErrDamagedInstaller = errors.New("installer is damaged")
)

// Trailer locates and checksums what an installer carries. Offsets are
// from the start of the installer file.
type Trailer struct {
	KeysOffset   int64
	KeysLength   int64
	BundleOffset int64
	BundleLength int64
	// KeysSHA256 is the SHA-256 of the keys block.
	KeysSHA256 [sha256.Size]byte
	// ManifestDigest is the embedded bundle's identity, "sha256:<hex>".
	ManifestDigest string
}

// MarshalBinary encodes the trailer with its own checksum.
func (t *Trailer) MarshalBinary() ([]byte, error) {
	d, err := hex.DecodeString(oci.Digest(t.ManifestDigest).Hex())
	if !oci.ValidDigest(t.ManifestDigest) || err != nil {
		return nil, fmt.Errorf("installer trailer: manifest digest %q is not sha256:<hex>", t.ManifestDigest)
	}
	for _, v := range []int64{t.KeysOffset, t.KeysLength, t.BundleOffset, t.BundleLength} {
		if v < 0 {
			return nil, fmt.Errorf("installer trailer: negative offset or length %d", v)
		}
	}
	b := make([]byte, TrailerSize)
	copy(b, trailerMagic)
	binary.BigEndian.PutUint32(b[trailerVersionAt:], trailerVersion)
	binary.BigEndian.PutUint64(b[trailerKeysAt:], uint64(t.KeysOffset))
	binary.BigEndian.PutUint64(b[trailerKeysAt+8:], uint64(t.KeysLength))
	binary.BigEndian.PutUint64(b[trailerBundleAt:], uint64(t.BundleOffset))
	binary.BigEndian.PutUint64(b[trailerBundleAt+8:], uint64(t.BundleLength))
	copy(b[trailerKeysSumAt:], t.KeysSHA256[:])
	copy(b[trailerDigestAt:], d)
	sum := sha256.Sum256(b[:trailerSumAt])
	copy(b[trailerSumAt:], sum[:])
	return b, nil
}

// hasTrailerMagic reports whether b starts like a trailer. A plain bundle
// ends with zero blocks, so it never does.
func hasTrailerMagic(b []byte) bool { return bytes.HasPrefix(b, []byte(trailerMagic)) }

// ParseTrailer reads the trailer at the end of an installer of fileSize
// bytes. It checks the trailer's own checksum before believing any field,
// and that the executable, keys block, bundle and trailer follow each other
// with no gap and nothing after them.
func ParseTrailer(b []byte, fileSize int64) (*Trailer, error) {
	if len(b) != TrailerSize || !hasTrailerMagic(b) {
		return nil, fmt.Errorf("%w: no installer trailer at the end of the file", ErrNotInstaller)
	}
	sum := sha256.Sum256(b[:trailerSumAt])
	if !bytes.Equal(sum[:], b[trailerSumAt:]) {
		return nil, fmt.Errorf("%w: its checksum does not match: the installer file was changed or damaged; get it again and check it against its published SHA-256", ErrDamagedTrailer)
	}
	if v := binary.BigEndian.Uint32(b[trailerVersionAt:]); v != trailerVersion {
		return nil, fmt.Errorf("%w: format version %d, this ferry reads version %d", ErrDamagedTrailer, v, trailerVersion)
	}
	if binary.BigEndian.Uint32(b[trailerReservedAt:]) != 0 {
		return nil, fmt.Errorf("%w: reserved field is not zero", ErrDamagedTrailer)
	}
	var fields [4]int64
	for i := range fields {
		u := binary.BigEndian.Uint64(b[trailerKeysAt+8*i:])
		if u > math.MaxInt64 {
			return nil, fmt.Errorf("%w: offset or length %d out of range", ErrDamagedTrailer, u)
		}
		fields[i] = int64(u)
	}
	t := &Trailer{KeysOffset: fields[0], KeysLength: fields[1], BundleOffset: fields[2], BundleLength: fields[3],
		ManifestDigest: oci.FromHex(hex.EncodeToString(b[trailerDigestAt:trailerSumAt])).String()}
	copy(t.KeysSHA256[:], b[trailerKeysSumAt:trailerDigestAt])
	switch {
	case t.KeysLength <= 0 || t.KeysLength > MaxKeysBlock:
		return nil, fmt.Errorf("%w: keys block of %d bytes (at most %d)", ErrDamagedTrailer, t.KeysLength, MaxKeysBlock)
	case t.BundleLength <= 0:
		return nil, fmt.Errorf("%w: empty bundle", ErrDamagedTrailer)
	case fileSize < TrailerSize || t.KeysOffset > fileSize || t.BundleOffset > fileSize:
		return nil, fmt.Errorf("%w: offsets past the end of the %d-byte file", ErrDamagedTrailer, fileSize)
	case t.KeysOffset+t.KeysLength != t.BundleOffset:
		return nil, fmt.Errorf("%w: the bundle does not follow the keys block", ErrDamagedTrailer)
	case t.BundleLength != fileSize-TrailerSize-t.BundleOffset:
		return nil, fmt.Errorf("%w: the trailer does not follow the bundle (the file is %d bytes)", ErrDamagedTrailer, fileSize)
	}
	return t, nil
}

// keysBlock is the JSON form of an installer's keys: each key file's bytes
// as given to `ferry installer build --key` (PEM, armored or binary
// OpenPGP), base64-encoded by encoding/json.
type keysBlock struct {
	Keys [][]byte `json:"keys"`
}

func marshalKeysBlock(keys [][]byte) ([]byte, error) {
	if len(keys) == 0 || len(keys) > MaxEmbeddedKeys {
		return nil, fmt.Errorf("an installer carries 1 to %d keys, not %d", MaxEmbeddedKeys, len(keys))
	}
	b, err := json.Marshal(keysBlock{Keys: keys})
	if err != nil {
		return nil, err
	}
	if len(b) > MaxKeysBlock {
		return nil, fmt.Errorf("the keys take %d bytes, more than the %d an installer may carry", len(b), MaxKeysBlock)
	}
	return b, nil
}

// parseKeysBlock reads the keys block and parses every key in it. The
// block's checksum has been checked already; this refuses a block that an
// honest builder would not write.
func parseKeysBlock(b []byte) ([][]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var kb keysBlock
	if err := dec.Decode(&kb); err != nil {
		return nil, fmt.Errorf("%w: malformed keys block: %w", ErrKeysMismatch, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the keys block", ErrKeysMismatch)
	}
	if len(kb.Keys) == 0 || len(kb.Keys) > MaxEmbeddedKeys {
		return nil, fmt.Errorf("%w: %d keys (1 to %d)", ErrKeysMismatch, len(kb.Keys), MaxEmbeddedKeys)
	}
	for i, k := range kb.Keys {
		if _, err := verify.ParsePublicKey(k); err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrKeysMismatch, i+1, err)
		}
	}
	return kb.Keys, nil
}

// Payload is what an installer carries, checked against its trailer.
type Payload struct {
	Trailer
	// Keys are the embedded release public keys, as key file bytes.
	Keys [][]byte
}

// ReadPayload reads and checks the trailer at the end of r (size bytes),
// then the keys block against the trailer's checksum, then that the
// bundle's manifest is the one the trailer names. The bundle's own
// signatures and content are not checked here: that is Verify's job, and
// it covers every bundle byte.
func ReadPayload(r io.ReaderAt, size int64) (*Payload, error) {
	if size < TrailerSize {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrNotInstaller, size)
	}
	buf := make([]byte, TrailerSize)
	if _, err := r.ReadAt(buf, size-TrailerSize); err != nil {
		return nil, fmt.Errorf("reading the installer trailer: %w", err)
	}
	t, err := ParseTrailer(buf, size)
	if err != nil {
		return nil, err
	}
	block := make([]byte, t.KeysLength)
	if _, err := r.ReadAt(block, t.KeysOffset); err != nil {
		return nil, fmt.Errorf("reading the installer's keys block: %w", err)
	}
	if sha256.Sum256(block) != t.KeysSHA256 {
		return nil, fmt.Errorf("%w: the keys block's SHA-256 differs from the trailer's: the embedded keys were changed; do not use this installer", ErrKeysMismatch)
	}
	keys, err := parseKeysBlock(block)
	if err != nil {
		return nil, err
	}
	digest, err := firstManifestDigest(io.NewSectionReader(r, t.BundleOffset, t.BundleLength))
	if err != nil {
		return nil, fmt.Errorf("the installer's bundle: %w", err)
	}
	if digest != t.ManifestDigest {
		return nil, fmt.Errorf("%w: its manifest is %s, the trailer names %s: the bundle was changed; do not use this installer", ErrPayloadMismatch, digest, t.ManifestDigest)
	}
	return &Payload{Trailer: *t, Keys: keys}, nil
}

// firstManifestDigest reads the manifest entry at the start of a bundle and
// returns its digest, with the same caps as every reader of a bundle.
func firstManifestDigest(r io.Reader) (string, error) {
	w := newWalker(r, nil)
	hdr, err := w.next()
	if err != nil {
		if err := w.fileFailure(err); err != nil {
			return "", err
		}
		return "", newError(ErrNotABundle, "", fmt.Errorf("not a tar archive: %w", err))
	}
	if hdr.Name != ManifestPath {
		return "", newError(ErrNotABundle, hdr.Name, fmt.Errorf("the first entry must be %s", ManifestPath))
	}
	if hdr.Size > MaxManifestSize {
		return "", newError(ErrTooLarge, ManifestPath, fmt.Errorf("%d bytes, more than the %d allowed", hdr.Size, MaxManifestSize))
	}
	raw, err := readEntry(w, hdr)
	if err != nil {
		return "", err
	}
	return ManifestDigest(raw), nil
}

// executableMagics are the first bytes of the executable formats Go
// builds: ELF, Mach-O (32- and 64-bit, both byte orders, universal) and
// Windows PE.
var executableMagics = [][]byte{
	{0x7f, 'E', 'L', 'F'},
	{0xfe, 0xed, 0xfa, 0xce}, {0xce, 0xfa, 0xed, 0xfe},
	{0xfe, 0xed, 0xfa, 0xcf}, {0xcf, 0xfa, 0xed, 0xfe},
	{0xca, 0xfe, 0xba, 0xbe},
	{'M', 'Z'},
}

// isExecutable reports whether head starts like an executable.
func isExecutable(head []byte) bool {
	for _, m := range executableMagics {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}
