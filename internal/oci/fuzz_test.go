package oci

import (
	"regexp"
	"strings"
	"testing"
)

// specNameRE is the distribution specification's grammar of a served name,
// written out independently of the package: a repository path, then a tag,
// a digest, or both.
var specNameRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*` +
	`((:[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})(@(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}))?|@(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}))$`)

var specDigestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

// FuzzParseRefName checks the name and digest parsers against the
// specification's grammar: ParseRefName accepts exactly the names in it
// (with a repository path of at most MaxRepositoryLength bytes) and splits
// them into parts that make the name again; ParseDigest accepts exactly the
// sha256 digests.
func FuzzParseRefName(f *testing.F) {
	d := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	for _, s := range []string{
		d, "sha512:" + strings.Repeat("ab", 64), "sha256:" + strings.Repeat("AB", 32), "sha256:../../x",
		"wf/api:1.0.0", "wf/api@" + d, "wf/api:1.0.0@" + d, "1.0", "localhost:5000/wf/api:1",
		"a__b/c--d.e:_x", "a___b:1", "-x:1", "wf/api:.x", "wf/api:" + strings.Repeat("v", 129),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := ParseDigest(s); (err == nil) != specDigestRE.MatchString(s) {
			t.Fatalf("ParseDigest(%q): %v", s, err)
		}
		r, err := ParseRefName(s)
		repo, _, _ := strings.Cut(s, "@")
		if i := strings.LastIndex(repo, ":"); i >= 0 {
			repo = repo[:i]
		}
		want := len(repo) <= MaxRepositoryLength && specNameRE.MatchString(s)
		if (err == nil) != want {
			t.Fatalf("ParseRefName(%q) = %+v, %v; the grammar says %v", s, r, err, want)
		}
		if err != nil {
			return
		}
		if r.String() != s || !ValidRepository(r.Repository) || (r.Tag != "" && !ValidTag(r.Tag)) ||
			(r.Digest != "" && !WellFormedDigest(r.Digest)) {
			t.Fatalf("ParseRefName(%q) = %+v", s, r)
		}
	})
}
