package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"ferry/bundle"
	"ferry/installer/state"
	"ferry/verify"
)

// bundleSource is the bundle a command reads, and the keys it trusts when
// the operator names none.
type bundleSource struct {
	path string
	// embedded are the release keys of this executable's own payload,
	// set only when it is an installer run without a bundle argument.
	// Keys carried by any other file are never trusted by default: anyone
	// can build an installer.
	embedded [][]byte
}

// bundleArg returns the bundle named on the command line (a bundle, an
// installer or a first part) or, with no argument, the bundle this
// executable carries when it is an installer.
func bundleArg(c *cli.Context, command string) (bundleSource, error) {
	if c.NArg() == 1 {
		return bundleSource{path: c.Args().First()}, nil
	}
	if c.NArg() == 0 {
		exe, err := os.Executable()
		if err != nil {
			return bundleSource{}, fmt.Errorf("finding this executable: %w", err)
		}
		a, err := bundle.OpenArchive(exe)
		switch {
		case err == nil:
			defer a.Close()
			if p := a.Payload(); p != nil {
				return bundleSource{path: exe, embedded: p.Keys}, nil
			}
		case !errors.Is(err, bundle.ErrNotInstaller):
			return bundleSource{}, fmt.Errorf("this installer cannot be used: %w", err)
		}
	}
	return bundleSource{}, usageError("%s takes one bundle file", command)
}

// publicKeys returns the keys to verify with: the --key files, else the
// installer's embedded keys.
func (s bundleSource) publicKeys(files []string) ([]*verify.PublicKey, error) {
	if len(files) > 0 {
		return loadPublicKeys(files)
	}
	if len(s.embedded) == 0 {
		return nil, usageError("at least one --key (a trusted public key) is required")
	}
	return parseKeys(s.embedded)
}

// installKeys returns the keys an install adds to the appliance's trust:
// the --key files; else, from an installer, its embedded keys, but only
// when the appliance trusts no key yet. An appliance that already has a
// trust store (ferry trust) keeps to it, as with --key on a first install.
func (s bundleSource) installKeys(root string, files []string) ([][]byte, error) {
	if len(files) > 0 || len(s.embedded) == 0 {
		return readKeyFiles(files)
	}
	trusts, err := applianceTrusts(root)
	if err != nil || trusts {
		return nil, err
	}
	return s.embedded, nil
}

// applianceTrusts reports whether the appliance at root has trusted keys.
// A directory that is not an appliance yet has none.
func applianceTrusts(root string) (bool, error) {
	db, err := state.OpenReadOnly(root)
	if errors.Is(err, state.ErrNotARoot) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer db.Close()
	keys, err := db.Trust()
	return len(keys) > 0, err
}

// embeddedKeyIDs describes the installer's keys, "type id", for the
// operator to compare with the ids the vendor publishes.
func (s bundleSource) embeddedKeyIDs() []string {
	var out []string
	keys, _ := parseKeys(s.embedded) // checked when the installer was opened
	for _, k := range keys {
		out = append(out, string(k.Type())+" "+k.ID())
	}
	return out
}

func parseKeys(raw [][]byte) ([]*verify.PublicKey, error) {
	out := make([]*verify.PublicKey, len(raw))
	for i, b := range raw {
		k, err := verify.ParsePublicKey(b)
		if err != nil {
			return nil, keyError{fmt.Errorf("embedded key %d: %w", i+1, err)}
		}
		out[i] = k
	}
	return out, nil
}

// installerUsage is what an installer prints when run with no command: what
// it carries and the few commands an operator needs. It is empty for a
// plain ferry; an installer that cannot be used (damaged) is an error, so
// that running it says so instead of printing ferry's help.
func installerUsage() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil
	}
	a, err := bundle.OpenArchive(exe)
	if err != nil {
		// A ferry that cannot read itself (mode 0711) is no installer.
		for _, damage := range []error{bundle.ErrDamagedInstaller, bundle.ErrDamagedTrailer, bundle.ErrKeysMismatch, bundle.ErrPayloadMismatch} {
			if errors.Is(err, damage) {
				return "", fmt.Errorf("this installer cannot be used: %w", err)
			}
		}
		return "", nil
	}
	p := a.Payload()
	a.Close()
	if p == nil {
		return "", nil
	}
	in, err := bundle.InspectFile(exe)
	if err != nil {
		return "", fmt.Errorf("this installer cannot be used: %w", err)
	}
	name := filepath.Base(exe)
	return fmt.Sprintf(`This is the installer of %s %s: ferry, the signed bundle and %d release key(s) in one file.

  ./%[4]s verify                       check the bundle's signatures and every byte of it
  ./%[4]s plan                         show the install steps (changes nothing)
  ./%[4]s install --root DIR [--license FILE]
  ./%[4]s extract -o %[1]s-%[2]s.ferry    write the bundle out, verified

Compare the embedded key ids that verify prints with those the vendor published.
Every ferry command works too: ./%[4]s --help.
`, in.Manifest.Name, in.Manifest.Version, len(p.Keys), name), nil
}
