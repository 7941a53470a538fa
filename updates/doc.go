// Package updates owns the byte-level delta codec of update bundles: a
// changed file travels as a patch against the copy the host already
// holds, so that an update costs about what changed.
//
// Two encodings (docs/FORMAT.md, sections 2.1 and 2.1.1):
//
//   - zstd-patch: the file compressed with the whole of its base as a raw
//     dictionary, zstd's "patch from" (WholeEncoder). Base and file are
//     held in memory, so both are at most MaxPatchBase.
//   - zstd-patch-seg: the file cut into segments, each compressed against
//     the base's bytes at about the same offsets (Encoder). Memory holds a
//     segment and a base window per worker, whatever the file's size.
//
// A Decoder applies either to its base and checks the result against the
// content's size and digest; CheckSegments checks what a segmented patch
// shows without its base. The package knows nothing of bundles,
// manifests or hosts: bundle decides which files travel as patches and
// reads them, installer supplies the bases and owns applying an update
// (journal, undo, recovery), which needs more than bytes.
//
// It also owns the update policy (policy.go): whether a bundle may replace
// what a host runs (version ordering, anti-rollback, replay), as functions
// over plain values with no I/O, so that install, update and their plans
// decide alike.
package updates
