package supervise

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"ferry/fixtures"
)

// procStatus returns the fields of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// TestCredentialDropsPrivileges: a service given a Credential runs as that
// user and group with no supplementary groups (none of root's), cannot gain
// privileges (NoNewPrivs), and is told its data directory.
func TestCredentialDropsPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	root := fixtures.ServiceTempDir(t)
	spec := Spec{
		Service: "svc", Version: "1",
		Command:    []string{"sh", "-c", `echo "data=$FERRY_DATA"; exec sleep 1000`},
		Dir:        root,
		LogDir:     filepath.Join(root, "logs"),
		DataDir:    filepath.Join(root, "data", "svc"),
		Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{0, 4}},
	}
	i := start(t, spec)
	waitLog(t, spec, "data="+spec.DataDir+"\n")
	st := procStatus(t, i.Status().Pid)
	want := map[string]string{
		"Uid":        strings.Repeat(nobody.Uid+" ", 3) + nobody.Uid,
		"Gid":        strings.Repeat(nobody.Gid+" ", 3) + nobody.Gid,
		"Groups":     "",
		"NoNewPrivs": "1",
	}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("%s: %q, want %q", k, st[k], v)
		}
	}
}

// TestNoNewPrivsWithoutCredential: a service run as the supervisor's own
// user cannot gain privileges either.
func TestNoNewPrivsWithoutCredential(t *testing.T) {
	spec := shSpec(t, `echo up; exec sleep 1000`)
	i := start(t, spec)
	waitLog(t, spec, "up\n")
	if got := procStatus(t, i.Status().Pid)["NoNewPrivs"]; got != "1" {
		t.Fatalf("NoNewPrivs %q, want 1", got)
	}
}
