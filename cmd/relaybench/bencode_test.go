package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestBencodeRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    any
		want string
	}{
		{"string", "offer", "5:offer"},
		{"empty string", "", "0:"},
		{"binary string", "a\x00b:e", "5:a\x00b:e"},
		{"zero", int64(0), "i0e"},
		{"negative", int64(-42), "i-42e"},
		{"large", int64(1) << 62, "i4611686018427387904e"},
		{"list", []any{"a", int64(1), []any{}}, "l1:ai1elee"},
		{"empty dict", map[string]any{}, "de"},
		{"dict sorted by key", map[string]any{"sdp": "v=0", "call-id": "x", "command": "offer", "ICE": "remove"},
			"d3:ICE6:remove7:call-id1:x7:command5:offer3:sdp3:v=0e"},
		{"nested", map[string]any{"codec": map[string]any{"mask": []any{"opus"}, "transcode": []any{"PCMU"}}},
			"d5:codecd4:maskl4:opuse9:transcodel4:PCMUeee"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encode(nil, tt.v)
			if err != nil {
				t.Fatalf("encode(%v): %v", tt.v, err)
			}
			if string(b) != tt.want {
				t.Errorf("encode(%v) = %q, want %q", tt.v, b, tt.want)
			}
			got, err := decode(b)
			if err != nil {
				t.Fatalf("decode(%q): %v", b, err)
			}
			if !reflect.DeepEqual(got, tt.v) {
				t.Errorf("decode(%q) = %#v, want %#v", b, got, tt.v)
			}
		})
	}
}

// encode also takes the Go types a request is most easily written in.
func TestBencodeEncodeConvenienceTypes(t *testing.T) {
	b, err := encode(nil, map[string]any{"replace": []string{"origin", "session-connection"}, "n": 3, "raw": []byte("x"), "m": map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "d1:md1:k1:ve1:ni3e3:raw1:x7:replacel6:origin18:session-connectionee"; string(b) != want {
		t.Errorf("encode = %q, want %q", b, want)
	}
	if _, err := encode(nil, 1.5); !errors.Is(err, errBencode) {
		t.Errorf("encode(1.5) = %v, want errBencode", err)
	}
	if _, err := encode(nil, map[string]any{"a": []any{struct{}{}}}); !errors.Is(err, errBencode) {
		t.Errorf("encode(struct in a list) = %v, want errBencode", err)
	}
}

// What a hostile or broken peer sends is refused with an error, never a
// panic or a huge allocation.
func TestBencodeDecodeRefuses(t *testing.T) {
	for _, in := range []string{
		"", "x", "i", "ie", "i01e", "i-0e", "i-01e", "i1x2e", "i99999999999999999999e", "i12",
		"5:abc", "01:a", "-1:a", "99999999999:a", "1a:b", ":",
		"l", "l1:a", "d", "d1:a", "d1:ai1e", "di1ei2ee", "dl1:ae1:be",
		"1:ab", "i1ei2e", "de1:x",
		strings.Repeat("l", maxDepth+2) + strings.Repeat("e", maxDepth+2),
	} {
		if v, err := decode([]byte(in)); !errors.Is(err, errBencode) {
			t.Errorf("decode(%q) = %#v, %v; want errBencode", in, v, err)
		}
	}
	// Nesting up to the limit is fine.
	deep := strings.Repeat("l", maxDepth) + strings.Repeat("e", maxDepth)
	if _, err := decode([]byte(deep)); err != nil {
		t.Errorf("decode(%d nested lists): %v", maxDepth, err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"d6:result2:ok3:sdp3:v=0e", "d6:result5:error12:error-reason3:bade", "l1:ai-3ee", "i0e", "0:", "d1:ad1:bl1:ceee",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decode(b)
		if err != nil {
			return
		}
		again, err := encode(nil, v)
		if err != nil {
			t.Fatalf("encode(decode(%q)): %v", b, err)
		}
		w, err := decode(again)
		if err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("decode(encode(decode(%q))) = %#v, %v; want %#v", b, w, err, v)
		}
	})
}
