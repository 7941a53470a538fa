package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"ferry/bundle"
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
	size, err := parseSize(c.String("size"))
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

// parseSize reads a byte count: "4096", "700MiB", "4GiB", "2GB", "1.5G".
// Binary units (KiB, MiB, GiB, TiB, and the bare K, M, G, T) are powers
// of 1024; decimal ones (KB, MB, GB, TB) powers of 1000.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
		{"B", 1},
	}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(num), strings.ToUpper(u.suffix)) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	bad := fmt.Errorf("invalid size %q: use bytes or a number with a unit, such as 700MiB or 4GiB", s)
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n <= 0 || n > math.MaxInt64/mult {
			return 0, bad
		}
		return n * mult, nil
	}
	// A fraction needs a unit: there are no fractions of a byte.
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 1 || !(f > 0) || f*float64(mult) >= math.MaxInt64 || f*float64(mult) < 1 {
		return 0, bad
	}
	return int64(f * float64(mult)), nil
}
