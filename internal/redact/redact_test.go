package redact

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	s := FromEnviron([]string{
		"HOME=/root",
		"FERRY_PASSPHRASE=pass phrase&1",
		"FERRY_DB_APP=postgres://app:s3cr%2Ft@db:5432/app?sslmode=disable",
		"FERRY_DB_KV=host=db user=app password='it''s x'",
	})
	s.AddDSN("postgres://u@db/app?password=qpw123")
	for _, tc := range []struct{ in, leak string }{
		{"FERRY_PASSPHRASE=pass phrase&1\n", "pass phrase"},
		{"url: pass+phrase%261", "pass+phrase"},
		{"dial postgres://app:s3cr%2Ft@db:5432/app?sslmode=disable: refused", "s3cr"},
		{"password is s3cr/t", "s3cr/t"},
		{"password=qpw123", "qpw123"},
		{"the output ends in pass phr", "pass phr"},
	} {
		got := s.Text(tc.in)
		if strings.Contains(got, tc.leak) {
			t.Errorf("Text(%q) = %q: %q is left", tc.in, got, tc.leak)
		}
		if !strings.Contains(got, Marker) {
			t.Errorf("Text(%q) = %q: no marker", tc.in, got)
		}
	}
	if got := s.Text("nothing secret here"); got != "nothing secret here" {
		t.Errorf("Text changed a text without secrets: %q", got)
	}
	var none *Secrets
	if got := none.Bound("abcdef", 4); got != "a…" {
		t.Errorf("nil Secrets Bound = %q, want %q", got, "a…")
	}
}

// A secret that straddles the bound is replaced before the text is cut,
// so no beginning of it is left.
func TestBoundCutsAfterScrubbing(t *testing.T) {
	s := &Secrets{}
	s.Add("0123456789abcdef")
	text := strings.Repeat("x", 95) + "0123456789abcdef" + strings.Repeat("y", 100)
	got := s.Bound(text, 100)
	if strings.Contains(got, "0123") || len(got) > 100 || !utf8.ValidString(got) {
		t.Errorf("Bound = %q (%d bytes)", got, len(got))
	}
	if got := s.Bound(strings.Repeat("é", 100), 11); len(got) > 11 || !utf8.ValidString(got) {
		t.Errorf("Bound cut a character: %q", got)
	}
}

func TestDSNPassword(t *testing.T) {
	for dsn, want := range map[string]string{
		"postgres://u:pw@h/db":                  "pw",
		"postgres://u@h/db?password=q":          "q",
		"host=h password=kv user=u":             "kv",
		"host=h password='a b\\'c' user=u":      "a b'c",
		"postgres://u@h/db":                     "",
		"file:///var/lib/app.db?mode=ro":        "",
		"host=h user=u passwordless=x dbname=d": "",
	} {
		if got := DSNPassword(dsn); got != want {
			t.Errorf("DSNPassword(%q) = %q, want %q", dsn, got, want)
		}
	}
}

// TestWithLeavesTheOriginal: With adds secrets to a copy; the Secrets it
// was called on scrubs what it did before, no more.
func TestWithLeavesTheOriginal(t *testing.T) {
	s := &Secrets{}
	s.Add("first-secret")
	n := s.With("second-secret")
	const text = "first-secret second-secret"
	if got := s.Text(text); got != Marker+" second-secret" {
		t.Errorf("original: %q", got)
	}
	if got := n.Text(text); got != Marker+" "+Marker {
		t.Errorf("copy: %q", got)
	}
	var none *Secrets
	if got := none.With("x-secret").Text("a x-secret"); got != "a "+Marker {
		t.Errorf("from nil: %q", got)
	}
}
