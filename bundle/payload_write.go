package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"ferry/verify"
)

// InstallerOptions describe an installer to write.
type InstallerOptions struct {
	// Executable is the ferry binary the installer runs, for the
	// appliance's operating system and architecture (see OpenExecutable).
	Executable io.Reader
	// Keys are the release public keys to embed, as key file bytes. The
	// bundle must verify against them: an installer that cannot verify
	// its own bundle is refused here rather than on the appliance.
	Keys [][]byte
	// Bundle is the bundle to carry, read once from start to end.
	Bundle io.Reader
	// Progress, when set, is called with the number of bundle bytes read.
	Progress func(n int64)
}

// InstallerResult describes a written installer.
type InstallerResult struct {
	Trailer
	// Size is the installer's size in bytes; SHA256 its SHA-256 in hex,
	// for the checksum file published with it.
	Size   int64
	SHA256 string
	// Verified is the verification of the embedded bundle against Keys.
	Verified *Verified
}

// WriteInstaller writes executable ‖ keys block ‖ bundle ‖ trailer to w in
// one pass. The bundle is verified against the keys while it is copied;
// on error, what was written to w must be discarded.
func WriteInstaller(ctx context.Context, w io.Writer, opts InstallerOptions) (*InstallerResult, error) {
	var pubs []*verify.PublicKey
	for i, k := range opts.Keys {
		pk, err := verify.ParsePublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		pubs = append(pubs, pk)
	}
	block, err := marshalKeysBlock(opts.Keys)
	if err != nil {
		return nil, err
	}
	out := &countingWriter{w: w, h: sha256.New()}

	exeSize, err := io.Copy(out, opts.Executable)
	if err != nil {
		return nil, fmt.Errorf("copying the executable: %w", err)
	}
	if exeSize == 0 {
		return nil, fmt.Errorf("the executable is empty")
	}
	t := Trailer{KeysOffset: exeSize, KeysLength: int64(len(block)), KeysSHA256: sha256.Sum256(block)}
	if _, err := out.Write(block); err != nil {
		return nil, err
	}
	t.BundleOffset = out.n

	v, n, err := CopyVerified(ctx, out, opts.Bundle, VerifyOptions{
		Trust:    verify.TrustSet{Keys: pubs, Threshold: 1},
		Progress: opts.Progress,
	})
	if err != nil {
		return nil, fmt.Errorf("checking the bundle against the keys to embed: %w", err)
	}
	t.BundleLength = n
	t.ManifestDigest = v.Digest
	trailer, err := t.MarshalBinary()
	if err != nil {
		return nil, err
	}
	if _, err := out.Write(trailer); err != nil {
		return nil, err
	}
	return &InstallerResult{Trailer: t, Size: out.n, SHA256: hex.EncodeToString(out.h.Sum(nil)), Verified: v}, nil
}

// CopyVerified copies a bundle from r to w while verifying it, in one
// pass, and returns the verification and the number of bytes copied. On
// error, what was written to w must be discarded.
func CopyVerified(ctx context.Context, w io.Writer, r io.Reader, opts VerifyOptions) (*Verified, int64, error) {
	// Verify reads the bundle to its end; every byte it reads is copied.
	tee := &countingWriter{w: w}
	v, err := Verify(ctx, io.TeeReader(r, tee), opts)
	if tee.err != nil {
		return nil, tee.n, fmt.Errorf("writing the bundle: %w", tee.err)
	}
	if err != nil {
		return nil, tee.n, err
	}
	n, err := io.Copy(w, r)
	if err != nil {
		return nil, tee.n, fmt.Errorf("reading past the end of the bundle: %d bytes: %w", n, err)
	}
	if n != 0 {
		return nil, tee.n, fmt.Errorf("reading past the end of the bundle: %d bytes", n)
	}
	return v, tee.n, nil
}

// countingWriter counts, optionally hashes, and keeps the first write
// error, so that a failure to write is not mistaken for a fault of the
// bundle being read through a TeeReader.
type countingWriter struct {
	w   io.Writer
	h   hash.Hash
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	if c.h != nil {
		c.h.Write(p[:n])
	}
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

// Executable is the executable part of a file: all of a plain ferry
// binary, or the part before the payload of an installer, so that an
// installer can make another one from itself.
type Executable struct {
	*io.SectionReader
	f *os.File
}

// Close closes the file.
func (e *Executable) Close() error { return e.f.Close() }

// OpenExecutable opens path as the executable of an installer. It refuses
// a file that is not an executable (ELF, Mach-O or PE) and an installer
// whose trailer is damaged, cut off or followed by other bytes.
func OpenExecutable(path string) (*Executable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	size, err := fileSize(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	head := make([]byte, 4)
	if _, err := f.ReadAt(head, 0); err != nil || !isExecutable(head) {
		f.Close()
		return nil, fmt.Errorf("%s is not an executable (ELF, Mach-O or PE): give a ferry binary", path)
	}
	if size >= TrailerSize {
		tail := make([]byte, TrailerSize)
		if _, err := f.ReadAt(tail, size-TrailerSize); err != nil {
			f.Close()
			return nil, err
		}
		if hasTrailerMagic(tail) {
			t, err := ParseTrailer(tail, size)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			size = t.KeysOffset
		} else if err := diagnoseExecutable(f, size); errors.Is(err, ErrDamagedInstaller) {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return &Executable{SectionReader: io.NewSectionReader(f, 0, size), f: f}, nil
}

func fileSize(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", f.Name())
	}
	return fi.Size(), nil
}
