// Package redact keeps the secrets ferry holds out of the text it stores
// and shows. A command's output or an error can quote anything the
// command could read, ferry's own environment and command line included
// (through /proc), so every such text passes through a Secrets before it
// reaches the audit log, the journal, state.db or a report, and is bounded
// in size there.
package redact

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Marker replaces a secret in text.
const Marker = "[redacted]"

// minTail is the shortest beginning of a secret that Text removes from the
// end of a text: output cut short can end inside a secret, and its first
// bytes are part of it. Shorter tails are left, or nearly every text
// would lose its last letter.
const minTail = 4

// Secrets are the secret strings ferry knows for one command: the
// passphrase from FERRY_PASSPHRASE or a passphrase file, database DSNs and
// their passwords, and later install-time secrets. The zero value holds
// none; a nil *Secrets is valid and only bounds text.
type Secrets struct {
	forms []string
}

// Add records a secret and the forms it takes when quoted in a URL.
// Empty strings are ignored.
func (s *Secrets) Add(secret string) {
	if secret == "" {
		return
	}
	for _, f := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret), url.UserPassword("", secret).String()[1:]} {
		if f != "" && !slices.Contains(s.forms, f) {
			s.forms = append(s.forms, f)
		}
	}
	// Longest first, so that a secret containing another is replaced
	// whole.
	slices.SortStableFunc(s.forms, func(a, b string) int { return len(b) - len(a) })
}

// With returns a new Secrets holding the secrets of s and secrets; s is
// left as it is, so that goroutines reading s need no lock while a holder
// of a pointer to it swaps in the new one. A nil s holds none.
func (s *Secrets) With(secrets ...string) *Secrets {
	n := &Secrets{}
	if s != nil {
		n.forms = slices.Clone(s.forms)
	}
	for _, v := range secrets {
		n.Add(v)
	}
	return n
}

// AddDSN records a database DSN: the whole DSN and the password it
// carries (in a URL's user information, a password= query parameter, or a
// key=value password).
func (s *Secrets) AddDSN(dsn string) {
	s.Add(dsn)
	s.Add(DSNPassword(dsn))
}

// DSNPassword returns the password a DSN carries, or "".
func DSNPassword(dsn string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return ""
		}
		if p, ok := u.User.Password(); ok {
			return p
		}
		return u.Query().Get("password")
	}
	m := kvPasswordRE.FindStringSubmatch(dsn)
	if m == nil {
		return ""
	}
	p := m[1]
	if strings.HasPrefix(p, "'") && strings.HasSuffix(p, "'") && len(p) >= 2 {
		p = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(p[1 : len(p)-1])
	}
	return p
}

// kvPasswordRE finds the password of a key=value DSN ("host=db
// password=secret").
var kvPasswordRE = regexp.MustCompile(`(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']+)`)

// FromEnviron returns the secrets of a process environment (KEY=VALUE
// strings, as os.Environ): the passphrase in FERRY_PASSPHRASE and every
// DSN in a FERRY_DB_NAME variable.
func FromEnviron(environ []string) *Secrets {
	s := &Secrets{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "FERRY_PASSPHRASE":
			s.Add(v)
		case strings.HasPrefix(k, "FERRY_DB_"):
			s.AddDSN(v)
		}
	}
	return s
}

// Text returns text with every form of every secret replaced by Marker,
// and a tail of at least minTail bytes that begins a secret too (text cut
// short in the middle of one).
func (s *Secrets) Text(text string) string {
	if s == nil {
		return text
	}
	for _, f := range s.forms {
		text = strings.ReplaceAll(text, f, Marker)
	}
	for _, f := range s.forms {
		for n := min(len(f)-1, len(text)); n >= minTail; n-- {
			if strings.HasSuffix(text, f[:n]) {
				return text[:len(text)-n] + Marker
			}
		}
	}
	return text
}

// Bound returns text scrubbed (Text) and cut to at most limit bytes (on a
// character boundary, marked with "…"), which is how ferry stores the
// output of a command or the text of an error. The secrets are replaced
// before the text is cut, so a cut never leaves the start of one.
func (s *Secrets) Bound(text string, limit int) string {
	text = s.Text(text)
	if len(text) <= limit {
		return text
	}
	cut := limit - len("…")
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:max(cut, 0)] + "…"
}
