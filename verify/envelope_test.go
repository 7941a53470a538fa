package verify

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
)

const testPayloadType = "application/vnd.ferry.test.v1+json"

// checkEnvelope is what a caller of ParseEnvelope does before trusting the
// payload: parse, verify against trust, and require each trusted
// signature to name its key's exact type.
func checkEnvelope(data []byte, trust TrustSet) (*Envelope, error) {
	env, err := ParseEnvelope(data, testPayloadType, 64<<10)
	if err != nil {
		return nil, err
	}
	if _, err := trust.Verify(env.Message(), env.Signatures); err != nil {
		return nil, err
	}
	if err := checkSignatureTypes(env.Signatures, trust); err != nil {
		return nil, err
	}
	return env, nil
}

func TestEnvelopeRoundTrip(t *testing.T) {
	payload := []byte(`{"hello":"<world> & more"}`)
	var signers []Signer
	for _, kt := range allKeyTypes {
		signers = append(signers, testKey(t, kt).signer)
	}
	for _, set := range [][]Signer{signers[:1], signers[1:2], signers[2:], signers} {
		data, err := SignEnvelope(testPayloadType, payload, set...)
		if err != nil {
			t.Fatalf("SignEnvelope: %v", err)
		}
		trust := TrustSet{Threshold: len(set)}
		for _, s := range set {
			trust.Keys = append(trust.Keys, s.Public())
		}
		env, err := checkEnvelope(data, trust)
		if err != nil {
			t.Fatalf("%d signers: %v", len(set), err)
		}
		if env.PayloadType != testPayloadType || !bytes.Equal(env.Payload, payload) || len(env.Signatures) != len(set) {
			t.Errorf("parsed %q %q with %d signatures", env.PayloadType, env.Payload, len(env.Signatures))
		}
		for i := 1; i < len(env.Signatures); i++ {
			if env.Signatures[i-1].KeyID >= env.Signatures[i].KeyID {
				t.Errorf("signatures not sorted by key id: %s, %s", env.Signatures[i-1].KeyID, env.Signatures[i].KeyID)
			}
		}
		if again, err := env.Marshal(); err != nil || !bytes.Equal(again, data) {
			t.Errorf("Marshal does not give the file back (%v):\n%s\n%s", err, again, data)
		}
		if want := "DSSEv1 34 " + testPayloadType + " 26 " + string(payload); string(env.Message()) != want {
			t.Errorf("Message() = %q, want %q", env.Message(), want)
		}
		if _, err := ParseEnvelope(data, "application/vnd.ferry.other+json", 64<<10); !errors.Is(err, ErrMalformedEnvelope) || !strings.Contains(err.Error(), "payloadType") {
			t.Errorf("parsed as another payload type: %v", err)
		}
	}
}

