package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-12-07T21:41:12Z"},
			{Key: "vcs.modified", Value: modified},
		}
	}
	const rev = "c8758c3159ec86bf549fcfbbf047264335c12969"
	for _, tc := range []struct {
		name     string
		version  string
		settings []debug.BuildSetting
		want     Info
		str      string
	}{
		{"tagged", "v1.4.0", vcs(rev, "false"),
			Info{Version: "v1.4.0", Commit: rev, Time: "2026-12-07T21:41:12Z", GoVersion: "go1.26.0"}, "v1.4.0"},
		{"pseudo dirty", "v0.0.0-20261207214112-c8758c3159ec+dirty", vcs(rev, "true"),
			Info{Version: "v0.0.0-20261207214112-c8758c3159ec+dirty", Commit: rev, Time: "2026-12-07T21:41:12Z", Modified: true, GoVersion: "go1.26.0"},
			"v0.0.0-20261207214112-c8758c3159ec+dirty"},
		{"devel with vcs", "(devel)", vcs(rev, "false"),
			Info{Version: "devel", Commit: rev, Time: "2026-12-07T21:41:12Z", GoVersion: "go1.26.0"}, "devel+c8758c3159ec"},
		{"devel modified", "(devel)", vcs(rev, "true"),
			Info{Version: "devel", Commit: rev, Time: "2026-12-07T21:41:12Z", Modified: true, GoVersion: "go1.26.0"}, "devel+c8758c3159ec.modified"},
		{"devel without vcs", "(devel)", nil, Info{Version: "devel", GoVersion: "go1.26.0"}, "devel"},
		{"no version", "", nil, Info{Version: "devel", GoVersion: "go1.26.0"}, "devel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "ferry", Version: tc.version}, Settings: tc.settings}
			got := FromBuildInfo(bi)
			if got != tc.want {
				t.Errorf("FromBuildInfo = %+v, want %+v", got, tc.want)
			}
			if s := got.String(); s != tc.str {
				t.Errorf("String() = %q, want %q", s, tc.str)
			}
		})
	}
}

// TestReadNeverDevel holds the promise the compliance report relies on:
// the version never reads "(devel)", Go's placeholder.
func TestReadNeverDevel(t *testing.T) {
	in := Read()
	if in.Version == "" || in.Version == "(devel)" {
		t.Errorf("Read().Version = %q", in.Version)
	}
	if in.GoVersion != runtime.Version() {
		t.Errorf("Read().GoVersion = %q, want %q", in.GoVersion, runtime.Version())
	}
}
