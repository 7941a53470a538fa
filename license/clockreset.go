package license

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"ferry/internal/strictjson"
	"ferry/verify"
)

// ClockResetType names the payload of a clock reset statement, signed
// like PayloadType: a licence can never pass for a statement, nor the
// reverse.
const ClockResetType = "application/vnd.ferry.clock-reset.v1+json"

// MaxClockResetSize bounds a clock reset statement file.
const MaxClockResetSize = 64 << 10

// ClockReset is a vendor's signed permission to lower the latest time one
// host has seen (its clock high-water mark), for a host whose clock once
// ran ahead. Signed by a licence key, it lets the host go back in time only
// as far as the vendor says, and only once: it names the mark it lowers,
// which any later use of ferry on that host raises or has raised past.
type ClockReset struct {
	// Host is the fingerprint of the host ("fp1:…", `ferry fingerprint`).
	Host string
	// From is the host's high-water mark that is lowered, to the second,
	// as `ferry clock show` prints it there.
	From time.Time
	// To is the new high-water mark: the vendor's reading of the true
	// time. It is earlier than From.
	To time.Time
	// Issued is when the vendor signed the statement.
	Issued time.Time
}

// clockResetBody is the statement as it is serialised and signed.
type clockResetBody struct {
	Host   string `json:"host"`
	From   string `json:"from"`
	To     string `json:"to"`
	Issued string `json:"issued"`
}

var clockResetFields = []string{"host", "from", "to", "issued"}

func (r *ClockReset) validate() error {
	if !isFingerprint(r.Host) {
		return fmt.Errorf("host %.80q: want a fingerprint as `ferry fingerprint` prints it", r.Host)
	}
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"from", r.From}, {"to", r.To}, {"issued", r.Issued}} {
		if err := checkTime(t.t); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	if !r.To.Before(r.From) {
		return fmt.Errorf("to %s is not earlier than from %s: a reset lowers the mark", formatTime(r.To), formatTime(r.From))
	}
	return nil
}

func marshalClockReset(r *ClockReset) ([]byte, error) {
	return strictjson.MarshalCanonical(clockResetBody{Host: r.Host, From: formatTime(r.From), To: formatTime(r.To), Issued: formatTime(r.Issued)})
}

// parseClockReset reads a signed statement body strictly, as parseBody
// does a licence.
func parseClockReset(data []byte) (*ClockReset, error) {
	members, err := strictjson.DecodeObject(data, clockResetFields)
	if err != nil {
		return nil, err
	}
	var b clockResetBody
	for _, m := range []struct {
		name string
		dst  *string
	}{{"host", &b.Host}, {"from", &b.From}, {"to", &b.To}, {"issued", &b.Issued}} {
		if err := strictjson.DecodeValue(members[m.name], m.dst); err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
	}
	r := &ClockReset{Host: b.Host}
	for _, t := range []struct {
		field, text string
		dst         *time.Time
	}{{"from", b.From, &r.From}, {"to", b.To, &r.To}, {"issued", b.Issued, &r.Issued}} {
		if *t.dst, err = parseTime(t.text); err != nil {
			return nil, fmt.Errorf("%s: %w", t.field, err)
		}
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	canonical, err := marshalClockReset(r)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canonical, data) {
		return nil, errors.New("not in canonical form (member order, spacing or escapes differ from what ferry writes)")
	}
	return r, nil
}

// IssueClockReset signs r with every signer (licence keys) and returns the
// statement file. Times are kept in UTC to the second; a zero Issued
// becomes now.
func IssueClockReset(r ClockReset, signers ...verify.Signer) ([]byte, error) {
	if len(signers) == 0 || len(signers) > MaxSignatures {
		return nil, fmt.Errorf("issue clock reset: %d signing keys, want 1 to %d", len(signers), MaxSignatures)
	}
	if r.Issued.IsZero() {
		r.Issued = time.Now()
	}
	r.From, r.To, r.Issued = normalizeTime(r.From), normalizeTime(r.To), normalizeTime(r.Issued)
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("issue clock reset: %w", err)
	}
	payload, err := marshalClockReset(&r)
	if err != nil {
		return nil, fmt.Errorf("issue clock reset: %w", err)
	}
	out, err := verify.SignEnvelope(ClockResetType, payload, signers...)
	if err != nil {
		return nil, fmt.Errorf("issue clock reset: %w", err)
	}
	if _, err := ParseClockReset(out); err != nil {
		return nil, fmt.Errorf("issue clock reset: the statement written does not read back: %w", err)
	}
	return out, nil
}

// ParseClockReset reads a statement file strictly without trusting it.
// Every failure wraps ErrMalformed.
func ParseClockReset(data []byte) (*ClockReset, error) {
	env, err := parseClockResetEnvelope(data)
	if err != nil {
		return nil, err
	}
	r, err := parseClockReset(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: clock reset statement: %w", ErrMalformed, err)
	}
	return r, nil
}

func parseClockResetEnvelope(data []byte) (*verify.Envelope, error) {
	env, err := verify.ParseEnvelope(data, ClockResetType, MaxClockResetSize)
	switch {
	case errors.Is(err, verify.ErrNoSignature):
		return nil, fmt.Errorf("%w: %w: a clock reset statement must be signed", ErrMalformed, err)
	case err != nil:
		return nil, fmt.Errorf("%w: clock reset statement: %w", ErrMalformed, err)
	}
	return env, nil
}

// VerifyClockReset parses a statement, checks its signatures against
// trust (the licence keys of the host's release), and only then reads it.
// It returns the statement and the ids of the keys that signed it. Errors
// are those of Verify: ErrMalformed, ErrBadSignature, ErrUntrusted.
func VerifyClockReset(data []byte, trust verify.TrustSet) (*ClockReset, []string, error) {
	env, err := parseClockResetEnvelope(data)
	if err != nil {
		return nil, nil, err
	}
	ids, err := verifyEnvelope(env, trust)
	if err != nil {
		return nil, nil, err
	}
	r, err := parseClockReset(env.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: clock reset statement signed by %v: %w", ErrMalformed, ids, err)
	}
	return r, ids, nil
}
