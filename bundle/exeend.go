package bundle

import (
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// executableEnd returns the offset where the executable image at the start
// of r ends: the end of the last of its headers, segments, sections and
// tables, in ELF, Mach-O (thin or universal) or PE. Bytes after it were
// appended to the executable (an installer's payload, or damage), which is
// how a file without an installer trailer is told apart from a plain ferry.
func executableEnd(r io.ReaderAt, size int64) (end int64, err error) {
	// The debug packages are not hardened against hostile files, and this
	// one comes from removable media: a panic in them is a file ferry
	// cannot read, not a crash.
	defer func() {
		if p := recover(); p != nil {
			end, err = 0, fmt.Errorf("unreadable executable headers: %v", p)
		}
	}()
	head := make([]byte, 4)
	if _, err := r.ReadAt(head, 0); err != nil {
		return 0, err
	}
	sr := io.NewSectionReader(r, 0, size)
	switch {
	case string(head) == elf.ELFMAG:
		return elfEnd(sr)
	case string(head[:2]) == "MZ":
		return peEnd(sr)
	case binary.BigEndian.Uint32(head) == macho.MagicFat:
		return fatEnd(sr)
	case isExecutable(head):
		return machoEnd(sr)
	}
	return 0, errors.New("not an executable")
}

func elfEnd(r *io.SectionReader) (int64, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return 0, err
	}
	var end uint64
	grow := func(off, n uint64) {
		if off+n > end {
			end = off + n
		}
	}
	// The program and section header tables: Go's linker writes them
	// first, others last; debug/elf keeps no offset of the section table.
	hdr := make([]byte, 64)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return 0, err
	}
	bo := f.ByteOrder
	if f.Class == elf.ELFCLASS64 {
		grow(0, 64)
		grow(bo.Uint64(hdr[0x20:]), uint64(bo.Uint16(hdr[0x36:]))*uint64(bo.Uint16(hdr[0x38:])))
		grow(bo.Uint64(hdr[0x28:]), uint64(bo.Uint16(hdr[0x3a:]))*uint64(bo.Uint16(hdr[0x3c:])))
	} else {
		grow(0, 52)
		grow(uint64(bo.Uint32(hdr[0x1c:])), uint64(bo.Uint16(hdr[0x2a:]))*uint64(bo.Uint16(hdr[0x2c:])))
		grow(uint64(bo.Uint32(hdr[0x20:])), uint64(bo.Uint16(hdr[0x2e:]))*uint64(bo.Uint16(hdr[0x30:])))
	}
	for _, p := range f.Progs {
		grow(p.Off, p.Filesz)
	}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOBITS {
			grow(s.Offset, s.FileSize)
		}
	}
	return clampEnd(end, r.Size())
}

func machoEnd(r *io.SectionReader) (int64, error) {
	f, err := macho.NewFile(r)
	if err != nil {
		return 0, err
	}
	end := uint64(f.Cmdsz) + 28 // the header; 32 bytes for 64-bit
	if f.Magic == macho.Magic64 {
		end += 4
	}
	for _, l := range f.Loads {
		if s, ok := l.(*macho.Segment); ok && s.Offset+s.Filesz > end {
			end = s.Offset + s.Filesz
		}
	}
	return clampEnd(end, r.Size())
}

func fatEnd(r *io.SectionReader) (int64, error) {
	f, err := macho.NewFatFile(r)
	if err != nil {
		return 0, err
	}
	var end int64
	for _, a := range f.Arches {
		if e := int64(a.Offset) + int64(a.Size); e > end {
			end = e
		}
	}
	return clampEnd(uint64(end), r.Size())
}

func peEnd(r *io.SectionReader) (int64, error) {
	f, err := pe.NewFile(r)
	if err != nil {
		return 0, err
	}
	var end uint64
	grow := func(off, n uint64) {
		if off+n > end {
			end = off + n
		}
	}
	var headers uint32
	var dirs []pe.DataDirectory
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		headers, dirs = oh.SizeOfHeaders, oh.DataDirectory[:]
	case *pe.OptionalHeader64:
		headers, dirs = oh.SizeOfHeaders, oh.DataDirectory[:]
	}
	grow(0, uint64(headers))
	for _, s := range f.Sections {
		grow(uint64(s.Offset), uint64(s.Size))
	}
	// The COFF symbol table and its string table (4 bytes of length,
	// then the strings) follow the sections when the linker keeps them.
	if fh := f.FileHeader; fh.PointerToSymbolTable != 0 {
		grow(uint64(fh.PointerToSymbolTable), uint64(fh.NumberOfSymbols)*pe.COFFSymbolSize+4+uint64(len(f.StringTable)))
	}
	// The certificate table of a signed executable: its address is a file
	// offset.
	const securityDir = 4
	if len(dirs) > securityDir && dirs[securityDir].Size > 0 {
		grow(uint64(dirs[securityDir].VirtualAddress), uint64(dirs[securityDir].Size))
	}
	return clampEnd(end, r.Size())
}

// clampEnd refuses an end past the file: headers that say so are not those
// of an executable this file holds whole.
func clampEnd(end uint64, size int64) (int64, error) {
	if end > uint64(size) {
		return 0, fmt.Errorf("the executable's headers reach byte %d of a %d-byte file", end, size)
	}
	return int64(end), nil
}
