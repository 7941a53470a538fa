//go:build !linux

package installer

import "os"

// cloneFile clones only on Linux (FICLONE); elsewhere files are linked or
// copied.
func cloneFile(dst, src *os.File) error { return errNoClone }
