// Package spec owns ferry.yaml, the vendor's description of a bundle: its
// types, loading, validation with the file and line of every problem, the
// rules for names and file destinations that become paths on the
// appliance, and the units its values are written in (durations,
// percentages, sizes).
//
// It is a leaf: it imports no other ferry package but internal ones, and
// nothing that reads images, charts or keys. The runtime (rollout) needs
// the spec types of a service, not the bundle machinery, and importing
// this package links no registry client into it. What a spec names but
// its grammar cannot judge (a public key, a registry reference, a chart, a
// directory of migrations) is checked through Sources by the package that
// reads those sources: bundle.LoadSpec is the full check a build makes.
package spec
