package testenv

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// JSONGolden encodes v as cmd/ferry's --json does (two-space indent) and
// compares it with the golden file at path; with update set (each
// package's -update test flag) it rewrites the file instead. Every object
// key must be camelCase, the one key style of ferry's --json output, so
// that a new field cannot slip in with another.
func JSONGolden(t *testing.T, path string, v any, update bool) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	var decoded any
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	checkCamelCase(t, path, decoded)
	if update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s: the JSON encoding changed (a format change: go test -update rewrites the file)\ngot:\n%s\nwant:\n%s", path, buf.Bytes(), want)
	}
}

// checkCamelCase fails on any object key that does not start with a
// lower-case letter or has a character other than letters and digits.
func checkCamelCase(t *testing.T, at string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if k == "" || k[0] < 'a' || k[0] > 'z' || strings.IndexFunc(k, func(r rune) bool {
				return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9')
			}) >= 0 {
				t.Errorf("%s.%s: key is not camelCase", at, k)
			}
			checkCamelCase(t, at+"."+k, e)
		}
	case []any:
		for _, e := range v {
			checkCamelCase(t, at+"[]", e)
		}
	}
}
