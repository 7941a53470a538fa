package verify

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"ferry/internal/strictjson"
)

// RotationPayloadType names a rotation statement's payload.
const RotationPayloadType = "application/vnd.ferry.rotation.v1+json"

// MaxRotationSize bounds a statement file (64 KiB); MaxRotationKeys the keys in one (16);
// MaxRotations bounds how many statements one walk applies (64).
//
// The walk is bounded so that a bundle cannot make a host verify without
// end; 64 rotations is decades of yearly key changes.
const (
	MaxRotationSize = 64 << 10
	MaxRotationKeys = 16
	MaxRotations    = 64
)

// ErrRotation is wrapped by every failure to parse or apply a statement.
var ErrRotation = errors.New("key rotation refused")

// Rotation is one statement: from this sequence number on, Keys with Threshold are the trust set.
//
// A statement is a signed envelope (see ParseEnvelope) whose payload names
// the new trust set. It is signed by the trust set it replaces, so a host
// that trusts the old keys can move to the new ones without being told
// anything out of band: a host offline for years walks the statements in
// order, each vouched for by the set before it.
type Rotation struct {
	Sequence  int          // 1 for the first rotation of a product's keys, then +1 each
	Keys      []*PublicKey // the new trust set, 1..16 distinct keys (no two sharing key material)
	KeyData   [][]byte     // the keys as written in the statement (PEM or armored), same order as Keys, for storing
	Threshold int          // 1..number of distinct keys
	Issued    time.Time    // UTC, whole seconds
	File      []byte       // the statement file exactly as read or written
	// Signatures are the statement's signatures as read, none of them
	// checked: only a walk from the set before it can.
	Signatures []Signature
}

// Trust is the trust set the statement puts in force.
func (r *Rotation) Trust() TrustSet {
	return TrustSet{Keys: r.Keys, Threshold: r.Threshold, Sequence: r.Sequence}
}

// rotationJSON is the payload, in canonical member order. Every member is
// always present, so there is one way to write a statement.
type rotationJSON struct {
	Issued    string   `json:"issued"`
	Keys      []string `json:"keys"`
	Sequence  int      `json:"sequence"`
	Threshold int      `json:"threshold"`
}

var rotationFields = []string{"issued", "keys", "sequence", "threshold"}

// SignRotation writes a statement file: the payload is canonical JSON
// {"issued":RFC3339 UTC,"keys":[key text...],"sequence":n,"threshold":k}
// with keys sorted by key id (duplicates refused), signed by signers (the OLD trust set's keys).
//
// Each key is a public key file as ParsePublicKey reads it, in text form
// (a PEM or an armored OpenPGP key), and is stored as given. A zero issued
// means now; issued is kept in UTC to the second (truncated). The file
// written is read back with ParseRotation, so SignRotation never writes a
// statement ferry would refuse. It cannot check that signers are the
// trust set in force before sequence: only a host walking the chain knows.
func SignRotation(sequence, threshold int, keys [][]byte, issued time.Time, signers ...Signer) ([]byte, error) {
	if sequence < 1 {
		return nil, fmt.Errorf("sign rotation: sequence %d: the first rotation is 1", sequence)
	}
	if len(keys) == 0 || len(keys) > MaxRotationKeys {
		return nil, fmt.Errorf("sign rotation: %d keys, want 1 to %d", len(keys), MaxRotationKeys)
	}
	type key struct {
		k    *PublicKey
		text []byte
	}
	parsed := make([]key, len(keys))
	for i, text := range keys {
		if !utf8.Valid(text) {
			return nil, fmt.Errorf("sign rotation: key %d: not text: give the key as a PEM or an armored OpenPGP key", i+1)
		}
		k, err := ParsePublicKey(text)
		if err != nil {
			return nil, fmt.Errorf("sign rotation: key %d: %w", i+1, err)
		}
		parsed[i] = key{k, text}
	}
	slices.SortFunc(parsed, func(a, b key) int { return strings.Compare(a.k.ID(), b.k.ID()) })
	for i := 1; i < len(parsed); i++ {
		if parsed[i].k.ID() == parsed[i-1].k.ID() {
			return nil, fmt.Errorf("sign rotation: %s is given twice", parsed[i].k)
		}
	}
	for i, a := range parsed {
		for _, b := range parsed[i+1:] {
			if a.k.SharesMaterial(b.k) {
				return nil, fmt.Errorf("sign rotation: %s and %s are the same key in two encodings: give it once", a.k, b.k)
			}
		}
	}
	if threshold < 1 || threshold > len(parsed) {
		return nil, fmt.Errorf("sign rotation: threshold %d: want 1 to the %d keys", threshold, len(parsed))
	}
	if issued.IsZero() {
		issued = time.Now()
	}
	payload := rotationJSON{
		Issued:    issued.UTC().Truncate(time.Second).Format(time.RFC3339),
		Keys:      make([]string, len(parsed)),
		Sequence:  sequence,
		Threshold: threshold,
	}
	for i, k := range parsed {
		payload.Keys[i] = string(k.text)
	}
	b, err := strictjson.MarshalCanonical(payload)
	if err != nil {
		return nil, fmt.Errorf("sign rotation: %w", err)
	}
	out, err := SignEnvelope(RotationPayloadType, b, signers...)
	if err != nil {
		return nil, fmt.Errorf("sign rotation: %w", err)
	}
	if _, err := ParseRotation(out); err != nil {
		return nil, fmt.Errorf("sign rotation: the statement written does not read back: %w", err)
	}
	return out, nil
}

