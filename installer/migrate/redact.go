package migrate

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces a password wherever ferry shows a DSN.
const redacted = "xxxxx"

// kvPasswordRE finds the password of a key=value DSN
// ("host=db user=app password=secret").
var kvPasswordRE = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)`)

// Redact returns dsn with its password replaced by "xxxxx", for logs, the
// audit log and status output. A password in the user information and one
// in a password= query parameter are both replaced. A DSN that cannot be
// parsed is reduced to its scheme, since what cannot be parsed cannot be
// known to be free of the password.
//
// Given text that is not one DSN, such as an error message, it redacts
// every URL and key=value password in it.
func Redact(dsn string) string {
	if !strings.Contains(dsn, "://") {
		return kvPasswordRE.ReplaceAllString(dsn, "${1}"+redacted)
	}
	if strings.ContainsAny(dsn, " \t\n") || !urlRE.MatchString(dsn) || urlRE.FindString(dsn) != dsn {
		return kvPasswordRE.ReplaceAllString(urlRE.ReplaceAllStringFunc(dsn, redactURL), "${1}"+redacted)
	}
	return redactURL(dsn)
}

// urlRE finds URLs in text: a scheme, "://", and what follows up to white
// space, a quote or a closing bracket.
var urlRE = regexp.MustCompile("[A-Za-z][A-Za-z0-9+.-]*://[^\\s\"'`()<>]+")

func redactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		scheme, _, _ := strings.Cut(dsn, "://")
		return scheme + "://" + redacted
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", redacted)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// scrubbed is an error whose message has a secret replaced; the error it
// wraps stays reachable for errors.Is and errors.As.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// scrub returns err with every form of password in its message (as given,
// URL-escaped) replaced, for errors that could quote a DSN.
func scrub(err error, password string) error {
	if err == nil || password == "" {
		return err
	}
	msg := err.Error()
	for _, form := range []string{password, url.QueryEscape(password), url.PathEscape(password), url.UserPassword("", password).String()[1:]} {
		if form != "" {
			msg = strings.ReplaceAll(msg, form, redacted)
		}
	}
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}
