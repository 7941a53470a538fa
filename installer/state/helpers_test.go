package state

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// helperEnv makes the test binary act as a second ferry process, as the
// os/exec tests do: it runs the helper named by the variable instead of the
// tests.
const helperEnv = "FERRY_STATE_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode, os.Getenv("FERRY_STATE_TEST_ROOT")))
	}
	os.Exit(m.Run())
}

// runHelper is the body of a helper process.
//
//	hold:    open root for writing, say "locked", hold until stdin closes
//	open:    try to open root for writing, print the error and how long it took
//	journal: record steps in an open transaction as fast as it can, until killed
func runHelper(mode, root string) int {
	switch mode {
	case "hold":
		db, err := Open(root, false)
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin) // until the test closes stdin
		if err := db.Close(); err != nil {
			fmt.Println("error:", err)
			return 1
		}
		return 0
	case "open":
		start := time.Now()
		db, err := Open(root, false)
		if err == nil {
			db.Close()
			fmt.Println("opened")
			return 0
		}
		var le *LockedError
		fmt.Printf("locked=%t pid=%d elapsed=%s\n%v\n", errors.As(err, &le), pidOf(le), time.Since(start), err)
		return 0
	case "journal":
		db, err := Open(root, false)
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		t, ok, err := db.OpenTxn()
		if err == nil && !ok {
			t, err = db.BeginTxn("install", "1.0.0", "sha256:abc")
		}
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		steps, err := db.Steps(t.ID)
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		// Resume: a step journalled as started but not done is finished
		// first, as the installer would after re-running it.
		start := len(steps) / 2
		if len(steps)%2 == 1 {
			if err := db.RecordStep(t.ID, fmt.Sprintf("step-%d", start), PhaseDone, "resumed"); err != nil {
				fmt.Println("error:", err)
				return 1
			}
			start++
		}
		for i := start; ; i++ {
			name := fmt.Sprintf("step-%d", i)
			if err := db.RecordStep(t.ID, name, PhaseStarted, ""); err != nil {
				fmt.Println("error:", err)
				return 1
			}
			if err := db.RecordStep(t.ID, name, PhaseDone, "ok"); err != nil {
				fmt.Println("error:", err)
				return 1
			}
			if err := db.Audit("step", map[string]string{"name": name}); err != nil {
				fmt.Println("error:", err)
				return 1
			}
			if i == start+5 {
				fmt.Println("ready")
			}
		}
	}
	fmt.Println("unknown helper", mode)
	return 2
}

func pidOf(le *LockedError) int {
	if le == nil {
		return 0
	}
	return le.PID
}

// helper is a running helper process.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

func startHelper(t *testing.T, mode, root string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// Under -race a process sleeps a second before it exits, unless told
	// not to.
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "FERRY_STATE_TEST_ROOT="+root, "GORACE=atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helper{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		h.stdin.Close()
		if h.cmd.ProcessState == nil {
			_ = h.cmd.Process.Kill() // a clean-up: the test has its verdict
			_ = h.cmd.Wait()
		}
	})
	return h
}

// expect reads the helper's next line and fails unless it starts with want.
func (h *helper) expect(t *testing.T, want string) string {
	t.Helper()
	line, err := h.out.ReadString('\n')
	if err != nil {
		t.Fatalf("helper: reading %q: %v (got %q)", want, err, line)
	}
	if !strings.HasPrefix(line, want) {
		t.Fatalf("helper said %q, want %q", line, want)
	}
	return line
}

// newRoot makes a fresh appliance root and returns it with its state open.
func newRoot(t *testing.T) (string, *DB) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "appliance")
	db, err := Open(root, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return root, db
}

// rawUpdate changes state.db directly with bbolt, as someone editing the
// file by hand would. The root must not be open.
func rawUpdate(t *testing.T, root string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	b, err := bolt.Open(filepath.Join(root, dbName), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func mustClose(t *testing.T, db *DB) {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
