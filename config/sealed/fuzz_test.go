package sealed

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzOpen: Open takes bytes read from state.db, which whoever can write
// that file chooses. It never panics, returns a value or ErrNotOpened,
// never both, and what it opens is at most MaxSize bytes.
func FuzzOpen(f *testing.F) {
	root := f.TempDir()
	k, err := CreateKey(root)
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range []string{"", "x", "a secret value"} {
		sealed, err := k.Seal([]byte(v))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sealed)
	}
	f.Add([]byte("age-encryption.org/v1\n-> X25519 \n--- \n"))
	f.Add([]byte("age-encryption.org/v1\n-> scrypt AAAAAAAAAAAAAAAAAAAAAA 60\n\n--- AAAA\n"))
	f.Add(bytes.Repeat([]byte("-> x\n"), 100))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := k.Open(b)
		switch {
		case err != nil && got != nil:
			t.Fatalf("a value and an error: %v", err)
		case err != nil && !errors.Is(err, ErrNotOpened):
			t.Fatalf("error %v is not ErrNotOpened", err)
		case len(got) > MaxSize:
			t.Fatalf("opened %d bytes", len(got))
		}
	})
}
