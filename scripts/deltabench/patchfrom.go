package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// patchFromLevels are the zstd levels whose --patch-from ferry's patch of
// the changed file is compared with: the CLI's default, and a level that
// takes about as long as ferry does.
var patchFromLevels = []int{3, 12}

// patchFrom is one run of `zstd --patch-from`.
type patchFrom struct {
	level int
	took  time.Duration
	size  int64
}

// zstdPatchFrom makes the patch from base to next with the zstd command
// at each of patchFromLevels, in dir; none when zstd is not installed.
func zstdPatchFrom(ctx context.Context, dir, base, next string) ([]patchFrom, error) {
	zstd, err := exec.LookPath("zstd")
	if err != nil {
		return nil, nil
	}
	var out []patchFrom
	for _, level := range patchFromLevels {
		patch := filepath.Join(dir, "patch-"+strconv.Itoa(level)+".zst")
		cmd := exec.CommandContext(ctx, zstd, "-q", "-f", "-"+strconv.Itoa(level), "--patch-from="+base, next, "-o", patch)
		start := time.Now()
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("zstd --patch-from: %w: %s", err, msg)
		}
		took := time.Since(start)
		fi, err := os.Stat(patch)
		if err != nil {
			return nil, err
		}
		out = append(out, patchFrom{level: level, took: took, size: fi.Size()})
	}
	return out, nil
}
