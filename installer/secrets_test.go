package installer

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"ferry/bundle/spec"
	"ferry/fixtures"
	"ferry/internal/testenv"
)

// runAs runs a command as uid:gid with no supplementary groups, and
// returns its output and error.
func runAs(t *testing.T, uid, gid uint32, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestDeliverSecretFiles: a service's secret files are its own (0400 in
// a 0500 directory it owns), readable by it and by no other user, who
// cannot list them either; a second delivery replaces values by rename,
// removes what is no longer given or was planted, and replaces a planted
// link rather than writing through it; stopping removes them.
func TestDeliverSecretFiles(t *testing.T) {
	testenv.Root(t, "giving secret files to the service user")
	root := filepath.Join(fixtures.ServiceTempDir(t), "root")
	if err := os.MkdirAll(filepath.Join(root, "run"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	run, err := PrepareService(t.Context(), root, "app", spec.Service{Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	a := run.Account
	dir, err := DeliverSecretFiles(root, "api", a, map[string][]byte{"db_password": []byte("pw-one"), "TOKEN": []byte("tok-one")})
	if err != nil {
		t.Fatal(err)
	}
	if dir != SecretsDir(root, "api") {
		t.Errorf("dir %s, want %s", dir, SecretsDir(root, "api"))
	}
	for _, c := range []struct {
		path     string
		mode     os.FileMode
		uid, gid uint32
	}{
		{filepath.Join(root, "run"), os.ModeDir | 0o751, 0, 0},
		{filepath.Join(root, "run", "secrets"), os.ModeDir | 0o711, 0, 0},
		{dir, os.ModeDir | 0o500, a.UID, a.GID},
		{filepath.Join(dir, "db_password"), 0o400, a.UID, a.GID},
		{filepath.Join(dir, "TOKEN"), 0o400, a.UID, a.GID},
	} {
		fi, err := os.Lstat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != c.mode || st.Uid != c.uid || st.Gid != c.gid {
			t.Errorf("%s: %v %d:%d, want %v %d:%d", c.path, fi.Mode(), st.Uid, st.Gid, c.mode, c.uid, c.gid)
		}
	}
	if out, err := runAs(t, a.UID, a.GID, "cat", filepath.Join(dir, "db_password")); err != nil || out != "pw-one" {
		t.Errorf("the service reads %q, %v", out, err)
	}
	const nobody = 65534
	for _, args := range [][]string{
		{"cat", filepath.Join(dir, "db_password")},
		{"ls", dir},
		{"ls", filepath.Join(root, "run", "secrets")},
	} {
		if out, err := runAs(t, nobody, nobody, args...); err == nil || !strings.Contains(out, "Permission denied") {
			t.Errorf("another user ran %v: %q, %v", args, out, err)
		}
	}

	// The service plants a file and a link to a file outside, where the
	// next delivery writes.
	outside := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(outside, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "TOKEN.new")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "TOKEN")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "TOKEN")); err != nil {
		t.Fatal(err)
	}
	if _, err := DeliverSecretFiles(root, "api", a, map[string][]byte{"db_password": []byte("pw-two"), "TOKEN": []byte("tok-two")}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "outside" {
		t.Errorf("the delivery wrote through a link: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "TOKEN db_password" {
		t.Errorf("the directory holds %v", names)
	}
	for name, want := range map[string]string{"db_password": "pw-two", "TOKEN": "tok-two"} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o400 {
			t.Errorf("%s: %v %v", name, fi, err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != want {
			t.Errorf("%s holds %q, want %q", name, b, want)
		}
	}
	if fi, _ := os.Lstat(dir); fi.Mode().Perm() != 0o500 {
		t.Errorf("directory mode %v after the second delivery", fi.Mode())
	}

	for _, bad := range []string{"../x", ".hidden", "a/b", "-x", ""} {
		if _, err := DeliverSecretFiles(root, "api", a, map[string][]byte{bad: []byte("x")}); err == nil {
			t.Errorf("file name %q accepted", bad)
		}
	}
	if _, err := DeliverSecretFiles(root, "../api", a, nil); err == nil {
		t.Error("service name ../api accepted")
	}

	if _, err := DeliverSecretFiles(root, "worker", a, map[string][]byte{"k": []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if err := RemoveSecretFiles(root, "api"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("after RemoveSecretFiles: %v", err)
	}
	if _, err := os.Lstat(SecretsDir(root, "worker")); err != nil {
		t.Errorf("RemoveSecretFiles of api removed worker's: %v", err)
	}
	if err := RemoveAllSecretFiles(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "run", "secrets")); !os.IsNotExist(err) {
		t.Errorf("after RemoveAllSecretFiles: %v", err)
	}
	if b, _ := os.ReadFile(outside); !bytes.Equal(b, []byte("outside")) {
		t.Error("removal followed a link")
	}
}
