package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"ferry/bundle"
	"ferry/bundle/spec"
)

// fat32MaxFile is the largest file FAT32 can hold, 4 GiB less one byte:
// the default part size, so that parts fit the file system most removable
// media come formatted with.
const fat32MaxFile = 4<<30 - 1

func bundleSplitCommand() *cli.Command {
	return &cli.Command{
		Name:      "split",
		Usage:     "cut a bundle (or an installer) into parts for media with a file size limit",
		ArgsUsage: "FILE",
		Description: "Writes FILE.part000, FILE.part001, … and FILE.parts.sha256 (sha256sum format).\n" +
			"verify, install, plan and bundle inspect read the parts from FILE.part000; bundle join puts them together.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "size", Value: strconv.Itoa(fat32MaxFile), Usage: "largest part, in bytes or with a unit (700MiB, 4GiB, 2GB); the default is FAT32's limit"},
			&cli.StringFlag{Name: "dir", Aliases: []string{"C"}, Usage: "write the parts into `DIR` (default: next to FILE)"},
		},
		Action: bundleSplit,
	}
}

func bundleSplit(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("bundle split takes one file")
	}
	size, err := spec.ParseSize(c.String("size"))
	if err != nil {
		return usageError("--size: %v", err)
	}
	parts, err := bundle.SplitFile(c.Context, c.Args().First(), c.String("dir"), size)
	if err != nil {
		return err
	}
	for _, p := range parts {
		fmt.Fprintf(c.App.Writer, "%s  %s  %s\n", p.SHA256, p.Path, humanBytes(p.Size))
	}
	list := bundle.PartListName(strings.TrimSuffix(parts[0].Path, filepath.Ext(parts[0].Path)))
	fmt.Fprintf(c.App.Writer, "%d parts; checksums in %s (sha256sum -c reads it)\n", len(parts), list)
	return nil
}

func bundleJoinCommand() *cli.Command {
	return &cli.Command{
		Name:      "join",
		Usage:     "put the parts of a split file together, checking each against its checksum",
		ArgsUsage: "FILE.part000",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "the `FILE` to write"},
		},
		Action: bundleJoin,
	}
}

func bundleJoin(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("bundle join takes the first part, FILE.part000")
	}
	out := c.String("output")
	var n int64
	err := writeFileAtomicFunc(out, 0o644, func(w io.Writer) error {
		var err error
		n, err = bundle.JoinParts(c.Context, w, c.Args().First())
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "joined %s (%s)\n", out, humanBytes(n))
	return nil
}
