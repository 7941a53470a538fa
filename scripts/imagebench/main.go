// Command imagebench is the image half of `make bench` (scripts/bench.sh):
// how fast `ferry bundle create` fetches images from a registry at build
// time, against `skopeo copy docker://… oci:…` of the same images.
//
//	imagebench -dir DIR -ferry BIN -key KEY [-size BYTES] [-images N] [-latency D] [-repeat N]
//
// It starts go-containerregistry's in-process registry on loopback, pushes
// N images of about BYTES in all to it — every image on two shared base
// layers, with a large layer and a small one of its own, gzip layers of
// incompressible data as real layers are — and times, REPEAT times each
// (the median is printed):
//
//   - ferry bundle create of a spec listing the N images, signed with KEY
//     (FERRY_PASSPHRASE unlocks it); the bundle is fsynced;
//   - skopeo copy of each image in turn into one OCI layout (skopeo skips
//     the blobs the layout holds already), then sync(1) of the layout;
//
// first against the registry as it is, then behind a handler that delays
// every request by D (default 20ms), where fetching one layer after
// another pays the delay on each. The ratio skopeo/ferry is printed beside
// the target (at least 1.5x) with "ok" or "MISSED".
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"ferry/bundle/spec"
	"ferry/fixtures"
)

// target is the least skopeo/ferry ratio of the issue.
const target = 1.5

func main() {
	dir := flag.String("dir", "", "working directory (required)")
	ferry := flag.String("ferry", "", "ferry binary (required)")
	key := flag.String("key", "", "release signing key (required)")
	sizeStr := flag.String("size", "256MiB", "bytes of all images together")
	images := flag.Int("images", 6, "number of images")
	latency := flag.Duration("latency", 20*time.Millisecond, "delay added to every request of the second registry")
	repeat := flag.Int("repeat", 3, "runs of each measurement")
	flag.Parse()
	if *dir == "" || *ferry == "" || *key == "" || *images < 1 || *repeat < 1 {
		flag.Usage()
		os.Exit(2)
	}
	size, err := spec.ParseSize(*sizeStr)
	if err == nil {
		err = run(*dir, *ferry, *key, size, *images, *latency, *repeat)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagebench:", err)
		os.Exit(1)
	}
}

func run(dir, ferry, key string, size int64, n int, latency time.Duration, repeat int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	blobDir := filepath.Join(dir, "registry")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		return err
	}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithBlobHandler(registry.NewDiskBlobHandler(blobDir)))
	plain, err := serve(reg)
	if err != nil {
		return err
	}
	slow, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		reg.ServeHTTP(w, r)
	}))
	if err != nil {
		return err
	}
	plan, err := push(filepath.Join(dir, "layers"), plain, size, n)
	if err != nil {
		return err
	}

	fmt.Printf("image fetch at build time: %d images, %s in %d layers (2 shared by all), %d runs each\n",
		n, mib(plan.bytes), plan.layers, repeat)
	fmt.Printf("  %-46s %9s %10s\n", "", "wall", "peak RSS")
	type line struct {
		label        string
		ferry, scopy result
	}
	var lines []line
	for _, host := range []struct {
		label, addr string
	}{{"loopback", plain}, {fmt.Sprintf("%s per request", latency), slow}} {
		specPath, err := writeSpec(filepath.Join(dir, "spec"), host.addr, plan.refs)
		if err != nil {
			return err
		}
		out := filepath.Join(dir, "images.ferry")
		f, err := measure(repeat, func() error { return os.RemoveAll(out) },
			ferry, "bundle", "create", "-f", specPath, "-o", out, "--key", key, "--plain-http")
		if err != nil {
			return err
		}
		layout := filepath.Join(dir, "layout")
		s, err := measureSkopeo(repeat, layout, host.addr, plan.refs)
		if err != nil {
			return err
		}
		fmt.Printf("  %-46s %8.2fs %10s\n", "ferry bundle create ("+host.label+")", f.seconds, mib(f.rssKiB<<10))
		fmt.Printf("  %-46s %8.2fs %10s\n", "skopeo copy, each image ("+host.label+")", s.seconds, mib(s.rssKiB<<10))
		lines = append(lines, line{host.label, f, s})
		os.RemoveAll(out)
		os.RemoveAll(layout)
	}
	fmt.Println("targets")
	for _, l := range lines {
		r := l.scopy.seconds / max(l.ferry.seconds, 0.001)
		verdict := "ok"
		if r < target {
			verdict = "MISSED"
		}
		fmt.Printf("  %-54s %11.2fx  %s\n", fmt.Sprintf("image fetch >= %.1fx skopeo copy (%s)", target, l.label), r, verdict)
	}
	return nil
}

// serve serves h on a free loopback port and returns its host:port.
func serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go http.Serve(ln, h) //nolint:gosec,errcheck // a loopback bench server for the life of the process
	return ln.Addr().String(), nil
}

type pushed struct {
	refs   []string // repository:tag, without the host
	bytes  int64
	layers int
}

