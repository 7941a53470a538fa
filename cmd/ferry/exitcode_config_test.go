package main

import (
	"testing"

	"ferry/config"
)

// TestConfigExitCodes: each class of refused value has its own code, and
// of several refused values the first decides.
func TestConfigExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{&config.Error{Err: config.ErrRequired}, exitConfigRequired},
		{&config.Error{Err: config.ErrType}, exitConfigType},
		{&config.Error{Err: config.ErrRange}, exitConfigRange},
		{&config.Error{Err: config.ErrNotAllowed}, exitConfigAllowed},
		{&config.Error{Err: config.ErrInput}, exitConfigInput},
		{config.Errors{{Err: config.ErrRange}, {Err: config.ErrRequired}}, exitConfigRange},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
