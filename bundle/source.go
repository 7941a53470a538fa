package bundle

import "io"

// Opener opens a source's content for reading. The builder may call it more
// than once (hash, then write) and checks that both reads agree.
type Opener func() (io.ReadCloser, error)

// MigrationFile is one numbered migration: its up file and, when present, its
// down file (paths are absolute, inside the spec's directory).
type MigrationFile struct {
	Version  int
	Name     string
	UpPath   string
	DownPath string // empty when the migration has no down file
}

// ChartSource is a Helm chart ready to store: a packaged .tgz archive
// (given, or made deterministically from a chart directory).
type ChartSource struct {
	Name       string
	Version    string
	AppVersion string
	// Archive is the packaged chart; charts are small, capped in LoadChart.
	Archive []byte
}
