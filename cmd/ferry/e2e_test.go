package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/rogpeppe/go-internal/testscript"
	bolt "go.etcd.io/bbolt"

	"ferry/bundle"
	"ferry/fixtures"
	"ferry/internal/testenv"
)

// TestScripts drives the built ferry binary through the scripts in
// testdata/script: real keys, real bundles, real gpg and skopeo where the
// machine has them.
func TestScripts(t *testing.T) {
	bin := buildFerry(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
			env.Setenv("FERRY_PASSPHRASE", "e2e passphrase")
			env.Setenv("GNUPGHOME", filepath.Join(env.WorkDir, ".gnupg"))
			return os.MkdirAll(filepath.Join(env.WorkDir, ".gnupg"), 0o700)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"ferrycode":  func(ts *testscript.TestScript, neg bool, args []string) { cmdFerryCode(ts, bin, neg, args) },
			"project":    cmdProject,
			"registry":   cmdRegistry,
			"flipbyte":   cmdFlipByte,
			"truncate":   cmdTruncate,
			"appendfile": cmdAppend,
			"freeport":   cmdFreePort,
			"waithttp":   cmdWaitHTTP,
			"waitport":   cmdWaitPort,
			"regionat":   cmdRegionAt,
			"runexe":     cmdRunExe,
			"boltput":    cmdBoltPut,
			"samekey":    cmdSameKey,
		},
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			// A script skips, or leaves out, what needs a missing
			// tool; under CI, which installs them all, it fails instead.
			if name, ok := strings.CutPrefix(cond, "cmd:"); ok {
				_, err := exec.LookPath(name)
				if err != nil && testenv.CI() {
					return false, fmt.Errorf("%s is not installed (CI=true: a script may not leave out what needs it; make deps installs it)", name)
				}
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}

// buildFerry builds the real binary once for the test run.
func buildFerry(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ferry")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("building ferry: %v", err)
	}
	return bin
}

// cmdFerryCode runs `ferry ARGS...` and checks its exit code:
// ferrycode CODE ARGS...
func cmdFerryCode(ts *testscript.TestScript, bin string, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: ferrycode CODE ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("ferrycode: bad code %q", args[0])
	}
	cmd := exec.Command(bin, args[1:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = scriptEnv(ts)
	cmd.Stdout, cmd.Stderr = ts.Stdout(), ts.Stderr()
	err = cmd.Run()
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("ferrycode: %v", err)
	}
	if got != want {
		ts.Fatalf("ferry %s: exit code %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

// cmdBoltPut changes state.db as a bbolt tool would, bypassing ferry:
// boltput DB BUCKET KEY VALUE
func cmdBoltPut(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: boltput DB BUCKET KEY VALUE")
	}
	db, err := bolt.Open(ts.MkAbs(args[0]), 0o600, &bolt.Options{Timeout: time.Second})
	ts.Check(err)
	defer db.Close()
	ts.Check(db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(args[1]))
		if b == nil {
			return fmt.Errorf("no bucket %s", args[1])
		}
		return b.Put([]byte(args[2]), []byte(args[3]))
	}))
}

// cmdRunExe runs an executable the script itself wrote, as exec does:
// runexe FILE ARGS... (! runexe when it must fail). A start refused with
// "text file busy" is tried again: a process that another script forks
// while this one writes the file holds it open for writing until it execs
// (golang.org/issue/22315), and the kernel runs no file open for writing.
// runexe -code=N FILE ARGS... must exit with code N.
func cmdRunExe(ts *testscript.TestScript, neg bool, args []string) {
	wantCode := -1
	if len(args) > 0 {
		if c, ok := strings.CutPrefix(args[0], "-code="); ok {
			n, err := strconv.Atoi(c)
			if err != nil || neg {
				ts.Fatalf("usage: runexe -code=N FILE ARGS...")
			}
			wantCode, args = n, args[1:]
		}
	}
	if len(args) < 1 {
		ts.Fatalf("usage: runexe [-code=N] FILE ARGS...")
	}
	var err error
	for try := 0; ; try++ {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(ts.MkAbs(args[0]), args[1:]...)
		cmd.Dir = ts.MkAbs(".")
		cmd.Env = scriptEnv(ts)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err = cmd.Run()
		if errors.Is(err, syscall.ETXTBSY) && try < 50 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		_, _ = ts.Stdout().Write(stdout.Bytes())
		_, _ = ts.Stderr().Write(stderr.Bytes())
		break
	}
	var ee *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &ee):
		ts.Fatalf("runexe %s: %v", args[0], err)
	case wantCode >= 0:
		got := 0
		if ee != nil {
			got = ee.ExitCode()
		}
		if got != wantCode {
			ts.Fatalf("runexe %s: exit code %d, want %d", strings.Join(args, " "), got, wantCode)
		}
	case neg && err == nil:
		ts.Fatalf("runexe %s: succeeded, want a failure", strings.Join(args, " "))
	case !neg && err != nil:
		ts.Fatalf("runexe %s: %v", strings.Join(args, " "), err)
	}
}

