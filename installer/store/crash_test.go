package store

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCrashDuringPut kills a process in the middle of a Put and checks
// that what it left never becomes a blob and is removed by the next Open.
func TestCrashDuringPut(t *testing.T) {
	if dir := os.Getenv("STORE_CRASH_WRITER"); dir != "" {
		crashWriter(dir)
		return
	}
	s := newStore(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringPut$")
	cmd.Env = append(os.Environ(), "STORE_CRASH_WRITER="+s.Dir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }() // a clean-up; the kill below is checked

	// Wait until the writer has streamed part of its blob, then kill it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if temps := tempFiles(t, s); len(temps) == 1 {
			if fi, err := os.Stat(temps[0]); err == nil && fi.Size() > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer never started its Put")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// While the writer lives, its temporary file is not a leftover.
	if _, err := Open(s.Dir(), false); err != nil {
		t.Fatal(err)
	}
	if len(tempFiles(t, s)) != 1 {
		t.Fatal("Open removed the temporary file of a live writer")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: the exit status is the kill's

	if _, err := Open(s.Dir(), false); err != nil {
		t.Fatal(err)
	}
	assertNoTemps(t, s)
	if drift, err := s.Check(t.Context(), nil, true); err != nil || len(drift) != 0 {
		t.Errorf("after the crash the store holds %+v (%v), want nothing", drift, err)
	}
}

// crashWriter runs in the child process: it starts a Put whose stream
// stalls halfway, and waits to be killed.
func crashWriter(dir string) {
	s, err := Open(dir, false)
	if err != nil {
		panic(err)
	}
	half := strings.Repeat("x", 1<<16)
	content := half + half
	stall := io.MultiReader(strings.NewReader(half), blockingReader{})
	_, _ = s.Put(digestOf([]byte(content)), int64(len(content)), stall) // stalls until the kill
}

// blockingReader never returns, like a stream from a stalled device.
type blockingReader struct{}

func (blockingReader) Read([]byte) (int, error) {
	for {
		time.Sleep(time.Hour)
	}
}
