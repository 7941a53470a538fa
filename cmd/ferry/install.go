package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/bundle"
	"ferry/config"
	"ferry/installer"
	"ferry/installer/migrate"
	"ferry/installer/push"
	"ferry/installer/state"
	"ferry/internal/redact"
	"ferry/rollout/serve"
	"ferry/verify"
)

// rootFlag is --root, also from FERRY_ROOT.
func rootFlag() cli.Flag {
	return &cli.StringFlag{Name: "root", EnvVars: []string{"FERRY_ROOT"}, Usage: "the appliance `DIR`", Required: true}
}

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "machine-readable output"}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func installCommand() *cli.Command {
	return &cli.Command{
		Name:      "install",
		Usage:     "verify a bundle and install it as the current release",
		ArgsUsage: "BUNDLE",
		Flags: append([]cli.Flag{
			rootFlag(),
			&cli.StringSliceFlag{Name: "key", Usage: "trusted public key `FILE` of the first install, which becomes the appliance's trust (later: only keys it trusts; add others with ferry trust add)"},
			&cli.IntFlag{Name: "threshold", Value: 1, Usage: "distinct trusted keys that must have signed: the appliance's from the first install; later it may raise the appliance's for this command, never lower it (ferry trust threshold)"},
			&cli.StringFlag{Name: "components", Usage: "install only these optional components (comma-separated), with their dependencies"},
			&cli.StringFlag{Name: "skip", Usage: "leave out these optional components (comma-separated)"},
			&cli.IntFlag{Name: "keep", Value: 3, Usage: "number of releases to keep for rollback"},
			&cli.StringSliceFlag{Name: "db", Usage: "a PostgreSQL database for migrations, `NAME=@FILE` (the DSN in FILE), NAME=DSN, or FERRY_DB_NAME=DSN; others are embedded SQLite"},
			&cli.StringFlag{Name: "license", Usage: "the licence `FILE` to check and install (default: the one installed on the host)"},
			&cli.StringFlag{Name: "push-to", Usage: "also copy the installed images to the registry `HOST[:PORT][/PREFIX]`"},
			&cli.BoolFlag{Name: "plain-http", Usage: "talk plain HTTP to the --push-to registry"},
			&cli.BoolFlag{Name: "insecure", Usage: "do not verify the --push-to registry's TLS certificate"},
			jsonFlag(),
		}, append(append(configFlags(), waitFlags()...), chartFlags()...)...),
		Action: installBundle,
	}
}

func updateCommand() *cli.Command {
	flags := installCommand().Flags
	return &cli.Command{
		Name:  "update",
		Usage: "apply an update bundle (a newer full bundle, or one made with --base)",
		Subcommands: []*cli.Command{
			{Name: "plan", Usage: "what an update would change, refusing what apply would refuse (changes nothing)", ArgsUsage: "UPDATE", Flags: planCommand().Flags,
				Action: func(c *cli.Context) error { return runPlan(c, true) }},
			{Name: "apply", Usage: "verify and apply an update; any failure rolls back by itself", ArgsUsage: "UPDATE", Flags: flags,
				Action: func(c *cli.Context) error { return runInstall(c, true) }},
		},
	}
}

func installBundle(c *cli.Context) error { return runInstall(c, false) }

