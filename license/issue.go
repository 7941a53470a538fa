package license

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"ferry/verify"
)

// Issue signs l with every signer and returns the licence file.
//
// Issue fills in what a vendor need not choose: an empty ID becomes 32
// random hex digits, a zero Issued becomes the current time, and a zero
// NotBefore becomes Issued. Times are kept in UTC to the second (truncated)
// and Components and Features are sorted. Expires and Customer are
// required. The licence is checked against the rules Parse applies before
// anything is signed, and every signature is checked after, so Issue never
// writes a file that ferry would refuse.
func Issue(l License, signers ...verify.Signer) ([]byte, error) {
	switch {
	case len(signers) == 0:
		return nil, errors.New("issue licence: no signing key")
	case len(signers) > MaxSignatures:
		return nil, fmt.Errorf("issue licence: %d signing keys, at most %d", len(signers), MaxSignatures)
	}
	if l.ID == "" {
		id, err := newID()
		if err != nil {
			return nil, fmt.Errorf("issue licence: %w", err)
		}
		l.ID = id
	}
	if l.Issued.IsZero() {
		l.Issued = time.Now()
	}
	if l.NotBefore.IsZero() {
		l.NotBefore = l.Issued
	}
	l.Issued, l.NotBefore = normalizeTime(l.Issued), normalizeTime(l.NotBefore)
	if !l.Expires.IsZero() {
		l.Expires = normalizeTime(l.Expires)
	}
	l.Components, l.Features = sortedCopy(l.Components), sortedCopy(l.Features)
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("issue licence: %w", err)
	}
	payload, err := marshalBody(&l)
	if err != nil {
		return nil, fmt.Errorf("issue licence: %w", err)
	}
	out, err := verify.SignEnvelope(PayloadType, payload, signers...)
	if err != nil {
		return nil, fmt.Errorf("issue licence: %w", err)
	}
	if _, err := Parse(out); err != nil {
		return nil, fmt.Errorf("issue licence: the licence written does not read back: %w", err)
	}
	return out, nil
}

// newID returns 128 random bits in hex.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("licence id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func normalizeTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Sorted(slices.Values(s))
}