func scriptEnv(ts *testscript.TestScript) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "FERRY_PASSPHRASE", "GNUPGHOME", "TMPDIR", "SOURCE_DATE_EPOCH"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// cmdProject writes a fixtures project: project DIR [NAME VERSION [REGISTRY]]
func cmdProject(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: project DIR [NAME VERSION [REGISTRY]]")
	}
	opts := fixtures.ProjectOptions{}
	if len(args) >= 3 {
		opts.Name, opts.Version = args[1], args[2]
	}
	if len(args) >= 4 {
		opts.RegistryHost = args[3]
	}
	if _, err := fixtures.WriteProject(ts.MkAbs(args[0]), opts); err != nil {
		ts.Fatalf("project: %v", err)
	}
}

// cmdRegistry starts go-containerregistry's in-process registry on
// loopback for the rest of the script, pushes the fixture project's
// registry images to it and sets $REGISTRY: registry NAME VERSION
func cmdRegistry(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: registry NAME VERSION")
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	ts.Defer(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	opts := fixtures.ProjectOptions{Name: args[0], Version: args[1], RegistryHost: host}
	if err := fixtures.PushImages(context.Background(), host, opts); err != nil {
		ts.Fatalf("registry: %v", err)
	}
	ts.Setenv("REGISTRY", host)
}

// cmdFlipByte flips one bit of a file: flipbyte FILE OFFSET (negative
// offsets count from the end, N% is a fraction of the size).
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	var off int
	if pct, ok := strings.CutSuffix(args[1], "%"); ok {
		p, err := strconv.Atoi(pct)
		ts.Check(err)
		off = len(data) * p / 100
	} else {
		off, err = strconv.Atoi(args[1])
		ts.Check(err)
		if off < 0 {
			off += len(data)
		}
	}
	data[off] ^= 0x01
	ts.Check(os.WriteFile(path, data, 0o644))
}

// cmdTruncate cuts a file: truncate FILE SIZE (negative: bytes to remove).
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE SIZE")
	}
	path := ts.MkAbs(args[0])
	fi, err := os.Stat(path)
	ts.Check(err)
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	if n < 0 {
		n += fi.Size()
	}
	ts.Check(os.Truncate(path, n))
}

// cmdAppend appends text to a file: appendfile FILE TEXT
func cmdAppend(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: appendfile FILE TEXT")
	}
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_APPEND|os.O_WRONLY, 0)
	ts.Check(err)
	_, err = f.WriteString(args[1])
	ts.Check(err)
	ts.Check(f.Close())
}

// cmdFreePort sets VAR to a free loopback address: freeport VAR
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	addr := ln.Addr().String()
	ts.Check(ln.Close())
	ts.Setenv(args[0], addr)
}

// cmdWaitHTTP waits until URL answers, for at most ten seconds: waithttp URL
func cmdWaitHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waithttp URL")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(args[0])
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waithttp %s: %v", args[0], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cmdWaitPort waits until ADDR accepts TCP connections, for at most ten
// seconds: waitport ADDR
func cmdWaitPort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitport ADDR")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", args[0], time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("waitport %s: %v", args[0], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cmdRegionAt sets VAR to an offset inside a region of an installer,
// read from its trailer: the region's start plus DELTA bytes, or plus N%
// of the region's length: regionat VAR FILE keys|bundle [DELTA]
func cmdRegionAt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 {
		ts.Fatalf("usage: regionat VAR FILE keys|bundle [DELTA]")
	}
	data, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	size := int64(len(data))
	if size < bundle.TrailerSize {
		ts.Fatalf("regionat: %s is too short to be an installer", args[1])
	}
	t, err := bundle.ParseTrailer(data[size-bundle.TrailerSize:], size)
	ts.Check(err)
	var start, length int64
	switch args[2] {
	case "keys":
		start, length = t.KeysOffset, t.KeysLength
	case "bundle":
		start, length = t.BundleOffset, t.BundleLength
	default:
		ts.Fatalf("regionat: unknown region %q (keys or bundle)", args[2])
	}
	var delta int64
	if len(args) == 4 {
		if pct, ok := strings.CutSuffix(args[3], "%"); ok {
			p, err := strconv.ParseInt(pct, 10, 64)
			ts.Check(err)
			delta = length * p / 100
		} else {
			delta, err = strconv.ParseInt(args[3], 10, 64)
			ts.Check(err)
		}
	}
	ts.Setenv(args[0], strconv.FormatInt(start+delta, 10))
}
