// Package strictjson reads and writes the canonical JSON of ferry's signed
// files (licences, rotation statements): objects with exactly the members
// expected, nothing duplicated or unknown, and one byte form.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// DecodeObject reads data as one JSON object whose member names are
// exactly fields: each present once, spelled exactly (encoding/json alone
// would match names case-insensitively, take the last of duplicates and
// ignore missing ones), and nothing but white space after it. It returns
// the members' raw values.
func DecodeObject(data []byte, fields []string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	} else if tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	members := make(map[string]json.RawMessage, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("not JSON: a member name is %v", tok)
		}
		if !slices.Contains(fields, name) {
			return nil, fmt.Errorf("unknown member %.40q (want %v)", name, fields)
		}
		if _, dup := members[name]; dup {
			return nil, fmt.Errorf("member %q appears twice", name)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("member %q: not JSON: %w", name, err)
		}
		members[name] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("%d bytes of trailing data after the JSON object", len(rest))
	}
	for _, f := range fields {
		if _, ok := members[f]; !ok {
			return nil, fmt.Errorf("member %q is missing", f)
		}
	}
	return members, nil
}

// DecodeValue decodes one member's value into dst, refusing null, which
// encoding/json would take as "leave dst alone".
func DecodeValue(raw json.RawMessage, dst any) error {
	if bytes.Equal(raw, []byte("null")) {
		return errors.New("null: want a value")
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return fmt.Errorf("a JSON %s where %s is wanted", typeErr.Value, typeErr.Type)
		}
		return err
	}
	return nil
}

// MarshalCanonical writes v as compact JSON without HTML escaping and
// without a trailing newline: the one form ferry writes, which parsers
// require byte for byte. It refuses a string that is not valid UTF-8:
// encoding/json would write each bad byte as the escape \ufffd, which
// decodes to U+FFFD and re-encodes as that character itself, so the
// bytes written could never be read back as canonical.
func MarshalCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if hasReplacementEscape(b) {
		return nil, errors.New("a string is not valid UTF-8")
	}
	return b, nil
}

// hasReplacementEscape reports whether the JSON b holds the escape
// \ufffd, which encoding/json writes only in place of a byte that is not
// valid UTF-8 (it writes a valid U+FFFD as is). Backslashes appear only
// in strings, each starting a two-byte escape or a \uXXXX one, so
// stepping over escapes pair by pair finds exactly the real ones.
func hasReplacementEscape(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if bytes.HasPrefix(b[i+1:], []byte("ufffd")) {
			return true
		}
		i++
	}
	return false
}
