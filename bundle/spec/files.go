package spec

import (
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
)

// defaultFileMode is the mode of a file whose spec gives none.
const defaultFileMode fs.FileMode = 0o644

// fileModeRE admits permission bits only, written in octal ("0755" or "755").
// Setuid, setgid and sticky bits are refused: a vendor rarely means them and
// an operator would not expect an installer to set them.
var fileModeRE = regexp.MustCompile(`^0?[0-7]{3}$`)

// FileMode parses the mode of a File: an octal string from "0000" to
// "0777"; empty means defaultFileMode.
func FileMode(s string) (fs.FileMode, error) {
	if s == "" {
		return defaultFileMode, nil
	}
	if !fileModeRE.MatchString(s) {
		return 0, fmt.Errorf("invalid file mode %q: write permission bits in octal, from \"0000\" to \"0777\", such as \"0755\"", s)
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid file mode %q: %w", s, err)
	}
	return fs.FileMode(v), nil
}
