package verify

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ferry/internal/testenv"
)

// gnupg is a throwaway gpg home directory.
type gnupg struct {
	t    *testing.T
	home string
}

func newGnuPG(t *testing.T) *gnupg {
	t.Helper()
	testenv.Tool(t, "gpg", "gnupg")
	// A short path: gpg-agent's socket lives in the home directory when
	// there is no /run/user, and socket paths are limited to ~100 bytes.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	g := &gnupg{t: t, home: home}
	// gpg-agent calibrates its passphrase hashing to 100 ms a use, which
	// under the race detector and a busy machine adds up to most of this
	// test's time. A fixed, smaller count keeps the key format the same.
	g.write("gpg-agent.conf", []byte("s2k-count 1048576\n"))
	t.Cleanup(func() {
		kill := exec.Command("gpgconf", "--kill", "all")
		kill.Env = g.env()
		_ = kill.Run()
		os.RemoveAll(home)
	})
	return g
}

func (g *gnupg) env() []string { return append(os.Environ(), "GNUPGHOME="+g.home, "LC_ALL=C") }

// run runs gpg in batch mode with the test passphrase and returns stdout.
func (g *gnupg) run(args ...string) ([]byte, error) {
	g.t.Helper()
	base := []string{"--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", testPassphrase}
	cmd := exec.Command("gpg", append(base, args...)...)
	cmd.Env = g.env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), errors.New(strings.TrimSpace(err.Error() + ": " + stderr.String()))
	}
	return stdout.Bytes(), nil
}

