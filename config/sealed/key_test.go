package sealed

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"filippo.io/age"

	"ferry/internal/testenv"
)

// newRoot is an appliance root with a host key.
func newRoot(t *testing.T) (string, *Key) {
	t.Helper()
	root := t.TempDir()
	k, err := CreateKey(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, k
}

func TestCreateKey(t *testing.T) {
	root, k := newRoot(t)
	if k.Path() != KeyFile(root) {
		t.Errorf("path %s, want %s", k.Path(), KeyFile(root))
	}
	for _, c := range []struct {
		path string
		mode fs.FileMode
	}{{filepath.Join(root, "keys"), fs.ModeDir | 0o700}, {KeyFile(root), 0o600}} {
		fi, err := os.Lstat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.mode)
		}
	}
	again, err := OpenKey(root)
	if err != nil {
		t.Fatal(err)
	}
	if again.Recipient() != k.Recipient() || !strings.HasPrefix(k.Recipient(), "age1") {
		t.Errorf("reopened key %s, created %s", again.Recipient(), k.Recipient())
	}
	before, _ := os.ReadFile(KeyFile(root))
	if _, err := CreateKey(root); !errors.Is(err, fs.ErrExist) {
		t.Errorf("a second CreateKey: got %v, want fs.ErrExist", err)
	}
	if after, _ := os.ReadFile(KeyFile(root)); !bytes.Equal(before, after) {
		t.Error("a second CreateKey replaced the key")
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "keys")); len(entries) != 1 {
		t.Errorf("keys/ holds %d entries, want the key alone", len(entries))
	}
}

// TestKeyNeverPrinted: a Key printed or logged by mistake shows its file
// and public key, never the secret key.
func TestKeyNeverPrinted(t *testing.T) {
	_, k := newRoot(t)
	var out bytes.Buffer
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		fmt.Fprintf(&out, f+"\n", k)
		fmt.Fprintf(&out, f+"\n", *k)
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("key", "key", k)
	slog.New(slog.NewTextHandler(&out, nil)).Info("key", "key", k)
	if strings.Contains(strings.ToUpper(out.String()), "AGE-SECRET-KEY") {
		t.Fatalf("the secret key was printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), k.Recipient()) {
		t.Fatalf("the public key was not printed:\n%s", out.String())
	}
}

func TestOpenKeyMissing(t *testing.T) {
	root := t.TempDir()
	if _, err := OpenKey(root); !errors.Is(err, ErrNoKey) {
		t.Errorf("no keys/: got %v, want ErrNoKey", err)
	}
	if err := os.Mkdir(filepath.Join(root, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := OpenKey(root)
	if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), KeyFile(root)) {
		t.Errorf("empty keys/: got %v, want ErrNoKey naming the file", err)
	}
}

func TestOpenKeyDamaged(t *testing.T) {
	one, _ := age.GenerateX25519Identity()
	two, _ := age.GenerateX25519Identity()
	hybrid, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	good := one.String()
	for name, content := range map[string]string{
		"empty":            "",
		"comments only":    "# public key: " + one.Recipient().String() + "\n",
		"cut short":        good[:len(good)-3] + "\n",
		"one byte changed": good[:20] + flip(good[20]) + good[21:] + "\n",
		"two identities":   good + "\n" + two.String() + "\n",
		"hybrid identity":  hybrid.String() + "\n",
		"a public key":     one.Recipient().String() + "\n",
		"too large":        "# " + strings.Repeat("x", maxKeyFile) + "\n" + good + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			writeKeyFile(t, root, content)
			_, err := OpenKey(root)
			if !errors.Is(err, ErrKeyDamaged) {
				t.Fatalf("got %v, want ErrKeyDamaged", err)
			}
			if strings.Contains(err.Error(), "AGE-SECRET-KEY") || strings.Contains(err.Error(), good[16:]) {
				t.Fatalf("the error quotes the key: %v", err)
			}
		})
	}
}

func flip(c byte) string {
	if c == 'Q' {
		return "P"
	}
	return "Q"
}