// runInstall is install and update apply; an update refuses a replay of
// the bundle already applied instead of doing nothing (installer.Update).
func runInstall(c *cli.Context, update bool) error {
	src, err := bundleArg(c, "install")
	if err != nil {
		return err
	}
	opts, err := admissionOptions(c, src, c.String("root"))
	if err != nil {
		return err
	}
	opts.Keep = c.Int("keep")
	if opts.Cluster, err = clusterOf(c, true); err != nil {
		return err
	}
	apply := installer.Install
	if update {
		apply = installer.Update
	}
	since := time.Now()
	res, err := apply(c.Context, src.path, opts)
	var pushed []push.Result
	if err == nil && c.String("push-to") != "" {
		pushed, err = pushImages(c, res)
	}
	var waited *serve.WaitResult
	if err == nil && c.Bool("json") {
		waited, err = afterInstall(c, res, since)
	}
	if res != nil && c.Bool("json") {
		_ = writeJSON(c.App.Writer, struct {
			installer.InstallReport
			Rollout *serve.WaitResult `json:"rollout,omitempty"`
		}{installer.NewInstallReport(res, pushedImages(pushed)), waited})
	}
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return nil
	}
	if res.NoOp {
		fmt.Fprintf(c.App.Writer, "already installed and current: %s\n", res.ReleaseAt)
		_, err := afterInstall(c, res, since)
		return err
	}
	fmt.Fprintf(c.App.Writer, "installed %s %s (%d components, %d blobs stored, %d reused)\nrelease %s\n",
		res.Plan.Name, res.Plan.Version, len(res.Plan.Components), res.Stored, res.Reused, res.ReleaseAt)
	for _, ch := range res.Checks {
		fmt.Fprintf(c.App.Writer, "check %s: ok\n", ch.Name)
	}
	if d := res.License; d != nil {
		fmt.Fprintf(c.App.Writer, "licence %s (%s): %s\n", d.License.ID, d.License.Customer, d.Status.State)
		if len(d.Skipped) > 0 {
			fmt.Fprintf(c.App.Writer, "skipped, not covered by the licence: %s\n", strings.Join(d.Skipped, ", "))
		}
	}
	for _, p := range pushed {
		state := "pushed"
		if !p.Pushed {
			state = "already there"
		}
		fmt.Fprintf(c.App.Writer, "%s %s -> %s\n", state, p.Image, p.Target)
	}
	_, err = afterInstall(c, res, since)
	return err
}

// pushImages copies the installed release's images to --push-to.
func pushImages(c *cli.Context, res *installer.Result) ([]push.Result, error) {
	names := res.Images
	if len(names) == 0 {
		return nil, nil
	}
	out, err := push.Push(c.Context, filepath.Join(c.String("root"), "store"), push.Options{
		Target: c.String("push-to"), PlainHTTP: c.Bool("plain-http"), Insecure: c.Bool("insecure"),
		Images: names, Log: logger(c),
	})
	if err != nil {
		return out, fmt.Errorf("%w: %w", errPush, err)
	}
	return out, nil
}

// pushedImages is what push reported, as the install report lists it.
func pushedImages(out []push.Result) []installer.PushedImage {
	var list []installer.PushedImage
	for _, r := range out {
		list = append(list, installer.PushedImage{Image: r.Image, Target: r.Target, Digest: r.Digest, Pushed: r.Pushed})
	}
	return list
}

func planCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "show the steps an install of a bundle would run (changes nothing)",
		ArgsUsage: "BUNDLE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", EnvVars: []string{"FERRY_ROOT"}, Usage: "the appliance `DIR`, to compare with what is installed and refuse what install would refuse there (optional)"},
			&cli.StringSliceFlag{Name: "key", Usage: "with --root, as install's --key: a trusted public key `FILE` of a first install"},
			&cli.IntFlag{Name: "threshold", Value: 1, Usage: "with --root, as install's --threshold"},
			&cli.StringFlag{Name: "license", Usage: "with --root, the licence `FILE` install would be given (default: the one installed on the host)"},
			&cli.StringSliceFlag{Name: "db", Usage: "a PostgreSQL database, `NAME=DSN` (or FERRY_DB_NAME=DSN), to read its migration version"},
			&cli.StringFlag{Name: "components", Usage: "optional components to choose (comma-separated)"},
			&cli.StringFlag{Name: "skip", Usage: "optional components to leave out (comma-separated)"},
			&cli.StringFlag{Name: "registry", Usage: "with --root, as install's --registry: render the bundle's charts offline and refuse an image the bundle does not carry"},
			jsonFlag(),
			configFlags()[0], configFlags()[1],
		},
		Action: func(c *cli.Context) error { return runPlan(c, false) },
	}
}

