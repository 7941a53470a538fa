package main

import (
	"bytes"
	"strings"
	"testing"
)

// stream is `go test -json` of two packages: one with a skipped test and
// a skipped subtest, one with a failed test, and a build failure.
const stream = `{"Action":"start","Package":"ferry/a"}
{"Action":"run","Package":"ferry/a","Test":"TestTool"}
{"Action":"output","Package":"ferry/a","Test":"TestTool","Output":"=== RUN   TestTool\n"}
{"Action":"output","Package":"ferry/a","Test":"TestTool","Output":"    a_test.go:9: sqlite3 is not on PATH: install Debian's sqlite3 package\n"}
{"Action":"output","Package":"ferry/a","Test":"TestTool","Output":"--- SKIP: TestTool (0.00s)\n"}
{"Action":"skip","Package":"ferry/a","Test":"TestTool","Elapsed":0}
{"Action":"run","Package":"ferry/a","Test":"TestMany/ckl"}
{"Action":"output","Package":"ferry/a","Test":"TestMany/ckl","Output":"    --- SKIP: TestMany/ckl (0.00s)\n"}
{"Action":"skip","Package":"ferry/a","Test":"TestMany/ckl","Elapsed":0}
{"Action":"output","Package":"ferry/a","Test":"TestMany","Output":"--- PASS: TestMany (0.00s)\n"}
{"Action":"pass","Package":"ferry/a","Test":"TestMany","Elapsed":0}
{"Action":"output","Package":"ferry/a","Output":"PASS\n"}
{"Action":"output","Package":"ferry/a","Output":"ok  \tferry/a\t0.01s\n"}
{"Action":"pass","Package":"ferry/a","Elapsed":0.01}
{"Action":"run","Package":"ferry/b","Test":"TestBroken"}
{"Action":"output","Package":"ferry/b","Test":"TestBroken","Output":"=== RUN   TestBroken\n"}
{"Action":"output","Package":"ferry/b","Test":"TestBroken","Output":"    b_test.go:5: got 2, want 3\n"}
{"Action":"output","Package":"ferry/b","Test":"TestBroken","Output":"--- FAIL: TestBroken (0.00s)\n"}
{"Action":"fail","Package":"ferry/b","Test":"TestBroken","Elapsed":0}
{"Action":"output","Package":"ferry/b","Output":"FAIL\n"}
{"Action":"output","Package":"ferry/b","Output":"FAIL\tferry/b\t0.01s\n"}
{"Action":"fail","Package":"ferry/b","Elapsed":0.01}
go: downloading nothing
`

func TestSummary(t *testing.T) {
	var out bytes.Buffer
	s := &summary{out: &out, running: map[string]*test{}, pkgs: map[string]string{}}
	if err := s.read(strings.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if s.report() {
		t.Error("a stream with a failed test reported success")
	}
	got := out.String()
	for _, want := range []string{
		"ok  \tferry/a\t0.01s\n",
		"    b_test.go:5: got 2, want 3\n",
		"FAIL\tferry/b\t0.01s\n",
		"go: downloading nothing\n",
		"2 skipped tests:\n" +
			"  SKIP ferry/a TestMany/ckl: (no reason given)\n" +
			"  SKIP ferry/a TestTool: a_test.go:9: sqlite3 is not on PATH: install Debian's sqlite3 package\n",
		"1 failed:\n  FAIL ferry/b TestBroken\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "=== RUN") || strings.Contains(got, "\nPASS\n") {
		t.Errorf("output has verbose lines:\n%s", got)
	}

	// Only passes: success, and the count of skips says none.
	out.Reset()
	s = &summary{out: &out, running: map[string]*test{}, pkgs: map[string]string{}}
	pass := stream[:strings.Index(stream, `{"Action":"run","Package":"ferry/b"`)]
	if err := s.read(strings.NewReader(pass)); err != nil || !s.report() {
		t.Fatalf("passing stream: %v\n%s", err, out.String())
	}
	// No results at all (go test did not run): a failure.
	out.Reset()
	s = &summary{out: &out, running: map[string]*test{}, pkgs: map[string]string{}}
	if err := s.read(strings.NewReader("go: cannot find main module\n")); err != nil || s.report() {
		t.Fatalf("empty stream passed: %v\n%s", err, out.String())
	}
}
