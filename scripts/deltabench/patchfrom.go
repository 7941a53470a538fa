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

// zstdPatchFrom makes the patch from base to next of each pair with the
// zstd command, one after another, at each of patchFromLevels, in dir,
// and sums the times and sizes; none when zstd is not installed.
func zstdPatchFrom(ctx context.Context, dir string, pairs [][2]string) ([]patchFrom, error) {
	zstd, err := exec.LookPath("zstd")
	if err != nil {
		return nil, nil
	}
	var out []patchFrom
	for _, level := range patchFromLevels {
		sum := patchFrom{level: level}
		for i, p := range pairs {
			patch := filepath.Join(dir, fmt.Sprintf("patch-%d-%d.zst", level, i))
			cmd := exec.CommandContext(ctx, zstd, "-q", "-f", "-"+strconv.Itoa(level), "--patch-from="+p[0], p[1], "-o", patch)
			start := time.Now()
			if msg, err := cmd.CombinedOutput(); err != nil {
				return nil, fmt.Errorf("zstd --patch-from: %w: %s", err, msg)
			}
			sum.took += time.Since(start)
			fi, err := os.Stat(patch)
			if err != nil {
				return nil, err
			}
			sum.size += fi.Size()
		}
		out = append(out, sum)
	}
	return out, nil
}
