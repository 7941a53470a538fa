package supervise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// procStat is the part of /proc/PID/stat the supervisor needs.
type procStat struct {
	state byte
	ppid  int
	pgrp  int
	// start is the process's start time in clock ticks after boot: with
	// the pid and the boot id it names one process for good.
	start uint64
}

// parseStat reads the contents of /proc/PID/stat. The command name in it
// is chosen by the process and may hold spaces and parentheses, so the
// fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return procStat{}, errors.New("no command name")
	}
	f := bytes.Fields(b[end+1:])
	// state(3) ppid(4) pgrp(5) ... starttime(22), numbered as in proc(5).
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("%d fields after the command name, want at least 20", len(f))
	}
	// proc(5) states are ASCII letters (R, S, D, Z, T, ...); anything else
	// is not a stat line, and a byte past ASCII would not survive a round
	// trip as text.
	if c := f[0][0]; (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
		return procStat{}, fmt.Errorf("state %q is not a letter", c)
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	start, err3 := strconv.ParseUint(string(f[19]), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, err
	}
	return procStat{state: f[0][0], ppid: ppid, pgrp: pgrp, start: start}, nil
}

// readStat reads /proc/PID/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	st, err := parseStat(b)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// groupMembers returns, sorted, the live processes of process group pgid.
// Zombies are left out: they hold no resources but a pid, and one whose
// parent is a pid 1 that never reaps would otherwise look alive for good.
func groupMembers(pgid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue // gone since the listing
		}
		if st.pgrp == pgid && st.state != 'Z' && st.state != 'X' {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// signalGroup sends sig to every process of group pgid. A group that no
// longer exists is not an error.
func signalGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 1 {
		return fmt.Errorf("refusing to signal process group %d", pgid)
	}
	err := syscall.Kill(-pgid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling process group %d with %v: %w", pgid, sig, err)
	}
	return nil
}

// groupPoll is how often waitGroupGone looks at /proc.
const groupPoll = 10 * time.Millisecond

// waitGroupGone returns nil once group pgid has no live member, or an error
// when ctx ends first. Nothing notifies the exit of processes that are not
// our children, so this polls.
func waitGroupGone(ctx context.Context, pgid int) error {
	t := time.NewTicker(groupPoll)
	defer t.Stop()
	for {
		pids, err := groupMembers(pgid)
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process group %d still has processes %v: %w", pgid, pids, context.Cause(ctx))
		case <-t.C:
		}
	}
}
