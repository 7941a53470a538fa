package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A second ferry process fails at once and names the holder's pid.
func TestSecondProcessFailsAtOnce(t *testing.T) {
	root, _ := newRoot(t) // held by this process

	h := startHelper(t, "open", root)
	line := h.expect(t, "locked=true")
	msg := h.expect(t, "")
	if err := h.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, fmt.Sprintf("pid=%d ", os.Getpid())) {
		t.Errorf("helper saw %q, want pid %d", line, os.Getpid())
	}
	if want := fmt.Sprintf("in use by pid %d", os.Getpid()); !strings.Contains(msg, want) {
		t.Errorf("message %q does not say %q", msg, want)
	}
	elapsed, err := time.ParseDuration(strings.TrimSpace(line[strings.Index(line, "elapsed=")+len("elapsed="):]))
	if err != nil {
		t.Fatal(err)
	}
	if elapsed > 500*time.Millisecond {
		t.Errorf("second Open took %s; it must fail at once", elapsed)
	}
}

// While another process writes, Open here fails at once with its pid and
// OpenReadOnly gives up after its timeout; once it is gone, both work.
func TestHeldByAnotherProcess(t *testing.T) {
	root, db := newRoot(t)
	mustClose(t, db)

	h := startHelper(t, "hold", root)
	h.expect(t, "locked")
	pid := h.cmd.Process.Pid

	start := time.Now()
	_, err := Open(root, false)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("Open: %v, want a LockedError", err)
	}
	if le.PID != pid {
		t.Errorf("LockedError names pid %d, want %d", le.PID, pid)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("in use by pid %d", pid)) || !strings.Contains(err.Error(), root) {
		t.Errorf("message %q should name the pid and the root", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Open took %s; it must fail at once", d)
	}

	const wait = 300 * time.Millisecond
	start = time.Now()
	_, err = openReadOnly(root, wait)
	if !errors.As(err, &le) || le.PID != pid {
		t.Fatalf("OpenReadOnly: %v, want a LockedError naming pid %d", err, pid)
	}
	if d := time.Since(start); d < wait || d > wait+time.Second {
		t.Errorf("OpenReadOnly gave up after %s, want about %s", d, wait)
	}

	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, ro)
	db, err = Open(root, false)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, db)
}

// flock(2) locks belong to the open file, so the same process opening the
// root twice is refused too, naming itself.
func TestSecondOpenInProcess(t *testing.T) {
	root, _ := newRoot(t)
	_, err := Open(root, false)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("second Open: %v, want LockedError naming pid %d", err, os.Getpid())
	}
}

// A writer waits briefly for readers instead of failing, and is named to
// readers that come while it holds the root.
func TestWriterWaitsForReader(t *testing.T) {
	root, db := newRoot(t)
	mustClose(t, db)
	ro, err := OpenReadOnly(root)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		ro.Close()
	}()
	db, err = Open(root, false)
	if err != nil {
		t.Fatalf("Open while a reader finishes: %v", err)
	}
	defer db.Close()
	_, err = openReadOnly(root, 50*time.Millisecond)
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("OpenReadOnly under a writer: %v, want LockedError naming pid %d", err, os.Getpid())
	}
}

// A pid left in the lock file by a writer that died is not reported.
func TestStalePIDIgnored(t *testing.T) {
	root, db := newRoot(t)
	mustClose(t, db)
	h := startHelper(t, "hold", root)
	h.expect(t, "locked")
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = h.cmd.Wait() // killed: the exit status is the kill's
	data, err := os.ReadFile(filepath.Join(root, lockName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(data)) != fmt.Sprint(h.cmd.Process.Pid) {
		t.Fatalf("lock file holds %q, want the dead helper's pid", data)
	}
	db, err = Open(root, false)
	if err != nil {
		t.Fatalf("Open after the holder died: %v", err)
	}
	mustClose(t, db)
}

// A brief writer (ferry serve saving a decision) is waited for, not
// failed on: an install that comes at that moment goes ahead after it.
func TestBriefWriterIsWaitedFor(t *testing.T) {
	root, db := newRoot(t)
	mustClose(t, db)
	brief, err := OpenBrief(root)
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan time.Time, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		released <- time.Now()
		mustClose(t, brief)
	}()
	db, err = Open(root, false)
	if err != nil {
		t.Fatalf("Open while a brief writer holds the root: %v", err)
	}
	opened := time.Now()
	defer mustClose(t, db)
	if at := <-released; opened.Before(at) {
		t.Fatal("Open went ahead while the brief writer held the root")
	}
	// And a brief writer fails at once while a real writer holds it.
	if _, err := OpenBrief(root); !errors.Is(err, ErrLocked) {
		t.Fatalf("OpenBrief while a writer holds the root: %v", err)
	}
}
