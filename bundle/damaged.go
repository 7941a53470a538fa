package bundle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// trailerSearchWindow bounds how far back from the end of a damaged
// installer the search for its trailer goes: the trailer of an installer
// with up to this many bytes appended is found and the damage named
// exactly. The search reads at most this much, and only for a file that is
// already known to be damaged.
const trailerSearchWindow = 64 << 20

// keysBlockStart is how every keys block begins (marshalKeysBlock).
const keysBlockStart = `{"keys":`

// diagnoseExecutable says what an executable of size bytes without an
// installer trailer at its end is: a plain executable (ErrNotInstaller),
// or an installer that lost its trailer to truncation or gained bytes after
// it (ErrDamagedInstaller), told apart by the keys block that follows the
// executable image of every installer. Running a damaged installer must
// say that it is damaged, not that it is a ferry without a bundle.
func diagnoseExecutable(r io.ReaderAt, size int64) error {
	end, err := executableEnd(r, size)
	if err != nil {
		return fmt.Errorf("%w: an executable without an installer payload, or with a damaged trailer (%w)", ErrNotInstaller, err)
	}
	if end == size {
		return fmt.Errorf("%w: an executable without an installer payload", ErrNotInstaller)
	}
	head := make([]byte, len(keysBlockStart))
	n, _ := r.ReadAt(head, end)
	if n == 0 || !bytes.HasPrefix([]byte(keysBlockStart), head[:n]) {
		return fmt.Errorf("%w: an executable with %d bytes after it that are not an installer payload", ErrNotInstaller, size-end)
	}
	advice := "get the installer again and check it against its published SHA-256"
	t, at, partial := findTrailer(r, size, end)
	switch {
	case t != nil:
		return fmt.Errorf("%w: %d bytes were appended after its trailer: the installer is %d bytes, this file %d; %s",
			ErrDamagedInstaller, size-at-TrailerSize, at+TrailerSize, size, advice)
	case partial:
		return fmt.Errorf("%w: the file ends %d bytes into its %d-byte trailer: it was cut short by %d bytes; %s",
			ErrDamagedInstaller, size-at, TrailerSize, at+TrailerSize-size, advice)
	}
	return fmt.Errorf("%w: its payload starts at byte %d, but the %d-byte file does not end with the %d-byte installer trailer: it was cut short (or more than %d MiB were appended); %s",
		ErrDamagedInstaller, end, size, TrailerSize, trailerSearchWindow>>20, advice)
}

// findTrailer looks, from the end of the file back to at most
// trailerSearchWindow bytes before it, for the trailer of the installer
// whose keys block starts at keysAt: one whose checksum holds, which names
// keysAt and whose layout ends the file at its own end. It returns the trailer and its offset; or, when the file
// ends inside what starts like that trailer (cut short within it), its
// offset and partial.
func findTrailer(r io.ReaderAt, size, keysAt int64) (t *Trailer, at int64, partial bool) {
	from := max(keysAt, size-trailerSearchWindow)
	buf := make([]byte, size-from)
	if _, err := r.ReadAt(buf, from); err != nil && err != io.EOF {
		return nil, 0, false
	}
	// What a trailer naming keysAt starts with.
	var prefix [24]byte
	copy(prefix[:], trailerMagic)
	binary.BigEndian.PutUint32(prefix[trailerVersionAt:], trailerVersion)
	binary.BigEndian.PutUint64(prefix[trailerKeysAt:], uint64(keysAt))
	for i := bytes.LastIndex(buf, []byte(trailerMagic)); i >= 0; i = bytes.LastIndex(buf[:i], []byte(trailerMagic)) {
		rest := buf[i:]
		if len(rest) < TrailerSize {
			if bytes.HasPrefix(rest, prefix[:min(len(rest), len(prefix))]) {
				return nil, from + int64(i), true
			}
			continue
		}
		// Parsed as if the file ended with it: that checks its layout
		// up to it, so only appended bytes remain to explain.
		off := from + int64(i)
		if tr, err := ParseTrailer(rest[:TrailerSize], off+TrailerSize); err == nil && tr.KeysOffset == keysAt {
			return tr, off, false
		}
	}
	return nil, 0, false
}
