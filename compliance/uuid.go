package compliance

import (
	"crypto/sha1"
	"fmt"
	"strings"
)

// urlNamespace is RFC 9562's URL namespace; ferry's own namespace is the
// name-based UUID of "ferry compliance" in it.
func urlNamespace() [16]byte {
	return [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
}

// nameUUID returns the version 5 UUID of the parts joined, under ferry's
// namespace. OSCAL requires UUIDs and allows only versions 4 and 5; name
// based ones make the same evidence give the same document, and SHA-1 is
// what version 5 is defined with (it identifies here, it protects nothing).
func nameUUID(parts ...string) string {
	ns := nameUUIDIn(urlNamespace(), "ferry compliance")
	return formatUUID(nameUUIDIn(ns, strings.Join(parts, "\x00")))
}

func nameUUIDIn(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}

func formatUUID(u [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
