package oci

import (
	"errors"
	"strings"
	"testing"
)

func TestValidRepository(t *testing.T) {
	for _, tt := range []struct {
		s  string
		ok bool
	}{
		{"wf/api", true},
		{"library/nginx", true},
		{"a", true},
		{"a__b/c--d.e", true},
		{"a.b_c-d/e", true},
		{strings.Repeat("a", MaxRepositoryLength), true},
		{strings.Repeat("a", MaxRepositoryLength+1), false},
		{"", false},
		{"Wf/api", false},
		{"wf/-api", false},
		{"wf//api", false},
		{"wf/api/", false},
		{"/wf", false},
		{"library/.", false},
		{"a___b", false},
		{"wf/api:1", false},
		{"localhost:5000/wf", false},
	} {
		if got := ValidRepository(tt.s); got != tt.ok {
			t.Errorf("ValidRepository(%q) = %v, want %v", tt.s, got, tt.ok)
		}
	}
}

func TestValidTag(t *testing.T) {
	for _, tt := range []struct {
		s  string
		ok bool
	}{
		{"1.4.0", true},
		{"latest", true},
		{"_x", true},
		{"V1-rc.2_b", true},
		{strings.Repeat("v", 128), true},
		{strings.Repeat("v", 129), false},
		{"", false},
		{".1", false},
		{"-x", false},
		{"bad tag", false},
		{"a/b", false},
		{"a:b", false},
	} {
		if got := ValidTag(tt.s); got != tt.ok {
			t.Errorf("ValidTag(%q) = %v, want %v", tt.s, got, tt.ok)
		}
	}
}

func TestParseRefName(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	d512 := "sha512:" + strings.Repeat("cd", 64)
	for _, tt := range []struct {
		s    string
		want RefName
	}{
		{"wf/api:1.4.0", RefName{Repository: "wf/api", Tag: "1.4.0"}},
		{"wf/api@" + d, RefName{Repository: "wf/api", Digest: d}},
		{"wf/api:1.4.0@" + d, RefName{Repository: "wf/api", Tag: "1.4.0", Digest: d}},
		{"wf/api@" + d512, RefName{Repository: "wf/api", Digest: d512}},
		{"a__b/c--d.e:_x", RefName{Repository: "a__b/c--d.e", Tag: "_x"}},
	} {
		got, err := ParseRefName(tt.s)
		if err != nil || got != tt.want || got.String() != tt.s {
			t.Errorf("ParseRefName(%q) = %+v, %v; want %+v", tt.s, got, err, tt.want)
		}
	}
	for _, bad := range []string{
		"", "1.0", "wf/api", "wf/api:", "wf/api@", "wf/api@sha256:short", "wf/api@" + strings.ToUpper(d),
		"wf/api:.x", "wf/api:bad tag", "Wf/api:1", "wf/-api:1", "wf//api:1", "library/.:1",
		"localhost:5000/wf/api:1", "wf/api:1:2", "wf/api@" + d + "@" + d,
		strings.Repeat("a", MaxRepositoryLength+1) + ":1",
	} {
		if got, err := ParseRefName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ParseRefName(%q) = %+v, %v; want ErrInvalidName", bad, got, err)
		}
	}
}

func TestValidDatabaseName(t *testing.T) {
	for _, tt := range []struct {
		s  string
		ok bool
	}{
		{"app", true},
		{"app_2", true},
		{"a", true},
		{"", false},
		{"2app", false},
		{"_app", false},
		{"App", false},
		{"app-db", false},
		{"app.db", false},
		{"../app", false},
	} {
		if got := ValidDatabaseName(tt.s); got != tt.ok {
			t.Errorf("ValidDatabaseName(%q) = %v, want %v", tt.s, got, tt.ok)
		}
	}
}
