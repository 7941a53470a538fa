//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package store

import "os"

// lockFile does nothing where flock is not available: every temporary file
// counts as a leftover, so removing leftovers is safe there only while no
// other process writes to the store.
func lockFile(f *os.File, try bool) error { return nil }
