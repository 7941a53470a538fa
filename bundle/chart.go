package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"ferry/internal/yamlnode"
)

// Chart limits. Charts are templates and values, not payloads: the caps
// keep a mistaken path or a hostile archive from filling memory.
const (
	maxChartArchive  = 64 << 20  // a packaged chart, as given or as made
	maxChartYAML     = 1 << 20   // Chart.yaml, and .helmignore
	maxChartUnpacked = 256 << 20 // bytes inflated from, or packed into, an archive
	maxChartEntries  = 10000     // entries in an archive or files in a directory
)

// chartModTime is the modification time of every entry of a chart ferry
// packages (2000-01-01T00:00:00Z), so that the same directory always gives
// the same bytes.
const chartModTime = 946684800

// chartNameRE is a chart name that is safe as a directory and file name.
var chartNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)

// chartGzipMagic starts every gzip stream; a packaged chart is one.
const chartGzipMagic = "\x1f\x8b"

// LoadChart reads a Helm chart: a chart directory, which it packages, or a
// packaged .tgz, which it checks and keeps byte for byte.
//
// A directory is packaged deterministically, the way `helm package` lays
// it out (every file under NAME/, NAME being the chart's name) but with
// sorted entries, a fixed modification time, no owners and modes reduced to
// 0644 or 0755, so that building twice gives the same digest. A .helmignore
// is honoured for simple patterns (see helmignore). Symlinks and other
// non-regular files in the directory are errors.
//
// A .tgz must hold exactly one top-level directory with Chart.yaml in it,
// and only regular files and directories at relative paths inside it.
func LoadChart(path string) (*ChartSource, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	if fi.IsDir() {
		return packChartDir(path)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("chart %s: not a directory or a regular file", path)
	}
	if fi.Size() > maxChartArchive {
		return nil, fmt.Errorf("chart %s: %d bytes, over the %d-byte limit for a chart archive", path, fi.Size(), maxChartArchive)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxChartArchive+1))
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", path, err)
	}
	if len(data) > maxChartArchive {
		return nil, fmt.Errorf("chart %s: over the %d-byte limit for a chart archive", path, maxChartArchive)
	}
	if !bytes.HasPrefix(data, []byte(chartGzipMagic)) {
		return nil, fmt.Errorf("chart %s: neither a chart directory nor a packaged chart (.tgz)", path)
	}
	meta, err := readChartArchive(data)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", path, err)
	}
	return &ChartSource{Name: meta.Name, Version: meta.Version, AppVersion: meta.AppVersion, Archive: data}, nil
}

// chartMeta is the part of Chart.yaml ferry reads.
type chartMeta struct {
	APIVersion string
	Name       string
	Version    string
	AppVersion string
}

// parseChartYAML reads apiVersion, name, version and appVersion from
// Chart.yaml and ignores the rest. Values are taken as written, so that an
// unquoted appVersion such as 1.10 is not read as the number 1.1.
func parseChartYAML(data []byte) (*chartMeta, error) {
	if len(data) > maxChartYAML {
		return nil, fmt.Errorf("Chart.yaml: over the %d-byte limit", maxChartYAML)
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	var pairs []*ast.MappingValueNode
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		switch n := yamlnode.Unwrap(doc.Body).(type) {
		case *ast.MappingNode:
			pairs = n.Values
		case *ast.MappingValueNode:
			pairs = []*ast.MappingValueNode{n}
		default:
			return nil, errors.New("Chart.yaml: not a mapping")
		}
		break
	}
	var m chartMeta
	for _, p := range pairs {
		key, _ := yamlnode.Text(p.Key)
		var dst *string
		switch key {
		case "apiVersion":
			dst = &m.APIVersion
		case "name":
			dst = &m.Name
		case "version":
			dst = &m.Version
		case "appVersion":
			dst = &m.AppVersion
		default:
			continue
		}
		v, ok := yamlnode.Text(p.Value)
		if !ok {
			return nil, fmt.Errorf("Chart.yaml: %s: expected a single value", key)
		}
		*dst = v
	}
	switch {
	case m.APIVersion != "v1" && m.APIVersion != "v2":
		return nil, fmt.Errorf("Chart.yaml: apiVersion %q: must be v2 (Helm 3) or v1", m.APIVersion)
	case checkChartName(m.Name) != nil:
		return nil, fmt.Errorf("Chart.yaml: %w", checkChartName(m.Name))
	case m.Version == "":
		return nil, errors.New("Chart.yaml: version is required")
	}
	if _, err := semver.StrictNewVersion(m.Version); err != nil {
		return nil, fmt.Errorf("Chart.yaml: version %q is not a semantic version (MAJOR.MINOR.PATCH, such as 1.4.0, without a leading \"v\")", m.Version)
	}
	return &m, nil
}

