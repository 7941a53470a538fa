//go:build !linux

package posixacl

import (
	"errors"
	"fmt"
	"os"
)

// ErrNotSupported reports a system or file system that keeps no ACLs.
var ErrNotSupported = errors.New("the file system keeps no POSIX ACLs")

// Get reports ErrNotSupported: ferry sets ACLs on Linux only.
func Get(f *os.File, attr string) (ACL, error) {
	return nil, fmt.Errorf("%s: %w", f.Name(), ErrNotSupported)
}

// Set reports ErrNotSupported: ferry sets ACLs on Linux only.
func Set(f *os.File, attr string, a ACL) error {
	return fmt.Errorf("%s: %w", f.Name(), ErrNotSupported)
}
