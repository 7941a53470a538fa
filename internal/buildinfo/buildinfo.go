// Package buildinfo says which ferry is running: its version, the commit it
// was built from and the Go release that built it, all read from the build
// information the Go toolchain embeds in every binary, so that `ferry
// version` and the compliance report name the same build without a
// version file that could disagree with the code.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// develVersion is what a build has when the Go toolchain knows no module
// version for it: built inside its own module rather than installed at a
// tagged version. Go itself says "(devel)".
const develVersion = "devel"

// shortCommit is how many hex digits of the commit a one-line summary
// keeps: enough to name it in any repository of this size.
const shortCommit = 12

// Info is what a binary knows about its own build.
type Info struct {
	// Version is the module version the binary was built at (v1.4.0, or
	// a pseudo-version such as v0.0.0-20261207214112-c8758c3159ec), or
	// "devel" when the toolchain recorded none.
	Version string `json:"version"`
	// Commit is the VCS revision (vcs.revision); empty when the build
	// recorded none (-buildvcs=false, a source tree without .git).
	Commit string `json:"commit,omitempty"`
	// Time is the commit's time as recorded (vcs.time), RFC 3339.
	Time string `json:"commitTime,omitempty"`
	// Modified says the working tree had uncommitted changes
	// (vcs.modified): the binary is not exactly the commit.
	Modified bool `json:"modified,omitempty"`
	// GoVersion is the Go release that built the binary.
	GoVersion string `json:"goVersion"`
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: develVersion, GoVersion: runtime.Version()}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo extracts Info from Go build information.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if in.Version == "" || in.Version == "(devel)" {
		in.Version = develVersion
	}
	if in.GoVersion == "" {
		in.GoVersion = runtime.Version()
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one-line name of the build: the version, and for a build
// without a release version the commit it came from, marked when the tree
// had changes ("devel+c8758c3159ec.modified"). A pseudo-version already
// names its commit, so a tagged or pseudo version stands alone except for
// the modified mark.
func (in Info) String() string {
	var b strings.Builder
	b.WriteString(in.Version)
	if in.Version == develVersion && in.Commit != "" {
		b.WriteString("+")
		b.WriteString(in.Commit[:min(len(in.Commit), shortCommit)])
	}
	if in.Modified && !strings.HasSuffix(in.Version, "+dirty") {
		if in.Version == develVersion && in.Commit != "" {
			b.WriteString(".modified")
		} else {
			b.WriteString("+modified")
		}
	}
	return b.String()
}
