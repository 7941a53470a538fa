// Package license owns ferry's offline licences: the file format, issuing
// on a connected host, verification on a disconnected one, enforcement
// (validity window, grace, product, versions, components, host binding),
// the host fingerprint a licence may be bound to, and the clock rule that
// keeps a host from reviving an expired licence by setting its clock back.
//
// A licence file is a signed JSON envelope in the manner of DSSE: the
// licence body is serialised once, carried base64-encoded, and signed over
// the pre-authentication encoding of its type and bytes, with the same key
// types and trust sets as bundles (package verify). docs/LICENSE.md is the
// normative description of the format and of the rules enforced here.
//
// Everything read from a licence file is hostile until a trusted key's
// signature says otherwise: the file is size-capped before it is parsed,
// parsed strictly, and accepted only in the exact form Issue writes, so a
// licence file has one encoding and its SHA-256 identifies it.
package license
