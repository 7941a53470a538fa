package license

import (
	"errors"
	"fmt"

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
	MaxSignatures = verify.MaxEnvelopeSignatures
)

// Envelope is a licence file taken apart, with nothing about it trusted:
// Parse checks the form of every part, not who signed it. The file is a
// verify.Envelope whose payload is a licence.
type Envelope struct {
	// Envelope's PayloadType is always PayloadType, and its Payload the
	// licence body exactly as it was signed.
	verify.Envelope
	// License is Payload read.
	License *License
}

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
	env, err := verify.ParseEnvelope(data, PayloadType, MaxSize)
	switch {
	case errors.Is(err, verify.ErrNoSignature):
		return nil, fmt.Errorf("%w: %w: a licence must be signed", ErrMalformed, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &Envelope{Envelope: *env}, nil
}
