package license

import (
	"bytes"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"ferry/verify"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	for _, kt := range allKeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			s := testSigner(t, kt)
			want := fullLicense()
			data := issue(t, want, s)

			got, ids, err := Verify(data, trustOf(1, s))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Verify returned\n%+v\nwant\n%+v", *got, want)
			}
			if len(ids) != 1 || ids[0] != s.Public().ID() {
				t.Errorf("signed by %v, want [%s]", ids, s.Public().ID())
			}

			env, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(*env.License, want) {
				t.Errorf("Parse returned\n%+v\nwant\n%+v", *env.License, want)
			}
			if env.PayloadType != PayloadType || len(env.Signatures) != 1 || env.Signatures[0].Type != kt {
				t.Errorf("envelope %q with signatures %+v", env.PayloadType, env.Signatures)
			}

			// The file is what docs/LICENSE.md shows: one line of JSON.
			if !bytes.HasPrefix(data, []byte(`{"payload":"`)) || bytes.Count(data, []byte("\n")) != 1 || data[len(data)-1] != '\n' {
				t.Errorf("file is not one line of JSON:\n%s", data)
			}
			if !bytes.Contains(env.Payload, []byte(`"versions":">=1.0.0 <3.0.0"`)) {
				t.Errorf("payload escapes the version range: %s", env.Payload)
			}
		})
	}
}

func TestIssueSignsWithEveryKey(t *testing.T) {
	a, b, c := testSigner(t, verify.KeyECDSAP256), testSigner(t, verify.KeyEd25519), testSigner(t, verify.KeyOpenPGP)
	data := issue(t, fullLicense(), c, a, b)
	_, ids, err := Verify(data, trustOf(3, a, b, c))
	if err != nil {
		t.Fatalf("Verify 3 of 3: %v", err)
	}
	if len(ids) != 3 {
		t.Errorf("signed by %v, want three keys", ids)
	}
}

func TestIssueFillsDefaults(t *testing.T) {
	s := ephemeralSigner(t, verify.KeyEd25519)
	before := time.Now().Truncate(time.Second)
	data := issue(t, License{
		Customer:   "ACME",
		Expires:    time.Date(2030, 1, 1, 12, 0, 0, 999, time.FixedZone("CET", 3600)),
		Components: []string{"worker", "api"},
		Features:   []string{"b", "a"},
	}, s)
	after := time.Now()
	l, _, err := Verify(data, trustOf(1, s))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(l.ID) {
		t.Errorf("generated id %q, want 32 hex digits", l.ID)
	}
	if l.Issued.Before(before) || l.Issued.After(after) || l.Issued.Nanosecond() != 0 || l.Issued.Location() != time.UTC {
		t.Errorf("issued %v, want now (%v..%v) in UTC to the second", l.Issued, before, after)
	}
	if !l.NotBefore.Equal(l.Issued) {
		t.Errorf("notBefore %v, want issued %v", l.NotBefore, l.Issued)
	}
	if want := date("2030-01-01T11:00:00Z"); !l.Expires.Equal(want) || l.Expires.Location() != time.UTC {
		t.Errorf("expires %v, want %v", l.Expires, want)
	}
	if !reflect.DeepEqual(l.Components, []string{"api", "worker"}) || !reflect.DeepEqual(l.Features, []string{"a", "b"}) {
		t.Errorf("components %v, features %v: want them sorted", l.Components, l.Features)
	}
	if l.Product != "" || l.Versions != "" || l.Nodes != 0 || l.Bind != "" || l.Grace != 0 {
		t.Errorf("optional fields set: %+v", l)
	}

	other := issue(t, License{Customer: "ACME", Expires: date("2030-01-01T00:00:00Z")}, s)
	ol, _, err := Verify(other, trustOf(1, s))
	if err != nil {
		t.Fatal(err)
	}
	if ol.ID == l.ID {
		t.Errorf("two licences got the same id %s", l.ID)
	}
}

