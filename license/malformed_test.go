package license

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"ferry/verify"
)

func TestParseMalformedEnvelope(t *testing.T) {
	s := ephemeralSigner(t, verify.KeyECDSAP256)
	good := issue(t, fullLicense(), s)
	env, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	payload := base64.StdEncoding.EncodeToString(env.Payload)
	sig := env.Signatures[0]
	sigJSON := `{"keyid":"` + sig.KeyID + `","type":"ecdsa-p256","sig":"` + string(sig.Data) + `"}`
	file := func(members string) []byte { return []byte("{" + members + "}\n") }
	withSigs := func(sigs ...string) []byte {
		return file(`"payload":"` + payload + `","payloadType":"` + PayloadType + `","signatures":[` + strings.Join(sigs, ",") + `]`)
	}
	replace := func(old, repl string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q is not in the licence", old)
		}
		return bytes.Replace(good, []byte(old), []byte(repl), 1)
	}
	otherKey := strings.Repeat("f", 64)
	otherSig := `{"keyid":"` + otherKey + `","type":"ed25519","sig":"` + string(sig.Data) + `"}`

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not JSON"},
		{"invalid JSON", []byte("{"), "not JSON"},
		{"not an object", []byte("[]\n"), "not a JSON object"},
		{"a string", []byte(`"licence"` + "\n"), "not a JSON object"},
		{"oversized", append(bytes.Repeat([]byte(" "), MaxSize), good...), "over the 65536-byte limit"},
		{"trailing data", append(append([]byte(nil), good...), "{}"...), "trailing data"},
		{"second object", append(append([]byte(nil), good...), good...), "trailing data"},
		{"no final newline", bytes.TrimSuffix(good, []byte("\n")), "canonical form"},
		{"CRLF", append(bytes.TrimSuffix(good, []byte("\n")), "\r\n"...), "canonical form"},
		{"pretty printed", replace(`","payloadType"`, `", "payloadType"`), "canonical form"},
		{"members reordered", file(`"payloadType":"` + PayloadType + `","payload":"` + payload + `","signatures":[` + sigJSON + `]`), "canonical form"},
		{"escaped character", replace(`"payloadType":"application/`, `"payloadType":"application\/`), "canonical form"},
		{"unknown member", replace(`{"payload"`, `{"extra":1,"payload"`), `unknown member "extra"`},
		{"member in another case", replace(`"payloadType"`, `"PayloadType"`), `unknown member "PayloadType"`},
		{"duplicate member", replace(`{"payload"`, `{"payloadType":"x","payload"`), `"payloadType" appears twice`},
		{"missing member", file(`"payload":"` + payload + `","payloadType":"` + PayloadType + `"`), `"signatures" is missing`},
		{"null payload", replace(`"payload":"`+payload+`"`, `"payload":null`), "payload: null"},
		{"number payload", replace(`"payload":"`+payload+`"`, `"payload":1`), "payload: a JSON number"},
		{"wrong payload type", replace(PayloadType, "application/vnd.in-toto+json"), "payloadType"},
		{"payload not base64", replace(`"payload":"`, `"payload":"*`), "payload: not base64"},
		{"payload URL-safe base64", replace(`"payload":"`+payload, `"payload":"`+base64.URLEncoding.EncodeToString(append(env.Payload, 0xfb, 0xff))), "payload: not base64"},
		{"payload with white space", replace(`"payload":"`+payload[:4], `"payload":"`+payload[:4]+`\n`), "canonical form"},
		{"empty payload", replace(`"payload":"`+payload+`"`, `"payload":""`), "payload: empty"},
		{"no signatures", withSigs(), "a licence must be signed"},
		{"null signatures", replace(`"signatures":[`+sigJSON+`]`, `"signatures":null`), "signatures: null"},
		{"too many signatures", withSigs(manySigs(MaxSignatures + 1)...), "at most 16"},
		{"signature not an object", withSigs(`"sig"`), "signature 1: not a JSON object"},
		{"unknown signature member", withSigs(strings.Replace(sigJSON, `{"keyid"`, `{"cert":"x","keyid"`, 1)), `signature 1: unknown member "cert"`},
		{"signature member missing", withSigs(strings.Replace(sigJSON, `"type":"ecdsa-p256",`, "", 1)), `signature 1: member "type" is missing`},
		{"duplicate signature member", withSigs(strings.Replace(sigJSON, `{"keyid"`, `{"sig":"","keyid"`, 1)), `signature 1: member "sig" appears twice`},
		{"unknown signature type", withSigs(strings.Replace(sigJSON, "ecdsa-p256", "rsa", 1)), `type "rsa"`},
		{"key id in upper case", withSigs(strings.Replace(sigJSON, sig.KeyID, strings.ToUpper(sig.KeyID), 1)), "keyid"},
		{"key id too short", withSigs(strings.Replace(sigJSON, sig.KeyID, sig.KeyID[:40], 1)), "keyid"},
		{"empty signature", withSigs(strings.Replace(sigJSON, string(sig.Data), "", 1)), "sig: empty"},
		{"signature not base64", withSigs(strings.Replace(sigJSON, string(sig.Data), "!"+string(sig.Data[1:]), 1)), "not base64"},
		{"signature with white space", withSigs(strings.Replace(sigJSON, string(sig.Data), " "+string(sig.Data), 1)), "not base64"},
		{"signatures unsorted", withSigs(otherSig, sigJSON), "sorted by key id"},
		{"same key twice", withSigs(sigJSON, sigJSON), "sorted by key id, one per key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: %v, want ErrMalformed with %q", err, tc.want)
			}
			_, _, err = Verify(tc.data, trustOf(1, s))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Verify: %v, want ErrMalformed", err)
			}
		})
	}
}

