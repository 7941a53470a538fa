package bundle

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
