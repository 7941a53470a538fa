package license

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"ferry/verify"
)

// Report is the --json output of ferry license inspect: a licence file's
// terms, its standing by this host's clock and, when keys were given,
// whether it verifies.
type Report struct {
	File       string            `json:"file"`
	SHA256     string            `json:"sha256"`
	ID         string            `json:"id"`
	Product    string            `json:"product"`
	Customer   string            `json:"customer"`
	Issued     time.Time         `json:"issued"`
	NotBefore  time.Time         `json:"notBefore"`
	Expires    time.Time         `json:"expires"`
	Grace      string            `json:"grace"`
	Components []string          `json:"components"`
	Features   []string          `json:"features"`
	Versions   string            `json:"versions"`
	Nodes      int               `json:"nodes"`
	Bind       string            `json:"bind"`
	Signatures []SignatureReport `json:"signatures"`
	// State is the licence's standing at At by the host's system clock,
	// which inspect has no high-water mark to correct.
	State State     `json:"state"`
	At    time.Time `json:"at"`
	// Verified is absent when no keys were given; SignedBy and Error say
	// who signed or why it did not verify.
	Verified *bool    `json:"verified,omitempty"`
	SignedBy []string `json:"signedBy,omitempty"`
	Error    string   `json:"error,omitempty"`
}

// SignatureReport is one signature on a licence file, unverified.
type SignatureReport struct {
	KeyID string         `json:"keyid"`
	Type  verify.KeyType `json:"type"`
}

// NewReport describes the licence file at file, whose bytes are data and
// which Parse read as env, at now. Verification is left to the caller.
func NewReport(file string, data []byte, env *Envelope, now time.Time) Report {
	l := env.License
	sum := sha256.Sum256(data)
	r := Report{
		File: file, SHA256: hex.EncodeToString(sum[:]),
		ID: l.ID, Product: l.Product, Customer: l.Customer,
		Issued: l.Issued, NotBefore: l.NotBefore, Expires: l.Expires, Grace: l.Grace.String(),
		Components: l.Components, Features: l.Features, Versions: l.Versions, Nodes: l.Nodes, Bind: l.Bind,
		State: l.StatusAt(now).State, At: now,
	}
	for _, s := range env.Signatures {
		r.Signatures = append(r.Signatures, SignatureReport{KeyID: s.KeyID, Type: s.Type})
	}
	return r
}

// HostReport is the --json output of ferry fingerprint: the host's
// fingerprint and what each identity source gave.
type HostReport struct {
	Fingerprint string             `json:"fingerprint"`
	Sources     []HostSourceReport `json:"sources"`
}

// HostSourceReport is one identity source in a HostReport.
type HostSourceReport struct {
	Kind        string `json:"kind"`
	Path        string `json:"path"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Error       string `json:"error,omitempty"`
}

// Report describes h; fingerprint is what h.Fingerprint returned (empty
// when it failed).
func (h Host) Report(fingerprint string) HostReport {
	r := HostReport{Fingerprint: fingerprint}
	for _, s := range h.Sources {
		src := HostSourceReport{Kind: s.Kind, Path: s.Path, Fingerprint: s.Fingerprint}
		if s.Err != nil {
			src.Error = s.Err.Error()
		}
		r.Sources = append(r.Sources, src)
	}
	return r
}
