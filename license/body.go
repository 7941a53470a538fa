package license

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"ferry/internal/strictjson"
)

// body is the licence as it is serialised and signed. Every member is
// always present, in this order: the canonical form has no optional parts,
// so there is one way to write a licence.
type body struct {
	ID         string   `json:"id"`
	Product    string   `json:"product"`
	Customer   string   `json:"customer"`
	Issued     string   `json:"issued"`
	NotBefore  string   `json:"notBefore"`
	Expires    string   `json:"expires"`
	Grace      string   `json:"grace"`
	Components []string `json:"components"`
	Features   []string `json:"features"`
	Versions   string   `json:"versions"`
	Nodes      int      `json:"nodes"`
	Bind       string   `json:"bind"`
}

// bodyFields are body's member names, in order.
var bodyFields = []string{"id", "product", "customer", "issued", "notBefore", "expires", "grace", "components", "features", "versions", "nodes", "bind"}

// timeExample is shown in messages about a badly written time.
const timeExample = "2027-12-31T00:00:00Z"

// marshalBody writes l in canonical form. l must be valid.
func marshalBody(l *License) ([]byte, error) {
	b := body{
		ID:         l.ID,
		Product:    l.Product,
		Customer:   l.Customer,
		Issued:     formatTime(l.Issued),
		NotBefore:  formatTime(l.NotBefore),
		Expires:    formatTime(l.Expires),
		Grace:      l.Grace.String(),
		Components: nonNil(l.Components),
		Features:   nonNil(l.Features),
		Versions:   l.Versions,
		Nodes:      l.Nodes,
		Bind:       l.Bind,
	}
	return strictjson.MarshalCanonical(b)
}

// parseBody reads the signed licence body: strictly, then checking every
// field, then requiring the exact bytes marshalBody would write.
func parseBody(data []byte) (*License, error) {
	members, err := strictjson.DecodeObject(data, bodyFields)
	if err != nil {
		return nil, err
	}
	var b body
	for _, m := range []struct {
		name string
		dst  any
	}{
		{"id", &b.ID}, {"product", &b.Product}, {"customer", &b.Customer},
		{"issued", &b.Issued}, {"notBefore", &b.NotBefore}, {"expires", &b.Expires},
		{"grace", &b.Grace}, {"components", &b.Components}, {"features", &b.Features},
		{"versions", &b.Versions}, {"nodes", &b.Nodes}, {"bind", &b.Bind},
	} {
		if err := strictjson.DecodeValue(members[m.name], m.dst); err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
	}
	l := &License{
		ID:         b.ID,
		Product:    b.Product,
		Customer:   b.Customer,
		Components: b.Components,
		Features:   b.Features,
		Versions:   b.Versions,
		Nodes:      b.Nodes,
		Bind:       b.Bind,
	}
	for _, t := range []struct {
		field string
		text  string
		dst   *time.Time
	}{{"issued", b.Issued, &l.Issued}, {"notBefore", b.NotBefore, &l.NotBefore}, {"expires", b.Expires, &l.Expires}} {
		if *t.dst, err = parseTime(t.text); err != nil {
			return nil, fmt.Errorf("%s: %w", t.field, err)
		}
	}
	if l.Grace, err = parseGrace(b.Grace); err != nil {
		return nil, fmt.Errorf("grace: %w", err)
	}
	if err := l.validate(); err != nil {
		return nil, err
	}
	canonical, err := marshalBody(l)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canonical, data) {
		return nil, errors.New("not in canonical form (member order, spacing or escapes differ from what ferry writes)")
	}
	return l, nil
}

// formatTime writes a time as RFC 3339 in UTC, to the second.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// parseTime accepts only what formatTime writes.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || formatTime(t) != s {
		return time.Time{}, fmt.Errorf("%.40q: want RFC 3339 in UTC to the second, like %s", s, timeExample)
	}
	return t.UTC(), nil
}

// checkTime requires what formatTime and parseTime round-trip.
func checkTime(t time.Time) error {
	switch {
	case t.IsZero():
		return errors.New("missing")
	case t.Year() < 1 || t.Year() > 9999:
		return fmt.Errorf("year %d: out of range", t.Year())
	case t.Location() != time.UTC || t.Nanosecond() != 0:
		return fmt.Errorf("%s: want a UTC time to the second", t)
	}
	return nil
}

// parseGrace accepts a non-negative Go duration in the form
// time.Duration.String writes ("720h0m0s", "0s").
func parseGrace(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d.String() != s {
		return 0, fmt.Errorf("%.40q: want a duration as Go writes it, like 720h0m0s", s)
	}
	return d, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