// readChartArchive checks a packaged chart and returns its Chart.yaml
// fields. Nothing is written to disk.
func readChartArchive(data []byte) (*chartMeta, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a gzip stream: %w", err)
	}
	tr := tar.NewReader(&chartInflateReader{r: zr, left: maxChartUnpacked})
	var (
		top       string
		chartYAML []byte
		seen      = make(map[string]bool)
	)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		if n >= maxChartEntries {
			return nil, fmt.Errorf("more than %d entries", maxChartEntries)
		}
		name, err := chartEntryName(hdr)
		if err != nil {
			return nil, err
		}
		first, rest, _ := strings.Cut(name, "/")
		switch {
		case top == "":
			top = first
		case first != top:
			return nil, fmt.Errorf("entry %q is outside %s/: a chart archive holds one top-level directory", hdr.Name, top)
		}
		if hdr.Typeflag == tar.TypeReg && rest == "" {
			return nil, fmt.Errorf("entry %q is a file at the top level: a chart archive holds one top-level directory", hdr.Name)
		}
		if seen[name] {
			return nil, fmt.Errorf("entry %q appears twice", hdr.Name)
		}
		seen[name] = true
		if hdr.Typeflag == tar.TypeReg && rest == "Chart.yaml" {
			if hdr.Size > maxChartYAML {
				return nil, fmt.Errorf("%s: %d bytes, over the %d-byte limit", hdr.Name, hdr.Size, maxChartYAML)
			}
			if chartYAML, err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("read %s: %w", hdr.Name, err)
			}
		}
	}
	if top == "" {
		return nil, errors.New("the archive is empty")
	}
	if chartYAML == nil {
		return nil, fmt.Errorf("no %s/Chart.yaml: a chart archive holds NAME/Chart.yaml", top)
	}
	return parseChartYAML(chartYAML)
}

// chartEntryName checks one archive entry and returns its clean name.
// Only regular files and directories at relative paths that stay inside the
// archive are accepted: a chart has no use for anything else, and links or
// ".." are how extracting an archive writes outside its directory.
func chartEntryName(hdr *tar.Header) (string, error) {
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir:
	case tar.TypeSymlink, tar.TypeLink:
		return "", fmt.Errorf("entry %q is a link: a chart archive may hold only regular files and directories", hdr.Name)
	default:
		return "", fmt.Errorf("entry %q has type %q: a chart archive may hold only regular files and directories", hdr.Name, hdr.Typeflag)
	}
	name := hdr.Name
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || filepath.IsAbs(name) {
		return "", fmt.Errorf("entry %q: not a relative path", hdr.Name)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
		if seg == ".." {
			return "", fmt.Errorf("entry %q: \"..\" leaves the archive", hdr.Name)
		}
	}
	clean := path.Clean(name)
	if clean == "." || clean == "" {
		return "", fmt.Errorf("entry %q: not a relative path", hdr.Name)
	}
	return clean, nil
}

// chartInflateReader fails once more than left bytes are read, so that a small
// archive that inflates without end is refused instead of read.
type chartInflateReader struct {
	r    io.Reader
	left int64
}

func (c *chartInflateReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("inflates past %d bytes", maxChartUnpacked)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// chartBuffer is a bytes.Buffer that refuses to grow past max bytes.
type chartBuffer struct {
	buf bytes.Buffer
	max int
}

func (c *chartBuffer) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > c.max {
		return 0, fmt.Errorf("packaged chart is over the %d-byte limit", c.max)
	}
	return c.buf.Write(p)
}

// chartFile is one file of a chart directory to package.
type chartFile struct {
	rel  string // slash path relative to the chart directory
	full string
}

// packChartDir packages a chart directory deterministically.
func packChartDir(dir string) (*ChartSource, error) {
	meta, err := readChartDirYAML(dir)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	ignore, err := readHelmignore(dir)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	var files []chartFile
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != "Chart.yaml" && ignore.ignored(rel, d.IsDir()) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symlink: a chart may hold only regular files and directories; copy the file in, or list it in .helmignore", rel)
		case t.IsDir():
			return nil
		case !t.IsRegular():
			return fmt.Errorf("%s is not a regular file", rel)
		}
		if len(files) >= maxChartEntries {
			return fmt.Errorf("more than %d files", maxChartEntries)
		}
		files = append(files, chartFile{rel: rel, full: p})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	archive, err := writeChartArchive(meta.Name, files)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	return &ChartSource{Name: meta.Name, Version: meta.Version, AppVersion: meta.AppVersion, Archive: archive}, nil
}

