package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// TestPromptPassphrase reads the passphrase as the terminal prompt does,
// from a pipe in place of the terminal (a pipe has no echo to turn off;
// term.ReadPassword, which turns it off, needs a real terminal): the
// prompt goes to stderr, a new key's passphrase is asked twice and must
// match, and an empty one is refused.
func TestPromptPassphrase(t *testing.T) {
	for _, c := range []struct {
		name, input string
		confirm     bool
		want        string
		wantErr     bool
		prompts     int
	}{
		{"once", "s3cret words\n", false, "s3cret words", false, 1},
		{"confirmed", "s3cret\ns3cret\n", true, "s3cret", false, 2},
		{"mismatch", "s3cret\nsecret\n", true, "", true, 2},
		{"empty", "\n", false, "", true, 1},
		{"closed", "", false, "", true, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			go func() {
				_, _ = io.WriteString(w, c.input)
				w.Close()
			}()
			var stderr bytes.Buffer
			got, err := promptPassphrase(&stderr, c.confirm, lineReader(r))
			if c.wantErr {
				if err == nil || !errors.Is(err, errKey) {
					t.Fatalf("got %q, %v; want an errKey error", got, err)
				}
			} else if err != nil || string(got) != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
			if n := strings.Count(stderr.String(), "passphrase"); n != c.prompts {
				t.Errorf("prompted %d times (%q), want %d", n, stderr.String(), c.prompts)
			}
			if strings.Contains(stderr.String(), "s3cret") {
				t.Errorf("the passphrase was written out: %q", stderr.String())
			}
		})
	}
}

// lineReader reads lines from r, without their line ending, as a
// terminal's ReadPassword returns them.
func lineReader(r io.Reader) func() ([]byte, error) {
	br := bufio.NewReader(r)
	return func() ([]byte, error) {
		line, err := br.ReadBytes('\n')
		if err != nil && (!errors.Is(err, io.EOF) || len(line) == 0) {
			return nil, err
		}
		return bytes.TrimRight(line, "\r\n"), nil
	}
}
