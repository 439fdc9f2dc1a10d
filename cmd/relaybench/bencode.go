package main

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// Bencode (the BitTorrent encoding, BEP 3) is the body of rtpengine's ng
// control protocol. Its values here are string, int64, []any and
// map[string]any; encode also takes []byte, int, []string and
// map[string]string.

// errBencode is what every malformed input is wrapped in.
var errBencode = errors.New("bencode")

// maxDepth bounds the nesting decode accepts, so that a hostile reply
// cannot exhaust the stack.
const maxDepth = 32

// encode appends the bencoding of v to dst.
func encode(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return append(append(strconv.AppendInt(dst, int64(len(v)), 10), ':'), v...), nil
	case []byte:
		return append(append(strconv.AppendInt(dst, int64(len(v)), 10), ':'), v...), nil
	case int:
		return append(strconv.AppendInt(append(dst, 'i'), int64(v), 10), 'e'), nil
	case int64:
		return append(strconv.AppendInt(append(dst, 'i'), v, 10), 'e'), nil
	case []string:
		dst = append(dst, 'l')
		for _, s := range v {
			dst, _ = encode(dst, s)
		}
		return append(dst, 'e'), nil
	case []any:
		dst = append(dst, 'l')
		for _, e := range v {
			var err error
			if dst, err = encode(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, 'e'), nil
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, s := range v {
			m[k] = s
		}
		return encode(dst, m)
	case map[string]any:
		// Keys in raw byte order (BEP 3).
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, 'd')
		for _, k := range keys {
			dst, _ = encode(dst, k)
			var err error
			if dst, err = encode(dst, v[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, 'e'), nil
	default:
		return nil, fmt.Errorf("%w: cannot encode %T", errBencode, v)
	}
}

// decode reads one value that must fill all of b.
func decode(b []byte) (any, error) {
	v, rest, err := decodeValue(b, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the value", errBencode, len(rest))
	}
	return v, nil
}

func decodeValue(b []byte, depth int) (any, []byte, error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: unexpected end", errBencode)
	}
	if depth > maxDepth {
		return nil, nil, fmt.Errorf("%w: nested deeper than %d", errBencode, maxDepth)
	}
	switch c := b[0]; {
	case c == 'i':
		end := bytes.IndexByte(b, 'e')
		if end < 0 {
			return nil, nil, fmt.Errorf("%w: unterminated integer", errBencode)
		}
		digits := string(b[1:end])
		// BEP 3: no leading zeros, no "-0", no empty integer.
		if digits == "" || digits == "-0" || (len(digits) > 1 && digits[0] == '0') || (len(digits) > 2 && digits[:2] == "-0") {
			return nil, nil, fmt.Errorf("%w: bad integer %q", errBencode, digits)
		}
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: bad integer %q", errBencode, digits)
		}
		return n, b[end+1:], nil
	case c >= '0' && c <= '9':
		colon := bytes.IndexByte(b, ':')
		if colon < 0 || colon > 10 {
			return nil, nil, fmt.Errorf("%w: bad string length", errBencode)
		}
		n, err := strconv.Atoi(string(b[:colon]))
		if err != nil || (colon > 1 && b[0] == '0') {
			return nil, nil, fmt.Errorf("%w: bad string length %q", errBencode, b[:colon])
		}
		if n > len(b)-colon-1 {
			return nil, nil, fmt.Errorf("%w: string of %d bytes, %d left", errBencode, n, len(b)-colon-1)
		}
		return string(b[colon+1 : colon+1+n]), b[colon+1+n:], nil
	case c == 'l':
		list := []any{}
		rest := b[1:]
		for {
			if len(rest) == 0 {
				return nil, nil, fmt.Errorf("%w: unterminated list", errBencode)
			}
			if rest[0] == 'e' {
				return list, rest[1:], nil
			}
			var v any
			var err error
			if v, rest, err = decodeValue(rest, depth+1); err != nil {
				return nil, nil, err
			}
			list = append(list, v)
		}
	case c == 'd':
		dict := map[string]any{}
		rest := b[1:]
		for {
			if len(rest) == 0 {
				return nil, nil, fmt.Errorf("%w: unterminated dictionary", errBencode)
			}
			if rest[0] == 'e' {
				return dict, rest[1:], nil
			}
			k, r, err := decodeValue(rest, depth+1)
			if err != nil {
				return nil, nil, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, nil, fmt.Errorf("%w: dictionary key is a %T", errBencode, k)
			}
			v, r, err := decodeValue(r, depth+1)
			if err != nil {
				return nil, nil, err
			}
			dict[key], rest = v, r
		}
	default:
		return nil, nil, fmt.Errorf("%w: unexpected byte %q", errBencode, c)
	}
}
