package posixacl

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSetAsGetfaclReads: an ACL written here is the one getfacl reads,
// and reads back the same.
func TestSetAsGetfaclReads(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := Get(f, AccessAttr)
	if errors.Is(err, ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	a = a.WithUser(65534, Read|Write).WithUser(12345, Read)
	if err := Set(f, AccessAttr, a); err != nil {
		t.Fatal(err)
	}
	back, err := Get(f, AccessAttr)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := back.User(65534); !ok || p != Read|Write {
		t.Fatalf("read back %+v", back)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o660 {
		t.Errorf("mode %v, want the mask rw- in the group bits", fi.Mode().Perm())
	}
	if _, err := exec.LookPath("getfacl"); err != nil {
		return
	}
	out, err := exec.Command("getfacl", "-n", p).CombinedOutput()
	if err != nil {
		t.Fatalf("getfacl: %v\n%s", err, out)
	}
	for _, want := range []string{"user::rw-", "user:12345:r--", "user:65534:rw-", "group::---", "mask::rw-", "other::---"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("getfacl lacks %q:\n%s", want, out)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	good := FromMode(0o640).WithUser(7, Read).Encode()
	if _, err := Decode(good); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"short":       good[:3],
		"cut entry":   good[:len(good)-2],
		"version":     append([]byte{3, 0, 0, 0}, good[4:]...),
		"no owner":    append([]byte{2, 0, 0, 0}, good[12:]...),
		"unknown tag": append(append([]byte{}, good...), 0x40, 0, 0, 0, 0, 0, 0, 0),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(FromMode(0o640).WithUser(7, Read).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Decode(a.Encode())
		if err != nil || len(again) != len(a) {
			t.Fatalf("re-encoded ACL does not decode the same: %v", err)
		}
	})
}