// manySigs makes n well-formed signature objects by distinct key ids.
func manySigs(n int) []string {
	var out []string
	for i := range n {
		id := strings.Repeat("0", 62) + string("0123456789abcdef"[i/16]) + string("0123456789abcdef"[i%16])
		out = append(out, `{"keyid":"`+id+`","type":"ed25519","sig":"AAAA"}`)
	}
	return out
}

// TestParseMalformedBody signs malformed licence bodies with a trusted key,
// so that both Parse and Verify reach the body and must refuse it.
func TestParseMalformedBody(t *testing.T) {
	s := ephemeralSigner(t, verify.KeyECDSAP256)
	l := fullLicense()
	good, err := marshalBody(&l)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Verify(signedFile(t, good, s), trustOf(1, s)); err != nil {
		t.Fatalf("the untouched body: %v", err)
	}
	replace := func(old, repl string) string {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q is not in the body %s", old, good)
		}
		return string(bytes.Replace(good, []byte(old), []byte(repl), 1))
	}
	for _, tc := range []struct {
		name string
		body string
		want string
	}{
		{"invalid JSON", `{"id":`, "not JSON"},
		{"not an object", `["id"]`, "not a JSON object"},
		{"trailing data", string(good) + `{}`, "trailing data"},
		{"trailing newline", string(good) + "\n", "canonical form"},
		{"spacing", replace(`,"product"`, `, "product"`), "canonical form"},
		{"members reordered", replace(`"id":"0123456789abcdef0123456789abcdef","product":"workflow-platform"`, `"product":"workflow-platform","id":"0123456789abcdef0123456789abcdef"`), "canonical form"},
		{"escaped HTML", replace(`>=1.0.0 <3.0.0`, `\u003e=1.0.0 \u003c3.0.0`), "canonical form"},
		{"unknown member", replace(`{"id"`, `{"seats":5,"id"`), `unknown member "seats"`},
		{"member in another case", replace(`"notBefore"`, `"notbefore"`), `unknown member "notbefore"`},
		{"duplicate member", replace(`{"id"`, `{"nodes":0,"id"`), `"nodes" appears twice`},
		{"missing customer", replace(`"customer":"ACME Corp. — Plant 7",`, ``), `"customer" is missing`},
		{"missing grace", replace(`"grace":"720h0m0s",`, ``), `"grace" is missing`},
		{"empty customer", replace(`"customer":"ACME Corp. — Plant 7"`, `"customer":""`), "customer: missing"},
		{"null components", replace(`"components":["api","database","worker"]`, `"components":null`), "components: null"},
		{"null in a list", replace(`"components":["api","database","worker"]`, `"components":["api",null]`), "components: entry 2"},
		{"nodes as a string", replace(`"nodes":3`, `"nodes":"3"`), "nodes: a JSON string"},
		{"nodes fractional", replace(`"nodes":3`, `"nodes":3.5`), "nodes"},
		{"nodes negative", replace(`"nodes":3`, `"nodes":-3`), "nodes -3"},
		{"notBefore after expires", replace(`"notBefore":"2026-02-01T00:00:00Z"`, `"notBefore":"2027-02-01T00:00:01Z"`), "notBefore 2027-02-01T00:00:01Z is after expires"},
		{"time with offset", replace(`"expires":"2027-02-01T00:00:00Z"`, `"expires":"2027-02-01T01:00:00+01:00"`), "expires: \"2027-02-01T01:00:00+01:00\": want RFC 3339 in UTC"},
		{"time with fraction", replace(`"expires":"2027-02-01T00:00:00Z"`, `"expires":"2027-02-01T00:00:00.5Z"`), "expires"},
		{"date only", replace(`"expires":"2027-02-01T00:00:00Z"`, `"expires":"2027-02-01"`), "expires"},
		{"zero time", replace(`"issued":"2026-01-15T10:00:00Z"`, `"issued":"0001-01-01T00:00:00Z"`), "issued: missing"},
		{"grace in days", replace(`"grace":"720h0m0s"`, `"grace":"30d"`), "grace: \"30d\""},
		{"grace not canonical", replace(`"grace":"720h0m0s"`, `"grace":"720h"`), "grace: \"720h\""},
		{"negative grace", replace(`"grace":"720h0m0s"`, `"grace":"-1h0m0s"`), "must not be negative"},
		{"bad constraint", replace(`>=1.0.0 <3.0.0`, `>=one`), "not a semver constraint"},
		{"bad id", replace(`"id":"0123456789abcdef0123456789abcdef"`, `"id":"../../etc"`), "id \"../../etc\""},
		{"bad product", replace(`"product":"workflow-platform"`, `"product":"Workflow"`), "product \"Workflow\""},
		{"control character", replace(`ACME Corp.`, `ACME\u001b[31m`), "control characters"},
		{"invalid UTF-8", replace(`ACME Corp.`, "ACME \xff"), "canonical form"},
		{"duplicate feature", replace(`"features":["audit-export","sso <saml>"]`, `"features":["x","x"]`), "appears twice"},
		{"bad bind", replace(`"bind":"fp1:00112233445566778899aabbccddeeff"`, `"bind":"fp1:00"`), "bind \"fp1:00\""},
		{"too many components", replace(`"components":["api","database","worker"]`, `"components":[`+manyNames(maxListLen+1)+`]`), "at most 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := signedFile(t, []byte(tc.body), s)
			_, err := Parse(data)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse: %v, want ErrMalformed with %q", err, tc.want)
			}
			_, _, err = Verify(data, trustOf(1, s))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify: %v, want ErrMalformed with %q", err, tc.want)
			}
		})
	}
}

func manyNames(n int) string {
	var names []string
	for i := range n {
		names = append(names, `"c`+strings.Repeat("x", i%50)+string(rune('a'+i%26))+string(rune('a'+i/26))+`"`)
	}
	return strings.Join(names, ",")
}
