package testenv

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// OnlyDeps fails t when the package in the test's directory links a package
// outside the standard library that none of allowed covers, by what `go
// list -deps` says. An allowed entry is an import path and covers the
// packages below it ("github.com/goccy/go-yaml" covers its internal
// packages). A package that promises its layer to be a leaf keeps the
// promise only as long as no one adds an import, which a review easily
// misses: a test makes the promise hold.
func OnlyDeps(t testing.TB, allowed ...string) {
	t.Helper()
	// Every package linked, with the packages that import it; the
	// package itself is the one that is not DepOnly.
	out, err := exec.Command("go", "list", "-deps",
		"-f", `{{if not .Standard}}{{.ImportPath}} {{.DepOnly}} {{join .Imports " "}}{{end}}`, ".").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	importers := map[string][]string{}
	var deps []string
	var self string
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if f[1] != "true" {
			self = f[0]
		} else {
			deps = append(deps, f[0])
		}
		for _, imp := range f[2:] {
			importers[imp] = append(importers[imp], f[0])
		}
	}
	// Name the imports that bring in what is not allowed, not every
	// package that comes with them.
	var bad, entries []string
	for _, d := range deps {
		if covered(d, allowed) {
			continue
		}
		bad = append(bad, d)
		for _, imp := range importers[d] {
			if imp == self || covered(imp, allowed) {
				entries = append(entries, imp+" imports "+d)
			}
		}
	}
	if len(bad) > 0 {
		may := "the standard library"
		if len(allowed) > 0 {
			may += " and " + strings.Join(allowed, ", ")
		}
		t.Errorf("%s may link only %s, but links %d other packages:\n\t%s",
			self, may, len(bad), strings.Join(entries, "\n\t"))
	}
}

// covered reports whether the import path p is one of allowed or below one.
func covered(p string, allowed []string) bool {
	for _, a := range allowed {
		if p == a || strings.HasPrefix(p, a+"/") {
			return true
		}
	}
	return false
}
