package bundle

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// FuzzDiagnoseExecutable feeds mutated executables, plain and with an
// installer payload cut or extended, to the executable-layout readers:
// they must never panic, an end they find lies within the file, and the
// diagnosis is always "not an installer" or "damaged installer".
func FuzzDiagnoseExecutable(f *testing.F) {
	self, err := os.Executable()
	if err != nil {
		f.Fatal(err)
	}
	exe, err := os.ReadFile(self)
	if err != nil {
		f.Fatal(err)
	}
	// The headers and tables of a real executable are what the readers
	// parse; a cut copy keeps the fuzzer's inputs small.
	head := exe[:min(len(exe), 64<<10)]
	f.Add(head, 0, byte(0))
	f.Add(append(bytes.Clone(head), `{"keys":["x"]}FERRYINS`...), 18, byte(1))
	f.Add([]byte("MZ\x90\x00"), 0, byte(0))
	f.Add([]byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1}, 0, byte(0))
	f.Add([]byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 1}, 0, byte(0))
	f.Fuzz(func(t *testing.T, data []byte, pos int, flip byte) {
		if len(data) > 0 && pos >= 0 {
			data = bytes.Clone(data)
			data[pos%len(data)] ^= flip
		}
		size := int64(len(data))
		r := bytes.NewReader(data)
		if end, err := executableEnd(r, size); err == nil && (end < 0 || end > size) {
			t.Fatalf("end %d outside a %d-byte file", end, size)
		}
		if !isExecutable(data) {
			return
		}
		err := diagnoseExecutable(r, size)
		if !errors.Is(err, ErrNotInstaller) && !errors.Is(err, ErrDamagedInstaller) {
			t.Fatalf("diagnosis %v", err)
		}
	})
}
