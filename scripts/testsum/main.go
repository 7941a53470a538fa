// Command testsum is the reader of `make test`'s `go test -json` stream:
//
//	go test -json ./... 2>&1 | testsum [-json FILE]
//
// It prints what a plain `go test` prints (one line per package, and the
// whole output of every test that failed), keeps the raw stream in FILE
// when asked, and ends with two lists: every test that failed, and every
// test that was skipped, with the reason it gave, so that no skip goes
// unseen. It exits 1 when a test, a package or a build failed, or when the
// stream ends without a package's result.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

// test is one test's output so far.
type test struct{ lines []string }

type summary struct {
	out     io.Writer
	running map[string]*test // by package and test
	failed  []string
	skipped []string
	pkgs    map[string]string // package: its final action
	bad     bool
}

func main() {
	jsonOut := flag.String("json", "", "also write the raw stream to this file")
	flag.Parse()
	in := io.Reader(os.Stdin)
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(2)
		}
		defer f.Close()
		in = io.TeeReader(in, f)
	}
	s := &summary{out: os.Stdout, running: map[string]*test{}, pkgs: map[string]string{}}
	if err := s.read(in); err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	if !s.report() {
		os.Exit(1)
	}
}

// read handles the stream line by line; a line that is not an event (the
// go command's own messages) is printed as it is.
func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(s.out, "%s\n", line)
			continue
		}
		s.handle(e)
	}
	return sc.Err()
}

func (s *summary) handle(e event) {
	switch {
	case e.Action == "build-output":
		fmt.Fprint(s.out, e.Output)
	case e.Action == "build-fail":
		s.bad = true
		s.failed = append(s.failed, e.ImportPath+" (build)")
	case e.Test == "":
		// The package's own lines: its result, and what was printed
		// outside any test (a panic, a timeout, TestMain).
		switch e.Action {
		case "output":
			if !strings.HasPrefix(e.Output, "PASS\n") && !strings.HasPrefix(e.Output, "FAIL\n") {
				fmt.Fprint(s.out, e.Output)
			}
		case "pass", "fail", "skip":
			s.pkgs[e.Package] = e.Action
			if e.Action == "fail" {
				s.bad = true
			}
		}
	default:
		key := e.Package + " " + e.Test
		t := s.running[key]
		if t == nil {
			t = &test{}
			s.running[key] = t
		}
		switch e.Action {
		case "output":
			if !strings.HasPrefix(strings.TrimSpace(e.Output), "=== ") {
				t.lines = append(t.lines, e.Output)
			}
		case "fail":
			s.bad = true
			s.failed = append(s.failed, e.Package+" "+e.Test)
			fmt.Fprint(s.out, strings.Join(t.lines, ""))
			delete(s.running, key)
		case "skip":
			s.skipped = append(s.skipped, fmt.Sprintf("%s %s: %s", e.Package, e.Test, reason(t.lines)))
			delete(s.running, key)
		case "pass":
			delete(s.running, key)
		}
	}
}

// reason is what a skipped test logged, without the lines the testing
// package adds around it.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		parts = append(parts, l)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " / ")
}

// report prints the lists and says whether everything passed.
func (s *summary) report() bool {
	if len(s.pkgs) == 0 && !s.bad {
		fmt.Fprintln(s.out, "testsum: no package results in the stream")
		return false
	}
	slices.Sort(s.skipped)
	fmt.Fprintf(s.out, "\n%d skipped tests", len(s.skipped))
	if len(s.skipped) > 0 {
		fmt.Fprint(s.out, ":")
	}
	fmt.Fprintln(s.out)
	for _, l := range s.skipped {
		fmt.Fprintln(s.out, "  SKIP", l)
	}
	if len(s.failed) > 0 {
		fmt.Fprintf(s.out, "%d failed:\n", len(s.failed))
		for _, l := range s.failed {
			fmt.Fprintln(s.out, "  FAIL", l)
		}
	}
	return !s.bad
}
