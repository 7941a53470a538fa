// Command pullbench is the registry half of `make bench` (scripts/bench.sh):
//
//	pullbench image -out DIR -size BYTES [-layers N]
//	    writes DIR/layout, an OCI image layout with one image of about BYTES
//	    (gzip layers of incompressible data), and DIR/ferry.yaml bundling it
//	    as bench/big:1.0.0
//	pullbench serve -dir DIR [-addr 127.0.0.1:0]
//	    the baseline: net/http's FileServer over DIR, printing
//	    "serving DIR on http://ADDR" once it listens
//	pullbench wait URL
//	    waits up to 20s until URL answers
//	pullbench pull -store DIR -ref NAME:TAG -registry URL -static URL [-c N] [-runs N]
//	    fetches every blob of image NAME:TAG in the OCI layout DIR (its
//	    manifest, config and layers) from both servers, N at a time, with
//	    the same client: GET URL/v2/NAME/blobs/DIGEST from the registry and
//	    GET URL/blobs/sha256/HEX from the static server. Runs alternate
//	    between the two after one warm-up pull of each; it prints
//	    "registry SECONDS BYTES BLOBS" and "static SECONDS BYTES BLOBS" lines,
//	    the median run of each.
//
// Only loopback addresses are accepted.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"ferry/fixtures"
	"ferry/internal/oci"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "image":
		err = imageCmd(os.Args[2:])
	case "serve":
		err = serveCmd(os.Args[2:])
	case "wait":
		err = waitCmd(os.Args[2:])
	case "pull":
		err = pullCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pullbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: pullbench image|serve|wait|pull ... (see scripts/pullbench/main.go)")
	os.Exit(2)
}

// ---- image ----

const imageRef = "big"

