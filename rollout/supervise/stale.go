package supervise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ferry/internal/atomicfile"
)

// ErrAlreadyRunning is returned by Start when the process group recorded for
// the same service version in RunDir is still alive: another supervisor runs
// it, or one that was killed left it behind (see KillStale).
var ErrAlreadyRunning = errors.New("service version already running")

// killWait bounds the wait for a group to disappear after SIGKILL. Only a
// process stuck in the kernel (uninterruptible sleep) outlives it.
const killWait = 5 * time.Second

// recordSuffix ends the name of a group record in RunDir.
const recordSuffix = ".pgid"

// groupRecord identifies a running process group across supervisors: the
// group id alone could name an unrelated group once the pid is recycled.
type groupRecord struct {
	pgid int
	// start is the group leader's start time (clock ticks after boot).
	start uint64
	// boot is the kernel's boot id; a record from an earlier boot names
	// nothing alive.
	boot string
}

// String is the record's file content: "PGID START BOOT\n".
func (r groupRecord) String() string {
	return fmt.Sprintf("%d %d %s\n", r.pgid, r.start, r.boot)
}

// parseGroupRecord reads a record file.
func parseGroupRecord(b []byte) (groupRecord, error) {
	f := bytes.Fields(b)
	if len(f) != 3 {
		return groupRecord{}, fmt.Errorf("%d fields, want 3 (pgid, start time, boot id)", len(f))
	}
	pgid, err := strconv.Atoi(string(f[0]))
	if err != nil || pgid <= 1 {
		return groupRecord{}, fmt.Errorf("process group %q is not a number above 1", f[0])
	}
	start, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		return groupRecord{}, fmt.Errorf("start time %q: %w", f[1], err)
	}
	return groupRecord{pgid: pgid, start: start, boot: string(f[2])}, nil
}

// bootID returns the kernel's boot id, or "-" when it cannot be read.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if id := strings.TrimSpace(string(b)); err == nil && id != "" && !strings.ContainsAny(id, " \t\n") {
		return id
	}
	return "-"
}

// recordFor describes the group led by pid, which must not yet be reaped.
func recordFor(pid int) (groupRecord, error) {
	st, err := readStat(pid)
	if err != nil {
		return groupRecord{}, err
	}
	return groupRecord{pgid: pid, start: st.start, boot: bootID()}, nil
}

// liveMembers returns the live processes of the recorded group, none when it
// is gone. A living process with the group's id but another start time means
// the pid was recycled, which the kernel does only once the recorded group
// is empty. One case is not told apart: the pid recycled as a new group
// whose leader died too, leaving members; it needs a full wrap of the pid
// space between two supervisors.
func (r groupRecord) liveMembers() ([]int, error) {
	if r.boot != bootID() {
		return nil, nil
	}
	if st, err := readStat(r.pgid); err == nil && st.start != r.start {
		return nil, nil
	}
	return groupMembers(r.pgid)
}

// writeRecord writes r to path as an atomicfile pending file, so a reader
// sees a whole record or none.
func writeRecord(path string, r groupRecord) error {
	p, err := atomicfile.Create(path, 0o600)
	if err != nil {
		return fmt.Errorf("recording process group: %w", err)
	}
	defer p.Abort()
	if _, err := p.Write([]byte(r.String())); err != nil {
		return fmt.Errorf("recording process group in %s: %w", path, err)
	}
	if err := p.Commit(); err != nil {
		return fmt.Errorf("recording process group: %w", err)
	}
	return nil
}

// readRecord reads the record at path; ok is false when there is none or
// it is unreadable garbage.
func readRecord(path string) (r groupRecord, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return groupRecord{}, false, nil
	}
	if err != nil {
		return groupRecord{}, false, fmt.Errorf("reading process group record: %w", err)
	}
	r, err = parseGroupRecord(b)
	if err != nil {
		return groupRecord{}, false, nil
	}
	return r, true, nil
}

// StaleGroup is a process group left behind by an earlier supervisor.
type StaleGroup struct {
	// Name is SERVICE-VERSION, from the record's file name.
	Name string
	Pgid int
	// Pids are the processes that were alive in the group.
	Pids []int
}

// KillStale stops the process groups recorded in runDir that are still
// alive: SIGTERM to each, SIGKILL to what is left after grace. It removes the
// records of groups that are gone (or never were: records from before a
// reboot, recycled pids, unreadable files) and returns the groups it found
// alive. Call it before starting any instance with the same runDir; a
// missing runDir holds nothing.
func KillStale(ctx context.Context, runDir string, grace time.Duration) ([]StaleGroup, error) {
	entries, err := os.ReadDir(runDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking for stale process groups: %w", err)
	}
	var stale []StaleGroup
	var errs []error
	paths := map[int]string{}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), recordSuffix)
		if !ok || e.IsDir() {
			continue
		}
		path := filepath.Join(runDir, e.Name())
		r, ok, err := readRecord(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var pids []int
		if ok {
			if pids, err = r.liveMembers(); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if len(pids) == 0 {
			os.Remove(path)
			continue
		}
		if err := signalGroup(r.pgid, syscall.SIGTERM); err != nil {
			errs = append(errs, fmt.Errorf("stale %s: %w", name, err))
			continue
		}
		stale = append(stale, StaleGroup{Name: name, Pgid: r.pgid, Pids: pids})
		paths[r.pgid] = path
	}

	graceCtx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	for _, g := range stale {
		_ = waitGroupGone(graceCtx, g.Pgid) // what is left gets SIGKILL below
	}
	for _, g := range stale {
		if err := killGroup(ctx, g.Pgid); err != nil {
			errs = append(errs, fmt.Errorf("stale %s: %w", g.Name, err))
			continue
		}
		os.Remove(paths[g.Pgid])
	}
	return stale, errors.Join(errs...)
}

// killGroup sends SIGKILL to group pgid and waits, up to killWait, until it
// has no live member.
func killGroup(ctx context.Context, pgid int) error {
	if err := signalGroup(pgid, syscall.SIGKILL); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, killWait)
	defer cancel()
	return waitGroupGone(ctx, pgid)
}
