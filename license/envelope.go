package license

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"ferry/verify"
)

// PayloadType names the payload of a licence envelope. It is signed (it is
// part of the pre-authentication encoding), so a signature over something
// else that happens to be JSON can never pass for a licence.
const PayloadType = "application/vnd.ferry.license.v1+json"

// Limits checked before anything else is read.
const (
	// MaxSize bounds a licence file. A licence with every list full and
	// sixteen signatures stays well below it.
	MaxSize = 64 << 10
	// MaxSignatures bounds the signatures on one licence.
	MaxSignatures = 16
)

// Envelope is a licence file taken apart, with nothing about it trusted:
// Parse checks the form of every part, not who signed it.
type Envelope struct {
	// PayloadType is always PayloadType.
	PayloadType string
	// Payload is the licence body exactly as it was signed.
	Payload []byte
	// Signatures are sorted by key id, one per key.
	Signatures []verify.Signature
	// License is Payload read.
	License *License
}

// envelopeJSON and signatureJSON are the file's JSON, in canonical member
// order.
type envelopeJSON struct {
	Payload     string          `json:"payload"`
	PayloadType string          `json:"payloadType"`
	Signatures  []signatureJSON `json:"signatures"`
}

type signatureJSON struct {
	KeyID string `json:"keyid"`
	Type  string `json:"type"`
	Sig   string `json:"sig"`
}

var (
	envelopeFields  = []string{"payload", "payloadType", "signatures"}
	signatureFields = []string{"keyid", "type", "sig"}
)

// Parse reads a licence file strictly: size, structure, every field's
// value, the signatures' form, and that the bytes are exactly what Issue
// writes. It makes no trust decision; Verify does. Every failure wraps
// ErrMalformed.
func Parse(data []byte) (*Envelope, error) {
	env, err := parseEnvelope(data)
	if err != nil {
		return nil, err
	}
	if env.License, err = parseBody(env.Payload); err != nil {
		return nil, fmt.Errorf("%w: licence body: %w", ErrMalformed, err)
	}
	return env, nil
}

// parseEnvelope is Parse without reading the payload: Verify checks the
// signatures before it reads what they sign.
func parseEnvelope(data []byte) (*Envelope, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrMalformed, len(data), MaxSize)
	}
	env, err := decodeEnvelope(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	canonical, err := marshalEnvelope(env)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if !bytes.Equal(canonical, data) {
		return nil, fmt.Errorf("%w: not in canonical form (spacing, member order, escapes or the final newline differ from what ferry writes): use the file exactly as it was issued", ErrMalformed)
	}
	return env, nil
}

func decodeEnvelope(data []byte) (*Envelope, error) {
	members, err := decodeObject(data, envelopeFields)
	if err != nil {
		return nil, err
	}
	var raw envelopeJSON
	for _, m := range []struct {
		name string
		dst  *string
	}{{"payload", &raw.Payload}, {"payloadType", &raw.PayloadType}} {
		if err := decodeValue(members[m.name], m.dst); err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
	}
	if raw.PayloadType != PayloadType {
		return nil, fmt.Errorf("payloadType %.80q: want %q", raw.PayloadType, PayloadType)
	}
	payload, err := base64.StdEncoding.Strict().DecodeString(raw.Payload)
	if err != nil {
		return nil, fmt.Errorf("payload: not base64: %w", err)
	}
	if len(payload) == 0 {
		return nil, errors.New("payload: empty")
	}
	env := &Envelope{PayloadType: raw.PayloadType, Payload: payload}
	sigs, err := decodeSignatures(members["signatures"], pae(env.PayloadType, env.Payload))
	if err != nil {
		return nil, err
	}
	env.Signatures = sigs
	return env, nil
}