// readChartDirYAML reads the Chart.yaml of a chart directory.
func readChartDirYAML(dir string) (*chartMeta, error) {
	p := filepath.Join(dir, "Chart.yaml")
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errors.New("no Chart.yaml: a chart directory holds Chart.yaml at its top")
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("Chart.yaml is not a regular file")
	}
	if fi.Size() > maxChartYAML {
		return nil, fmt.Errorf("Chart.yaml: %d bytes, over the %d-byte limit", fi.Size(), maxChartYAML)
	}
	data, err := readChartFile(p, maxChartYAML)
	if err != nil {
		return nil, err
	}
	return parseChartYAML(data)
}

func readChartFile(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: over the %d-byte limit", filepath.Base(p), limit)
	}
	return data, nil
}

// writeChartArchive writes files under name/ as a gzip-compressed tar
// whose bytes depend only on the files' names, contents and executable bits.
func writeChartArchive(name string, files []chartFile) ([]byte, error) {
	out := &chartBuffer{max: maxChartArchive}
	zw, err := gzip.NewWriterLevel(out, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	modTime := time.Unix(chartModTime, 0).UTC()
	var total int64
	for _, cf := range files {
		if err := addChartFile(tw, name+"/"+cf.rel, cf.full, modTime, &total); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.buf.Bytes(), nil
}

func addChartFile(tw *tar.Writer, name, full string, modTime time.Time, total *int64) error {
	f, err := os.Open(full)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", full)
	}
	*total += fi.Size()
	if *total > maxChartUnpacked {
		return fmt.Errorf("the chart's files are over %d bytes", maxChartUnpacked)
	}
	mode := int64(0o644)
	if fi.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     fi.Size(),
		Mode:     mode,
		ModTime:  modTime,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
		return fmt.Errorf("%s: %w (did the file change while it was read?)", name, err)
	}
	return nil
}

// helmignore is the simple subset of .helmignore that ferry honours: one
// pattern per line in path.Match syntax, "#" comments, a leading "!" to
// re-include, a trailing "/" to match directories only. A pattern without
// "/" matches a file or directory name at any depth; one with "/" matches
// the path from the chart's top. The last matching pattern wins. "**" is
// refused rather than half understood.
type helmignore []helmignoreRule

type helmignoreRule struct {
	pattern string
	negate  bool
	dirOnly bool
	rooted  bool
}

func readHelmignore(dir string) (helmignore, error) {
	p := filepath.Join(dir, ".helmignore")
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New(".helmignore is not a regular file")
	}
	data, err := readChartFile(p, maxChartYAML)
	if err != nil {
		return nil, err
	}
	return parseHelmignore(data)
}

func parseHelmignore(data []byte) (helmignore, error) {
	var rules helmignore
	for i, raw := range strings.Split(string(data), "\n") {
		raw = strings.TrimSpace(raw)
		if raw == "" || strings.HasPrefix(raw, "#") {
			continue
		}
		line := raw
		var r helmignoreRule
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			r.negate, line = true, rest
		}
		if rest, ok := strings.CutSuffix(line, "/"); ok {
			r.dirOnly, line = true, rest
		}
		if rest, ok := strings.CutPrefix(line, "/"); ok {
			r.rooted, line = true, rest
		}
		if strings.Contains(line, "/") {
			r.rooted = true
		}
		if line == "" || strings.Contains(line, "**") {
			return nil, fmt.Errorf(".helmignore:%d: pattern %q is not supported: use path.Match patterns such as *.tmp or docs/*", i+1, raw)
		}
		if _, err := path.Match(line, ""); err != nil {
			return nil, fmt.Errorf(".helmignore:%d: %w", i+1, err)
		}
		r.pattern = line
		rules = append(rules, r)
	}
	return rules, nil
}

// ignored reports whether the slash path rel (relative to the chart) is
// left out of the package.
func (h helmignore) ignored(rel string, isDir bool) bool {
	ignored := false
	for _, r := range h {
		if r.dirOnly && !isDir {
			continue
		}
		target := path.Base(rel)
		if r.rooted {
			target = rel
		}
		if ok, _ := path.Match(r.pattern, target); ok {
			ignored = !r.negate
		}
	}
	return ignored
}
