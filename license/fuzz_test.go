package license

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"reflect"
	"testing"

	"ferry/verify"
)

var updateTestdata = flag.Bool("update", false, "rewrite testdata/openpgp.pub, testdata/openpgp.lic and the golden files of the --json outputs")

// The OpenPGP fuzz seed comes from testdata: making an OpenPGP key goes
// through the deliberately slow passphrase KDF, which each fuzz worker
// would pay again before its first input. The sigstore-style seeds are
// signed with in-memory keys at start-up.
const (
	openpgpPubFile = "testdata/openpgp.pub"
	openpgpLicFile = "testdata/openpgp.lic"
)

// TestOpenPGPTestdata keeps the OpenPGP seed true: it is a licence for
// fullLicense signed by the key beside it. go test -run OpenPGPTestdata
// -update rewrites both after a change of the format.
func TestOpenPGPTestdata(t *testing.T) {
	if *updateTestdata {
		priv, pub, err := verify.GenerateKey(verify.KeyOpenPGP, "ferry licence test <test@ferry.invalid>", []byte(testPassphrase))
		if err != nil {
			t.Fatal(err)
		}
		s, err := verify.LoadSigner(priv, []byte(testPassphrase))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(openpgpPubFile, pub, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(openpgpLicFile, issue(t, fullLicense(), s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	key, lic := openpgpTestdata(t)
	l, _, err := Verify(lic, verify.TrustSet{Keys: []*verify.PublicKey{key}})
	if err != nil {
		t.Fatalf("%s: %v (regenerate it with -update)", openpgpLicFile, err)
	}
	if !reflect.DeepEqual(*l, fullLicense()) {
		t.Errorf("%s holds %+v, not fullLicense (regenerate it with -update)", openpgpLicFile, *l)
	}
}

func openpgpTestdata(t testing.TB) (*verify.PublicKey, []byte) {
	t.Helper()
	pub, err := os.ReadFile(openpgpPubFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := verify.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	lic, err := os.ReadFile(openpgpLicFile)
	if err != nil {
		t.Fatal(err)
	}
	return key, lic
}

// fuzzSeeds are real licences, signed by each key type and by two at once,
// and the keys that signed them.
func fuzzSeeds(f *testing.F) (keys []*verify.PublicKey, seeds [][]byte) {
	a, b := ephemeralSigner(f, verify.KeyECDSAP256), ephemeralSigner(f, verify.KeyEd25519)
	pgpKey, pgpLicense := openpgpTestdata(f)
	keys = []*verify.PublicKey{a.Public(), b.Public(), pgpKey}
	minimal := License{ID: "a", Customer: "c", Issued: date("2026-01-01T00:00:00Z"), Expires: date("2026-01-01T00:00:00Z")}
	seeds = [][]byte{issue(f, fullLicense(), a), issue(f, fullLicense(), b), issue(f, fullLicense(), a, b), issue(f, minimal, b), pgpLicense}
	return keys, seeds
}

func FuzzParse(f *testing.F) {
	_, seeds := fuzzSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte("{}\n"))
	f.Add([]byte(`{"payload":"e30=","payloadType":"` + PayloadType + `","signatures":[]}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse failed without ErrMalformed: %v", err)
			}
			return
		}
		// What Parse accepts is exactly what Issue would write.
		again, err := env.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted file does not re-encode to itself (%v)", err)
		}
		body, err := marshalBody(env.License)
		if err != nil || !bytes.Equal(body, env.Payload) {
			t.Fatalf("accepted payload does not re-encode to itself (%v)", err)
		}
		if err := env.License.validate(); err != nil {
			t.Fatalf("accepted licence is invalid: %v", err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	keys, seeds := fuzzSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	trust := verify.TrustSet{Keys: keys}
	want := fullLicense()
	minimal := date("2026-01-01T00:00:00Z")
	f.Fuzz(func(t *testing.T, data []byte) {
		l, ids, err := Verify(data, trust)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrUntrusted) {
				t.Fatalf("Verify failed without a licence sentinel: %v", err)
			}
			return
		}
		// Only the licences the seeds signed can ever be accepted.
		seeded := reflect.DeepEqual(*l, want) || l.ID == "a" && l.Issued.Equal(minimal)
		if !seeded {
			t.Fatalf("accepted a licence nobody signed: %+v", *l)
		}
		if len(ids) == 0 {
			t.Fatal("accepted without a signing key")
		}
		if _, err := Parse(data); err != nil {
			t.Fatalf("Verify accepted what Parse refuses: %v", err)
		}
	})
}
