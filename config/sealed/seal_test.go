package sealed

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestSealRoundTrip(t *testing.T) {
	root, k := newRoot(t)
	reopened, err := OpenKey(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 17, 64<<10 - 1, 64 << 10, 64<<10 + 1, MaxSize} {
		plain := bytes.Repeat([]byte("s3cr3t-"), n/7+1)[:n]
		sealed, err := k.Seal(plain)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if n >= 7 && bytes.Contains(sealed, plain[:7]) {
			t.Errorf("%d bytes: the sealed value holds the plaintext", n)
		}
		again, err := k.Seal(plain)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(sealed, again) {
			t.Errorf("%d bytes: sealing twice gave the same bytes", n)
		}
		// Opened by the key as a later command reads it from its file.
		got, err := reopened.Open(sealed)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: opened %d bytes that differ", n, len(got))
		}
	}
	if _, err := k.Seal(make([]byte, MaxSize+1)); err == nil {
		t.Error("a value over MaxSize was sealed")
	}
}

// TestOpenRefusesAnotherHostsValue: a sealed value copied from another
// appliance's state.db, or a key file replaced by another key (a wrong
// backup restored), opens nothing.
func TestOpenRefusesAnotherHostsValue(t *testing.T) {
	rootA, a := newRoot(t)
	_, b := newRoot(t)
	sealed, err := b.Seal([]byte("host B's password"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Open(sealed)
	if !errors.Is(err, ErrNotOpened) || got != nil {
		t.Fatalf("another host's value: got %q, %v; want ErrNotOpened", got, err)
	}
	mine, err := a.Seal([]byte("host A's password"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(KeyFile(rootA)); err != nil {
		t.Fatal(err)
	}
	replaced, err := CreateKey(rootA)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := replaced.Open(mine); !errors.Is(err, ErrNotOpened) || got != nil {
		t.Fatalf("a replaced key: got %q, %v; want ErrNotOpened", got, err)
	}
}

// TestOpenRefusesTamperedValue: every single-byte change of a sealed
// value, every cut and an extension are refused, and nothing of the value
// is returned.
func TestOpenRefusesTamperedValue(t *testing.T) {
	_, k := newRoot(t)
	const secret = "correct horse battery staple"
	sealed, err := k.Seal([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	try := func(what string, b []byte) {
		t.Helper()
		got, err := k.Open(b)
		if !errors.Is(err, ErrNotOpened) || got != nil {
			t.Errorf("%s: got %q, %v; want ErrNotOpened", what, got, err)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error holds the secret: %v", what, err)
		}
	}
	for i := range sealed {
		for _, mask := range []byte{0x01, 0x80} {
			b := bytes.Clone(sealed)
			b[i] ^= mask
			try("byte "+strconv.Itoa(i)+" changed", b)
		}
	}
	for n := range len(sealed) {
		try("cut to "+strconv.Itoa(n), sealed[:n])
	}
	try("a byte appended", append(bytes.Clone(sealed), 0))
	try("the value twice", append(bytes.Clone(sealed), sealed...))
	try("too large", make([]byte, maxSealed+1))
}
