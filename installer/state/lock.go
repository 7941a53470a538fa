package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lockName is the lock file in the root. It is separate from state.db so
// that the lock can be taken, and the holder named, before state.db is
// opened or even exists.
const lockName = "ferry.lock"

// lockPoll is how often a waiting Open or OpenReadOnly retries the lock;
// flock(2) has no timed wait.
const lockPoll = 10 * time.Millisecond

// rootLock is a held flock(2) on <root>/ferry.lock. The writer's pid is in
// the file while it holds the lock, so a second ferry can say who has it.
// flock locks belong to the open file, so the kernel releases them when the
// holder dies, even by kill -9; a stale pid left behind is overwritten by
// the next writer and ignored by everyone else because that process is gone.
type rootLock struct {
	f         *os.File
	exclusive bool
}

// lockRoot takes the root's lock, exclusive for a writer, shared for a
// reader. A writer fails at once when a live writer holds the lock; when
// the holders are only readers (no pid in the file) it waits up to wait for
// them. A reader waits up to wait for a writer. Either then gives up with a
// *LockedError: never a hang.
func lockRoot(root string, exclusive bool, wait time.Duration) (*rootLock, error) {
	return lockRootAs(root, exclusive, exclusive, wait)
}

// lockRootAs is lockRoot with the choice of writing this process's pid: a
// holder that writes none is waited for like a reader, which is what a
// brief writer (see OpenBrief) wants.
func lockRootAs(root string, exclusive, withPID bool, wait time.Duration) (*rootLock, error) {
	path := filepath.Join(root, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil && !exclusive && errors.Is(err, fs.ErrPermission) {
		// A reader may not be allowed to write the root; a shared lock
		// needs only read access.
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		pid := holderPID(f)
		if (exclusive && pid > 0) || !time.Now().Before(deadline) {
			f.Close()
			return nil, &LockedError{PID: pid, Root: root}
		}
		time.Sleep(lockPoll)
	}
	l := &rootLock{f: f, exclusive: exclusive}
	if withPID {
		if err := l.writePID(); err != nil {
			_ = l.release() // the write's error is the one to report
			return nil, fmt.Errorf("write pid to %s: %w", path, err)
		}
	}
	return l, nil
}

func (l *rootLock) writePID() error {
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// release clears the pid (a writer's) and drops the lock.
func (l *rootLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	var errs []error
	if l.exclusive {
		errs = append(errs, l.f.Truncate(0))
	}
	errs = append(errs, syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN), l.f.Close())
	l.f = nil
	return errors.Join(errs...)
}

// holderPID returns the pid written by the process holding the lock for
// writing, or 0 when there is none or it is no longer running.
func holderPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return 0
	}
	return pid
}

// WriterPID returns the pid of the ferry holding the appliance at root for
// writing, or 0 when none does. It takes no lock: a long-running reader
// (`ferry serve`) uses it to leave the state alone while an install runs,
// instead of waiting on the lock.
func WriterPID(root string) int {
	f, err := os.Open(filepath.Join(root, lockName))
	if err != nil {
		return 0
	}
	defer f.Close()
	return holderPID(f)
}
