package verify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"ferry/internal/strictjson"
)

// Envelope is a signed envelope taken apart, nothing in it trusted yet.
//
// The file is DSSE's JSON envelope, {"payload", "payloadType",
// "signatures": [{"keyid", "type", "sig"}]}, in the one canonical form
// SignEnvelope writes: compact JSON in that member order, the payload in
// standard base64, each signature in the form ferry's signers write it, and
// a final newline. A parser that accepts only that form leaves no byte of
// the file free to change without the file being refused.
type Envelope struct {
	// PayloadType names what the payload is. It is signed (it is part of
	// Message), so a signature over one kind of document can never pass
	// for another.
	PayloadType string
	// Payload is the signed document exactly as it was signed.
	Payload []byte
	// Signatures are sorted by key id, one per key.
	Signatures []Signature
}

// MaxEnvelopeSignatures bounds the signatures on one envelope (16).
const MaxEnvelopeSignatures = 16

// ErrMalformedEnvelope is wrapped by every ParseEnvelope failure.
var ErrMalformedEnvelope = errors.New("malformed signed envelope")

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

// ParseEnvelope reads data strictly (size <= maxSize, structure, canonical
// bytes, payloadType == want, 1..16 signatures, canonical signature
// encodings). It checks no signature against any key: that is a
// TrustSet's job, over Message. The size is checked before anything is
// read. An envelope without signatures also wraps ErrNoSignature.
func ParseEnvelope(data []byte, payloadType string, maxSize int) (*Envelope, error) {
	if len(data) > maxSize {
		return nil, fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrMalformedEnvelope, len(data), maxSize)
	}
	env, err := decodeEnvelope(data, payloadType)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedEnvelope, err)
	}
	canonical, err := env.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedEnvelope, err)
	}
	if !bytes.Equal(canonical, data) {
		return nil, fmt.Errorf("%w: not in canonical form (spacing, member order, escapes or the final newline differ from what ferry writes): use the file exactly as it was signed", ErrMalformedEnvelope)
	}
	return env, nil
}

func decodeEnvelope(data []byte, payloadType string) (*Envelope, error) {
	members, err := strictjson.DecodeObject(data, envelopeFields)
	if err != nil {
		return nil, err
	}
	var raw envelopeJSON
	for _, m := range []struct {
		name string
		dst  *string
	}{{"payload", &raw.Payload}, {"payloadType", &raw.PayloadType}} {
		if err := strictjson.DecodeValue(members[m.name], m.dst); err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
	}
	if raw.PayloadType != payloadType {
		return nil, fmt.Errorf("payloadType %.80q: want %q", raw.PayloadType, payloadType)
	}
	payload, err := base64.StdEncoding.Strict().DecodeString(raw.Payload)
	if err != nil {
		return nil, fmt.Errorf("payload: not base64: %w", err)
	}
	if len(payload) == 0 {
		return nil, errors.New("payload: empty")
	}
	env := &Envelope{PayloadType: raw.PayloadType, Payload: payload}
	if env.Signatures, err = decodeSignatures(members["signatures"], env.Message()); err != nil {
		return nil, err
	}
	return env, nil
}

// decodeSignatures reads the signature list: at least one, at most
// MaxEnvelopeSignatures, each well formed and canonical, sorted by key id
// with no key twice.
func decodeSignatures(data []byte, message []byte) ([]Signature, error) {
	var list []json.RawMessage
	if err := strictjson.DecodeValue(data, &list); err != nil {
		return nil, fmt.Errorf("signatures: %w", err)
	}
	switch {
	case len(list) == 0:
		return nil, fmt.Errorf("signatures: none: %w", ErrNoSignature)
	case len(list) > MaxEnvelopeSignatures:
		return nil, fmt.Errorf("signatures: %d, at most %d", len(list), MaxEnvelopeSignatures)
	}
	sigs := make([]Signature, len(list))
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

func decodeSignature(data []byte, message []byte) (Signature, error) {
	members, err := strictjson.DecodeObject(data, signatureFields)
	if err != nil {
		return Signature{}, err
	}
	var raw signatureJSON
	for _, m := range []struct {
		name string
		dst  *string
	}{{"keyid", &raw.KeyID}, {"type", &raw.Type}, {"sig", &raw.Sig}} {
		if err := strictjson.DecodeValue(members[m.name], m.dst); err != nil {
			return Signature{}, fmt.Errorf("%s: %w", m.name, err)
		}
	}
	sig := Signature{KeyID: raw.KeyID, Type: KeyType(raw.Type), Data: []byte(raw.Sig)}
	var idLens []int
	switch sig.Type {
	case KeyECDSAP256, KeyEd25519:
		idLens = []int{sigstoreIDLen}
	case KeyOpenPGP:
		idLens = []int{openpgpV4IDLen, openpgpV6IDLen}
	default:
		return Signature{}, fmt.Errorf("type %.40q: want %s, %s or %s", raw.Type, KeyECDSAP256, KeyEd25519, KeyOpenPGP)
	}
	if !isLowerHex(sig.KeyID) || !slices.Contains(idLens, len(sig.KeyID)) {
		return Signature{}, fmt.Errorf("keyid %.80q: want the %s key id in lowercase hex (%v digits)", sig.KeyID, sig.Type, idLens)
	}
	switch {
	case len(sig.Data) == 0:
		return Signature{}, fmt.Errorf("key %s: sig: empty", sig.KeyID)
	case len(sig.Data) > MaxSignatureSize:
		return Signature{}, fmt.Errorf("key %s: sig: %d bytes, at most %d", sig.KeyID, len(sig.Data), MaxSignatureSize)
	}
	// The encodings carry bytes no signature covers (base64 padding bits,
	// OpenPGP armor checksums and headers); only the one form a signer
	// writes is accepted, so that no byte of the file is free.
	if err := sig.CheckCanonical(message); err != nil {
		return Signature{}, fmt.Errorf("key %s: sig: %w", sig.KeyID, err)
	}
	return sig, nil
}

// Marshal writes e as an envelope file: canonical JSON and a newline. It
// writes what it is given without checking it; ParseEnvelope judges the
// result.
func (e *Envelope) Marshal() ([]byte, error) {
	raw := envelopeJSON{
		Payload:     base64.StdEncoding.EncodeToString(e.Payload),
		PayloadType: e.PayloadType,
		Signatures:  make([]signatureJSON, len(e.Signatures)),
	}
	for i, s := range e.Signatures {
		raw.Signatures[i] = signatureJSON{KeyID: s.KeyID, Type: string(s.Type), Sig: string(s.Data)}
	}
	b, err := strictjson.MarshalCanonical(raw)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Message is what every signature covers: DSSE's pre-authentication
// encoding of type and payload,
//
//	"DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload
//
// with lengths in ASCII decimal. Type and payload are bound together
// without any parsing or canonicalisation question.
func (e *Envelope) Message() []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(e.PayloadType)))
	b.WriteByte(' ')
	b.WriteString(e.PayloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(e.Payload)))
	b.WriteByte(' ')
	b.Write(e.Payload)
	return b.Bytes()
}

