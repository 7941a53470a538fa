// Package atomicfile writes files so that a crash, a full disk or an error
// never leaves a partial file under the final name: write a temporary file
// in the same directory, fsync it, rename it into place, fsync the
// directory. Every file ferry places on a host goes this way.
package atomicfile

import (
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
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return WriteBeneath(root, filepath.Base(path), mode, fill)
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
