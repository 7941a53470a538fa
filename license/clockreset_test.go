package license

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"ferry/verify"
)

const testHost = "fp1:00112233445566778899aabbccddeeff"

func testClockReset() ClockReset {
	return ClockReset{Host: testHost, From: date("2031-05-01T10:00:00Z"), To: date("2026-12-07T18:00:00Z"), Issued: date("2026-12-07T18:05:00Z")}
}

func TestClockResetRoundTrip(t *testing.T) {
	s := ephemeralSigner(t, verify.KeyEd25519)
	data, err := IssueClockReset(testClockReset(), s)
	if err != nil {
		t.Fatal(err)
	}
	r, ids, err := VerifyClockReset(data, trustOf(1, s))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*r, testClockReset()) || len(ids) != 1 || ids[0] != s.Public().ID() {
		t.Fatalf("got %+v by %v", *r, ids)
	}
	// A licence is not a statement, and a statement is not a licence.
	if _, err := Parse(data); !errors.Is(err, ErrMalformed) {
		t.Errorf("a statement parsed as a licence: %v", err)
	}
	if _, err := ParseClockReset(issue(t, fullLicense(), s)); !errors.Is(err, ErrMalformed) {
		t.Errorf("a licence parsed as a statement: %v", err)
	}
	other := ephemeralSigner(t, verify.KeyECDSAP256)
	if _, _, err := VerifyClockReset(data, trustOf(1, other)); !errors.Is(err, ErrUntrusted) {
		t.Errorf("statement by an untrusted key: %v", err)
	}
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 1
	if _, _, err := VerifyClockReset(bad, trustOf(1, s)); err == nil {
		t.Error("a changed statement verified")
	}
	up := testClockReset()
	up.To = up.From.Add(1)
	if _, err := IssueClockReset(up, s); err == nil {
		t.Error("issued a statement that raises the mark")
	}
}

func FuzzParseClockReset(f *testing.F) {
	s := ephemeralSigner(f, verify.KeyECDSAP256)
	seed, err := IssueClockReset(testClockReset(), s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"payload":"e30=","payloadType":"` + ClockResetType + `","signatures":[]}` + "\n"))
	trust := trustOf(1, s)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseClockReset(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseClockReset failed without ErrMalformed: %v", err)
			}
		} else if err := r.validate(); err != nil {
			t.Fatalf("accepted statement is invalid: %v", err)
		}
		v, _, err := VerifyClockReset(data, trust)
		if err == nil && !reflect.DeepEqual(*v, testClockReset()) {
			t.Fatalf("accepted a statement nobody signed: %+v", *v)
		}
	})
}
