package migrate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"time"

	"ferry/bundle"
	"ferry/internal/oci"
)

// maxMigrationSize bounds one migration file in memory. golang-migrate's
// drivers read a whole file before they run it, so a file is held once,
// and only while it runs.
const maxMigrationSize = 256 << 20

// blobFS is a flat, read-only file system of NNN_name.up.sql and
// NNN_name.down.sql files whose content comes from the content store. A file
// is read through open and checked against its digest when it is opened,
// before golang-migrate sees a byte of it: golang-migrate ends a migration
// body quietly on a read error, so a check at the end of a stream could let
// a truncated file run.
type blobFS struct {
	files map[string]blobFile
	open  func(digest string) (io.ReadCloser, error)
}

// blobFile is one migration file: its content's digest, and the statement
// ferry appends to it so that the migration and its record in
// ferry_migrations commit in the same transaction.
type blobFile struct {
	digest string
	suffix string
}

// upFile and downFile name a migration's files as the bundle's author wrote
// them, for the file system and for messages.
func upFile(m bundle.Migration) string   { return fmt.Sprintf("%03d_%s.up.sql", m.Version, m.Name) }
func downFile(m bundle.Migration) string { return fmt.Sprintf("%03d_%s.down.sql", m.Version, m.Name) }

// newBlobFS lays out steps as migration files. Every up file records its
// migration in ferry_migrations; every down file deletes that record.
func newBlobFS(steps []bundle.Migration, open func(string) (io.ReadCloser, error)) *blobFS {
	f := &blobFS{files: map[string]blobFile{}, open: open}
	for _, m := range steps {
		f.files[upFile(m)] = blobFile{digest: m.Up, suffix: recordSQL(m)}
		if m.Down != "" {
			f.files[downFile(m)] = blobFile{digest: m.Down, suffix: unrecordSQL(m)}
		}
	}
	return f
}

// Open returns a verified, in-memory copy of the named file.
func (f *blobFS) Open(name string) (fs.File, error) {
	if name == "." {
		return &dirFile{fs: f}, nil
	}
	bf, ok := f.files[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	body, err := f.read(bf.digest)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	// A line break and an empty statement first, so that a file ending in
	// a "--" comment or without its last semicolon still ends before the
	// record.
	body = append(body, "\n;\n"+bf.suffix+"\n"...)
	return &memFile{info: fileInfo{name: name, size: int64(len(body))}, r: bytes.NewReader(body)}, nil
}

// ReadDir lists the files; there are no directories.
func (f *blobFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	names := make([]string, 0, len(f.files))
	for n := range f.files {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]fs.DirEntry, len(names))
	for i, n := range names {
		out[i] = fs.FileInfoToDirEntry(fileInfo{name: n})
	}
	return out, nil
}

// read returns the content with the given digest, refusing content that
// does not hash to it.
func (f *blobFS) read(digest string) ([]byte, error) {
	rc, err := f.open(digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// The limit stops a reader of a file that grew before its end, so its
	// digest is checked only for content within the size limit.
	v := oci.NewVerifyingReader(rc, oci.Digest(digest))
	body, err := io.ReadAll(io.LimitReader(v, maxMigrationSize+1))
	switch {
	case errors.Is(err, oci.ErrDigestMismatch):
		return nil, fmt.Errorf("content %s changed since it was verified: it now hashes to %s", digest, v.Digest())
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", digest, err)
	case len(body) > maxMigrationSize:
		return nil, fmt.Errorf("content %s is larger than the %d bytes a migration may have", digest, maxMigrationSize)
	}
	return body, nil
}

type memFile struct {
	info fileInfo
	r    *bytes.Reader
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *memFile) Close() error               { return nil }

// dirFile is the root directory, for callers that open "." rather than
// asking for ReadDir.
type dirFile struct {
	fs      *blobFS
	entries []fs.DirEntry
	read    bool
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return fileInfo{name: ".", dir: true}, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: ".", Err: fs.ErrInvalid}
}
func (d *dirFile) Close() error { return nil }

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		d.entries, _ = d.fs.ReadDir(".")
		d.read = true
	}
	if n <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.entries))
	out := d.entries[:n]
	d.entries = d.entries[n:]
	return out, nil
}

// fileInfo describes a migration file; the size of a file not yet read is
// not known and given as 0.
type fileInfo struct {
	name string
	size int64
	dir  bool
}

func (i fileInfo) Name() string { return i.name }
func (i fileInfo) Size() int64  { return i.size }
func (i fileInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return i.dir }
func (i fileInfo) Sys() any           { return nil }

// hexDigest is a digest without its algorithm, as ferry_migrations keeps it.
func hexDigest(d string) string { return oci.Digest(d).Hex() }
