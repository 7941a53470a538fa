package main

import "testing"

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"4096":       4096,
		"700MiB":     700 << 20,
		"4GiB":       4 << 30,
		"4294967295": 4<<30 - 1,
		"2GB":        2e9,
		"1.5G":       3 << 29,
		" 64 kib ":   64 << 10,
		"10B":        10,
	}
	for in, want := range good {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "lots", "1.5", "0.1B", "9999999999TiB", "NaN", "Inf"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}
