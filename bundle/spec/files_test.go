package spec

import (
	"io/fs"
	"testing"
)

func TestFileMode(t *testing.T) {
	good := map[string]fs.FileMode{
		"":     0o644,
		"0755": 0o755,
		"0644": 0o644,
		"0000": 0,
		"0777": 0o777,
		"600":  0o600,
	}
	for in, want := range good {
		got, err := FileMode(in)
		if err != nil || got != want {
			t.Errorf("FileMode(%q) = %o, %v; want %o", in, got, err, want)
		}
	}
	for _, in := range []string{"0999", "4755", "1777", "0o755", "rwxr-xr-x", "07555", "75", "-755", " 0755", "0x1ff"} {
		if got, err := FileMode(in); err == nil {
			t.Errorf("FileMode(%q) = %o, want an error", in, got)
		}
	}
}

func TestCheckFileDest(t *testing.T) {
	for _, good := range []string{"bin/api", "api", "etc/app/config.yaml", ".env", "a..b"} {
		if err := CheckFileDest(good); err != nil {
			t.Errorf("CheckFileDest(%q) = %v", good, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/../../x", "a/..", "/bin/api", "bin/", "./bin", "bin//api", `bin\api`} {
		if err := CheckFileDest(bad); err == nil {
			t.Errorf("CheckFileDest(%q) accepted", bad)
		}
	}
}
