package migrate

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://ferry:s3cret@db:5432/app?sslmode=disable", "postgres://ferry:xxxxx@db:5432/app?sslmode=disable"},
		{"postgresql://ferry:p%40ss%2Fw@db/app", "postgresql://ferry:xxxxx@db/app"},
		{"postgres://ferry@db/app?password=s3cret&sslmode=require", "postgres://ferry@db/app?password=xxxxx&sslmode=require"},
		{"postgres://db/app", "postgres://db/app"},
		{"host=db user=ferry password=s3cret dbname=app", "host=db user=ferry password=xxxxx dbname=app"},
		{"host=db password='s3 cret' dbname=app", "host=db password=xxxxx dbname=app"},
		{"postgres://ferry:s3cret@db:port/app", "postgres://xxxxx"},
		{"database app (postgres://ferry:s3cret@db/app?sslmode=disable): connect: refused",
			"database app (postgres://ferry:xxxxx@db/app?sslmode=disable): connect: refused"},
		{"dial postgres://ferry:s3cret@db/app, then host=db password=s3cret", "dial postgres://ferry:xxxxx@db/app, then host=db password=xxxxx"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(Redact(tc.in), "s3") {
			t.Errorf("Redact(%q) shows the password", tc.in)
		}
	}
}

func TestScrub(t *testing.T) {
	inner := errors.New("cannot reach postgres://ferry:p%40ss@db/app (p@ss)")
	err := scrub(fmt.Errorf("connect: %w", inner), "p@ss")
	if strings.Contains(err.Error(), "p@ss") || strings.Contains(err.Error(), "p%40ss") {
		t.Errorf("scrubbed error shows the password: %v", err)
	}
	if !errors.Is(err, inner) {
		t.Error("the scrubbed error does not wrap the original")
	}
	if scrub(inner, "") != inner { //nolint:errorlint // the same error, not one that wraps it
		t.Error("scrub without a password changed the error")
	}
}
