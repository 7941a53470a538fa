package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/bundle"
	"ferry/verify"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check a bundle's signatures and every byte of it against its manifest",
		ArgsUsage: "BUNDLE",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "key", Usage: "trusted public key `FILE` (repeat for several)"},
			&cli.IntFlag{Name: "threshold", Value: 1, Usage: "number of distinct trusted keys that must have signed"},
			&cli.BoolFlag{Name: "deep", Usage: "also decompress every compressed entry and check its content digest"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
		},
		Action: verifyBundle,
	}
}

func verifyBundle(c *cli.Context) error {
	src, err := bundleArg(c, "verify")
	if err != nil {
		return err
	}
	keys, err := src.publicKeys(c.StringSlice("key"))
	if err != nil {
		return err
	}
	if t := c.Int("threshold"); t < 1 {
		return usageError("--threshold must be at least 1")
	}
	path := src.path
	bar := newProgress(c.App.ErrWriter, "verifying")
	defer bar.finish()
	total := bundleSize(path)
	var done int64
	start := time.Now()
	v, err := bundle.VerifyFile(c.Context, path, bundle.VerifyOptions{
		Trust: verify.TrustSet{Keys: keys, Threshold: c.Int("threshold")},
		Deep:  c.Bool("deep"),
		Progress: func(n int64) {
			done += n
			bar.phase("verify", done, total)
		},
	})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path == path {
			return err // it names the file
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	bar.finish()
	r := verify.BundleReport{
		Bundle: path, Name: v.Manifest.Name, Version: v.Manifest.Version, Digest: v.Digest,
		SignedBy: v.SignedBy, Entries: len(v.Manifest.Entries), Bytes: v.Size, Deep: c.Bool("deep"),
		Seconds: time.Since(start).Seconds(), EmbeddedKeys: src.embeddedKeyIDs(),
	}
	for _, rot := range v.Rotations {
		r.Rotations = append(r.Rotations, rot.Sequence)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(c.App.Writer, "verified %s: %s %s\ndigest %s\nsigned by %d of %d required: %v\n%d entries, %s checked in %s\n",
		path, r.Name, r.Version, r.Digest, len(r.SignedBy), max(1, v.Trust.Threshold), r.SignedBy,
		r.Entries, humanBytes(r.Bytes), time.Since(start).Round(time.Millisecond))
	if n := len(v.Rotations); n > 0 {
		fmt.Fprintf(c.App.Writer, "trusted through key rotation statements %v: the given keys handed trust on to %s\n",
			r.Rotations, keyIDs(v.Trust.Keys))
	}
	if len(r.EmbeddedKeys) > 0 {
		fmt.Fprintf(c.App.Writer, "release keys embedded in this installer (compare them with the key ids the vendor published):\n  %s\n",
			strings.Join(r.EmbeddedKeys, "\n  "))
	}
	return nil
}

// bundleSize is the size of the bundle at path (an installer's or split
// parts' bundle, not the file's), for a progress bar; 0 when unknown.
func bundleSize(path string) int64 {
	a, err := bundle.OpenArchive(path)
	if err != nil {
		return 0
	}
	defer a.Close()
	return a.Size()
}