// ParseRotation reads a statement file strictly (envelope, payload JSON exactly canonical and as SignRotation writes it, every key parses, limits), checking no signature against trust.
//
// Only WalkRotations decides whether a statement is to be believed.
func ParseRotation(data []byte) (*Rotation, error) {
	r, _, err := parseRotation(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRotation, err)
	}
	return r, nil
}

// parseRotation is ParseRotation returning the envelope too, for its
// signatures, and errors that do not yet wrap ErrRotation.
func parseRotation(data []byte) (*Rotation, *Envelope, error) {
	env, err := ParseEnvelope(data, RotationPayloadType, MaxRotationSize)
	if err != nil {
		return nil, nil, err
	}
	members, err := strictjson.DecodeObject(env.Payload, rotationFields)
	if err != nil {
		return nil, nil, fmt.Errorf("statement: %w", err)
	}
	var raw rotationJSON
	for _, m := range []struct {
		name string
		dst  any
	}{{"issued", &raw.Issued}, {"keys", &raw.Keys}, {"sequence", &raw.Sequence}, {"threshold", &raw.Threshold}} {
		if err := strictjson.DecodeValue(members[m.name], m.dst); err != nil {
			return nil, nil, fmt.Errorf("statement: %s: %w", m.name, err)
		}
	}
	if raw.Sequence < 1 {
		return nil, nil, fmt.Errorf("statement: sequence %d: the first rotation is 1", raw.Sequence)
	}
	r := &Rotation{Sequence: raw.Sequence, Threshold: raw.Threshold, File: bytes.Clone(data), Signatures: env.Signatures}
	r.Issued, err = time.Parse(time.RFC3339, raw.Issued)
	switch {
	case err != nil || r.Issued.UTC().Format(time.RFC3339) != raw.Issued:
		return nil, nil, fmt.Errorf("statement %d: issued %.40q: want RFC 3339 in UTC to the second, like 2027-12-31T00:00:00Z", r.Sequence, raw.Issued)
	case r.Issued.IsZero():
		return nil, nil, fmt.Errorf("statement %d: issued: missing", r.Sequence)
	}
	r.Issued = r.Issued.UTC()
	if len(raw.Keys) == 0 || len(raw.Keys) > MaxRotationKeys {
		return nil, nil, fmt.Errorf("statement %d: %d keys, want 1 to %d", r.Sequence, len(raw.Keys), MaxRotationKeys)
	}
	for i, text := range raw.Keys {
		k, err := ParsePublicKey([]byte(text))
		if err != nil {
			return nil, nil, fmt.Errorf("statement %d: key %d: %w", r.Sequence, i+1, err)
		}
		if i > 0 && k.ID() <= r.Keys[i-1].ID() {
			if k.ID() == r.Keys[i-1].ID() {
				return nil, nil, fmt.Errorf("statement %d: key %d: %s appears twice", r.Sequence, i+1, k)
			}
			return nil, nil, fmt.Errorf("statement %d: key %d: %s: keys must be sorted by key id", r.Sequence, i+1, k)
		}
		for j, prev := range r.Keys {
			if k.SharesMaterial(prev) {
				return nil, nil, fmt.Errorf("statement %d: key %d: %s is the same key as key %d (%s) in another encoding", r.Sequence, i+1, k, j+1, prev)
			}
		}
		r.Keys = append(r.Keys, k)
		r.KeyData = append(r.KeyData, []byte(text))
	}
	if r.Threshold < 1 || r.Threshold > len(r.Keys) {
		return nil, nil, fmt.Errorf("statement %d: threshold %d: want 1 to the %d keys", r.Sequence, r.Threshold, len(r.Keys))
	}
	canonical, err := strictjson.MarshalCanonical(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("statement %d: %w", r.Sequence, err)
	}
	if !bytes.Equal(canonical, env.Payload) {
		return nil, nil, fmt.Errorf("statement %d: not in canonical form (spacing, member order, escapes or number forms differ from what ferry writes)", r.Sequence)
	}
	return r, env, nil
}

