package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/license"
	"ferry/verify"
)

func licenseIssueCommand() *cli.Command {
	return &cli.Command{
		Name:      "issue",
		Usage:     "issue a signed licence for a customer (on the vendor's connected host)",
		ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "key", Required: true, Usage: "private licence signing key `FILE` (repeat for several)"},
			&cli.StringFlag{Name: "customer", Required: true, Usage: "the licensee's `NAME`, as it is shown"},
			&cli.StringFlag{Name: "product", Usage: "the bundle `NAME` (metadata.name) covered (default: any product)"},
			&cli.StringFlag{Name: "expires", Required: true, Usage: "end of validity: `DATE` (YYYY-MM-DD, 00:00 UTC that day) or RFC 3339"},
			&cli.StringFlag{Name: "not-before", Usage: "start of validity: `DATE` (YYYY-MM-DD or RFC 3339; default: now)"},
			&cli.StringFlag{Name: "grace", Value: "0", Usage: "how long the licence still works after it expires: `DURATION` (30d, 72h)"},
			&cli.StringFlag{Name: "components", Usage: "the components covered, comma-separated (default: all)"},
			&cli.StringFlag{Name: "features", Usage: "features granted, comma-separated"},
			&cli.StringFlag{Name: "versions", Usage: "the bundle versions covered, a semver `CONSTRAINT` such as \">=1.0.0 <3.0.0\" (default: all)"},
			&cli.IntFlag{Name: "nodes", Usage: "how many nodes the customer may run (default 0: unlimited)"},
			&cli.StringFlag{Name: "bind", Usage: "bind the licence to the host with this `FINGERPRINT` (what `ferry fingerprint` prints there)"},
			&cli.StringFlag{Name: "id", Usage: "the licence `ID` (a-z, 0-9, '-'; default: 128 random bits in hex)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "the licence `FILE` to write"},
			passphraseFlag(),
		},
		Action: licenseIssue,
	}
}

func licenseIssue(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("license issue takes no arguments, got %q", c.Args().Slice())
	}
	expires, err := parseDateFlag(c, "expires")
	if err != nil {
		return err
	}
	var notBefore time.Time
	if c.IsSet("not-before") {
		if notBefore, err = parseDateFlag(c, "not-before"); err != nil {
			return err
		}
	}
	grace, err := parseDays(c.String("grace"))
	if err != nil {
		return usageError("--grace %q: %v", c.String("grace"), err)
	}
	signers, err := loadSigners(c, c.StringSlice("key"))
	if err != nil {
		return err
	}
	data, err := license.Issue(license.License{
		ID:         c.String("id"),
		Product:    c.String("product"),
		Customer:   c.String("customer"),
		NotBefore:  notBefore,
		Expires:    expires,
		Grace:      grace,
		Components: splitList(c.String("components")),
		Features:   splitList(c.String("features")),
		Versions:   c.String("versions"),
		Nodes:      c.Int("nodes"),
		Bind:       c.String("bind"),
	}, signers...)
	if err != nil {
		return err
	}
	out := c.String("output")
	if err := writeFileAtomic(out, data, 0o644); err != nil {
		return err
	}
	env, err := license.Parse(data)
	if err != nil {
		return err // Issue reads back what it writes; this cannot happen
	}
	l := env.License
	fmt.Fprintf(c.App.Writer, "issued licence %s for %q\nvalid %s to %s, grace %s\nsigned by %s\nwritten to %s\n",
		l.ID, l.Customer, formatLicenseTime(l.NotBefore), formatLicenseTime(l.Expires), humanDuration(l.Grace),
		strings.Join(signatureKeyIDs(env.Signatures), ", "), out)
	return nil
}

// parseDateFlag reads a date flag: YYYY-MM-DD (midnight UTC at the start of
// that day, as a bundle's metadata.expires reads) or RFC 3339.
func parseDateFlag(c *cli.Context, name string) (time.Time, error) {
	s := c.String(name)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageError("--%s %q: want a date (2027-12-31) or an RFC 3339 time (2027-12-31T00:00:00Z)", name, s)
	}
	return t, nil
}

// parseDays reads a duration as Go writes it (72h, 90m) or in days (30d).
func parseDays(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, errors.New("want a number of days (30d) or a duration (72h)")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("want a number of days (30d) or a duration (72h)")
	}
	return d, nil
}

func licenseInspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show a licence file's terms; with --key, whether it verifies",
		ArgsUsage: "FILE",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "key", Usage: "trusted public licence key `FILE` (repeat for several)"},
			&cli.IntFlag{Name: "threshold", Value: 1, Usage: "number of distinct trusted keys that must have signed"},
			jsonFlag(),
		},
		Action: licenseInspect,
	}
}

func licenseInspect(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("license inspect takes one licence file")
	}
	if t := c.Int("threshold"); t < 1 {
		return usageError("--threshold must be at least 1")
	}
	path := c.Args().First()
	data, err := readLicenseBytes(path)
	if err != nil {
		return err
	}
	env, err := license.Parse(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	l := env.License
	now := time.Now().UTC().Truncate(time.Second)
	r := license.NewReport(path, data, env, now)
	var verifyErr error
	if paths := c.StringSlice("key"); len(paths) > 0 {
		keys, err := loadPublicKeys(paths)
		if err != nil {
			return err
		}
		_, ids, err := license.Verify(data, verify.TrustSet{Keys: keys, Threshold: c.Int("threshold")})
		ok := err == nil
		r.Verified, r.SignedBy = &ok, ids
		if err != nil {
			r.Error = err.Error()
			verifyErr = fmt.Errorf("%s: %w", path, err)
		}
	}
	if c.Bool("json") {
		if err := writeJSON(c.App.Writer, r); err != nil {
			return err
		}
		return verifyErr
	}
	printLicense(c.App.Writer, r, l.StatusAt(now), l.Grace)
	return verifyErr
}

