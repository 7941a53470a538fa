// Package atomicfile is ferry's one way to write a file durably, so that a
// crash, a full disk or an error never leaves a partial file under the
// final name: a Pending file is written under a temporary name in the same
// directory, then Commit fsyncs it, renames it into place and fsyncs the
// directory, or Abort removes it. Every file ferry places on a host or
// writes for its user goes this way, with one error policy: any failed
// step, the directory's fsync included, is an error.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// TempPrefix starts the names of temporary files, so that a check can find
// any left by a process killed mid-write.
const TempPrefix = ".ferry-tmp-"

// Write creates or replaces path with what fill writes, with mode, making
// its directory if needed. On any error nothing is left behind and path is
// unchanged.
func Write(path string, mode os.FileMode, fill func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	p, err := Create(path, mode)
	if err != nil {
		return err
	}
	return fillAndCommit(p, fill)
}

// fillAndCommit runs fill on p's file and commits it, or aborts it on any
// error.
func fillAndCommit(p *Pending, fill func(io.Writer) error) error {
	defer p.Abort()
	if err := fill(p.f); err != nil {
		return fmt.Errorf("write %s: %w", p.display, err)
	}
	return p.Commit()
}

// SyncDir fsyncs a directory, so that a rename in it survives a power cut.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
