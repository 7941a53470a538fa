package spec

import (
	"testing"
	"time"
)

func TestPercentText(t *testing.T) {
	for in, want := range map[string]Percent{"1%": 1, "0.5%": 0.5, "100%": 100, " 0% ": 0} {
		var p Percent
		if err := p.UnmarshalText([]byte(in)); err != nil || p != want {
			t.Errorf("Percent(%q) = %v, %v; want %v", in, p, err, want)
		}
	}
	for _, in := range []string{"1", "NaN%", "Inf%", "-1%", "101%", "%", "x%"} {
		var p Percent
		if err := p.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("Percent(%q) = %v, want an error", in, p)
		}
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || d != Duration(90*time.Second) {
		t.Errorf("Duration(1m30s) = %v, %v", d, err)
	}
	for _, in := range []string{"30", "-5s", "soon"} {
		if err := d.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("Duration(%q) accepted", in)
		}
	}
}

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"4096": 4096, "700MiB": 700 << 20, "4GiB": 4 << 30, "4294967295": 4<<30 - 1,
		"2GB": 2e9, "1.5G": 15e8, " 64 KiB ": 64 << 10, "10B": 10, "8MiB": 8 << 20,
	}
	for in, want := range good {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "lots", "1.5", "0.1B", "9999999999TiB", "NaN", "Inf", "1,5GB", "1,000MB", "4,096"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}