// decodeSignatures reads the signature list: at least one, at most
// MaxSignatures, each well formed and canonical, sorted by key id with no
// key twice.
func decodeSignatures(data []byte, message []byte) ([]verify.Signature, error) {
	var list []json.RawMessage
	if err := decodeValue(data, &list); err != nil {
		return nil, fmt.Errorf("signatures: %w", err)
	}
	switch {
	case len(list) == 0:
		return nil, errors.New("signatures: none: a licence must be signed")
	case len(list) > MaxSignatures:
		return nil, fmt.Errorf("signatures: %d, at most %d", len(list), MaxSignatures)
	}
	sigs := make([]verify.Signature, len(list))
	for i, item := range list {
		sig, err := decodeSignature(item, message)
		if err != nil {
			return nil, fmt.Errorf("signature %d: %w", i+1, err)
		}
		if i > 0 && sig.KeyID <= sigs[i-1].KeyID {
			return nil, fmt.Errorf("signature %d: key %s: signatures must be sorted by key id, one per key", i+1, sig.KeyID)
		}
		sigs[i] = sig
	}
	return sigs, nil
}

func decodeSignature(data []byte, message []byte) (verify.Signature, error) {
	members, err := decodeObject(data, signatureFields)
	if err != nil {
		return verify.Signature{}, err
	}
	var raw signatureJSON
	for _, m := range []struct {
		name string
		dst  *string
	}{{"keyid", &raw.KeyID}, {"type", &raw.Type}, {"sig", &raw.Sig}} {
		if err := decodeValue(members[m.name], m.dst); err != nil {
			return verify.Signature{}, fmt.Errorf("%s: %w", m.name, err)
		}
	}
	sig := verify.Signature{KeyID: raw.KeyID, Type: verify.KeyType(raw.Type), Data: []byte(raw.Sig)}
	var idLens []int
	switch sig.Type {
	case verify.KeyECDSAP256, verify.KeyEd25519:
		idLens = []int{64}
	case verify.KeyOpenPGP:
		idLens = []int{40, 64}
	default:
		return verify.Signature{}, fmt.Errorf("type %.40q: want %s, %s or %s", raw.Type, verify.KeyECDSAP256, verify.KeyEd25519, verify.KeyOpenPGP)
	}
	if !isLowerHex(sig.KeyID) || !slices.Contains(idLens, len(sig.KeyID)) {
		return verify.Signature{}, fmt.Errorf("keyid %.80q: want the %s key id in lowercase hex (%v digits)", sig.KeyID, sig.Type, idLens)
	}
	switch {
	case len(sig.Data) == 0:
		return verify.Signature{}, fmt.Errorf("key %s: sig: empty", sig.KeyID)
	case len(sig.Data) > verify.MaxSignatureSize:
		return verify.Signature{}, fmt.Errorf("key %s: sig: %d bytes, at most %d", sig.KeyID, len(sig.Data), verify.MaxSignatureSize)
	}
	// The encodings carry bytes no signature covers (base64 padding bits,
	// OpenPGP armor checksums and headers); only the one form a signer
	// writes is accepted, so that no byte of a licence file is free.
	if err := sig.CheckCanonical(message); err != nil {
		return verify.Signature{}, fmt.Errorf("key %s: sig: %w", sig.KeyID, err)
	}
	return sig, nil
}

// marshalEnvelope writes the file: canonical JSON and a newline.
func marshalEnvelope(env *Envelope) ([]byte, error) {
	raw := envelopeJSON{
		Payload:     base64.StdEncoding.EncodeToString(env.Payload),
		PayloadType: env.PayloadType,
		Signatures:  make([]signatureJSON, len(env.Signatures)),
	}
	for i, s := range env.Signatures {
		raw.Signatures[i] = signatureJSON{KeyID: s.KeyID, Type: string(s.Type), Sig: string(s.Data)}
	}
	b, err := marshalCanonical(raw)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// pae is DSSE's pre-authentication encoding, what every signature covers:
//
//	"DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload
//
// with lengths in ASCII decimal. Type and payload are bound together
// without any parsing or canonicalisation question.
func pae(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}
