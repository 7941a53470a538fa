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
	Stored     int64           `json:"storedSize"`
	Content    int64           `json:"contentSize"`
	Verified   bool            `json:"verified"`
	sigs       []verify.Signature
}

// SignatureInfo names one signature entry.
type SignatureInfo struct {
	KeyID string         `json:"keyID"`
	Type  verify.KeyType `json:"type"`
	Entry string         `json:"entry"`
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
	in := &Inspection{Digest: ManifestDigest(head.RawManifest), Manifest: m}
	for _, c := range order {
		in.Order = append(in.Order, c.Name)
	}
	for _, s := range head.Signatures {
		in.Signatures = append(in.Signatures, SignatureInfo{KeyID: s.KeyID, Type: s.Type, Entry: s.FileName()})
	}
	for _, e := range m.Entries {
		in.Stored += e.StoredSize
		in.Content += e.Size
	}
	return in, nil
}
