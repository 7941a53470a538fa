package verify

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"ferry/internal/strictjson"
)

var testIssued = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// keyTexts writes the public keys of signers as ParsePublicKey reads them.
func keyTexts(t testing.TB, signers ...Signer) [][]byte {
	t.Helper()
	var out [][]byte
	for _, s := range signers {
		out = append(out, marshalPublicKey(t, s.Public()))
	}
	return out
}

func trustOf(threshold int, signers ...Signer) TrustSet {
	ts := TrustSet{Threshold: threshold}
	for _, s := range signers {
		ts.Keys = append(ts.Keys, s.Public())
	}
	return ts
}

// rotate signs a statement moving to threshold of next, signed by old.
func rotate(t testing.TB, seq, threshold int, next []Signer, old ...Signer) []byte {
	t.Helper()
	data, err := SignRotation(seq, threshold, keyTexts(t, next...), testIssued, old...)
	if err != nil {
		t.Fatalf("SignRotation %d: %v", seq, err)
	}
	return data
}

func keyIDs(keys []*PublicKey) []string {
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID())
	}
	return ids
}

// walk is WalkRotations from sequence from, with the resulting sequence
// returned apart.
func walk(trust TrustSet, from int, files [][]byte) (TrustSet, int, []*Rotation, error) {
	trust.Sequence = from
	next, applied, err := WalkRotations(trust, files)
	return next, next.Sequence, applied, err
}

func sameSet(a, b TrustSet) bool {
	x, y := keyIDs(a.Keys), keyIDs(b.Keys)
	slices.Sort(x)
	slices.Sort(y)
	return a.Threshold == b.Threshold && slices.Equal(x, y)
}

// chain is a product's key history: trust[0] is the set a host was
// installed with, files[i] moves trust[i] to trust[i+1].
type chain struct {
	signers [][]Signer
	trust   []TrustSet
	files   [][]byte
}

// testChain rotates 1 of 1 (A) -> 1 of 1 (B) -> 2 of 3 (C, D, E) -> 1 of
// 1 (F), with keys made by GenerateKey of every type along the way.
func testChain(t *testing.T) *chain {
	a, b, c := testKey(t, KeyECDSAP256).signer, testKey(t, KeyEd25519).signer, testKey(t, KeyOpenPGP).signer
	d, e, f := newSigner(t, KeyECDSAP256), newSigner(t, KeyEd25519), newSigner(t, KeyOpenPGP)
	ch := &chain{
		signers: [][]Signer{{a}, {b}, {c, d, e}, {f}},
		trust:   []TrustSet{trustOf(1, a), trustOf(1, b), trustOf(2, c, d, e), trustOf(1, f)},
	}
	ch.files = [][]byte{
		rotate(t, 1, 1, []Signer{b}, a),
		rotate(t, 2, 2, []Signer{c, d, e}, b),
		rotate(t, 3, 1, []Signer{f}, d, c), // 2 of the 3, given in any order
	}
	return ch
}

