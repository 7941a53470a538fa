package spec

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dustin/go-humanize"
	"github.com/goccy/go-yaml/ast"
)

// Duration is a time.Duration written as a Go duration string ("30s") in
// both YAML and JSON, so the manifest stays readable.
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a number with a unit, such as 30s or 5m", string(b))
	}
	if v < 0 {
		return fmt.Errorf("invalid duration %q: must not be negative", string(b))
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalYAML parses a duration from a YAML scalar. It exists so that an
// invalid duration in ferry.yaml is reported with its field and line, which
// the YAML decoder drops for errors from UnmarshalText.
func (d *Duration) UnmarshalYAML(node ast.Node) error { return unmarshalSpecScalar(node, d) }

// Percent is a percentage written as "1%" or "0.5%"; the value is in percent.
type Percent float64

// UnmarshalText parses "N%".
func (p *Percent) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if !strings.HasSuffix(s, "%") {
		return fmt.Errorf("invalid percentage %q: write it as a number followed by %%, such as 1%%", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
		return fmt.Errorf("invalid percentage %q: must be between 0%% and 100%%", s)
	}
	*p = Percent(v)
	return nil
}

// UnmarshalYAML parses a percentage from a YAML scalar, keeping the field
// and line of an invalid one for the message.
func (p *Percent) UnmarshalYAML(node ast.Node) error { return unmarshalSpecScalar(node, p) }

// MarshalText writes the percentage as "N%".
func (p Percent) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(p), 'f', -1, 64) + "%"), nil
}

// ParseSize reads a byte count as people write it: "4096", "700MiB",
// "4GiB", "2GB", "1.5G". Binary units (KiB, MiB, GiB, TiB) are powers of
// 1024, the others (K, KB, M, MB, G, GB, …) powers of 1000, as
// go-humanize reads them. Zero, fractions of a byte and sizes beyond an
// int64 are refused, and so is a comma, which is a thousands separator to
// some and a decimal point to others ("1,5GB").
//
// Only the unit is left to go-humanize: it reads a fraction into a
// float64 and truncates the product, which would make "1.5B" one byte and
// "55.1KiB" 56422 bytes, so the number is read exactly here instead.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	bad := fmt.Errorf("invalid size %q: use bytes or a number with a unit, such as 700MiB or 4GiB", s)
	if strings.Contains(t, ".") && strings.IndexFunc(t, unicode.IsLetter) < 0 {
		return 0, bad // a fraction needs a unit: there are no fractions of a byte
	}
	if strings.Contains(t, ",") {
		return 0, bad
	}
	end := strings.IndexFunc(t, func(r rune) bool {
		number := '0' <= r && r <= '9' || r == '.'
		return !number
	})
	if end < 0 {
		end = len(t)
	}
	num, ok := new(big.Rat).SetString(t[:end])
	unit, err := humanize.ParseBytes("1" + t[end:])
	if !ok || err != nil {
		return 0, bad
	}
	num.Mul(num, new(big.Rat).SetUint64(unit))
	if !num.IsInt() || num.Sign() <= 0 || !num.Num().IsInt64() {
		return 0, bad
	}
	return num.Num().Int64(), nil
}