// SignEnvelope signs payload with every signer (1..16, distinct keys) and
// returns the envelope file (canonical JSON + newline). It checks each
// signature after signing, and that the file reads back with
// ParseEnvelope, so it never writes an envelope ferry would refuse.
func SignEnvelope(payloadType string, payload []byte, signers ...Signer) ([]byte, error) {
	switch {
	case len(signers) == 0:
		return nil, errors.New("sign envelope: no signing key")
	case len(signers) > MaxEnvelopeSignatures:
		return nil, fmt.Errorf("sign envelope: %d signing keys, at most %d", len(signers), MaxEnvelopeSignatures)
	case payloadType == "":
		return nil, errors.New("sign envelope: no payload type")
	case len(payload) == 0:
		return nil, errors.New("sign envelope: empty payload")
	}
	env := &Envelope{PayloadType: payloadType, Payload: payload}
	message := env.Message()
	for _, s := range signers {
		sig, err := s.Sign(message)
		if err != nil {
			return nil, fmt.Errorf("sign envelope: %w", err)
		}
		if err := s.Public().Verify(message, sig); err != nil {
			return nil, fmt.Errorf("sign envelope: the signature just made does not verify: %w", err)
		}
		// Verify tolerates either sigstore type for a sigstore key; the
		// envelope names the type, so it must be the key's own.
		if sig.KeyID != s.Public().ID() || sig.Type != s.Public().Type() {
			return nil, fmt.Errorf("sign envelope: the signature just made by %s names %s key %.64s", s.Public(), sig.Type, sig.KeyID)
		}
		env.Signatures = append(env.Signatures, sig)
	}
	slices.SortFunc(env.Signatures, func(a, b Signature) int { return strings.Compare(a.KeyID, b.KeyID) })
	for i := 1; i < len(env.Signatures); i++ {
		if env.Signatures[i].KeyID == env.Signatures[i-1].KeyID {
			return nil, fmt.Errorf("sign envelope: key %s is given twice", env.Signatures[i].KeyID)
		}
	}
	out, err := env.Marshal()
	if err != nil {
		return nil, fmt.Errorf("sign envelope: %w", err)
	}
	if _, err := ParseEnvelope(out, payloadType, len(out)); err != nil {
		return nil, fmt.Errorf("sign envelope: the envelope written does not read back: %w", err)
	}
	return out, nil
}

// Verify checks the envelope's signatures against trust, as
// TrustSet.Verify does, and requires each signature by a trusted key to
// name that key's exact type. It returns the ids of the trusted keys whose
// signatures verified.
func (e *Envelope) Verify(trust TrustSet) ([]string, error) {
	ids, err := trust.Verify(e.Message(), e.Signatures)
	if err != nil {
		return nil, err
	}
	if err := checkSignatureTypes(e.Signatures, trust); err != nil {
		return nil, err
	}
	return ids, nil
}

// checkSignatureTypes requires each signature by a key of trust to name
// that key's exact type. TrustSet.Verify accepts either sigstore type for
// a sigstore key (a bundle's ".sig" entry cannot tell them apart); an
// envelope names the type, so the name must be right.
func checkSignatureTypes(sigs []Signature, trust TrustSet) error {
	for _, sig := range sigs {
		for _, k := range trust.Keys {
			if k.ID() == sig.KeyID && k.Type() != sig.Type {
				return fmt.Errorf("%w: the signature by trusted key %s says it is %s; the key is %s", ErrBadSignature, sig.KeyID, sig.Type, k.Type())
			}
		}
	}
	return nil
}
