package bundle

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"ferry/internal/atomicfile"
	"ferry/internal/oci"
)

// A file too large for one medium (FAT32 holds at most 4 GiB − 1 byte per
// file) travels as parts: NAME.part000, NAME.part001, … each at most the
// size given to SplitFile, and one checksum list NAME.parts.sha256 in
// sha256sum format. One list rather than a checksum per part, because the
// list also fixes how many parts there are (a missing last part is
// noticed) and `sha256sum -c NAME.parts.sha256` checks them all with
// standard tools.

// Part naming and limits.
const (
	partSuffix     = ".part"
	partListSuffix = ".parts.sha256"
	// MaxParts bounds the number of parts (three-digit part numbers).
	MaxParts = 1000
	// maxPartList bounds the checksum list, read whole.
	maxPartList = 1 << 20
)

// Sentinel errors of parts; the command line gives each an exit code.
var (
	ErrMissingPart = errors.New("missing part")
	ErrDamagedPart = errors.New("damaged part")
)

// Part is one written part.
type Part struct {
	Path   string
	Size   int64
	SHA256 string // hex
}

// PartName returns the name of part i of the file named name.
func PartName(name string, i int) string { return fmt.Sprintf("%s%s%03d", name, partSuffix, i) }

// PartListName returns the name of the checksum list of name's parts.
func PartListName(name string) string { return name + partListSuffix }

// firstPartBase returns NAME for a path ending in NAME.part000; ok is false
// when path does not name a part at all. A later part is an error: the
// parts are found from the first.
func firstPartBase(path string) (base string, ok bool, err error) {
	name := filepath.Base(path)
	i := strings.LastIndex(name, partSuffix)
	if i <= 0 {
		return "", false, nil
	}
	num := name[i+len(partSuffix):]
	if len(num) != 3 || strings.Trim(num, "0123456789") != "" {
		return "", false, nil
	}
	if num != "000" {
		return "", true, fmt.Errorf("this is part %s of a split file: give the first part, %s", num, PartName(name[:i], 0))
	}
	return filepath.Join(filepath.Dir(path), name[:i]), true, nil
}

// SplitFile cuts the file at path into parts of at most size bytes,
// written into dir (the file's own directory when dir is empty) with
// their checksum list. Each part and the list reach their place by
// temporary file, fsync and rename; on error none is left behind. It
// refuses to overwrite parts of an earlier split.
func SplitFile(ctx context.Context, path, dir string, size int64) ([]Part, error) {
	if size <= 0 {
		return nil, fmt.Errorf("part size %d: must be positive", size)
	}
	in, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	total, err := fileSize(in)
	if err != nil {
		return nil, err
	}
	if total == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	count := (total + size - 1) / size
	if count > MaxParts {
		return nil, fmt.Errorf("%s would make %d parts of %d bytes, more than %d: choose a larger part size", path, count, size, MaxParts)
	}
	if dir == "" {
		dir = filepath.Dir(path)
	}
	name := filepath.Base(path)
	if old, _ := filepath.Glob(filepath.Join(dir, globEscape(name)+partSuffix+"[0-9][0-9][0-9]")); len(old) > 0 {
		return nil, fmt.Errorf("%s exists from an earlier split: remove the old parts first", old[0])
	}
	if _, err := os.Stat(filepath.Join(dir, PartListName(name))); err == nil {
		return nil, fmt.Errorf("%s exists from an earlier split: remove it first", filepath.Join(dir, PartListName(name)))
	}

	var parts []Part
	fail := func(err error) ([]Part, error) {
		for _, p := range parts {
			os.Remove(p.Path)
		}
		return nil, err
	}
	var list bytes.Buffer
	for i := range int(count) {
		off := int64(i) * size
		n := min(size, total-off)
		p := Part{Path: filepath.Join(dir, PartName(name, i)), Size: n}
		h := sha256.New()
		err := atomicfile.Write(p.Path, 0o644, func(w io.Writer) error {
			src := oci.ContextReader(ctx, io.NewSectionReader(in, off, n))
			got, err := io.Copy(io.MultiWriter(w, h), src)
			if err == nil && got != n {
				err = fmt.Errorf("%s changed while being split: read %d of %d bytes", path, got, n)
			}
			return err
		})
		if err != nil {
			return fail(err)
		}
		p.SHA256 = hex.EncodeToString(h.Sum(nil))
		parts = append(parts, p)
		fmt.Fprintf(&list, "%s  %s\n", p.SHA256, filepath.Base(p.Path))
	}
	listPath := filepath.Join(dir, PartListName(name))
	if err := atomicfile.Write(listPath, 0o644, func(w io.Writer) error {
		_, err := w.Write(list.Bytes())
		return err
	}); err != nil {
		return fail(err)
	}
	return parts, nil
}

