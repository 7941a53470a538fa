package serve

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/fixtures"
	"ferry/installer"
)

// attackScript is a service that, before it serves, tries every write a
// compromised service would want, and says for each whether it worked. It
// runs in its release directory, <root>/releases/1.1.0.
const attackScript = `#!/bin/sh
try() {
	if ( : >> "$2" ) 2>/dev/null; then echo "attack: wrote $1"; else echo "attack: denied $1"; fi
}
try state.db ../../state.db
try root ../../attack
try lock ../../ferry.lock
try store ../../store/attack
try own-release ./attack
try own-binary bin/testservice
try other-release ../1.0.0/attack
try other-binary ../1.0.0/bin/testservice
try logs ../../logs/attack
try own-log ../../logs/api-1.1.0.log
try run ../../run/attack
try other-data ../../data/worker/attack
try data "$FERRY_DATA/attack"
echo "attack: pid $$ data $FERRY_DATA"
echo "attack: done"
exec bin/testservice --listen "127.0.0.1:$PORT" --version 1.1.0 --shutdown-timeout 2s
`

// attackBundle builds version 1.1.0 of the appliance, whose api service
// runs attackScript; its worker runs as root, named so.
func (a *appliance) attackBundle() string {
	t := a.t
	t.Helper()
	dir := a.project("p-attack")
	if err := os.WriteFile(filepath.Join(dir, "bin", "attack.sh"), []byte(attackScript), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := `apiVersion: ferry/v1
kind: Bundle
metadata: {name: served, version: 1.1.0}
components:
  - name: api
    files:
      - {src: bin/testservice, dest: bin/testservice, mode: "0777"}
      - {src: bin/attack.sh, dest: bin/attack.sh, mode: "0755"}
    services:
      - name: api
        command: [/bin/sh, bin/attack.sh]
        listen: ` + a.listen + `
        health: {http: /healthz, interval: 100ms, timeout: 1s}
      - name: worker
        user: root
        command: [bin/testservice, --listen, "127.0.0.1:${PORT}", --version, 1.1.0]
`
	return a.build(dir, spec, "served-attack.ferry")
}

// TestServiceLeastPrivilege is a compromised service on a real appliance
// root, run by ferry serve as root: it tries to write what would let it
// take the appliance over or hide its tracks, and only its own data
// directory lets it. It runs as the unprivileged ServiceUser, with no
// supplementary groups and no way to gain privileges; a service that
// names user: root runs as root.
func TestServiceLeastPrivilege(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ferry runs services as an unprivileged user only when it runs as root")
	}
	a := newAppliance(t)
	a.install(a.bundle("1.0.0", nil, ""))
	a.install(a.attackBundle())
	a.serve(100 * time.Millisecond)
	logPath := filepath.Join(a.root, "logs", "api-1.1.0.log")
	var log string
	fixtures.WaitFor(t, "the attack to finish", func() bool {
		b, _ := os.ReadFile(logPath)
		log = string(b)
		return strings.Contains(log, "attack: done")
	})
	t.Logf("service log:\n%s", log)

	// Each write the service must not make, by what it would give it.
	for _, target := range []string{
		"state.db",      // the trust store, the releases, the audit log
		"root",          // a file beside state.db, renamed over it or over current
		"lock",          // the single-writer lock
		"store",         // the content store every release is placed from
		"own-release",   // its own release directory
		"own-binary",    // its own program, signed mode 0777
		"other-release", // another release's directory
		"other-binary",  // another release's program
		"logs",          // ferry's log directory
		"own-log",       // its own log, to hide what it did
		"run",           // the process-group records ferry serve kills by
		"other-data",    // the data directory of a service run as root
	} {
		t.Run(target, func(t *testing.T) {
			switch {
			case strings.Contains(log, "attack: denied "+target+"\n"):
			case strings.Contains(log, "attack: wrote "+target+"\n"):
				t.Errorf("the service could write %s", target)
			default:
				t.Errorf("no attempt on %s in the log", target)
			}
		})
	}
	t.Run("data", func(t *testing.T) {
		if !strings.Contains(log, "attack: wrote data\n") {
			t.Errorf("the service could not write its own data directory")
		}
		if want := "data " + installer.DataDir(a.root, "api") + "\n"; !strings.Contains(log, want) {
			t.Errorf("FERRY_DATA is not %s", installer.DataDir(a.root, "api"))
		}
	})

	pid := 0
	if _, rest, ok := strings.Cut(log, "attack: pid "); ok {
		pid, _ = strconv.Atoi(strings.Fields(rest)[0])
	}
	status := procStatus(t, pid)
	svcUser, err := user.Lookup(installer.ServiceUser)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("user", func(t *testing.T) {
		if got := strings.Fields(status["Uid"]); len(got) != 4 || got[0] != svcUser.Uid || got[1] != svcUser.Uid {
			t.Errorf("Uid %q, want %s (%s)", status["Uid"], svcUser.Uid, installer.ServiceUser)
		}
		if got := strings.Fields(status["Gid"]); len(got) != 4 || got[0] != svcUser.Gid {
			t.Errorf("Gid %q, want %s", status["Gid"], svcUser.Gid)
		}
	})
	t.Run("groups", func(t *testing.T) {
		if status["Groups"] != "" {
			t.Errorf("supplementary groups %q, want none", status["Groups"])
		}
	})
	t.Run("no-new-privs", func(t *testing.T) {
		if status["NoNewPrivs"] != "1" {
			t.Errorf("NoNewPrivs %q, want 1", status["NoNewPrivs"])
		}
	})
	t.Run("root-named", func(t *testing.T) {
		worker := recordedPid(t, a.root, "worker-1.1.0")
		if got := strings.Fields(procStatus(t, worker)["Uid"]); len(got) == 0 || got[0] != "0" {
			t.Errorf("the worker, user: root, runs as uid %v", got)
		}
	})
}

// procStatus returns the fields of /proc/PID/status, spaces collapsed.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	return out
}

// recordedPid is the process group leader ferry serve recorded for name
// (SERVICE-VERSION) in <root>/run.
func recordedPid(t *testing.T, root, name string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "run", name+".pgid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatalf("record of %s: %q", name, b)
	}
	return pid
}