func printLicense(w io.Writer, r license.Report, s license.Status, grace time.Duration) {
	orAll := func(list []string, all string) string {
		if len(list) == 0 {
			return all
		}
		return strings.Join(list, ", ")
	}
	orText := func(v, empty string) string {
		if v == "" {
			return empty
		}
		return v
	}
	nodes := "unlimited"
	if r.Nodes > 0 {
		nodes = strconv.Itoa(r.Nodes)
	}
	fmt.Fprintf(w, "licence     %s\n", r.ID)
	fmt.Fprintf(w, "customer    %s\n", r.Customer)
	fmt.Fprintf(w, "product     %s\n", orText(r.Product, "any"))
	fmt.Fprintf(w, "issued      %s\n", formatLicenseTime(r.Issued))
	fmt.Fprintf(w, "valid       %s to %s, grace %s\n", formatLicenseTime(r.NotBefore), formatLicenseTime(r.Expires), humanDuration(grace))
	fmt.Fprintf(w, "components  %s\n", orAll(r.Components, "all"))
	fmt.Fprintf(w, "features    %s\n", orAll(r.Features, "none"))
	fmt.Fprintf(w, "versions    %s\n", orText(r.Versions, "all"))
	fmt.Fprintf(w, "nodes       %s\n", nodes)
	fmt.Fprintf(w, "host        %s\n", orText(r.Bind, "any"))
	fmt.Fprintf(w, "sha256      %s\n", r.SHA256)
	switch s.State {
	case license.StateNotYetValid:
		fmt.Fprintf(w, "now         not valid yet: starts in %s (by this host's clock)\n", humanDuration(s.StartsIn))
	case license.StateValid:
		fmt.Fprintf(w, "now         valid: expires in %s (by this host's clock)\n", humanDuration(s.ExpiresIn))
	case license.StateGrace:
		fmt.Fprintf(w, "now         EXPIRED, in grace: %s left (by this host's clock)\n", humanDuration(s.GraceLeft))
	case license.StateExpired:
		fmt.Fprintf(w, "now         EXPIRED, grace over (by this host's clock)\n")
	}
	for _, sig := range r.Signatures {
		fmt.Fprintf(w, "signature   %s key %s\n", sig.Type, sig.KeyID)
	}
	switch {
	case r.Verified == nil:
		fmt.Fprintln(w, "verified    not checked: give the vendor's licence key with --key")
	case *r.Verified:
		fmt.Fprintf(w, "verified    signed by %s\n", strings.Join(r.SignedBy, ", "))
	default:
		fmt.Fprintln(w, "verified    NO")
	}
}

func fingerprintCommand() *cli.Command {
	return &cli.Command{
		Name:      "fingerprint",
		Usage:     "print this host's fingerprint, for `ferry license issue --bind`",
		ArgsUsage: " ",
		Flags:     []cli.Flag{jsonFlag()},
		Action:    showFingerprint,
	}
}

func showFingerprint(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("fingerprint takes no arguments")
	}
	host := license.ReadHost(os.DirFS("/"))
	fp, fpErr := host.Fingerprint()
	r := host.Report(fp)
	if c.Bool("json") {
		if err := writeJSON(c.App.Writer, r); err != nil {
			return err
		}
		return fpErr
	}
	if fpErr == nil {
		fmt.Fprintln(c.App.Writer, fp)
	}
	w := c.App.ErrWriter
	fmt.Fprintln(w, "sources, strongest first:")
	used := false
	for _, s := range host.Sources {
		status := s.Fingerprint
		switch {
		case s.Err != nil:
			status = "unusable: " + s.Err.Error()
		case s.Fingerprint == fp && !used:
			status += " (used)"
			used = true
		}
		fmt.Fprintf(w, "  %-18s %-45s %s\n", s.Kind, s.Path, status)
	}
	for _, s := range host.Sources {
		if s.Fingerprint == fp {
			break
		}
		if errors.Is(s.Err, fs.ErrPermission) {
			fmt.Fprintf(w, "note: %s is not readable by this user; run ferry fingerprint as the user that runs ferry install to bind to the strongest source\n", s.Path)
		}
	}
	return fpErr
}

// readLicenseBytes reads a licence file, bounded: the file comes from
// outside, and a licence is never larger than license.MaxSize.
func readLicenseBytes(path string) ([]byte, error) {
	return readCapped(path, license.MaxSize, "licence")
}

// readCapped reads a signed file of at most limit bytes (a licence, a
// clock reset statement) without reading more of it.
func readCapped(path string, limit int, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%s %s: %w: larger than %d bytes", what, path, license.ErrMalformed, limit)
	}
	return data, nil
}

func signatureKeyIDs(sigs []verify.Signature) []string {
	var out []string
	for _, s := range sigs {
		out = append(out, string(s.Type)+" "+s.KeyID)
	}
	return out
}

func formatLicenseTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// humanDuration writes a licence duration in days and hours ("30d",
// "412d 5h"), or as Go does below a day.
func humanDuration(d time.Duration) string {
	if d < 24*time.Hour {
		return d.Round(time.Second).String()
	}
	days, hours := d/(24*time.Hour), (d%(24*time.Hour)).Round(time.Hour)/time.Hour
	if hours == 24 {
		days, hours = days+1, 0
	}
	if hours == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd %dh", days, hours)
}
