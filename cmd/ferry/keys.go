package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"ferry/internal/atomicfile"
	"ferry/verify"
)

func passphraseFlag() cli.Flag {
	return &cli.StringFlag{
		Name:  "passphrase-file",
		Usage: "read the private key passphrase from `FILE` (default: $FERRY_PASSPHRASE, else asked on the terminal)",
	}
}

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "manage signing keys",
		Subcommands: []*cli.Command{{
			Name:      "generate",
			Usage:     "generate a key pair: NAME.key (encrypted) and NAME.pub",
			ArgsUsage: " ",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "type", Value: string(verify.KeyECDSAP256), Usage: "ecdsa-p256, ed25519 or openpgp"},
				&cli.StringFlag{Name: "out", Required: true, Usage: "write `NAME`.key and NAME.pub"},
				&cli.StringFlag{Name: "name", Usage: "OpenPGP user id (default: NAME)"},
				&cli.BoolFlag{Name: "force", Usage: "overwrite existing key files"},
				passphraseFlag(),
			},
			Action: keysGenerate,
		}, {
			Name:  "rotate",
			Usage: "write a key rotation statement: from --sequence on, the --new keys with --threshold are the release keys, signed with the keys trusted until now",
			Description: "Bundles built with --rotation STATEMENT carry it, and a host that trusts the keys that\n" +
				"signed it moves its trust to the new set when it installs such a bundle\n" +
				"(or with `ferry trust rotate`). Sign with at least the threshold of the keys\n" +
				"in force; sequence numbers start at 1 and grow by one per statement.",
			ArgsUsage: " ",
			Flags: []cli.Flag{
				&cli.StringSliceFlag{Name: "key", Required: true, Usage: "sign with the private key `FILE` of the set in force (repeatable)"},
				&cli.StringSliceFlag{Name: "new", Required: true, Usage: "the public key `FILE`s of the new set (repeatable)"},
				&cli.IntFlag{Name: "threshold", Value: 1, Usage: "distinct keys of the new set that must sign"},
				&cli.IntFlag{Name: "sequence", Required: true, Usage: "the statement's sequence number: one more than the last"},
				&cli.StringFlag{Name: "out", Required: true, Usage: "write the statement to `FILE`"},
				passphraseFlag(),
			},
			Action: keysRotate,
		}},
	}
}

func keysRotate(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("keys rotate takes no arguments, got %q", c.Args().Slice())
	}
	newKeys, err := readKeyFiles(c.StringSlice("new"))
	if err != nil {
		return err
	}
	signers, err := loadSigners(c, c.StringSlice("key"))
	if err != nil {
		return err
	}
	statement, err := verify.SignRotation(c.Int("sequence"), c.Int("threshold"), newKeys, time.Now(), signers...)
	if err != nil {
		return usageError("%v", err)
	}
	if err := writeFileAtomic(c.String("out"), statement, 0o644); err != nil {
		return err
	}
	r, err := verify.ParseRotation(statement)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "rotation statement %d: %d of %s\nsigned by %s\nwritten to %s\n",
		r.Sequence, r.Threshold, keyIDs(r.Keys), signerIDs(signers), c.String("out"))
	return nil
}

func keyIDs(keys []*verify.PublicKey) string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID()
	}
	return strings.Join(ids, ", ")
}

func signerIDs(signers []verify.Signer) string {
	keys := make([]*verify.PublicKey, len(signers))
	for i, s := range signers {
		keys[i] = s.Public()
	}
	return keyIDs(keys)
}

func keysGenerate(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("keys generate takes no arguments, got %q", c.Args().Slice())
	}
	typ := verify.KeyType(c.String("type"))
	switch typ {
	case verify.KeyECDSAP256, verify.KeyEd25519, verify.KeyOpenPGP:
	default:
		return usageError("--type %q: use ecdsa-p256, ed25519 or openpgp", typ)
	}
	pass, err := passphrase(c, true)
	if err != nil {
		return err
	}
	out := c.String("out")
	privPath, pubPath := out+".key", out+".pub"
	if !c.Bool("force") {
		for _, p := range []string{privPath, pubPath} {
			if _, err := os.Stat(p); err == nil {
				return usageError("%s exists; use --force to overwrite it", p)
			}
		}
	}
	name := c.String("name")
	if name == "" {
		name = out
	}
	priv, pub, err := verify.GenerateKey(typ, name, pass)
	if err != nil {
		return err
	}
	if err := writeKeyPair(privPath, priv, pubPath, pub); err != nil {
		return err
	}
	pk, err := verify.ParsePublicKey(pub)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%s key %s\nprivate key: %s\npublic key:  %s\n", typ, pk.ID(), privPath, pubPath)
	return nil
}

// loadSigners reads and decrypts the private keys given with --key.
func loadSigners(c *cli.Context, paths []string) ([]verify.Signer, error) {
	if len(paths) == 0 {
		return nil, usageError("at least one --key is required to sign")
	}
	pass, err := passphrase(c, false)
	if err != nil {
		return nil, err
	}
	var out []verify.Signer
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errKey, err)
		}
		s, err := verify.LoadSigner(data, pass)
		if err != nil {
			if errors.Is(err, verify.ErrBadPassphrase) {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			return nil, keyError{fmt.Errorf("%s: %w", p, err)}
		}
		out = append(out, s)
	}
	return out, nil
}

// loadPublicKeys reads and parses the public keys given with --key.
func loadPublicKeys(paths []string) ([]*verify.PublicKey, error) {
	raw, err := readKeyFiles(paths)
	if err != nil {
		return nil, err
	}
	out := make([]*verify.PublicKey, len(raw))
	for i, b := range raw {
		if out[i], err = verify.ParsePublicKey(b); err != nil {
			return nil, err // readKeyFiles parsed them already
		}
	}
	return out, nil
}

// readKeyFiles reads public key files, checking that each is one: the
// bytes are what the appliance stores as trust.
func readKeyFiles(paths []string) ([][]byte, error) {
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errKey, err)
		}
		if strings.Contains(string(b), "PRIVATE KEY") {
			return nil, fmt.Errorf("%w: %s is a private key; give the public key (.pub)", errKey, p)
		}
		if _, err := verify.ParsePublicKey(b); err != nil {
			return nil, keyError{fmt.Errorf("%s: %w", p, err)}
		}
		out = append(out, b)
	}
	return out, nil
}

// writeKeyPair writes the private and public key files as pending files
// and commits them only once both are written, so that a failure part-way
// (a full disk) leaves no private key without its public one, and a crash
// never leaves a half-written key.
func writeKeyPair(privPath string, priv []byte, pubPath string, pub []byte) error {
	var pending []*atomicfile.Pending
	defer func() {
		for _, p := range pending {
			p.Abort()
		}
	}()
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{privPath, priv, 0o600}, {pubPath, pub, 0o644}} {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return err
		}
		p, err := atomicfile.Create(f.path, f.mode)
		if err != nil {
			return err
		}
		pending = append(pending, p)
		if _, err := p.Write(f.data); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	for _, p := range pending {
		if err := p.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file, fsync and
// rename, so that a crash never leaves a half-written file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	return writeFileAtomicFunc(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