func TestSignEnvelopeRefuses(t *testing.T) {
	s := newSigner(t, KeyEd25519)
	many := make([]Signer, MaxEnvelopeSignatures+1)
	for i := range many {
		many[i] = newSigner(t, KeyEd25519)
	}
	for _, tc := range []struct {
		name        string
		payloadType string
		payload     string
		signers     []Signer
		want        string
	}{
		{"no signer", testPayloadType, "x", nil, "no signing key"},
		{"too many signers", testPayloadType, "x", many, "17 signing keys, at most 16"},
		{"same key twice", testPayloadType, "x", []Signer{s, s}, "given twice"},
		{"empty payload", testPayloadType, "", []Signer{s}, "empty payload"},
		{"no payload type", "", "x", []Signer{s}, "no payload type"},
		{"payload type not canonical JSON", "a<\xff>", "x", []Signer{s}, "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SignEnvelope(tc.payloadType, []byte(tc.payload), tc.signers...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("SignEnvelope: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := SignEnvelope(testPayloadType, []byte("x"), many[:MaxEnvelopeSignatures]...); err != nil {
		t.Errorf("SignEnvelope with %d keys: %v", MaxEnvelopeSignatures, err)
	}
}

// TestEnvelopeTamper changes every byte of an envelope signed 3 of 3 by
// one key of each type, in several ways, and cuts it at every length: each
// result must be refused, by ParseEnvelope or by the trust check.
func TestEnvelopeTamper(t *testing.T) {
	var signers []Signer
	trust := TrustSet{Threshold: len(allKeyTypes)}
	for _, kt := range allKeyTypes {
		g := testKey(t, kt)
		signers = append(signers, g.signer)
		trust.Keys = append(trust.Keys, g.key)
	}
	orig, err := SignEnvelope(testPayloadType, []byte(`{"version":"1.2.3"}`), signers...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkEnvelope(orig, trust); err != nil {
		t.Fatalf("the untouched envelope: %v", err)
	}
	check := func(what string, data []byte) {
		t.Helper()
		if _, err := checkEnvelope(data, trust); err == nil {
			t.Fatalf("%s: accepted", what)
		}
	}
	data := make([]byte, len(orig))
	for i := range orig {
		for _, mask := range []byte{0x01, 0x02, 0x20, 0x80, 0xff} {
			copy(data, orig)
			data[i] ^= mask
			check("byte "+strconv.Itoa(i)+" xor "+strconv.Itoa(int(mask)), data)
		}
		for _, b := range []byte{' ', '\\', '"', '='} {
			if orig[i] != b {
				copy(data, orig)
				data[i] = b
				check("byte "+strconv.Itoa(i)+" set to "+string(b), data)
			}
		}
		check("cut at "+strconv.Itoa(i), orig[:i])
		check("byte "+strconv.Itoa(i)+" removed", append(append([]byte(nil), orig[:i]...), orig[i+1:]...))
		check("byte inserted at "+strconv.Itoa(i), append(append(append([]byte(nil), orig[:i]...), ' '), orig[i:]...))
	}
	check("a byte appended", append(append([]byte(nil), orig...), ' '))
}

func TestParseEnvelopeMalformed(t *testing.T) {
	s := newSigner(t, KeyECDSAP256)
	payload := []byte(`{"a":1}`)
	good, err := SignEnvelope(testPayloadType, payload, s)
	if err != nil {
		t.Fatal(err)
	}
	env, err := ParseEnvelope(good, testPayloadType, len(good))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(payload)
	sig := env.Signatures[0]
	sigJSON := `{"keyid":"` + sig.KeyID + `","type":"ecdsa-p256","sig":"` + string(sig.Data) + `"}`
	withSigs := func(sigs ...string) []byte {
		return []byte(`{"payload":"` + b64 + `","payloadType":"` + testPayloadType + `","signatures":[` + strings.Join(sigs, ",") + "]}\n")
	}
	replace := func(old, repl string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("%q is not in the envelope", old)
		}
		return bytes.Replace(good, []byte(old), []byte(repl), 1)
	}
	var many []string
	for i := range MaxEnvelopeSignatures + 1 {
		many = append(many, `{"keyid":"`+strings.Repeat("0", 62)+strconv.FormatInt(int64(16+i), 16)+`","type":"ed25519","sig":"AAAA"}`)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not JSON"},
		{"not an object", []byte("[]\n"), "not a JSON object"},
		{"no final newline", bytes.TrimSuffix(good, []byte("\n")), "canonical form"},
		{"CRLF", append(bytes.TrimSuffix(good, []byte("\n")), "\r\n"...), "canonical form"},
		{"two final newlines", append(append([]byte(nil), good...), '\n'), "canonical form"},
		{"spacing", replace(`","payloadType"`, `", "payloadType"`), "canonical form"},
		{"members reordered", []byte(`{"payloadType":"` + testPayloadType + `","payload":"` + b64 + `","signatures":[` + sigJSON + "]}\n"), "canonical form"},
		{"escaped slash", replace(`"payloadType":"application/`, `"payloadType":"application\/`), "canonical form"},
		{"payload with white space", replace(`"payload":"`+b64[:4], `"payload":"`+b64[:4]+`\n`), "canonical form"},
		{"unknown member", replace(`{"payload"`, `{"x":1,"payload"`), `unknown member "x"`},
		{"duplicate member", replace(`{"payload"`, `{"payloadType":"x","payload"`), "appears twice"},
		{"missing member", []byte(`{"payload":"` + b64 + `","payloadType":"` + testPayloadType + "\"}\n"), `"signatures" is missing`},
		{"wrong payload type", replace(testPayloadType, "application/json"), "payloadType"},
		{"payload not base64", replace(`"payload":"`, `"payload":"*`), "payload: not base64"},
		{"empty payload", replace(`"payload":"`+b64+`"`, `"payload":""`), "payload: empty"},
		{"no signatures", withSigs(), "signatures: none"},
		{"null signatures", replace(`"signatures":[`+sigJSON+`]`, `"signatures":null`), "signatures: null"},
		{"too many signatures", withSigs(many...), "at most 16"},
		{"unknown signature type", withSigs(strings.Replace(sigJSON, "ecdsa-p256", "rsa", 1)), `type "rsa"`},
		{"key id in upper case", withSigs(strings.Replace(sigJSON, sig.KeyID, strings.ToUpper(sig.KeyID), 1)), "keyid"},
		{"key id too short", withSigs(strings.Replace(sigJSON, sig.KeyID, sig.KeyID[:40], 1)), "keyid"},
		{"empty signature", withSigs(strings.Replace(sigJSON, string(sig.Data), "", 1)), "sig: empty"},
		{"signature not canonical base64", withSigs(strings.Replace(sigJSON, string(sig.Data), " "+string(sig.Data), 1)), "not base64"},
		{"same key twice", withSigs(sigJSON, sigJSON), "sorted by key id, one per key"},
		{"signatures unsorted", withSigs(many[1], many[0]), "sorted by key id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEnvelope(tc.data, testPayloadType, 64<<10)
			if !errors.Is(err, ErrMalformedEnvelope) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseEnvelope: %v, want ErrMalformedEnvelope with %q", err, tc.want)
			}
		})
	}
	if _, err := ParseEnvelope(good, testPayloadType, len(good)-1); !errors.Is(err, ErrMalformedEnvelope) || !strings.Contains(err.Error(), "over the") {
		t.Errorf("an envelope over maxSize: %v", err)
	}
	if _, err := ParseEnvelope(withSigs(), testPayloadType, 64<<10); !errors.Is(err, ErrNoSignature) {
		t.Errorf("an envelope without signatures: %v, want ErrNoSignature", err)
	}
}