// runPlan is plan and update plan. With --root it runs the admission of
// install (update apply) against the appliance, changing nothing, so that
// a plan refuses what apply would, with the same exit code; it reports
// every refusal it finds at once.
func runPlan(c *cli.Context, update bool) error {
	src, err := bundleArg(c, "plan")
	if err != nil {
		return err
	}
	in, err := bundle.InspectFile(src.path)
	if err != nil {
		return err
	}
	sel := installer.Selection{Components: splitList(c.String("components")), Skip: splitList(c.String("skip"))}
	p, err := installer.MakePlan(in.Manifest, in.Digest, sel)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	var host *installer.HostView
	if c.String("registry") != "" && c.String("root") == "" {
		return usageError("plan --registry renders the charts as install would on the host: give --root too")
	}
	if root := c.String("root"); root != "" {
		opts, err := admissionOptions(c, src, root)
		if err != nil {
			return err
		}
		opts.Config.Prompt = nil // a plan asks nothing: a value missing is refused
		opts.ChartRegistry = c.String("registry")
		admit := installer.PlanInstall
		if update {
			admit = installer.PlanUpdate
		}
		if p, err = admit(c.Context, src.path, opts); err != nil {
			return err
		}
		if host, err = installer.View(c.Context, root, p, in.Manifest, opts.DSNs); err != nil {
			return err
		}
	}
	if p.Config == nil && len(in.Manifest.Variables) > 0 {
		// Without a root: the values given and the defaults.
		given := configInputs(c)
		given.Prompt = nil
		cfg, err := config.Resolve(in.Manifest.Variables, *given)
		if err != nil {
			return err
		}
		r := config.NewReport(p.Version, cfg, in.Manifest.Variables)
		p.Config = &r
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, installer.PlanReport{Plan: p, Host: host})
	}
	w := c.App.Writer
	checked := "signatures are checked by install"
	if host != nil {
		checked = "verified and admitted as install would on this host"
	}
	fmt.Fprintf(w, "plan for %s %s (%s; %s)\n", p.Name, p.Version, p.Digest, checked)
	if host != nil {
		cur := host.Current
		if cur == "" {
			cur = "nothing"
		}
		fmt.Fprintf(w, "  installed: %s; %d of %d blobs already in the store\n", cur, host.Stored, host.Needed)
		for _, d := range host.Databases {
			if d.Unknown != "" {
				fmt.Fprintf(w, "  database %s: migrations up to %d; current version unknown: %s\n", d.Name, d.Target, d.Unknown)
				continue
			}
			fmt.Fprintf(w, "  database %s: at version %d, %d pending (up to %d)\n", d.Name, d.Version, d.Pending, d.Target)
		}
	}
	for i, level := range p.Levels {
		fmt.Fprintf(w, "  stage %d: %s\n", i+1, strings.Join(level, ", "))
	}
	if len(p.Skipped) > 0 {
		fmt.Fprintf(w, "  skipped: %s\n", strings.Join(p.Skipped, ", "))
	}
	if !p.Reversible {
		fmt.Fprintf(w, "  not reversible: a migration has no down file\n")
	}
	for _, r := range p.Services {
		fmt.Fprintf(w, "  service %s runs as %s\n", r.Service, r)
	}
	if p.Config != nil {
		if err := p.Config.WriteText(w); err != nil {
			return err
		}
	}
	for i, s := range p.Steps {
		fmt.Fprintf(w, "%3d. %s\n", i+1, s.ID())
	}
	return nil
}