func TestWalkRotations(t *testing.T) {
	ch := testChain(t)
	for _, tc := range []struct {
		name  string
		from  int
		files [][]byte
	}{
		{"from 0", 0, ch.files},
		{"from 1 skips the first", 1, ch.files},
		{"from 1 without the first", 1, ch.files[1:]},
		{"from 2", 2, ch.files},
		{"out of order", 0, [][]byte{ch.files[2], ch.files[0], ch.files[1]}},
		{"out of order from 1", 1, [][]byte{ch.files[2], ch.files[1], ch.files[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trust, seq, applied, err := walk(ch.trust[tc.from], tc.from, tc.files)
			if err != nil {
				t.Fatalf("WalkRotations: %v", err)
			}
			if seq != 3 || !sameSet(trust, ch.trust[3]) {
				t.Errorf("walked to sequence %d, %d of %v; want 3, the last set", seq, trust.Threshold, keyIDs(trust.Keys))
			}
			if len(applied) != 3-tc.from {
				t.Fatalf("applied %d statements, want %d", len(applied), 3-tc.from)
			}
			for i, r := range applied {
				if r.Sequence != tc.from+1+i {
					t.Errorf("applied[%d] is statement %d", i, r.Sequence)
				}
				if !bytes.Equal(r.File, ch.files[r.Sequence-1]) {
					t.Errorf("statement %d: File is not the file walked", r.Sequence)
				}
			}
			// The set walked to accepts what today's key signs.
			env, err := SignEnvelope(testPayloadType, []byte("today"), ch.signers[3]...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := checkEnvelope(env, trust); err != nil {
				t.Errorf("a message signed by today's key: %v", err)
			}
		})
	}
	t.Run("nothing to apply", func(t *testing.T) {
		for _, from := range []int{3, 7} {
			for _, files := range [][][]byte{nil, ch.files} {
				trust, seq, applied, err := walk(ch.trust[3], from, files)
				if err != nil || seq != from || applied != nil || !sameSet(trust, ch.trust[3]) {
					t.Errorf("from %d with %d files: %d %v %v, want the trust given back", from, len(files), seq, applied, err)
				}
			}
		}
	})
}

func TestRotationRoundTrip(t *testing.T) {
	a := testKey(t, KeyEd25519).signer
	next := []Signer{testKey(t, KeyOpenPGP).signer, newSigner(t, KeyECDSAP256), newSigner(t, KeyEd25519)}
	texts := [][]byte{testKey(t, KeyOpenPGP).pub, marshalPublicKey(t, next[1].Public()), marshalPublicKey(t, next[2].Public())}
	issued := time.Date(2026, 3, 1, 13, 0, 0, 987654321, time.FixedZone("CET", 3600))
	data, err := SignRotation(4, 2, texts, issued, a)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseRotation(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sequence != 4 || r.Threshold != 2 || !r.Issued.Equal(testIssued) || r.Issued.Location() != time.UTC || !bytes.Equal(r.File, data) {
		t.Errorf("parsed %d, %d, %v, want 4, 2, %v in UTC", r.Sequence, r.Threshold, r.Issued, testIssued)
	}
	if len(r.Keys) != 3 || len(r.KeyData) != 3 {
		t.Fatalf("%d keys and %d key texts, want 3", len(r.Keys), len(r.KeyData))
	}
	for i, k := range r.Keys {
		if i > 0 && r.Keys[i-1].ID() >= k.ID() {
			t.Errorf("keys not sorted by id: %v", keyIDs(r.Keys))
		}
		parsed, err := ParsePublicKey(r.KeyData[i])
		if err != nil || parsed.ID() != k.ID() {
			t.Errorf("KeyData[%d] is not Keys[%d] (%v)", i, i, err)
		}
		if !slices.ContainsFunc(texts, func(b []byte) bool { return bytes.Equal(b, r.KeyData[i]) }) {
			t.Errorf("KeyData[%d] is not a key text as given", i)
		}
	}
	env, err := ParseEnvelope(data, RotationPayloadType, MaxRotationSize)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(env.Payload, []byte(`{"issued":"2026-03-01T12:00:00Z","keys":["`)) || !bytes.HasSuffix(env.Payload, []byte(`"],"sequence":4,"threshold":2}`)) {
		t.Errorf("payload %s", env.Payload)
	}
	// A statement is not a licence, nor any other envelope.
	if _, err := ParseEnvelope(data, testPayloadType, MaxRotationSize); !errors.Is(err, ErrMalformedEnvelope) {
		t.Errorf("a statement parsed as another payload type: %v", err)
	}
}

func TestWalkRotationsRefuses(t *testing.T) {
	ch := testChain(t)
	a, b := ch.signers[0][0], ch.signers[1][0]
	c, e := ch.signers[2][0], ch.signers[2][2]
	outsider := newSigner(t, KeyEd25519)
	other1 := rotate(t, 1, 1, []Signer{outsider}, a) // a second statement 1, validly signed
	// Statement 3 signed by one key where the set before it needs 2 of 3.
	belowThreshold := rotate(t, 3, 1, []Signer{outsider}, e)
	// A statement signed by the old key's type named wrongly: ECDSA and
	// Ed25519 signatures cannot be told apart by their bytes, an
	// envelope's type field can.
	mislabelled := func() []byte {
		env, err := ParseEnvelope(ch.files[0], RotationPayloadType, MaxRotationSize)
		if err != nil {
			t.Fatal(err)
		}
		env.Signatures[0].Type = KeyEd25519
		data, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}()
	for _, tc := range []struct {
		name  string
		trust TrustSet
		from  int
		files [][]byte
		want  error
		msg   string
	}{
		{"gap", ch.trust[0], 0, [][]byte{ch.files[0], ch.files[2]}, nil, "statement 3 (file 2) follows sequence 1: statement 2 is missing"},
		{"first missing", ch.trust[0], 0, ch.files[1:], nil, "statement 2 (file 1) follows sequence 0: statement 1 is missing"},
		{"missing after from", ch.trust[1], 1, [][]byte{ch.files[0], ch.files[2]}, nil, "statement 2 is missing"},
		{"same file twice", ch.trust[0], 0, [][]byte{ch.files[0], ch.files[1], ch.files[0]}, nil, "statement 1 (file 3) repeats the one in file 1"},
		{"two statements 1", ch.trust[0], 0, [][]byte{ch.files[0], other1, ch.files[1]}, nil, "statement 1 (file 2) repeats the one in file 1"},
		{"below the old threshold", ch.trust[0], 0, [][]byte{ch.files[0], ch.files[1], belowThreshold}, ErrBelowThreshold, "statement 3 (file 3) is not signed by the trust set before it"},
		{"signed by an untrusted key", ch.trust[0], 0, [][]byte{rotate(t, 1, 1, []Signer{outsider}, outsider)}, ErrUntrustedKey, "statement 1 (file 1)"},
		{"signed by the new set only", ch.trust[1], 1, [][]byte{rotate(t, 2, 1, []Signer{c}, c)}, ErrUntrustedKey, "statement 2"},
		{"signed by a key two sets back", ch.trust[2], 2, [][]byte{rotate(t, 3, 1, []Signer{outsider}, a, b)}, ErrUntrustedKey, "statement 3"},
		{"signature type mislabelled", ch.trust[0], 0, [][]byte{mislabelled}, ErrBadSignature, "says it is ed25519"},
		{"invalid trust", TrustSet{}, 0, ch.files, ErrInvalidTrustSet, "statement 1"},
		{"malformed file, even one to skip", ch.trust[3], 3, [][]byte{ch.files[0], []byte("{}\n")}, ErrMalformedEnvelope, "statement file 2"},
		{"negative from", ch.trust[0], -1, ch.files, nil, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trust, seq, applied, err := walk(tc.trust, tc.from, tc.files)
			if !errors.Is(err, ErrRotation) || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("WalkRotations: %v, want ErrRotation (and %v) with %q", err, tc.want, tc.msg)
			}
			if seq != tc.from || applied != nil || !sameSet(trust, tc.trust) {
				t.Errorf("a refused walk returned sequence %d and %d statements, not what it was given", seq, len(applied))
			}
		})
	}
}

// TestWalkRotationsBound walks MaxRotations statements, and refuses one
// more.
func TestWalkRotationsBound(t *testing.T) {
	signers := []Signer{newSigner(t, KeyEd25519)}
	var files [][]byte
	for seq := 1; seq <= MaxRotations+1; seq++ {
		signers = append(signers, newSigner(t, KeyEd25519))
		files = append(files, rotate(t, seq, 1, signers[seq:seq+1], signers[seq-1]))
	}
	trust, seq, applied, err := walk(trustOf(1, signers[0]), 0, files[:MaxRotations])
	if err != nil || seq != MaxRotations || len(applied) != MaxRotations || !sameSet(trust, trustOf(1, signers[MaxRotations])) {
		t.Fatalf("%d statements: sequence %d, %d applied, %v", MaxRotations, seq, len(applied), err)
	}
	_, _, _, err = walk(trustOf(1, signers[0]), 0, files)
	if !errors.Is(err, ErrRotation) || !strings.Contains(err.Error(), "at most 64") {
		t.Errorf("%d statements: %v, want ErrRotation, at most %d", MaxRotations+1, err, MaxRotations)
	}
	// From 1, the same files are MaxRotations to apply.
	if _, seq, _, err := walk(trustOf(1, signers[1]), 1, files); err != nil || seq != MaxRotations+1 {
		t.Errorf("%d statements from 1: sequence %d, %v", MaxRotations+1, seq, err)
	}
}

// TestRotationTamper changes every byte of two statements of the chain
// (one holding an OpenPGP key, signed by Ed25519; one signed by two keys
// of a 2 of 3 set), and cuts them at every length: none may be applied.
func TestRotationTamper(t *testing.T) {
	ch := testChain(t)
	for _, seq := range []int{2, 3} {
		orig := ch.files[seq-1]
		from, trust := seq-1, ch.trust[seq-1]
		if _, _, _, err := walk(trust, from, [][]byte{orig}); err != nil {
			t.Fatalf("the untouched statement %d: %v", seq, err)
		}
		check := func(what string, data []byte) {
			t.Helper()
			got, at, applied, err := walk(trust, from, [][]byte{data})
			switch {
			case err != nil && !errors.Is(err, ErrRotation):
				t.Fatalf("statement %d, %s: %v, want ErrRotation", seq, what, err)
			case err == nil && (len(applied) > 0 || at != from || !sameSet(got, trust)):
				t.Fatalf("statement %d, %s: applied", seq, what)
			case err == nil:
				// A payload changed to an earlier sequence parses and
				// is skipped unverified; it changes nothing.
				t.Logf("statement %d, %s: skipped", seq, what)
			}
		}
		data := make([]byte, len(orig))
		for i := range orig {
			for _, mask := range []byte{0x01, 0x20, 0x80} {
				copy(data, orig)
				data[i] ^= mask
				check("byte "+strconv.Itoa(i)+" xor "+strconv.Itoa(int(mask)), data)
			}
			check("cut at "+strconv.Itoa(i), orig[:i])
			check("byte "+strconv.Itoa(i)+" removed", append(append([]byte(nil), orig[:i]...), orig[i+1:]...))
		}
	}
}

// signedPayload signs any rotation payload, so that tests reach
// ParseRotation's payload checks past the envelope's.
func signedPayload(t testing.TB, payload []byte, s Signer) []byte {
	t.Helper()
	data, err := SignEnvelope(RotationPayloadType, payload, s)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseRotationMalformed(t *testing.T) {
	s := newSigner(t, KeyEd25519)
	var keys []Signer
	for range MaxRotationKeys + 1 {
		keys = append(keys, newSigner(t, KeyEd25519))
	}
	slices.SortFunc(keys, func(a, b Signer) int { return strings.Compare(a.Public().ID(), b.Public().ID()) })
	texts := keyTexts(t, keys...)
	payload := func(issued string, keys [][]byte, seq, threshold int) string {
		raw := rotationJSON{Issued: issued, Keys: []string{}, Sequence: seq, Threshold: threshold}
		for _, k := range keys {
			raw.Keys = append(raw.Keys, string(k))
		}
		b, err := strictjson.MarshalCanonical(raw)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	good := payload("2026-03-01T12:00:00Z", texts[:2], 1, 1)
	if r, err := ParseRotation(signedPayload(t, []byte(good), s)); err != nil {
		t.Fatalf("the untouched payload: %v", err)
	} else if r.Sequence != 1 || r.Threshold != 1 || len(r.Keys) != 2 {
		t.Fatalf("the untouched payload: sequence %d, threshold %d, %d keys; want 1, 1, 2", r.Sequence, r.Threshold, len(r.Keys))
	}
	replace := func(old, repl string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("%q is not in %s", old, good)
		}
		return strings.Replace(good, old, repl, 1)
	}
	for _, tc := range []struct {
		name, payload, want string
	}{
		{"threshold 0", payload("2026-03-01T12:00:00Z", texts[:2], 1, 0), "threshold 0: want 1 to the 2 keys"},
		{"threshold above the keys", payload("2026-03-01T12:00:00Z", texts[:2], 1, 3), "threshold 3: want 1 to the 2 keys"},
		{"negative threshold", payload("2026-03-01T12:00:00Z", texts[:2], 1, -1), "threshold -1"},
		{"duplicate keys", payload("2026-03-01T12:00:00Z", [][]byte{texts[0], texts[0]}, 1, 1), "appears twice"},
		{"same key in two forms", payload("2026-03-01T12:00:00Z", [][]byte{texts[0], append([]byte("\n"), texts[0]...)}, 1, 1), "appears twice"},
		{"keys unsorted", payload("2026-03-01T12:00:00Z", [][]byte{texts[1], texts[0]}, 1, 1), "sorted by key id"},
		{"no keys", payload("2026-03-01T12:00:00Z", nil, 1, 1), "0 keys, want 1 to 16"},
		{"17 keys", payload("2026-03-01T12:00:00Z", texts, 1, 1), "17 keys, want 1 to 16"},
		{"not a key", payload("2026-03-01T12:00:00Z", [][]byte{[]byte("ssh-ed25519 AAAA")}, 1, 1), "key 1: public key"},
		{"sequence 0", payload("2026-03-01T12:00:00Z", texts[:2], 0, 1), "sequence 0"},
		{"negative sequence", payload("2026-03-01T12:00:00Z", texts[:2], -3, 1), "sequence -3"},
		{"sequence as a string", replace(`"sequence":1`, `"sequence":"1"`), "sequence: a JSON string"},
		{"sequence fractional", replace(`"sequence":1`, `"sequence":1.0`), "sequence"},
		{"sequence with exponent", replace(`"sequence":1`, `"sequence":1e0`), "sequence"},
		{"sequence too large", replace(`"sequence":1`, `"sequence":1e99`), "sequence"},
		{"keys null", `{"issued":"2026-03-01T12:00:00Z","keys":null,"sequence":1,"threshold":1}`, "keys: null"},
		{"issued with an offset", replace(`2026-03-01T12:00:00Z`, `2026-03-01T13:00:00+01:00`), "want RFC 3339 in UTC"},
		{"issued with a fraction", replace(`2026-03-01T12:00:00Z`, `2026-03-01T12:00:00.5Z`), "want RFC 3339 in UTC"},
		{"issued as a date", replace(`2026-03-01T12:00:00Z`, `2026-03-01`), "want RFC 3339 in UTC"},
		{"issued zero", replace(`2026-03-01T12:00:00Z`, `0001-01-01T00:00:00Z`), "issued: missing"},
		{"unknown member", replace(`{"issued"`, `{"expires":"2027-01-01T00:00:00Z","issued"`), `unknown member "expires"`},
		{"member in another case", replace(`"threshold"`, `"Threshold"`), `unknown member "Threshold"`},
		{"duplicate member", replace(`{"issued"`, `{"threshold":1,"issued"`), `"threshold" appears twice`},
		{"missing member", replace(`,"threshold":1`, ``), `"threshold" is missing`},
		{"trailing data", good + "{}", "trailing data"},
		{"trailing newline", good + "\n", "canonical form"},
		{"spacing", replace(`,"sequence"`, `, "sequence"`), "canonical form"},
		{"members reordered", replace(`"sequence":1,"threshold":1`, `"threshold":1,"sequence":1`), "canonical form"},
		{"escaped slash", replace(`PUBLIC KEY`, `PUBLIC\/KEY`), "key 1"},
		{"escaped letter", replace(`-----BEGIN PUBLIC KEY`, `-----BEGIN PUBLIC KE\u0059`), "canonical form"},
		{"not JSON", `{"issued":`, "not JSON"},
		{"an array", `[]`, "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRotation(signedPayload(t, []byte(tc.payload), s))
			if !errors.Is(err, ErrRotation) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseRotation: %v, want ErrRotation with %q", err, tc.want)
			}
		})
	}
	// The envelope is checked first, and the payload type with it.
	license, err := SignEnvelope("application/vnd.ferry.license.v1+json", []byte(good), s)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"another payload type": license,
		"oversized":            append(bytes.Repeat([]byte(" "), MaxRotationSize), signedPayload(t, []byte(good), s)...),
		"empty":                nil,
	} {
		if _, err := ParseRotation(data); !errors.Is(err, ErrRotation) || !errors.Is(err, ErrMalformedEnvelope) {
			t.Errorf("%s: %v, want ErrRotation and ErrMalformedEnvelope", name, err)
		}
	}
}

func TestSignRotationRefuses(t *testing.T) {
	s := newSigner(t, KeyEd25519)
	var keys []Signer
	for range MaxRotationKeys + 1 {
		keys = append(keys, newSigner(t, KeyECDSAP256))
	}
	texts := keyTexts(t, keys...)
	binary := func() []byte {
		pub := testKey(t, KeyOpenPGP).pub
		k, err := ParsePublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := k.openpgp.entity.Serialize(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}()
	if k, err := ParsePublicKey(binary); err != nil {
		t.Fatalf("the binary key: %v", err)
	} else if armored, _ := ParsePublicKey(testKey(t, KeyOpenPGP).pub); k.ID() != armored.ID() || k.Type() != KeyOpenPGP {
		t.Fatalf("the binary key parsed as %s %s, the armored one as %s", k.Type(), k.ID(), armored.ID())
	}
	for _, tc := range []struct {
		name     string
		seq, thr int
		keys     [][]byte
		signers  []Signer
		want     string
	}{
		{"sequence 0", 0, 1, texts[:1], []Signer{s}, "sequence 0"},
		{"threshold 0", 1, 0, texts[:1], []Signer{s}, "threshold 0"},
		{"threshold above the keys", 1, 3, texts[:2], []Signer{s}, "threshold 3"},
		{"no keys", 1, 1, nil, []Signer{s}, "0 keys"},
		{"17 keys", 1, 1, texts, []Signer{s}, "17 keys"},
		{"same key twice", 1, 1, [][]byte{texts[0], texts[1], texts[0]}, []Signer{s}, "given twice"},
		{"not a key", 1, 1, [][]byte{[]byte("hello")}, []Signer{s}, "key 1: public key"},
		{"binary key", 1, 1, [][]byte{binary}, []Signer{s}, "key 1: not text"},
		{"no signer", 1, 1, texts[:1], nil, "no signing key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SignRotation(tc.seq, tc.thr, tc.keys, testIssued, tc.signers...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("SignRotation: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Sixteen keys, every one of them needed, is a statement.
	if _, err := SignRotation(1, MaxRotationKeys, texts[:MaxRotationKeys], time.Time{}, s); err != nil {
		t.Errorf("%d of %d keys: %v", MaxRotationKeys, MaxRotationKeys, err)
	}
}
