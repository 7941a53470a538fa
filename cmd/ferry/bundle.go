package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/bundle"
	"ferry/bundle/image"
	"ferry/compliance"
)

func bundleCommand() *cli.Command {
	return &cli.Command{
		Name:  "bundle",
		Usage: "build and inspect bundles",
		Subcommands: []*cli.Command{
			{
				Name:      "create",
				Usage:     "build a signed bundle from a ferry.yaml",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Value: "ferry.yaml", Usage: "the spec `FILE`"},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "bundle `FILE` to write (default NAME-VERSION.ferry)"},
					&cli.StringSliceFlag{Name: "key", Usage: "private signing key `FILE` (repeat for several)"},
					&cli.BoolFlag{Name: "plain-http", Usage: "talk plain HTTP to image registries (local registries)"},
					&cli.BoolFlag{Name: "insecure", Usage: "do not verify registry TLS certificates"},
					&cli.StringSliceFlag{Name: "base", Usage: "make an update of the release of bundle `FILE`: only what it lacks travels; repeat for a chain, oldest first (--base full.ferry --base update.ferry), so that the update stays small"},
					&cli.BoolFlag{Name: "allow-migration-change", Usage: "with --base: build even when a migration of the base has changed (hosts that applied it refuse the update)"},
					&cli.StringFlag{Name: "compress", Value: "auto", Usage: "write the file zstd-compressed: `WHEN` is auto (an update of at most 64 MiB, when that saves a tenth), always or never"},
					&cli.StringSliceFlag{Name: "rotation", Usage: "carry the key rotation statement `FILE` (ferry keys rotate), so that hosts trusting older keys accept this bundle (repeatable)"},
					passphraseFlag(),
				},
				Action: bundleCreate,
			},
			{
				Name:      "guide",
				Usage:     "write the air-gap installation guide of a bundle (Markdown)",
				ArgsUsage: "BUNDLE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (default: standard output)"},
				},
				Action: bundleGuide,
			},
			{
				Name:      "inspect",
				Usage:     "show what a bundle contains (without verifying it)",
				ArgsUsage: "BUNDLE",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
				},
				Action: bundleInspect,
			},
			bundleSplitCommand(),
			bundleJoinCommand(),
			bundleChartsCommand(),
		},
	}
}

func bundleCreate(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("bundle create takes no arguments (use -f and -o), got %q", c.Args().Slice())
	}
	spec, err := bundle.LoadSpec(c.String("file"))
	if err != nil {
		return err
	}
	signers, err := loadSigners(c, c.StringSlice("key"))
	if err != nil {
		return err
	}
	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	compress, err := bundle.ParseCompression(c.String("compress"))
	if err != nil {
		return usageError("--compress: %v", err)
	}
	var rotations [][]byte
	for _, p := range c.StringSlice("rotation") {
		b, err := os.ReadFile(p)
		if err != nil {
			return usageError("--rotation: %v", err)
		}
		rotations = append(rotations, b)
	}
	var base string
	var chain []string
	if bs := c.StringSlice("base"); len(bs) > 0 {
		base, chain = bs[len(bs)-1], bs[:len(bs)-1]
	}
	out := c.String("output")
	if out == "" {
		out = spec.Metadata.Name + "-" + spec.Metadata.Version + ".ferry"
	}
	bar := newProgress(c.App.ErrWriter, "building")
	defer bar.finish()
	start := time.Now()
	res, err := bundle.Build(c.Context, out, bundle.BuildOptions{
		Spec:                 spec,
		Signers:              signers,
		Images:               image.Options{PlainHTTP: c.Bool("plain-http"), Insecure: c.Bool("insecure")},
		Created:              created,
		Progress:             bar.phase,
		ImageProgress:        bar.image,
		Base:                 base,
		Chain:                chain,
		AllowMigrationChange: c.Bool("allow-migration-change"),
		Compress:             compress,
		Rotations:            rotations,
	})
	if err != nil {
		return err
	}
	bar.finish()
	form := ""
	if res.Compressed {
		form = fmt.Sprintf(", zstd-compressed from %s", humanBytes(res.PlainSize))
	}
	fmt.Fprintf(c.App.Writer, "wrote %s (%s%s, %d entries) in %s\ndigest %s\n",
		out, humanBytes(res.Size), form, len(res.Manifest.Entries), time.Since(start).Round(time.Millisecond), res.Digest)
	return nil
}

// sourceDateEpoch honours SOURCE_DATE_EPOCH, the reproducible-builds
// convention for a fixed creation time.
func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Time{}, nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, usageError("SOURCE_DATE_EPOCH=%q is not a number of seconds", v)
	}
	return time.Unix(secs, 0).UTC(), nil
}

func bundleInspect(c *cli.Context) error {
	in, err := inspectArg(c, "bundle inspect")
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(in)
	}
	printInspection(c.App.Writer, in)
	return nil
}

