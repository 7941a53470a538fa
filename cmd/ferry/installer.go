package main

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/bundle"
	"ferry/verify"
)

// ferryMainPackage is the main package of a ferry binary, as recorded in
// its Go build information.
const ferryMainPackage = "ferry/cmd/ferry"

func installerCommand() *cli.Command {
	return &cli.Command{
		Name:        "installer",
		Usage:       "make self-contained installers: ferry, a bundle and the release keys in one executable",
		Subcommands: []*cli.Command{installerBuildCommand()},
	}
}

func installerBuildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "make one executable that verifies and installs a bundle with no other file",
		ArgsUsage: "BUNDLE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "the installer `FILE` to write (with FILE.sha256)"},
			&cli.StringSliceFlag{Name: "key", Usage: "release public key `FILE` to embed (repeat for several); the bundle must verify with them"},
			&cli.StringFlag{Name: "ferry-binary", Usage: "a prebuilt ferry `BINARY` for the appliance's OS and architecture (default: this ferry)"},
			&cli.StringFlag{Name: "sign-key", Usage: "also sign FILE.sha256 with this private release key `FILE`"},
			passphraseFlag(),
		},
		Action: installerBuild,
	}
}

func installerBuild(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("installer build takes one bundle file")
	}
	if len(c.StringSlice("key")) == 0 {
		return usageError("at least one --key (a release public key to embed) is required")
	}
	keys, err := readKeyFiles(c.StringSlice("key"))
	if err != nil {
		return err
	}
	// The passphrase is asked for before the long copy, not after it.
	var signer verify.Signer
	if sk := c.String("sign-key"); sk != "" {
		signers, err := loadSigners(c, []string{sk})
		if err != nil {
			return err
		}
		signer = signers[0]
	}
	exePath := c.String("ferry-binary")
	if exePath == "" {
		if exePath, err = os.Executable(); err != nil {
			return fmt.Errorf("finding this executable: %w", err)
		}
	}
	exe, err := bundle.OpenExecutable(exePath)
	if errors.Is(err, bundle.ErrDamagedInstaller) {
		return err
	}
	if err != nil {
		return usageError("%v", err)
	}
	defer exe.Close()
	platform, err := ferryPlatform(exe, exePath)
	if err != nil {
		return err
	}
	src, err := bundle.OpenArchive(c.Args().First())
	if err != nil {
		return err
	}
	defer src.Close()

	out := c.String("output")
	bar := newProgress(c.App.ErrWriter, "building")
	defer bar.finish()
	var done int64
	start := time.Now()
	var res *bundle.InstallerResult
	err = writeFileAtomicFunc(out, 0o755, func(w io.Writer) error {
		var err error
		res, err = bundle.WriteInstaller(c.Context, w, bundle.InstallerOptions{
			Executable: exe, Keys: keys, Bundle: src,
			Progress: func(n int64) { done += n; bar.phase("installer", done, src.Size()) },
		})
		return err
	})
	if err != nil {
		return err
	}
	bar.finish()
	sums := fmt.Sprintf("%s  %s\n", res.SHA256, filepath.Base(out))
	if err := writeFileAtomic(out+".sha256", []byte(sums), 0o644); err != nil {
		return err
	}
	var sigPath string
	if signer != nil {
		sig, err := signer.Sign([]byte(sums))
		if err != nil {
			return fmt.Errorf("signing %s.sha256: %w", out, err)
		}
		sigPath = out + ".sha256" + filepath.Ext(sig.FileName())
		if err := writeFileAtomic(sigPath, sig.Data, 0o644); err != nil {
			return err
		}
	}

	m := res.Verified.Manifest
	w := c.App.Writer
	fmt.Fprintf(w, "wrote %s (%s, for %s) in %s\ncarrying %s %s, digest %s\n",
		out, humanBytes(res.Size), platform, time.Since(start).Round(time.Millisecond), m.Name, m.Version, res.ManifestDigest)
	fmt.Fprintf(w, "embedded release keys:\n")
	for _, id := range (bundleSource{embedded: keys}).embeddedKeyIDs() {
		fmt.Fprintf(w, "  %s\n", id)
	}
	fmt.Fprintf(w, "sha256 %s in %s.sha256\n", res.SHA256, out)
	if sigPath != "" {
		fmt.Fprintf(w, "signature of %s.sha256 in %s\n", out, sigPath)
	}
	fmt.Fprintf(w, "publish the SHA-256 (and signature) and the key ids: operators check the installer file with them before running it\n")
	return nil
}

// ferryPlatform checks that exe is a ferry binary, from its Go build
// information, and returns the GOOS/GOARCH it was built for.
func ferryPlatform(exe io.ReaderAt, path string) (string, error) {
	bi, err := buildinfo.Read(exe)
	if err != nil {
		return "", usageError("%s is not a Go binary (%v): give a ferry binary", path, err)
	}
	if bi.Path != ferryMainPackage {
		return "", usageError("%s is %s, not a ferry binary (%s)", path, bi.Path, ferryMainPackage)
	}
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos == "" || goarch == "" {
		return "an unknown platform", nil
	}
	return goos + "/" + goarch, nil
}

func extractCommand() *cli.Command {
	return &cli.Command{
		Name:      "extract",
		Usage:     "write the bundle an installer (or a split file) carries to a file, verified on the way",
		ArgsUsage: "[INSTALLER]",
		Description: "Run by an installer with no argument, extract writes the bundle it carries, checked\n" +
			"against its embedded keys. Given an installer or a first part (NAME.part000), it needs --key.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "the bundle `FILE` to write"},
			&cli.StringSliceFlag{Name: "key", Usage: "trusted public key `FILE` (default: the installer's embedded keys)"},
			&cli.IntFlag{Name: "threshold", Value: 1, Usage: "number of distinct trusted keys that must have signed"},
		},
		Action: extractBundle,
	}
}

func extractBundle(c *cli.Context) error {
	src, err := bundleArg(c, "extract")
	if err != nil {
		return err
	}
	keys, err := src.publicKeys(c.StringSlice("key"))
	if err != nil {
		return err
	}
	a, err := bundle.OpenArchive(src.path)
	if err != nil {
		return err
	}
	defer a.Close()
	out := c.String("output")
	if same, _ := sameFile(out, src.path); same {
		return usageError("-o %s would overwrite the file being read", out)
	}
	var v *bundle.Verified
	err = writeFileAtomicFunc(out, 0o644, func(w io.Writer) error {
		var err error
		v, _, err = bundle.CopyVerified(c.Context, w, a, bundle.VerifyOptions{
			Trust: verify.TrustSet{Keys: keys, Threshold: c.Int("threshold")},
		})
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "extracted %s %s (%s) to %s\ndigest %s\nsigned by %s\n",
		v.Manifest.Name, v.Manifest.Version, humanBytes(v.Size), out, v.Digest, strings.Join(v.SignedBy, ", "))
	return nil
}

// sameFile reports whether a and b name the same existing file.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}