// globEscape quotes the glob metacharacters in a file name.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// JoinParts writes the file cut into parts to w, given its first part
// (NAME.part000). Every part is present before anything is written, and
// each is checked against the checksum list as it is copied, in one pass;
// on error, what was written to w must be discarded.
func JoinParts(ctx context.Context, w io.Writer, first string) (int64, error) {
	ps, err := openParts(first)
	if err != nil {
		return 0, err
	}
	defer ps.Close()
	var total int64
	for i := range ps.files {
		h := sha256.New()
		src := oci.ContextReader(ctx, io.NewSectionReader(ps.files[i], 0, ps.sizes[i]))
		n, err := io.Copy(io.MultiWriter(w, h), src)
		total += n
		if err != nil {
			return total, fmt.Errorf("%s: %w", ps.names[i], err)
		}
		if err := ps.compare(i, n, h.Sum(nil)); err != nil {
			return total, err
		}
	}
	return total, nil
}

// PartSum is one line of a checksum list.
type PartSum struct {
	Name   string
	SHA256 [sha256.Size]byte
}

// ParsePartList reads the checksum list of the parts of the file named
// name: sha256sum lines "<hex>  NAME.partNNN" (or "<hex> *NAME.partNNN"),
// one per part, numbered from 000 in order.
func ParsePartList(r io.Reader, name string) ([]PartSum, error) {
	listName := PartListName(name)
	data, err := io.ReadAll(io.LimitReader(r, maxPartList+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", listName, err)
	}
	if len(data) > maxPartList {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrDamagedPart, listName, maxPartList)
	}
	var out []PartSum
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("%w: %s line %d: %s", ErrDamagedPart, listName, line, why)
		}
		if len(text) < 2*sha256.Size+2 || text[2*sha256.Size] != ' ' || (text[2*sha256.Size+1] != ' ' && text[2*sha256.Size+1] != '*') {
			return nil, bad("want \"<sha256>  <part name>\"")
		}
		var ps PartSum
		if _, err := hex.Decode(ps.SHA256[:], []byte(text[:2*sha256.Size])); err != nil || strings.ToLower(text[:2*sha256.Size]) != text[:2*sha256.Size] {
			return nil, bad("the checksum is not lowercase hex")
		}
		ps.Name = text[2*sha256.Size+2:]
		if len(out) >= MaxParts {
			return nil, bad(fmt.Sprintf("more than %d parts", MaxParts))
		}
		if want := PartName(name, len(out)); ps.Name != want {
			return nil, bad(fmt.Sprintf("names %q where %q belongs", ps.Name, want))
		}
		out = append(out, ps)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s lists no parts", ErrDamagedPart, listName)
	}
	return out, nil
}

// partSet is a file held in parts, read as one. A part is checked against
// the list, whole, the first time any of its bytes is read, so no byte of
// a damaged part is ever returned; parts nobody reads are not hashed.
type partSet struct {
	list    string // the checksum list's file name
	names   []string
	files   []*os.File
	sizes   []int64
	offsets []int64 // where each part starts in the joined file
	sums    []PartSum
	checks  []partCheck
	size    int64
}

