package main

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"github.com/urfave/cli/v2"

	"ferry/bundle/spec"
)

// initProject is the project `ferry init` writes. Every file is a template
// (text/template, with initData) whose name ends in .tmpl, which is cut
// off when it is written; "gitignore" becomes ".gitignore". The suffix
// keeps the Go files and go.mod out of ferry's own module: a go.mod would
// make the directory another module, which cannot be embedded.
//
//go:embed initproject
var initProject embed.FS

// initRoot is the directory of the project in initProject.
const initRoot = "initproject"

// initVersion is the first version of a new project.
const initVersion = "0.1.0"

// initData fills the templates of initProject.
type initData struct {
	Name    string
	Version string
	Build   []string // the commands that build the bundle, in the project
	Run     []string // the commands that install and run it
}

func initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "write a new ferry project that builds offline: a Go service, its image, a migration and a canary rollout",
		ArgsUsage: "[DIR]",
		Description: "DIR (default: the current directory) must be empty or absent. The project's\n" +
			"name is DIR's base name unless --name gives one. ferry init prints the commands\n" +
			"that build the bundle; they need Go and ferry, not the network.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "the bundle's `NAME` (metadata.name and the service's name)"},
		},
		Action: runInit,
	}
}

func runInit(c *cli.Context) error {
	if c.NArg() > 1 {
		return usageError("init takes one directory")
	}
	dir := c.Args().First()
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	name := c.String("name")
	if name == "" {
		name = initName(filepath.Base(abs))
	}
	if err := spec.CheckName(name); err != nil {
		return usageError("project name %q: %v; give one with --name", name, err)
	}
	if err := checkInitDir(dir); err != nil {
		return err
	}
	data := initData{
		Name:    name,
		Version: initVersion,
		Build:   initBuildCommands(name),
		Run: []string{
			"ferry install " + name + "-" + initVersion + ".ferry --root /var/lib/ferry --key release.pub",
			"ferry serve --root /var/lib/ferry      # the service on " + "127.0.0.1:8080",
		},
	}
	if err := writeInitProject(dir, data); err != nil {
		return err
	}

	w := c.App.Writer
	fmt.Fprintf(w, "created %s: a service (cmd/server), its image (cmd/mkimage), a migration (migrations/app) and ferry.yaml\n\n", dir)
	fmt.Fprintln(w, "Build the bundle, offline:")
	fmt.Fprintln(w)
	if dir != "." {
		fmt.Fprintf(w, "  cd %s\n", shellQuote(dir))
	}
	for _, cmd := range data.Build {
		fmt.Fprintf(w, "  %s\n", cmd)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ferry keys generate and ferry bundle create ask for the key's passphrase on the")
	fmt.Fprintln(w, "terminal, or take it from FERRY_PASSPHRASE or --passphrase-file FILE.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Install it on an appliance and run it:")
	fmt.Fprintln(w)
	for _, cmd := range data.Run {
		fmt.Fprintf(w, "  %s\n", cmd)
	}
	return nil
}

// initBuildCommands are the commands, run in the project, that build its
// bundle: the service, its image, a release key, the bundle.
func initBuildCommands(name string) []string {
	return []string{
		"go build -trimpath -o build/server ./cmd/server",
		"go run ./cmd/mkimage -o images/server -ref " + initVersion + " build/server=app/server",
		"ferry keys generate --type ed25519 --out release",
		"ferry bundle create -f ferry.yaml -o " + name + "-" + initVersion + ".ferry --key release.key",
	}
}

// initNameRE finds the runs of characters a bundle name cannot hold.
var initNameRE = regexp.MustCompile(`[^a-z0-9]+`)

// initName turns a directory name into a bundle name ("My_App" is
// "my-app"); what cannot be made one is "app".
func initName(base string) string {
	n := strings.Trim(initNameRE.ReplaceAllString(strings.ToLower(base), "-"), "-")
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	if spec.CheckName(n) != nil {
		return "app"
	}
	return n
}

// checkInitDir refuses a directory that has anything in it: ferry init
// never overwrites or mixes with files it did not write.
func checkInitDir(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return usageError("%s exists and is not a directory: give a new or empty directory", dir)
	}
	names, err := f.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("init %s: %w", dir, err)
	}
	if len(names) > 0 {
		return usageError("%s is not empty (it has %s): give a new or empty directory", dir, names[0])
	}
	return nil
}

// writeInitProject writes the templates of initProject into dir.
func writeInitProject(dir string, data initData) error {
	return fs.WalkDir(initProject, initRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, initRoot), "/")
		target := filepath.Join(dir, filepath.FromSlash(strings.TrimSuffix(rel, ".tmpl")))
		if d.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("init: %w", err)
			}
			return nil
		}
		if path.Base(rel) == "gitignore.tmpl" {
			target = filepath.Join(filepath.Dir(target), ".gitignore")
		}
		text, err := initProject.ReadFile(p)
		if err != nil {
			return fmt.Errorf("init: %w", err)
		}
		tmpl, err := template.New(rel).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return fmt.Errorf("init: template %s: %w", rel, err)
		}
		var out bytes.Buffer
		if err := tmpl.Execute(&out, data); err != nil {
			return fmt.Errorf("init: template %s: %w", rel, err)
		}
		if err := os.WriteFile(target, out.Bytes(), 0o644); err != nil {
			return fmt.Errorf("init: %w", err)
		}
		return nil
	})
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