// writeKeyFile puts content at root's key path as a safe file would be.
func writeKeyFile(t *testing.T, root, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(KeyFile(root), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestUnsafeKeyRefused: one subtest per way someone other than ferry's
// user could have read the host key or put their own in its place. Each
// is refused with ErrKeyUnsafe, naming the path at fault, before the key
// is read.
func TestUnsafeKeyRefused(t *testing.T) {
	const nobody = 65534
	for _, c := range []struct {
		name  string
		root  bool // needs root (to give a file away)
		plant func(t *testing.T, root string)
		fault string // the path the error names, relative to root
	}{
		{name: "group-readable", plant: chmod("keys/config.age", 0o640), fault: "keys/config.age"},
		{name: "world-readable", plant: chmod("keys/config.age", 0o604), fault: "keys/config.age"},
		{name: "group-writable", plant: chmod("keys/config.age", 0o620), fault: "keys/config.age"},
		{name: "owned by another user", root: true, plant: chown("keys/config.age", nobody), fault: "keys/config.age"},
		{name: "symlink to a key outside the root", plant: func(t *testing.T, root string) {
			// Someone who can write keys/ links the key to a file they
			// keep up to date elsewhere.
			other, _ := newRoot(t)
			replace(t, KeyFile(root), func(p string) error { return os.Symlink(KeyFile(other), p) })
		}, fault: "keys/config.age"},
		{name: "symlink to the key itself", plant: func(t *testing.T, root string) {
			must(t, os.Rename(KeyFile(root), filepath.Join(root, "keys", "real.age")))
			must(t, os.Symlink("real.age", KeyFile(root)))
		}, fault: "keys/config.age"},
		{name: "a fifo", plant: func(t *testing.T, root string) {
			// Not a key: read from, it would hang ferry until someone
			// writes a key of their choice into it.
			replace(t, KeyFile(root), func(p string) error { return syscall.Mkfifo(p, 0o600) })
		}, fault: "keys/config.age"},
		{name: "keys directory a symlink", plant: func(t *testing.T, root string) {
			other, _ := newRoot(t)
			replace(t, filepath.Join(root, "keys"), func(p string) error { return os.Symlink(filepath.Join(other, "keys"), p) })
		}, fault: "keys"},
		{name: "keys directory a file", plant: func(t *testing.T, root string) {
			replace(t, filepath.Join(root, "keys"), func(p string) error { return os.WriteFile(p, nil, 0o600) })
		}, fault: "keys"},
		{name: "keys directory group-writable", plant: chmod("keys", 0o770), fault: "keys"},
		{name: "keys directory world-writable", plant: chmod("keys", 0o703), fault: "keys"},
		{name: "keys directory owned by another user", root: true, plant: chown("keys", nobody), fault: "keys"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.root {
				testenv.Root(t, "giving the key to another user")
			}
			root, _ := newRoot(t)
			c.plant(t, root)
			_, err := OpenKey(root)
			if !errors.Is(err, ErrKeyUnsafe) {
				t.Fatalf("got %v, want ErrKeyUnsafe", err)
			}
			if want := filepath.Join(root, c.fault); !strings.Contains(err.Error(), want+" ") {
				t.Errorf("the error does not name %s: %v", want, err)
			}
			t.Log(err)
		})
	}
}

// TestCreateKeyRefusesPlantedLink: a keys directory linked elsewhere
// before the first install does not lead the new key out of the root.
func TestCreateKeyRefusesPlantedLink(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	must(t, os.Symlink(outside, filepath.Join(root, "keys")))
	if _, err := CreateKey(root); !errors.Is(err, ErrKeyUnsafe) {
		t.Fatalf("got %v, want ErrKeyUnsafe", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("the key was written through the link: %v", entries)
	}
}

func chmod(name string, mode fs.FileMode) func(*testing.T, string) {
	return func(t *testing.T, root string) { must(t, os.Chmod(filepath.Join(root, name), mode)) }
}

func chown(name string, uid int) func(*testing.T, string) {
	return func(t *testing.T, root string) { must(t, os.Lchown(filepath.Join(root, name), uid, uid)) }
}

// replace removes path and makes something else there.
func replace(t *testing.T, path string, create func(string) error) {
	t.Helper()
	must(t, os.RemoveAll(path))
	must(t, create(path))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