func TestIssueRefuses(t *testing.T) {
	s := ephemeralSigner(t, verify.KeyECDSAP256)
	edit := func(f func(*License)) License {
		l := fullLicense()
		f(&l)
		return l
	}
	for _, tc := range []struct {
		name    string
		l       License
		signers []verify.Signer
		want    string
	}{
		{"no signer", fullLicense(), nil, "no signing key"},
		{"same key twice", fullLicense(), []verify.Signer{s, s}, "given twice"},
		{"no customer", edit(func(l *License) { l.Customer = "" }), nil, "customer: missing"},
		{"no expiry", edit(func(l *License) { l.Expires = time.Time{} }), nil, "expires: missing"},
		{"notBefore after expires", edit(func(l *License) { l.NotBefore = l.Expires.Add(time.Second) }), nil, "is after expires"},
		{"negative grace", edit(func(l *License) { l.Grace = -time.Hour }), nil, "grace -1h0m0s: must not be negative"},
		{"bad versions", edit(func(l *License) { l.Versions = ">=banana" }), nil, "not a semver constraint"},
		{"bad id", edit(func(l *License) { l.ID = "ABC" }), nil, "id \"ABC\""},
		{"bad product", edit(func(l *License) { l.Product = "Workflow Platform" }), nil, "product"},
		{"bad component", edit(func(l *License) { l.Components = []string{"api", "-x"} }), nil, "components: entry"},
		{"duplicate component", edit(func(l *License) { l.Components = []string{"api", "api"} }), nil, "appears twice"},
		{"empty feature", edit(func(l *License) { l.Features = []string{""} }), nil, "features: entry 1: empty"},
		{"control character", edit(func(l *License) { l.Customer = "ACME\x1b[2J" }), nil, "control characters"},
		{"negative nodes", edit(func(l *License) { l.Nodes = -1 }), nil, "nodes -1"},
		{"bad bind", edit(func(l *License) { l.Bind = "3d1219c7c4c5404aaa1f6d2a48adfda4" }), nil, "bind"},
		{"year 10000", edit(func(l *License) { l.Expires = date("9999-12-31T00:00:00Z").AddDate(1, 0, 0) }), nil, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signers := tc.signers
			if signers == nil && tc.name != "no signer" {
				signers = []verify.Signer{s}
			}
			_, err := Issue(tc.l, signers...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Issue: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestVerifyWrongKey(t *testing.T) {
	for _, kt := range allKeyTypes {
		t.Run(string(kt), func(t *testing.T) {
			data := issue(t, fullLicense(), testSigner(t, kt))
			other := ephemeralSigner(t, verify.KeyECDSAP256)
			_, _, err := Verify(data, trustOf(1, other))
			if !errors.Is(err, ErrUntrusted) || !errors.Is(err, verify.ErrUntrustedKey) {
				t.Errorf("Verify with another key: %v, want ErrUntrusted", err)
			}
		})
	}
}

func TestVerifyThreshold(t *testing.T) {
	a, b, c := ephemeralSigner(t, verify.KeyECDSAP256), ephemeralSigner(t, verify.KeyEd25519), ephemeralSigner(t, verify.KeyECDSAP256)
	data := issue(t, fullLicense(), a, b)
	for _, tc := range []struct {
		name  string
		trust verify.TrustSet
		want  error
		ids   int
	}{
		{"1 of 3", trustOf(1, a, b, c), nil, 2},
		{"2 of 3", trustOf(2, a, b, c), nil, 2},
		{"3 of 3", trustOf(3, a, b, c), verify.ErrBelowThreshold, 0},
		{"2 of 2 with one signer", trustOf(2, a, c), verify.ErrBelowThreshold, 0},
		{"only c", trustOf(1, c), verify.ErrUntrustedKey, 0},
		{"threshold above keys", trustOf(3, a, b), verify.ErrInvalidTrustSet, 0},
		{"no keys", verify.TrustSet{}, verify.ErrInvalidTrustSet, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ids, err := Verify(data, tc.trust)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Verify: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			case tc.want != nil && !errors.Is(tc.want, verify.ErrInvalidTrustSet) && !errors.Is(err, ErrUntrusted):
				t.Fatalf("Verify: %v, want it to wrap ErrUntrusted", err)
			}
			if len(ids) != tc.ids {
				t.Errorf("signed by %v, want %d keys", ids, tc.ids)
			}
		})
	}
}

// A trusted key's signature must name that key's type: the envelope names
// it, and a wrong name is a changed file.
func TestVerifySignatureTypeMustMatchKey(t *testing.T) {
	s := ephemeralSigner(t, verify.KeyEd25519)
	env, err := Parse(issue(t, fullLicense(), s))
	if err != nil {
		t.Fatal(err)
	}
	env.Signatures[0].Type = verify.KeyECDSAP256
	data, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(data); err != nil {
		t.Fatalf("Parse: %v (the form is fine; only trust can tell)", err)
	}
	if _, _, err := Verify(data, trustOf(1, s)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify: %v, want ErrBadSignature", err)
	}
}

// A signature by a trusted key over another licence is tampering, even
// when another trusted signature meets the threshold.
func TestVerifyBadSignatureFromTrustedKey(t *testing.T) {
	a, b := ephemeralSigner(t, verify.KeyECDSAP256), ephemeralSigner(t, verify.KeyEd25519)
	env, err := Parse(issue(t, fullLicense(), a, b))
	if err != nil {
		t.Fatal(err)
	}
	other := fullLicense()
	other.Nodes = 100
	otherEnv, err := Parse(issue(t, other, a, b))
	if err != nil {
		t.Fatal(err)
	}
	// Keep the first licence's payload with one signature from the other.
	env.Signatures[1] = otherEnv.Signatures[1]
	data, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Verify(data, trustOf(1, a, b)); !errors.Is(err, ErrBadSignature) || !errors.Is(err, verify.ErrBadSignature) {
		t.Errorf("Verify: %v, want ErrBadSignature", err)
	}
	// The same payload swap with both signatures is a bad signature too.
	env.Payload = otherEnv.Payload
	env.Signatures = otherEnv.Signatures
	env.Payload = bytes.Replace(env.Payload, []byte(`"nodes":100`), []byte(`"nodes":999`), 1)
	data, err = env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Verify(data, trustOf(1, a, b)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify of an edited payload: %v, want ErrBadSignature", err)
	}
}
