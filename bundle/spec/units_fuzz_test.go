package spec

import (
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSize checks ParseSize two ways. Any string is either refused or
// read as a positive size that reads back the same from its decimal form.
// And a size written from parts (a whole number, maybe a fraction, a unit)
// is read as exactly the value written, or refused when that value is not
// a whole number of bytes from 1 to the largest int64, or is a fraction
// without a unit: nothing is rounded.
func FuzzParseSize(f *testing.F) {
	f.Add("700MiB", int64(700), "", uint8(3))
	f.Add("4GiB", int64(4), "", uint8(4))
	f.Add("1.5G", int64(1), "5", uint8(9))
	f.Add(" 64 KiB ", int64(64), "", uint8(2))
	f.Add("1,000", int64(1), "5", uint8(1))
	f.Add("0.1B", int64(0), "1", uint8(1))
	f.Add("9999999999TiB", int64(9223372036854775807), "", uint8(0))
	f.Add("", int64(9007199254740993), "", uint8(1))
	f.Add("NaN", int64(0), "5", uint8(2))
	units := []struct {
		suffix string
		mult   int64
	}{
		{"", 1}, {"B", 1}, {"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"PiB", 1 << 50}, {"EiB", 1 << 60}, {"kB", 1e3}, {"G", 1e9}, {" MB", 1e6}, {"tb", 1e12},
	}
	f.Fuzz(func(t *testing.T, s string, whole int64, frac string, unit uint8) {
		if n, err := ParseSize(s); err == nil {
			if n <= 0 {
				t.Fatalf("ParseSize(%q) = %d", s, n)
			}
			if back, err := ParseSize(strconv.FormatInt(n, 10)); err != nil || back != n {
				t.Fatalf("ParseSize(%q) = %d, but ParseSize(%d) = %d, %v", s, n, n, back, err)
			}
		}

		if whole < 0 {
			return
		}
		digits := strings.Map(func(r rune) rune {
			if '0' <= r && r <= '9' {
				return r
			}
			return -1
		}, frac)
		u := units[int(unit)%len(units)]
		written := strconv.FormatInt(whole, 10)
		value := new(big.Rat).SetInt64(whole)
		if digits != "" {
			written += "." + digits
			scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(digits))), nil)
			num, _ := new(big.Int).SetString(digits, 10)
			value.Add(value, new(big.Rat).SetFrac(num, scale))
		}
		written += u.suffix
		value.Mul(value, new(big.Rat).SetInt64(u.mult))

		got, err := ParseSize(written)
		valid := value.IsInt() && value.Sign() > 0 && value.Num().IsInt64() && (digits == "" || u.suffix != "")
		switch {
		case valid && (err != nil || got != value.Num().Int64()):
			t.Fatalf("ParseSize(%q) = %d, %v; want %s", written, got, err, value.RatString())
		case !valid && err == nil:
			t.Fatalf("ParseSize(%q) = %d; want an error, since it is %s bytes", written, got, value.FloatString(3))
		}
	})
}