type partCheck struct {
	once sync.Once
	err  error
}

// openParts opens every part listed for the file whose first part is
// first. A listed part that is absent, or a part after the last listed
// one, is an error naming it.
func openParts(first string) (*partSet, error) {
	base, ok, err := firstPartBase(first)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s is not the first part of a split file (NAME.part000)", first)
	}
	listPath := PartListName(base)
	lf, err := os.Open(listPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s, the checksum list of the parts, is missing: copy it next to %s", ErrMissingPart, listPath, first)
	}
	if err != nil {
		return nil, err
	}
	sums, err := ParsePartList(lf, filepath.Base(base))
	lf.Close()
	if err != nil {
		return nil, err
	}
	ps := &partSet{list: filepath.Base(listPath), sums: sums, checks: make([]partCheck, len(sums))}
	for i := range sums {
		p := PartName(base, i)
		f, err := os.Open(p)
		if err != nil {
			ps.Close()
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%w: %s (part %d of %d) is not there: copy it next to %s", ErrMissingPart, p, i+1, len(sums), first)
			}
			return nil, err
		}
		size, err := fileSize(f)
		if err != nil {
			f.Close()
			ps.Close()
			return nil, err
		}
		ps.names = append(ps.names, p)
		ps.files = append(ps.files, f)
		ps.sizes = append(ps.sizes, size)
		ps.offsets = append(ps.offsets, ps.size)
		ps.size += size
	}
	if extra := PartName(base, len(sums)); fileExists(extra) {
		ps.Close()
		return nil, fmt.Errorf("%w: %s is not in %s: parts of two splits are mixed", ErrDamagedPart, extra, listPath)
	}
	return ps, nil
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// ReadAt reads the joined file, checking each part before its first use.
func (p *partSet) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	read := 0
	for read < len(b) {
		if off >= p.size {
			return read, io.EOF
		}
		i := sort.Search(len(p.offsets), func(i int) bool { return p.offsets[i] > off }) - 1
		if err := p.check(i); err != nil {
			return read, err
		}
		in := off - p.offsets[i]
		want := min(int64(len(b)-read), p.sizes[i]-in)
		n, err := p.files[i].ReadAt(b[read:read+int(want)], in)
		read += n
		off += int64(n)
		whole := errors.Is(err, io.EOF) && int64(n) == want // EOF at the part's end
		if err != nil && !whole {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("%w: %s is shorter than when it was opened", ErrDamagedPart, p.names[i])
			}
			return read, err
		}
	}
	return read, nil
}

// check hashes part i once and compares it with the list.
func (p *partSet) check(i int) error {
	c := &p.checks[i]
	c.once.Do(func() {
		h := sha256.New()
		n, err := io.Copy(h, io.NewSectionReader(p.files[i], 0, p.sizes[i]))
		if err != nil {
			c.err = fmt.Errorf("reading %s: %w", p.names[i], err)
			return
		}
		c.err = p.compare(i, n, h.Sum(nil))
	})
	return c.err
}

// compare checks part i's byte count and digest against the list.
func (p *partSet) compare(i int, n int64, sum []byte) error {
	if n != p.sizes[i] {
		return fmt.Errorf("%w: %s changed size while being read (%d bytes, then %d)", ErrDamagedPart, p.names[i], p.sizes[i], n)
	}
	if !bytes.Equal(sum, p.sums[i].SHA256[:]) {
		return fmt.Errorf("%w: %s has SHA-256 %x, %s lists %x: copy this part again from its medium",
			ErrDamagedPart, p.names[i], sum, p.list, p.sums[i].SHA256)
	}
	return nil
}

// Size returns the size of the joined file.
func (p *partSet) Size() int64 { return p.size }

// Close closes every part.
func (p *partSet) Close() error {
	var errs []error
	for _, f := range p.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
