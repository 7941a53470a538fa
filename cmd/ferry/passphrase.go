package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// passphrase reads the private key passphrase from --passphrase-file or
// FERRY_PASSPHRASE, so that automation needs no terminal; without either,
// from the terminal, without echo, so that it stays out of the shell's
// history and the process list. confirm asks twice (a new key).
func passphrase(c *cli.Context, confirm bool) ([]byte, error) {
	if f := c.String("passphrase-file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("%w: passphrase file: %w", errKey, err)
		}
		b = bytes.TrimRight(b, "\r\n")
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: passphrase file %s is empty", errKey, f)
		}
		return b, nil
	}
	if p, ok := os.LookupEnv("FERRY_PASSPHRASE"); ok && p != "" {
		return []byte(p), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, fmt.Errorf("%w: no passphrase: standard input is not a terminal to ask on; set FERRY_PASSPHRASE or use --passphrase-file FILE", errKey)
	}
	return promptPassphrase(c.App.ErrWriter, confirm, func() ([]byte, error) {
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(c.App.ErrWriter) // the newline the user typed was not echoed
		return b, err
	})
}

// promptPassphrase asks for the passphrase on w and reads it with read
// (which on a terminal does not echo), twice when confirm is set.
func promptPassphrase(w io.Writer, confirm bool, read func() ([]byte, error)) ([]byte, error) {
	fmt.Fprint(w, "passphrase: ")
	p, err := read()
	if err != nil {
		return nil, fmt.Errorf("%w: read the passphrase: %w", errKey, err)
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: the passphrase is empty", errKey)
	}
	if !confirm {
		return p, nil
	}
	fmt.Fprint(w, "passphrase again: ")
	again, err := read()
	if err != nil {
		return nil, fmt.Errorf("%w: read the passphrase: %w", errKey, err)
	}
	if !bytes.Equal(p, again) {
		return nil, fmt.Errorf("%w: the passphrases differ", errKey)
	}
	return p, nil
}
