package bundle

import (
	"io"

	"ferry/verify"
)

// Inspection summarises a bundle from its head alone. Nothing in it has
// been verified: it is for people deciding what to do with a bundle.
type Inspection struct {
	Digest     string          `json:"digest"`
	Manifest   *Manifest       `json:"manifest"`
	Order      []string        `json:"order"`
	Signatures []SignatureInfo `json:"signatures"`
	// Rotations are the key rotation statements carried, unverified.
	Rotations []RotationInfo `json:"rotations,omitempty"`
	Stored    int64          `json:"storedSize"`
	// Compressed is set when the file is in the compressed form
	// (docs/FORMAT.md section 1.1).
	Compressed bool  `json:"compressed,omitempty"`
	Content    int64 `json:"contentSize"`
	// Components has the size of each component's content, by name.
	// Content shared between components counts in each of them.
	Components map[string]Sizes `json:"components"`
}

// Sizes are the bytes of some content as stored in the bundle and as
// installed.
type Sizes struct {
	Stored  int64 `json:"storedSize"`
	Content int64 `json:"contentSize"`
}

// SignatureInfo names one signature entry.
type SignatureInfo struct {
	KeyID string         `json:"keyID"`
	Type  verify.KeyType `json:"type"`
	Entry string         `json:"entry"`
}

// RotationInfo describes one key rotation statement as it reads, before
// any of its signatures is checked.
type RotationInfo struct {
	Entry     string   `json:"entry"`
	Sequence  int      `json:"sequence"`
	Threshold int      `json:"threshold"`
	KeyIDs    []string `json:"keyIDs"`
	SignedBy  []string `json:"signedBy"`
}

// Inspect reads the manifest and signatures at the start of a bundle
// without reading the content or checking any signature.
func Inspect(r io.Reader) (*Inspection, error) {
	w := newWalker(r, nil)
	head, err := readHead(w)
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(head.RawManifest)
	if err != nil {
		return nil, err
	}
	order, err := m.Order()
	if err != nil {
		return nil, err
	}
	in := &Inspection{Digest: ManifestDigest(head.RawManifest), Manifest: m, Compressed: w.file.Compressed()}
	for _, c := range order {
		in.Order = append(in.Order, c.Name)
	}
	for _, s := range head.Signatures {
		in.Signatures = append(in.Signatures, SignatureInfo{KeyID: s.KeyID, Type: s.Type, Entry: s.FileName()})
	}
	for i, data := range head.Rotations {
		r, err := verify.ParseRotation(data)
		if err != nil {
			return nil, newError(verify.ErrRotation, head.RotationNames[i], err)
		}
		info := RotationInfo{Entry: head.RotationNames[i], Sequence: r.Sequence, Threshold: r.Threshold}
		for _, k := range r.Keys {
			info.KeyIDs = append(info.KeyIDs, k.ID())
		}
		for _, s := range r.Signatures {
			info.SignedBy = append(info.SignedBy, s.KeyID)
		}
		in.Rotations = append(in.Rotations, info)
	}
	byDigest := map[string]Entry{}
	for _, e := range m.Entries {
		in.Stored += e.StoredSize
		in.Content += e.Size
		byDigest[e.Digest] = e
	}
	in.Components = map[string]Sizes{}
	for _, c := range m.Components {
		var s Sizes
		for _, d := range c.ComponentDigests() {
			s.Stored += byDigest[d].StoredSize
			s.Content += byDigest[d].Size
		}
		in.Components[c.Name] = s
	}
	return in, nil
}
