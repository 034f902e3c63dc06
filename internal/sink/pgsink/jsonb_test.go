package pgsink

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestJSONBSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":"plain"}`, `{"a":"plain"}`},
		{`{"a":"x\u0000y"}`, `{"a":"x` + "\uFFFD" + `y"}`},
		{`{"k\u0000":[1,"\u0000",{"n":12345678901234567890}]}`, `{"k` + "\uFFFD" + `":[1,"` + "\uFFFD" + `",{"n":12345678901234567890}]}`},
		{`"\\u0000"`, `"\\u0000"`}, // an escaped backslash, not a NUL: kept as is
	} {
		if got := string(jsonbSafe([]byte(tc.in))); got != tc.want {
			t.Errorf("jsonbSafe(%s) = %s; want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzJSONBSafe: whatever valid JSON comes in, what goes out is valid JSON
// holding no NUL character.
func FuzzJSONBSafe(f *testing.F) {
	for _, seed := range []string{`{"a":"x\u0000y"}`, `[1,2,"\u0000"]`, `"\\u0000"`, `{"\u0000":null}`, `1e400`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		out := jsonbSafe(in)
		if !json.Valid(out) {
			t.Fatalf("jsonbSafe(%q) = %q: not JSON", in, out)
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if hasNUL(v) {
			t.Fatalf("jsonbSafe(%q) = %q: still holds a NUL", in, out)
		}
	})
}

func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.ContainsRune(x, 0)
	case []any:
		return slices.ContainsFunc(x, hasNUL)
	case map[string]any:
		for k, val := range x {
			if strings.ContainsRune(k, 0) || hasNUL(val) {
				return true
			}
		}
	}
	return false
}