func printInspection(w io.Writer, in *bundle.Inspection) {
	m := in.Manifest
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "bundle\t%s %s\n", m.Name, m.Version)
	if m.Vendor != "" {
		fmt.Fprintf(tw, "vendor\t%s\n", m.Vendor)
	}
	fmt.Fprintf(tw, "digest\t%s\n", in.Digest)
	fmt.Fprintf(tw, "created\t%s\n", m.Created.Format(time.RFC3339))
	if m.Expires != nil {
		fmt.Fprintf(tw, "expires\t%s\n", m.Expires.Format(time.RFC3339))
	}
	if m.Base != nil {
		fmt.Fprintf(tw, "base\t%s %s (%d blobs from it)\n", m.Base.Version, m.Base.Digest, len(m.BaseBlobs))
	}
	fmt.Fprintf(tw, "size\t%s stored, %s content, %d entries\n", humanBytes(in.Stored), humanBytes(in.Content), len(m.Entries))
	if in.Compressed {
		fmt.Fprintf(tw, "form\tzstd-compressed tar (zstd -dc FILE | tar -t lists it)\n")
	}
	tw.Flush()

	fmt.Fprintf(w, "\nsignatures (not checked here: run ferry verify)\n")
	for _, s := range in.Signatures {
		fmt.Fprintf(w, "  %-11s %s\n", s.Type, s.KeyID)
	}
	if len(in.Signatures) == 0 {
		fmt.Fprintf(w, "  none\n")
	}
	if len(in.Rotations) > 0 {
		fmt.Fprintf(w, "\nkey rotation statements (not checked here)\n")
		for _, r := range in.Rotations {
			fmt.Fprintf(w, "  %d: %d of %s, signed by %s\n", r.Sequence, r.Threshold, strings.Join(r.KeyIDs, ", "), strings.Join(r.SignedBy, ", "))
		}
	}

	byName := map[string]bundle.Component{}
	for _, c := range m.Components {
		byName[c.Name] = c
	}
	fmt.Fprintf(w, "\ncomponents, in install order\n")
	for i, name := range in.Order {
		c := byName[name]
		var notes []string
		if c.Optional {
			notes = append(notes, "optional")
		}
		if len(c.DependsOn) > 0 {
			notes = append(notes, "after "+strings.Join(c.DependsOn, ", "))
		}
		note := ""
		if len(notes) > 0 {
			note = " (" + strings.Join(notes, "; ") + ")"
		}
		size := in.Components[c.Name]
		fmt.Fprintf(w, "  %d. %s%s  %s stored, %s content\n", i+1, c.Name, note, humanBytes(size.Stored), humanBytes(size.Content))
		for _, img := range c.Images {
			fmt.Fprintf(w, "       image     %s  %s  %s\n", img.Name, img.Digest, strings.Join(img.Platforms, ","))
		}
		for _, ms := range c.Migrations {
			fmt.Fprintf(w, "       database  %s: %d migrations", ms.Database, len(ms.Steps))
			if n := len(ms.Steps); n > 0 {
				fmt.Fprintf(w, " (%d %s … %d %s)", ms.Steps[0].Version, ms.Steps[0].Name, ms.Steps[n-1].Version, ms.Steps[n-1].Name)
			}
			fmt.Fprintln(w)
		}
		for _, f := range c.Files {
			fmt.Fprintf(w, "       file      %s  %s  %s\n", f.Dest, f.Mode, humanBytes(f.Size))
		}
		for _, ch := range c.Charts {
			fmt.Fprintf(w, "       chart     %s %s\n", ch.Name, ch.Version)
		}
		for _, s := range c.Services {
			strategy := "restart"
			if s.Rollout != nil {
				strategy = s.Rollout.Strategy
			}
			fmt.Fprintf(w, "       service   %s  %s  %s\n", s.Name, s.Listen, strategy)
		}
		if n := len(c.Checks); n > 0 {
			fmt.Fprintf(w, "       checks    %d\n", n)
		}
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// inspectArg reads the head of the bundle named on the command line, or
// of this installer's own.
func inspectArg(c *cli.Context, command string) (*bundle.Inspection, error) {
	src, err := bundleArg(c, command)
	if err != nil {
		return nil, err
	}
	return bundle.InspectFile(src.path)
}

func bundleGuide(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("bundle guide takes one bundle file")
	}
	in, err := inspectArg(c, "bundle guide")
	if err != nil {
		return err
	}
	// The guide is about the bundle file an operator checks with
	// sha256sum: for an installer or split parts, the bundle they carry
	// (what `ferry extract` or `ferry bundle join` writes).
	path := c.Args().First()
	a, err := bundle.OpenArchive(path)
	if err != nil {
		return err
	}
	defer a.Close()
	h := sha256.New()
	n, err := io.Copy(h, a)
	if err != nil {
		return err
	}
	name := filepath.Base(path)
	if a.Payload() != nil || len(a.Parts()) > 0 {
		name = fmt.Sprintf("%s-%s.ferry", in.Manifest.Name, in.Manifest.Version)
	}
	g := compliance.GuideInput{File: name, Size: n, FileSHA256: hex.EncodeToString(h.Sum(nil)), In: in}
	if out := c.String("output"); out != "" {
		return writeFileAtomicFunc(out, 0o644, func(w io.Writer) error { return compliance.WriteGuide(w, g) })
	}
	return compliance.WriteGuide(c.App.Writer, g)
}