func imageCmd(args []string) error {
	fs := flag.NewFlagSet("image", flag.ExitOnError)
	out := fs.String("out", "", "output directory")
	size := fs.Int64("size", 0, "image size in bytes")
	nlayers := fs.Int("layers", 8, "number of layers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *size <= 0 || *nlayers <= 0 {
		return errors.New("image: -out and a positive -size and -layers are required")
	}
	layoutDir := filepath.Join(*out, "layout")
	blobDir := filepath.Join(layoutDir, "blobs", "sha256")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		return err
	}
	layers := make([]v1.Layer, *nlayers)
	errs := make([]error, *nlayers)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := range layers {
		n := *size / int64(*nlayers)
		if i == 0 {
			n += *size % int64(*nlayers)
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			layers[i], errs[i] = fixtures.FileLayer(blobDir, "big", i, n)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	img, err := fixtures.Image("linux/amd64", layers...)
	if err != nil {
		return err
	}
	if err := fixtures.WriteOCILayout(layoutDir, map[string]any{imageRef: img}); err != nil {
		return err
	}
	spec := `# pull benchmark image (scripts/pullbench)
apiVersion: ferry/v1
kind: Bundle
metadata:
  name: bench-pull
  version: 1.0.0
  vendor: Example Corp
components:
  - name: images
    platforms: [linux/amd64]
    images:
      - {source: "oci:layout:` + imageRef + `", name: "bench/big:1.0.0"}
`
	return os.WriteFile(filepath.Join(*out, "ferry.yaml"), []byte(spec), 0o644)
}

// ---- serve ----

func serveCmd(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	dir := fs.String("dir", "", "directory to serve")
	addr := fs.String("addr", "127.0.0.1:0", "loopback listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("serve: -dir is required")
	}
	if err := checkLoopback(*addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("serving %s on http://%s\n", *dir, ln.Addr())
	srv := &http.Server{Handler: http.FileServer(http.Dir(*dir)), ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", addr)
	}
	return nil
}

func checkLoopbackURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	return checkLoopback(u.Host)
}

// ---- wait ----

func waitCmd(args []string) error {
	if len(args) != 1 {
		return errors.New("wait: one URL")
	}
	if err := checkLoopbackURL(args[0]); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(args[0])
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer: %w", args[0], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ---- pull ----

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

type manifest struct {
	Manifests []descriptor `json:"manifests"`
	Config    descriptor   `json:"config"`
	Layers    []descriptor `json:"layers"`
}

func pullCmd(args []string) error {
	fs := flag.NewFlagSet("pull", flag.ExitOnError)
	store := fs.String("store", "", "OCI layout holding the image")
	ref := fs.String("ref", "", "NAME:TAG of the image in the layout")
	regURL := fs.String("registry", "", "base URL of the OCI registry")
	staticURL := fs.String("static", "", "base URL of the static file server over the layout")
	conc := fs.Int("c", 4, "parallel downloads")
	runs := fs.Int("runs", 3, "timed pulls from each server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *store == "" || *regURL == "" || *staticURL == "" || *conc < 1 || *runs < 1 {
		return errors.New("pull: -store, -ref, -registry and -static are required")
	}
	name, _, ok := strings.Cut(*ref, ":")
	if !ok {
		return fmt.Errorf("pull: -ref %q is not NAME:TAG", *ref)
	}
	for _, u := range []string{*regURL, *staticURL} {
		if err := checkLoopbackURL(u); err != nil {
			return err
		}
	}
	blobs, err := imageBlobs(*store, *ref)
	if err != nil {
		return err
	}
	regURLs, staticURLs := make([]string, len(blobs)), make([]string, len(blobs))
	for i, b := range blobs {
		regURLs[i] = strings.TrimSuffix(*regURL, "/") + "/v2/" + name + "/blobs/" + b.Digest
		staticURLs[i] = strings.TrimSuffix(*staticURL, "/") + "/blobs/sha256/" + oci.Digest(b.Digest).Hex()
	}
	sides := []struct {
		label string
		urls  []string
		times []time.Duration
	}{{label: "registry", urls: regURLs}, {label: "static", urls: staticURLs}}
	var total int64
	for _, b := range blobs {
		total += b.Size
	}
	for run := -1; run < *runs; run++ { // run -1 warms up both sides
		for i := range sides {
			s := &sides[i]
			d, err := pullAll(s.urls, blobs, *conc)
			if err != nil {
				return fmt.Errorf("%s: %w", s.label, err)
			}
			if run >= 0 {
				s.times = append(s.times, d)
			}
		}
	}
	for _, s := range sides {
		slices.Sort(s.times)
		fmt.Printf("%s %.4f %d %d\n", s.label, s.times[(len(s.times)-1)/2].Seconds(), total, len(blobs))
	}
	return nil
}

// imageBlobs lists the manifest, config and layers of the image named ref
// in the layout at dir.
func imageBlobs(dir, ref string) ([]descriptor, error) {
	var index manifest
	if err := readJSON(filepath.Join(dir, "index.json"), &index); err != nil {
		return nil, err
	}
	for _, d := range index.Manifests {
		if d.Annotations[oci.RefNameAnnotation] != ref {
			continue
		}
		var m manifest
		if err := readJSON(blobPath(dir, d.Digest), &m); err != nil {
			return nil, err
		}
		if len(m.Layers) == 0 {
			return nil, fmt.Errorf("%s in %s is not an image manifest with layers", ref, dir)
		}
		return append([]descriptor{d, m.Config}, m.Layers...), nil
	}
	return nil, fmt.Errorf("no image %s in %s", ref, dir)
}

func blobPath(dir, digest string) string {
	return filepath.Join(dir, "blobs", "sha256", oci.Digest(digest).Hex())
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// pullAll downloads every URL, conc at a time, over fresh connections as a
// new pull would, and checks each body's length against its descriptor.
// Bytes are discarded.
func pullAll(urls []string, blobs []descriptor, conc int) (time.Duration, error) {
	tr := &http.Transport{
		DisableCompression:  true,
		MaxIdleConnsPerHost: conc,
		ReadBufferSize:      64 << 10,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	start := time.Now()
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for range conc {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			for {
				mu.Lock()
				if first != nil || next == len(urls) {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if err := fetch(ctx, client, urls[i], blobs[i].Size, buf); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}

func fetch(ctx context.Context, client *http.Client, u string, size int64, buf []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	var n int64
	for {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("GET %s: %w", u, err)
		}
	}
	if n != size {
		return fmt.Errorf("GET %s: %d bytes, want %d", u, n, size)
	}
	return nil
}
