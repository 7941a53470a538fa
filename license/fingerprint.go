package license

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"
)

// A fingerprint is "fp1:" and the first 16 bytes, in hex, of the SHA-256
// of a domain-separation prefix, the source's kind and its value. The hash
// keeps the raw identifiers (which systemd asks applications not to
// disclose) out of licence files, and the prefix keeps a fingerprint from
// meaning anything to another program.
const (
	fingerprintPrefix = "fp1:"
	fingerprintBytes  = 16
	fingerprintDomain = "ferry/license/host-fingerprint/v1"
)

// maxIdentityFile bounds what is read from one identity file; real ones
// are under 100 bytes.
const maxIdentityFile = 4 << 10

// HostSource is one source of host identity and what it gave on this host.
type HostSource struct {
	// Kind is what the value is: "dmi-product-uuid", "devicetree-serial"
	// or "machine-id". Sources of the same kind give the same fingerprint.
	Kind string
	// Path is the file read, from the root of the file system.
	Path string
	// Fingerprint is the fingerprint this source gives, or empty when the
	// source could not be used.
	Fingerprint string
	// Err says why the source could not be used: missing, not readable,
	// or a placeholder value.
	Err error
}

// hostSource describes where one kind of identity lives and how to read it.
type hostSource struct {
	kind  string
	path  string // relative to the root file system
	clean func(string) (string, error)
}

// hostSources are the identity sources, strongest first. docs/LICENSE.md
// says how stable each is.
var hostSources = []hostSource{
	// The SMBIOS system UUID: set by the firmware or hypervisor; survives
	// reinstalls and disk replacement, changes with the mainboard. Often
	// readable by root only.
	{"dmi-product-uuid", "sys/class/dmi/id/product_uuid", cleanUUID},
	// The SoC or board serial on device-tree systems (ARM boards), which
	// have no SMBIOS.
	{"devicetree-serial", "sys/firmware/devicetree/base/serial-number", cleanSerial},
	// The systemd machine id: made at installation; survives reboots,
	// changes when the system is reinstalled or its disk replaced.
	{"machine-id", "etc/machine-id", cleanMachineID},
	// Where D-Bus keeps the same id on systems without systemd.
	{"machine-id", "var/lib/dbus/machine-id", cleanMachineID},
}

// Host is what this host's identity sources gave, strongest first.
type Host struct {
	Sources []HostSource
}

// Fingerprint returns this host's fingerprint, what `ferry license issue
// --bind` should be given for it: that of the strongest usable source.
func Fingerprint() (string, error) {
	return ReadHost(os.DirFS("/")).Fingerprint()
}

// ReadHost reads the identity sources under root, the host's root file
// system (os.DirFS("/")); tests give a directory of their own. A source
// that cannot be used is reported in its HostSource, not as an error.
func ReadHost(root fs.FS) Host {
	var h Host
	for _, s := range hostSources {
		src := HostSource{Kind: s.kind, Path: "/" + s.path}
		value, err := readIdentityFile(root, s.path)
		if err == nil {
			value, err = s.clean(value)
		}
		if err != nil {
			src.Err = err
		} else {
			src.Fingerprint = fingerprintOf(s.kind, value)
		}
		h.Sources = append(h.Sources, src)
	}
	return h
}

// Fingerprint returns the fingerprint of the strongest usable source, or
// ErrNoFingerprint naming why each source could not be used.
func (h Host) Fingerprint() (string, error) {
	var problems []string
	for _, s := range h.Sources {
		if s.Fingerprint != "" {
			return s.Fingerprint, nil
		}
		problems = append(problems, fmt.Sprintf("%s: %v", s.Path, s.Err))
	}
	return "", fmt.Errorf("%w: %s", ErrNoFingerprint, strings.Join(problems, "; "))
}

// Fingerprints returns the fingerprints of every usable source, strongest
// first, without repeats. A licence bound to any of them matches this host:
// the fingerprint printed by an unprivileged user (who cannot read the
// SMBIOS UUID) still matches when ferry runs as root, and the reverse.
func (h Host) Fingerprints() []string {
	var out []string
	for _, s := range h.Sources {
		if s.Fingerprint != "" && !slices.Contains(out, s.Fingerprint) {
			out = append(out, s.Fingerprint)
		}
	}
	return out
}

func fingerprintOf(kind, value string) string {
	sum := sha256.Sum256([]byte(fingerprintDomain + "\x00" + kind + "\x00" + value))
	return fingerprintPrefix + hex.EncodeToString(sum[:fingerprintBytes])
}

// isFingerprint reports whether s has the form of a fingerprint.
func isFingerprint(s string) bool {
	hexPart, ok := strings.CutPrefix(s, fingerprintPrefix)
	return ok && len(hexPart) == 2*fingerprintBytes && isLowerHex(hexPart)
}

var errPlaceholder = errors.New("a placeholder value, not an identity")

func readIdentityFile(root fs.FS, path string) (string, error) {
	f, err := root.Open(path)
	if err != nil {
		return "", describeOpenError(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIdentityFile+1))
	if err != nil {
		return "", describeOpenError(err)
	}
	if len(b) > maxIdentityFile {
		return "", fmt.Errorf("over %d bytes: not an identity file", maxIdentityFile)
	}
	return string(b), nil
}

// describeOpenError says what an operator can do about an unreadable
// source, keeping the cause for errors.Is.
func describeOpenError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return sourceError{"not present", fs.ErrNotExist}
	case errors.Is(err, fs.ErrPermission):
		return sourceError{"not readable by this user (run as root to use it)", fs.ErrPermission}
	}
	return err
}

// sourceError is a short message for an operator over the cause.
type sourceError struct {
	msg   string
	cause error
}

func (e sourceError) Error() string { return e.msg }
func (e sourceError) Unwrap() error { return e.cause }

var (
	uuidRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	machineIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)
	serialRE    = regexp.MustCompile(`^[\x21-\x7e]{1,64}$`)
)

// placeholderUUIDs are values firmware ships when the vendor set none; a
// host with one of them shares it with every other such host.
var placeholderUUIDs = []string{
	"03000200-0400-0500-0006-000700080009",
}

func cleanUUID(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if !uuidRE.MatchString(s) {
		return "", fmt.Errorf("%.40q: not a UUID", s)
	}
	if sameDigit(strings.ReplaceAll(s, "-", "")) || slices.Contains(placeholderUUIDs, s) {
		return "", fmt.Errorf("%s: %w", s, errPlaceholder)
	}
	return s, nil
}

func cleanMachineID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !machineIDRE.MatchString(s) {
		return "", fmt.Errorf("%.40q: not a machine id (32 lowercase hex digits); the system may not be set up yet", s)
	}
	if sameDigit(s) {
		return "", fmt.Errorf("%s: %w", s, errPlaceholder)
	}
	return s, nil
}

// cleanSerial reads a device-tree string property: text ending in NUL.
func cleanSerial(s string) (string, error) {
	s = strings.TrimSpace(strings.TrimRight(s, "\x00"))
	if !serialRE.MatchString(s) {
		return "", fmt.Errorf("%.40q: not a serial number", s)
	}
	if sameDigit(s) {
		return "", fmt.Errorf("%s: %w", s, errPlaceholder)
	}
	return s, nil
}

// sameDigit reports whether s repeats one character: all zeros, all f.
func sameDigit(s string) bool {
	return s != "" && strings.Count(s, s[:1]) == len(s)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}