func trustCommand() *cli.Command {
	return &cli.Command{
		Name:  "trust",
		Usage: "manage the appliance's trusted release keys",
		Subcommands: []*cli.Command{
			{Name: "add", Usage: "trust a public key (audited; never a key a rotation retired)", ArgsUsage: "KEY.pub", Flags: []cli.Flag{rootFlag()}, Action: trustAdd},
			{Name: "list", Usage: "list trusted keys, the threshold and retired keys", Flags: []cli.Flag{rootFlag(), jsonFlag()}, Action: trustList},
			{Name: "remove", Usage: "stop trusting a key", ArgsUsage: "KEYID", Flags: []cli.Flag{rootFlag()}, Action: trustRemove},
			{Name: "threshold", Usage: "set how many distinct trusted keys must sign every install and update (audited)", ArgsUsage: "N", Flags: []cli.Flag{rootFlag()}, Action: trustThreshold},
			{Name: "rotate", Usage: "move trust to new keys by rotation statements signed by the keys trusted now (ferry keys rotate)",
				ArgsUsage: "STATEMENT...", Flags: []cli.Flag{rootFlag()}, Action: trustRotate},
		},
	}
}

func trustAdd(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("trust add takes one public key file")
	}
	keys, err := readKeyFiles([]string{c.Args().First()})
	if err != nil {
		return err
	}
	db, err := state.Open(c.String("root"), true)
	if err != nil {
		return err
	}
	defer db.Close()
	pk, err := installer.AddTrust(db, keys[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "trusted %s key %s\n", pk.Type(), pk.ID())
	return nil
}

// trustThreshold sets the appliance's threshold: every later install and
// update needs that many distinct trusted keys to have signed.
func trustThreshold(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("trust threshold takes one number")
	}
	n, err := strconv.Atoi(c.Args().First())
	if err != nil || n < 1 {
		return usageError("trust threshold %q: want a number of at least 1", c.Args().First())
	}
	db, err := state.Open(c.String("root"), false)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := installer.SetThreshold(db, n); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "every install and update now needs %d distinct trusted keys\n", n)
	return nil
}

// trustRotate applies rotation statements to the appliance's trust: each
// must be signed by the set before it, starting from the set in force.
// Statements the appliance has already applied are skipped.
func trustRotate(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageError("trust rotate takes one or more rotation statement files")
	}
	var files [][]byte
	for _, p := range c.Args().Slice() {
		b, err := os.ReadFile(p)
		if err != nil {
			return usageError("%v", err)
		}
		files = append(files, b)
	}
	db, err := state.Open(c.String("root"), true)
	if err != nil {
		return err
	}
	defer db.Close()
	trust, err := installer.TrustSet(db)
	if err != nil {
		return err
	}
	rotated, applied, err := verify.WalkRotations(trust, files)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(c.App.Writer, "trust is already at rotation statement %d: nothing to apply\n", trust.Sequence)
		return nil
	}
	if err := installer.KeepRotation(db, trust, applied); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "trust rotated from statement %d to %d: %d of %s\n",
		trust.Sequence, rotated.Sequence, max(1, rotated.Threshold), keyIDs(rotated.Keys))
	return nil
}

// trustList shows the trusted keys, in the order of their ids, the
// threshold, the rotation statement the trust came from, and the keys
// rotations retired. Its JSON form is an object, so that the sequence and
// threshold are there for a script to check.
func trustList(c *cli.Context) error {
	db, err := state.OpenReadOnly(c.String("root"))
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := installer.ListTrust(db)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, list)
	}
	w := c.App.Writer
	for _, r := range list.Keys {
		fmt.Fprintf(w, "%-11s %s\n", r.Type, r.ID)
	}
	fmt.Fprintf(w, "threshold: %d of these keys must sign\n", list.Threshold)
	if list.Sequence > 0 {
		fmt.Fprintf(w, "from rotation statement %d\n", list.Sequence)
	}
	for _, r := range list.Retired {
		fmt.Fprintf(w, "retired     %s by rotation statement %d (material %s)\n", r.ID, r.Sequence, r.Material)
	}
	return nil
}

func trustRemove(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("trust remove takes one key id")
	}
	db, err := state.Open(c.String("root"), false)
	if err != nil {
		return err
	}
	defer db.Close()
	return installer.RemoveTrust(db, c.Args().First())
}

func rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:  "rollback",
		Usage: "make a kept release current again, older or newer (default: the newest one older than the current)",
		Description: "rollback --to VERSION makes any release kept on the host current, newer as well as\n" +
			"older: after rolling back from a version, `ferry rollback --to VERSION` installs it\n" +
			"again (install and update refuse its bundle as not newer than the highest\n" +
			"version the host ran). Databases follow the release, up or down.",
		Flags: append([]cli.Flag{rootFlag(), &cli.StringFlag{Name: "to", Usage: "the kept release `VERSION` to make current, older or newer (forward after a rollback)"},
			&cli.StringSliceFlag{Name: "db", Usage: "a PostgreSQL database whose migrations go back too, `NAME=@FILE` (the DSN in FILE), NAME=DSN, or FERRY_DB_NAME=DSN"}},
			clusterFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("rollback takes no arguments (use --to VERSION)")
			}
			dsns, err := databaseDSNs(c.StringSlice("db"), os.Environ())
			if err != nil {
				return err
			}
			cl, err := clusterOf(c, false)
			if err != nil {
				return err
			}
			to, err := installer.Rollback(c.Context, c.String("root"), installer.RollbackOptions{To: c.String("to"), DSNs: dsns, Log: logger(c), Secrets: redact.FromEnviron(os.Environ()), Cluster: cl})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "current %s\n", to)
			return nil
		},
	}
}

// databaseDSNs gathers PostgreSQL DSNs by logical database name from --db
// NAME=DSN, --db NAME=@FILE (the DSN is the file's first line) and
// FERRY_DB_NAME=DSN (the flag wins). DSNs carry passwords: they are never
// printed, and the file and environment forms keep them off the command
// line, which every user of the host can read in /proc/PID/cmdline.
func databaseDSNs(flags, environ []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range environ {
		if rest, ok := strings.CutPrefix(kv, "FERRY_DB_"); ok {
			if name, dsn, ok := strings.Cut(rest, "="); ok && name != "" && dsn != "" {
				out[strings.ToLower(name)] = dsn
			}
		}
	}
	for _, f := range flags {
		name, dsn, ok := strings.Cut(f, "=")
		if !ok || name == "" || dsn == "" {
			return nil, usageError("--db %s: write NAME=DSN", migrate.Redact(f))
		}
		if file, ok := strings.CutPrefix(dsn, "@"); ok {
			var err error
			if dsn, err = readDSNFile(file); err != nil {
				return nil, usageError("--db %s=@%s: %v", name, file, err)
			}
		}
		out[name] = dsn
	}
	return out, nil
}

// maxDSNFile bounds a --db @FILE: a DSN is one short line.
const maxDSNFile = 64 << 10

// readDSNFile reads the DSN in file: its first line, without the line
// ending.
func readDSNFile(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxDSNFile+1))
	if err != nil {
		return "", err
	}
	if len(data) > maxDSNFile {
		return "", fmt.Errorf("more than %d bytes: not a DSN", maxDSNFile)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	if line = strings.TrimRight(line, "\r"); line == "" {
		return "", errors.New("the file is empty")
	}
	return line, nil
}

// admissionOptions reads what admission needs from the command line (keys,
// threshold, selection, database DSNs, licence, secrets to redact), once
// for install and update apply and for their plans, so that a plan is
// admitted with exactly the inputs apply would use.
func admissionOptions(c *cli.Context, src bundleSource, root string) (installer.Options, error) {
	keys, err := src.installKeys(root, c.StringSlice("key"))
	if err != nil {
		return installer.Options{}, err
	}
	dsns, err := databaseDSNs(c.StringSlice("db"), os.Environ())
	if err != nil {
		return installer.Options{}, err
	}
	var lic []byte
	if f := c.String("license"); f != "" {
		if lic, err = readLicenseBytes(f); err != nil {
			return installer.Options{}, err
		}
	}
	return installer.Options{
		Root: root, Keys: keys, Threshold: c.Int("threshold"),
		Selection: installer.Selection{Components: splitList(c.String("components")), Skip: splitList(c.String("skip"))},
		DSNs:      dsns, License: lic, Secrets: redact.FromEnviron(os.Environ()), Log: logger(c),
		Config: configInputs(c),
	}, nil
}