// push writes the layers under dir and pushes the images: two base layers
// of 15 % and 5 % of size shared by all, and per image a large layer (three
// quarters of its share) and a small one.
func push(dir string, host string, size int64, n int) (*pushed, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	layer := func(name string, j int, bytes int64) (v1.Layer, error) {
		return fixtures.FileLayer(dir, name, j, max(bytes, 1024))
	}
	base1, err := layer("base", 0, size*15/100)
	if err != nil {
		return nil, err
	}
	base2, err := layer("base", 1, size*5/100)
	if err != nil {
		return nil, err
	}
	p := &pushed{layers: 2}
	own := size * 80 / 100 / int64(n)
	for i := range n {
		img := fmt.Sprintf("app-%02d", i+1)
		big, err := layer(img, 0, own*3/4)
		if err != nil {
			return nil, err
		}
		small, err := layer(img, 1, own/4)
		if err != nil {
			return nil, err
		}
		im, err := fixtures.Image("linux/amd64", base1, base2, big, small)
		if err != nil {
			return nil, err
		}
		ref := "bench/" + img + ":1.0.0"
		r, err := name.ParseReference(host+"/"+ref, name.Insecure)
		if err != nil {
			return nil, err
		}
		if err := remote.Write(r, im); err != nil {
			return nil, fmt.Errorf("pushing %s: %w", ref, err)
		}
		p.refs = append(p.refs, ref)
		p.layers += 2
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			p.bytes += fi.Size()
		}
	}
	return p, nil
}

// writeSpec writes a ferry.yaml bundling the images from host.
func writeSpec(dir, host string, refs []string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("apiVersion: ferry/v1\nkind: Bundle\nmetadata:\n  name: bench-images\n  version: 1.0.0\n  vendor: Example Corp\ncomponents:\n  - name: images\n    platforms: [linux/amd64]\n    images:\n")
	for _, r := range refs {
		fmt.Fprintf(&b, "      - {source: \"%s/%s\", name: \"%s\"}\n", host, r, r)
	}
	path := filepath.Join(dir, "ferry.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

type result struct {
	seconds float64
	rssKiB  int64
}

// measure runs cmd repeat times, prep before each, and returns the median
// wall time and the largest peak RSS.
func measure(repeat int, prep func() error, cmd ...string) (result, error) {
	var times []float64
	var rss int64
	for range repeat {
		if err := prep(); err != nil {
			return result{}, err
		}
		s, kib, err := timed(cmd...)
		if err != nil {
			return result{}, err
		}
		times = append(times, s)
		rss = max(rss, kib)
	}
	slices.Sort(times)
	return result{times[(len(times)-1)/2], rss}, nil
}

// measureSkopeo copies every image in turn into a fresh OCI layout and
// syncs it, repeat times.
func measureSkopeo(repeat int, layout, host string, refs []string) (result, error) {
	var times []float64
	var rss int64
	for range repeat {
		if err := os.RemoveAll(layout); err != nil {
			return result{}, err
		}
		var total float64
		for _, r := range refs {
			tag := r[strings.LastIndex(r, "/")+1:]
			s, kib, err := timed("skopeo", "copy", "--quiet", "--src-tls-verify=false",
				"docker://"+host+"/"+r, "oci:"+layout+":"+strings.ReplaceAll(tag, ":", "-"))
			if err != nil {
				return result{}, err
			}
			total += s
			rss = max(rss, kib)
		}
		files, err := filepath.Glob(filepath.Join(layout, "blobs", "sha256", "*"))
		if err != nil {
			return result{}, err
		}
		s, _, err := timed(append([]string{"sync"}, append(files, filepath.Join(layout, "index.json"))...)...)
		if err != nil {
			return result{}, err
		}
		times = append(times, total+s)
	}
	slices.Sort(times)
	return result{times[(len(times)-1)/2], rss}, nil
}

// timed runs a command under /usr/bin/time and returns its wall seconds
// and peak RSS in KiB (the rusage of a child of this process would count
// this process's own pages, copied at fork).
func timed(cmd ...string) (float64, int64, error) {
	f, err := os.CreateTemp("", "imagebench-time-")
	if err != nil {
		return 0, 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	args := append([]string{"-f", "%M", "-o", f.Name()}, cmd...)
	c := exec.CommandContext(context.Background(), "/usr/bin/time", args...) //nolint:gosec // the bench's own commands
	var stderr strings.Builder
	c.Stdout, c.Stderr = io.Discard, &stderr
	start := time.Now()
	err = c.Run()
	d := time.Since(start).Seconds()
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w: %s", strings.Join(cmd[:min(3, len(cmd))], " "), err, stderr.String())
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return 0, 0, err
	}
	lines := strings.Fields(string(b))
	if len(lines) == 0 {
		return 0, 0, fmt.Errorf("%s: /usr/bin/time wrote no peak RSS", cmd[0])
	}
	kib, err := strconv.ParseInt(lines[len(lines)-1], 10, 64)
	return d, kib, err
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }
