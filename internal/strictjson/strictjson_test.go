package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// record has the kinds of member ferry's signed files hold: strings, a
// number, a list of strings and a list of objects, like a licence body or
// a signature envelope.
type record struct {
	ID    string   `json:"id"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
	Sigs  []sig    `json:"sigs"`
}

type sig struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

var recordFields = []string{"id", "count", "tags", "sigs"}

// decodeRecord reads data the way ferry's parsers of signed files do: the
// members strictly, then each value.
func decodeRecord(data []byte) (record, error) {
	var r record
	members, err := DecodeObject(data, recordFields)
	if err != nil {
		return r, err
	}
	for _, m := range []struct {
		name string
		dst  any
	}{{"id", &r.ID}, {"count", &r.Count}, {"tags", &r.Tags}, {"sigs", &r.Sigs}} {
		if err := DecodeValue(members[m.name], m.dst); err != nil {
			return r, fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return r, nil
}

// parseCanonical is decodeRecord plus the check every signed-file parser
// ends with: the bytes must be exactly what MarshalCanonical writes.
func parseCanonical(data []byte) (record, error) {
	r, err := decodeRecord(data)
	if err != nil {
		return r, err
	}
	canonical, err := MarshalCanonical(r)
	if err != nil {
		return r, err
	}
	if !bytes.Equal(canonical, data) {
		return r, fmt.Errorf("not in canonical form: want %s", canonical)
	}
	return r, nil
}

const canonicalRecord = `{"id":"a<b>&c","count":3,"tags":["x","y"],"sigs":[{"keyid":"k1","sig":"s1"}]}`

func TestDecodeObject(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		fields     []string
		want       string // a substring of the error; "" for success
	}{
		{"exact", `{"a":1,"b":"x"}`, []string{"a", "b"}, ""},
		{"any order", `{"b":"x","a":1}`, []string{"a", "b"}, ""},
		{"white space around", " \n{ \"a\" : 1 }\r\n\t", []string{"a"}, ""},
		{"no fields", `{}`, nil, ""},
		{"missing member", `{"a":1}`, []string{"a", "b"}, `member "b" is missing`},
		{"unknown member", `{"a":1,"c":2}`, []string{"a"}, `unknown member "c"`},
		{"other case", `{"A":1}`, []string{"a"}, `unknown member "A"`},
		{"duplicate", `{"a":1,"a":2}`, []string{"a"}, `member "a" appears twice`},
		{"array", `[1]`, []string{"a"}, "not a JSON object"},
		{"string", `"a"`, []string{"a"}, "not a JSON object"},
		{"empty", ``, []string{"a"}, "not JSON"},
		{"unterminated", `{"a":1`, []string{"a"}, "not JSON"},
		{"trailing comma", `{"a":1,}`, []string{"a"}, "not JSON"},
		{"bad value", `{"a":tru}`, []string{"a"}, `member "a": not JSON`},
		{"trailing object", `{"a":1}{}`, []string{"a"}, "2 bytes of trailing data"},
		{"trailing garbage", `{"a":1} x`, []string{"a"}, "1 bytes of trailing data"},
		{"non-string name", `{1:2}`, []string{"a"}, "not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			members, err := DecodeObject([]byte(tc.data), tc.fields)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("DecodeObject(%s) = %v, want success", tc.data, err)
				}
				if len(members) != len(tc.fields) {
					t.Errorf("DecodeObject(%s) = %d members, want %d", tc.data, len(members), len(tc.fields))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeObject(%s) = %v, want an error with %q", tc.data, err, tc.want)
			}
		})
	}
}

func TestDecodeObjectRawValues(t *testing.T) {
	members, err := DecodeObject([]byte(`{"a": [1, 2], "b":"x"}`), []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(members["a"]); got != `[1, 2]` {
		t.Errorf("a = %s, want [1, 2]", got)
	}
	if got := string(members["b"]); got != `"x"` {
		t.Errorf(`b = %s, want "x"`, got)
	}
}

func TestDecodeValue(t *testing.T) {
	var s string
	if err := DecodeValue(json.RawMessage(`"x"`), &s); err != nil || s != "x" {
		t.Errorf(`DecodeValue("x") = %q, %v; want "x", nil`, s, err)
	}
	s = "kept"
	if err := DecodeValue(json.RawMessage(`null`), &s); err == nil || !strings.Contains(err.Error(), "null") {
		t.Errorf("DecodeValue(null) = %v, want a null error", err)
	}
	var n int
	err := DecodeValue(json.RawMessage(`"3"`), &n)
	if err == nil || err.Error() != "a JSON string where int is wanted" {
		t.Errorf(`DecodeValue("3", int) = %v, want "a JSON string where int is wanted"`, err)
	}
	if err := DecodeValue(json.RawMessage(`1.5`), &n); err == nil {
		t.Error("DecodeValue(1.5, int) succeeded")
	}
	if err := DecodeValue(json.RawMessage(`{`), &n); err == nil {
		t.Error("DecodeValue({, int) succeeded")
	}
}

func TestMarshalCanonical(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"compact, field order, no HTML escapes, no newline", record{ID: "a<b>&c", Count: 3, Tags: []string{"x", "y"}, Sigs: []sig{{"k1", "s1"}}}, canonicalRecord},
		{"nil slices are null", record{}, `{"id":"","count":0,"tags":null,"sigs":null}`},
		{"map keys sorted", map[string]int{"b": 2, "a": 1}, `{"a":1,"b":2}`},
		{"non-ASCII as is", "é€", `"é€"`},
		{"control characters escaped", "a\n\x01", `"a\n\u0001"`},
		{"line separators escaped", "\u2028\u2029", `"\u2028\u2029"`},
		{"U+FFFD as is", "\ufffd", "\"\ufffd\""},
		{"backslash before ufffd", `\ufffd`, `"\\ufffd"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MarshalCanonical(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("MarshalCanonical = %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := MarshalCanonical(func() {}); err == nil {
		t.Error("MarshalCanonical(func) succeeded")
	}
}

// TestMarshalCanonicalRefusesInvalidUTF8: encoding/json writes a byte that
// is not UTF-8 as the escape \ufffd, which reads back as U+FFFD and
// re-encodes as that character: bytes that no canonical parser accepts.
// MarshalCanonical refuses to write them (found by FuzzEncode).
func TestMarshalCanonicalRefusesInvalidUTF8(t *testing.T) {
	for _, v := range []any{"\xff", record{Sigs: []sig{{KeyID: "a\x80"}}}, map[string]int{"\xc3": 1}} {
		if b, err := MarshalCanonical(v); err == nil || !strings.Contains(err.Error(), "UTF-8") {
			t.Errorf("MarshalCanonical(%q) = %s, %v; want a UTF-8 error", v, b, err)
		}
	}
}

// TestCanonicalRoundTrip: the canonical bytes parse, and re-encode to
// themselves.
func TestCanonicalRoundTrip(t *testing.T) {
	r, err := parseCanonical([]byte(canonicalRecord))
	if err != nil {
		t.Fatal(err)
	}
	want := record{ID: "a<b>&c", Count: 3, Tags: []string{"x", "y"}, Sigs: []sig{{"k1", "s1"}}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("parsed %+v, want %+v", r, want)
	}
}

// TestNonCanonicalRefused: every other way to write the same record is
// refused, whether DecodeObject refuses it or it decodes and the
// re-encoding differs.
func TestNonCanonicalRefused(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"space after colon", `{"id": "a<b>&c","count":3,"tags":["x","y"],"sigs":[{"keyid":"k1","sig":"s1"}]}`},
		{"leading space", ` ` + canonicalRecord},
		{"trailing newline", canonicalRecord + "\n"},
		{"member order", `{"count":3,"id":"a<b>&c","tags":["x","y"],"sigs":[{"keyid":"k1","sig":"s1"}]}`},
		{"HTML escapes", `{"id":"a\u003cb\u003e\u0026c","count":3,"tags":["x","y"],"sigs":[{"keyid":"k1","sig":"s1"}]}`},
		{"escaped letter", `{"id":"\u0061<b>&c","count":3,"tags":["x","y"],"sigs":[{"keyid":"k1","sig":"s1"}]}`},
		{"escaped slash", `{"id":"a<b>&c\/","count":3,"tags":["x","y"],"sigs":[{"keyid":"k1","sig":"s1"}]}`},
		{"number exponent", `{"id":"a<b>&c","count":3e0,"tags":["x","y"],"sigs":[{"keyid":"k1","sig":"s1"}]}`},
		{"number leading zero", `{"id":"a<b>&c","count":03,"tags":["x","y"],"sigs":[{"keyid":"k1","sig":"s1"}]}`},
		{"nested name in other case", `{"id":"a<b>&c","count":3,"tags":["x","y"],"sigs":[{"KEYID":"k1","sig":"s1"}]}`},
		{"nested duplicate", `{"id":"a<b>&c","count":3,"tags":["x","y"],"sigs":[{"keyid":"k0","keyid":"k1","sig":"s1"}]}`},
		{"nested unknown member", `{"id":"a<b>&c","count":3,"tags":["x","y"],"sigs":[{"keyid":"k1","sig":"s1","x":1}]}`},
		{"nested missing member", `{"id":"a<b>&c","count":3,"tags":["x","y"],"sigs":[{"keyid":"k1"}]}`},
		{"invalid UTF-8", "{\"id\":\"a<b>&c\xff\",\"count\":3,\"tags\":[\"x\",\"y\"],\"sigs\":[{\"keyid\":\"k1\",\"sig\":\"s1\"}]}"},
		{"null list", `{"id":"a<b>&c","count":3,"tags":null,"sigs":[{"keyid":"k1","sig":"s1"}]}`},
		{"null in a list", `{"id":"a<b>&c","count":3,"tags":["x",null],"sigs":[{"keyid":"k1","sig":"s1"}]}`},
		{"duplicate member", `{"id":"a<b>&c","id":"a<b>&c","count":3,"tags":["x","y"],"sigs":[{"keyid":"k1","sig":"s1"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r, err := parseCanonical([]byte(tc.data)); err == nil {
				t.Fatalf("parseCanonical(%s) = %+v, want it refused", tc.data, r)
			}
		})
	}
}

// FuzzDecode: whatever the input, a record DecodeObject and DecodeValue
// accept re-encodes to canonical bytes that parse to the same record and
// re-encode to themselves; an input that differs from those bytes is
// refused as non-canonical.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(canonicalRecord))
	f.Add([]byte(`{"id":"","count":0,"tags":[],"sigs":[]}`))
	f.Add([]byte(`{"id":"\u2028\ud800","count":-1,"tags":["\u00e9"],"sigs":[{"keyid":"a","sig":"b"}]}`))
	f.Add([]byte(`{"sigs":[{"KeyID":"a","sig":"b","sig":"c"}],"tags":[],"count":1e1,"id":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord(data)
		if err != nil {
			return
		}
		canonical, err := MarshalCanonical(r)
		if err != nil {
			t.Fatalf("MarshalCanonical(%+v): %v", r, err)
		}
		again, err := parseCanonical(canonical)
		if err != nil {
			t.Fatalf("canonical bytes %s of input %q refused: %v", canonical, data, err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("canonical bytes %s parse to %+v, want %+v", canonical, again, r)
		}
		_, err = parseCanonical(data)
		if bytes.Equal(data, canonical) != (err == nil) {
			t.Fatalf("input %q, canonical %s: parseCanonical = %v", data, canonical, err)
		}
	})
}

// FuzzEncode: the canonical bytes of any record parse back, and encode to
// themselves again; strings that are not UTF-8 are refused.
func FuzzEncode(f *testing.F) {
	f.Add("a<b>&c", 3, "x", "k1", "s1")
	f.Add("\u2028\xff\x00\"\\", -1, "", "", "\U0010ffff")
	f.Fuzz(func(t *testing.T, id string, count int, tag, keyID, s string) {
		r := record{ID: id, Count: count, Tags: []string{tag}, Sigs: []sig{{keyID, s}}}
		canonical, err := MarshalCanonical(r)
		valid := utf8.ValidString(id) && utf8.ValidString(tag) && utf8.ValidString(keyID) && utf8.ValidString(s)
		if err != nil {
			if valid {
				t.Fatal(err)
			}
			return
		}
		if !valid {
			t.Fatalf("MarshalCanonical wrote %s from strings that are not UTF-8", canonical)
		}
		back, err := parseCanonical(canonical)
		if err != nil {
			t.Fatalf("canonical bytes %s refused: %v", canonical, err)
		}
		again, err := MarshalCanonical(back)
		if err != nil || !bytes.Equal(again, canonical) {
			t.Fatalf("re-encoded %s, %v; want %s", again, err, canonical)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("%+v came back as %+v", r, back)
		}
	})
}