func (g *gnupg) mustRun(args ...string) []byte {
	g.t.Helper()
	out, err := g.run(args...)
	if err != nil {
		g.t.Fatalf("gpg %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (g *gnupg) write(name string, data []byte) string {
	g.t.Helper()
	p := filepath.Join(g.home, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		g.t.Fatal(err)
	}
	return p
}

// verify runs `gpg --verify` and checks that gpg reports a valid
// signature by the key with fingerprint id.
func (g *gnupg) verify(sig, message []byte, id string) {
	g.t.Helper()
	sigPath, msgPath := g.write("manifest.json.asc", sig), g.write("manifest.json", message)
	out := g.mustRun("--status-fd", "1", "--verify", sigPath, msgPath)
	// VALIDSIG <signing key fpr> ... <primary key fpr>
	valid := false
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[1] == "VALIDSIG" && strings.EqualFold(f[len(f)-1], id) {
			valid = true
		}
	}
	if !valid {
		g.t.Fatalf("gpg --verify did not report VALIDSIG for %s:\n%s", id, out)
	}
	// And a changed message must fail.
	g.write("manifest.json", append(bytes.Clone(message), ' '))
	if _, err := g.run("--verify", sigPath, msgPath); err == nil {
		g.t.Fatal("gpg --verify accepted a changed message")
	}
}

// TestGPGVerifiesFerrySignature: a signature made by ferry with a key made
// by ferry verifies with plain gpg, as an assessor would check a bundle.
func TestGPGVerifiesFerrySignature(t *testing.T) {
	t.Parallel()
	g := newGnuPG(t)
	k := testKey(t, KeyOpenPGP)
	sig := sign(t, k.signer, testMessage)
	g.mustRun("--import", g.write("pub.asc", k.pub))
	g.verify(sig.Data, testMessage, k.key.ID())
	// gpg also takes ferry's encrypted secret key.
	g.mustRun("--import", g.write("priv.asc", k.priv))
	out := g.mustRun("--with-colons", "--list-secret-keys", k.key.ID())
	if !bytes.Contains(out, []byte("fpr:::::::::"+strings.ToUpper(k.key.ID()))) {
		t.Errorf("gpg does not list the imported secret key:\n%s", out)
	}
}

// TestGPGKeys: keys made by gpg sign with ferry and verify with the public
// key gpg exports, and signatures made by gpg verify with ferry.
func TestGPGKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string // algorithm, usage, expiry for --quick-gen-key
	}{
		{"default", nil}, // gpg 2.2: RSA-3072 with a 2-year expiry
		{"ed25519", []string{"ed25519", "sign", "never"}},
		{"signing-subkey", []string{"ed25519", "cert", "5y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newGnuPG(t)
			uid := "gpg test " + tc.name + " <gpg@ferry.invalid>"
			g.mustRun(append([]string{"--quick-gen-key", uid}, tc.args...)...)
			fpr := gpgFingerprint(t, g, uid)
			if tc.name == "signing-subkey" {
				// A certify-only primary with a separate signing subkey, the
				// layout careful release teams use.
				g.mustRun("--quick-add-key", fpr, "ed25519", "sign", "1y")
			}
			secret := g.mustRun("--armor", "--export-secret-keys", fpr)
			public := g.mustRun("--armor", "--export", fpr)

			pub, err := ParsePublicKey(public)
			if err != nil {
				t.Fatalf("ParsePublicKey of gpg --export: %v", err)
			}
			if pub.ID() != strings.ToLower(fpr) || pub.Type() != KeyOpenPGP {
				t.Fatalf("parsed %s %s, want openpgp %s", pub.Type(), pub.ID(), strings.ToLower(fpr))
			}
			// The secret key's S2K is slow, especially under the race
			// detector: the variants share out the extra loads.
			if tc.name == "default" {
				if _, err := LoadSigner(secret, []byte("not the passphrase")); !errors.Is(err, ErrBadPassphrase) {
					t.Fatalf("wrong passphrase: got %v, want ErrBadPassphrase", err)
				}
			}
			signer, err := LoadSigner(secret, []byte(testPassphrase))
			if err != nil {
				t.Fatalf("LoadSigner of gpg --export-secret-keys: %v", err)
			}
			if signer.Public().ID() != pub.ID() {
				t.Fatalf("signer id %s, public key id %s", signer.Public().ID(), pub.ID())
			}
			sig := sign(t, signer, testMessage)
			if _, err := (TrustSet{Keys: []*PublicKey{pub}}).Verify(testMessage, []Signature{sig}); err != nil {
				t.Fatalf("verify ferry's signature with gpg's public key: %v", err)
			}
			g.verify(sig.Data, testMessage, fpr)

			// The binary export works as well as the armored one.
			if binPub, err := ParsePublicKey(g.mustRun("--export", fpr)); err != nil || binPub.ID() != pub.ID() {
				t.Fatalf("binary public key: %v", err)
			}
			if tc.name == "ed25519" {
				if _, err := LoadSigner(g.mustRun("--export-secret-keys", fpr), []byte(testPassphrase)); err != nil {
					t.Fatalf("binary secret key: %v", err)
				}
			}

			// A detached signature made by gpg verifies with ferry.
			msgPath := g.write("message", testMessage)
			gpgSig := g.mustRun("--armor", "--local-user", fpr, "--output", "-", "--detach-sign", msgPath)
			if err := pub.Verify(testMessage, Signature{KeyID: pub.ID(), Type: KeyOpenPGP, Data: gpgSig}); err != nil {
				t.Fatalf("verify gpg's own signature: %v", err)
			}
			if err := pub.Verify(append(bytes.Clone(testMessage), ' '), Signature{KeyID: pub.ID(), Type: KeyOpenPGP, Data: gpgSig}); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("gpg signature over a changed message: got %v, want ErrBadSignature", err)
			}
			// A text-mode signature is refused: it would also cover the
			// manifest with other line endings.
			textSig := g.mustRun("--armor", "--textmode", "--digest-algo", "SHA256", "--local-user", fpr, "--output", "-", "--detach-sign", msgPath)
			if err := pub.Verify(testMessage, Signature{Data: textSig}); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("text-mode signature: got %v, want ErrBadSignature", err)
			}
			// SHA-1 signatures are refused.
			sha1Sig := g.mustRun("--armor", "--digest-algo", "SHA1", "--local-user", fpr, "--output", "-", "--detach-sign", msgPath)
			if err := pub.Verify(testMessage, Signature{Data: sha1Sig}); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("SHA-1 signature: got %v, want ErrBadSignature", err)
			}
		})
	}
}

func gpgFingerprint(t *testing.T, g *gnupg, uid string) string {
	t.Helper()
	out := g.mustRun("--with-colons", "--list-keys", uid)
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 9 && f[0] == "fpr" {
			return f[9]
		}
	}
	t.Fatalf("no fingerprint for %q in:\n%s", uid, out)
	return ""
}
