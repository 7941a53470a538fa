// Package posixacl reads and writes the POSIX access control list of a
// file on Linux (the system.posix_acl_access and
// system.posix_acl_default extended attributes, as setfacl writes them),
// for the one thing ferry needs: letting named users at a file without
// giving it to a group or to everybody.
package posixacl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"slices"
)

// Entry tags, as <linux/posix_acl.h> numbers them.
const (
	TagUserObj  uint16 = 0x01
	TagUser     uint16 = 0x02
	TagGroupObj uint16 = 0x04
	TagGroup    uint16 = 0x08
	TagMask     uint16 = 0x10
	TagOther    uint16 = 0x20
)

// Permission bits of an entry.
const (
	Read    uint16 = 4
	Write   uint16 = 2
	Execute uint16 = 1
)

// The extended attributes that hold a file's ACL and a directory's
// default ACL.
const (
	AccessAttr  = "system.posix_acl_access"
	DefaultAttr = "system.posix_acl_default"
)

const (
	version     = 2
	undefinedID = 0xffffffff
	headerSize  = 4
	entrySize   = 8
	// maxEntries bounds what Decode accepts; the kernel allows far fewer
	// on most file systems.
	maxEntries = 1024
)

// ErrMalformed reports attribute bytes that are not an ACL.
var ErrMalformed = errors.New("malformed POSIX ACL")

// Entry is one entry of an ACL. ID is the uid or gid of a TagUser or
// TagGroup entry and is ignored for the others.
type Entry struct {
	Tag  uint16
	Perm uint16
	ID   uint32
}

// ACL is a list of entries.
type ACL []Entry

// FromMode is the minimal ACL of mode: owner, group and others.
func FromMode(mode fs.FileMode) ACL {
	p := uint16(mode.Perm())
	return ACL{{Tag: TagUserObj, Perm: p >> 6 & 7}, {Tag: TagGroupObj, Perm: p >> 3 & 7}, {Tag: TagOther, Perm: p & 7}}
}

// WithUser returns a with user uid given perm (replacing an entry it
// had), and a mask that lets every named entry have what it names: the
// mask is the union of the named entries and the owning group.
func (a ACL) WithUser(uid uint32, perm uint16) ACL {
	out := make(ACL, 0, len(a)+2)
	for _, e := range a {
		if e.Tag == TagMask || (e.Tag == TagUser && e.ID == uid) {
			continue
		}
		out = append(out, e)
	}
	out = append(out, Entry{Tag: TagUser, Perm: perm & 7, ID: uid})
	var mask uint16
	for _, e := range out {
		if e.Tag == TagUser || e.Tag == TagGroup || e.Tag == TagGroupObj {
			mask |= e.Perm
		}
	}
	out = append(out, Entry{Tag: TagMask, Perm: mask})
	out.sort()
	return out
}

// User returns the permission a names user uid with, and whether it
// names it.
func (a ACL) User(uid uint32) (uint16, bool) {
	for _, e := range a {
		if e.Tag == TagUser && e.ID == uid {
			return e.Perm, true
		}
	}
	return 0, false
}

func (a ACL) sort() {
	slices.SortFunc(a, func(x, y Entry) int {
		if x.Tag != y.Tag {
			return int(x.Tag) - int(y.Tag)
		}
		switch {
		case x.ID < y.ID:
			return -1
		case x.ID > y.ID:
			return 1
		}
		return 0
	})
}

// Encode is a as the kernel takes it in an extended attribute.
func (a ACL) Encode() []byte {
	b := make([]byte, headerSize, headerSize+entrySize*len(a))
	binary.LittleEndian.PutUint32(b, version)
	for _, e := range a {
		id := e.ID
		if e.Tag != TagUser && e.Tag != TagGroup {
			id = undefinedID
		}
		b = binary.LittleEndian.AppendUint16(b, e.Tag)
		b = binary.LittleEndian.AppendUint16(b, e.Perm)
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	return b
}

// Decode reads an ACL from its extended attribute's bytes: version 2,
// whole entries of known tags, owner, group and others once each.
func Decode(b []byte) (ACL, error) {
	if len(b) < headerSize || (len(b)-headerSize)%entrySize != 0 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if v := binary.LittleEndian.Uint32(b); v != version {
		return nil, fmt.Errorf("%w: version %d", ErrMalformed, v)
	}
	n := (len(b) - headerSize) / entrySize
	if n > maxEntries {
		return nil, fmt.Errorf("%w: %d entries", ErrMalformed, n)
	}
	out := make(ACL, 0, n)
	seen := map[uint16]int{}
	for i := range n {
		p := b[headerSize+i*entrySize:]
		e := Entry{Tag: binary.LittleEndian.Uint16(p), Perm: binary.LittleEndian.Uint16(p[2:]), ID: binary.LittleEndian.Uint32(p[4:])}
		switch e.Tag {
		case TagUserObj, TagGroupObj, TagMask, TagOther:
			if seen[e.Tag]++; seen[e.Tag] > 1 {
				return nil, fmt.Errorf("%w: tag %#x twice", ErrMalformed, e.Tag)
			}
			e.ID = 0
		case TagUser, TagGroup:
		default:
			return nil, fmt.Errorf("%w: tag %#x", ErrMalformed, e.Tag)
		}
		if e.Perm&^7 != 0 {
			return nil, fmt.Errorf("%w: permission %#x", ErrMalformed, e.Perm)
		}
		out = append(out, e)
	}
	if seen[TagUserObj] != 1 || seen[TagGroupObj] != 1 || seen[TagOther] != 1 {
		return nil, fmt.Errorf("%w: owner, group or others missing", ErrMalformed)
	}
	return out, nil
}
