// Package verify owns ferry's signature schemes: key generation and
// loading, signing the manifest, and checking signatures against a set of
// trusted keys with a threshold.
//
// Two families of keys are supported, so that an assessor can check a
// bundle with tools they already trust: sigstore-style keys (ECDSA P-256
// and Ed25519, in the PEM formats cosign reads and writes) and OpenPGP keys
// (the formats gpg imports and exports).
//
// Trust is anchored in keys the operator chose, not in a certificate
// authority or a transparency log: the appliance is disconnected. A
// [TrustSet] names those keys and how many of them must sign. Everything
// that reaches this package from a bundle (signature entry names and
// bytes) is treated as hostile: it is size-capped before it is parsed, and
// parsed strictly.
//
// Signed documents other than the manifest (licences, key rotation
// statements) travel in an [Envelope], a DSSE-style JSON envelope accepted
// only in its one canonical form. A [Rotation] statement names a new trust
// set and is signed by the set it replaces; [WalkRotations] applies a
// chain of them, so a host offline for years can move from the keys it
// was installed with to today's.
package verify