// WalkRotations applies statement files to trust, the set in force at
// sequence trust.Sequence (0 = never rotated):
// files are parsed; statements with Sequence <= from are skipped (already applied on this host, or older);
// the rest must then run from+1, from+2, ... without gaps or repeats (the files may be given in any order);
// each must be signed by at least the threshold of the set before it, and each signature by a key of that
// set must name the key's type; at most MaxRotations are applied.
// It returns the resulting set, with its Sequence, and the statements applied (in order);
// with no statement to apply it returns trust unchanged and no error.
//
// A walk applies all of its statements or none: on failure it returns
// trust unchanged. Every failure wraps ErrRotation and, where one
// applies, the verify error (ErrBelowThreshold, ErrBadSignature,
// ErrUntrustedKey, ErrInvalidTrustSet), and says which statement and why.
// Every file must parse, even one that would be skipped: a bundle carries
// nothing ferry cannot read.
func WalkRotations(trust TrustSet, files [][]byte) (TrustSet, []*Rotation, error) {
	from := trust.Sequence
	if from < 0 {
		return trust, nil, fmt.Errorf("%w: the trust set in force is at sequence %d, which is negative", ErrRotation, from)
	}
	type statement struct {
		r    *Rotation
		env  *Envelope
		file int // from 1, for messages
	}
	var pending []statement
	for i, f := range files {
		r, env, err := parseRotation(f)
		if err != nil {
			return trust, nil, fmt.Errorf("%w: statement file %d: %w", ErrRotation, i+1, err)
		}
		if r.Sequence > from {
			pending = append(pending, statement{r, env, i + 1})
		}
	}
	if len(pending) == 0 {
		return trust, nil, nil
	}
	if len(pending) > MaxRotations {
		return trust, nil, fmt.Errorf("%w: %d statements to apply after sequence %d, at most %d in one walk", ErrRotation, len(pending), from, MaxRotations)
	}
	slices.SortStableFunc(pending, func(a, b statement) int { return a.r.Sequence - b.r.Sequence })
	for i, st := range pending {
		switch want := from + 1 + i; {
		case st.r.Sequence < want:
			return trust, nil, fmt.Errorf("%w: statement %d (file %d) repeats the one in file %d", ErrRotation, st.r.Sequence, st.file, pending[i-1].file)
		case st.r.Sequence > want:
			return trust, nil, fmt.Errorf("%w: statement %d (file %d) follows sequence %d: statement %d is missing", ErrRotation, st.r.Sequence, st.file, want-1, want)
		}
	}
	current := trust
	applied := make([]*Rotation, 0, len(pending))
	for _, st := range pending {
		if _, err := st.env.Verify(current); err != nil {
			return trust, nil, fmt.Errorf("%w: statement %d (file %d) is not signed by the trust set before it: %w", ErrRotation, st.r.Sequence, st.file, err)
		}
		current = st.r.Trust()
		applied = append(applied, st.r)
	}
	return current, applied, nil
}
