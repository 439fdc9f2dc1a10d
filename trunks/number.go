package trunks

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"

	"github.com/dialtone/dialtone"
)

// Errors. They wrap the domain errors so the call controller maps them to
// SIP responses (484, 404) without knowing this package.
var (
	ErrInvalidNumber  = fmt.Errorf("%w", dialtone.ErrInvalidNumber)
	ErrUnknownCountry = errors.New("unknown country")
	ErrNoRoute        = fmt.Errorf("%w", dialtone.ErrNoRoute)
	ErrPremium        = fmt.Errorf("premium rate: %w", dialtone.ErrBlocked)
)

// NumberType is what kind of line a number reaches; the list of them is
// dialtone.NumberTypes, and these are its names here.
type NumberType = dialtone.NumberType

const (
	Mobile   = dialtone.Mobile
	Fixed    = dialtone.Fixed
	TollFree = dialtone.TollFree
	Premium  = dialtone.Premium
	Other    = dialtone.Other
)

// ParseNumberType reads a type name as written in configuration
// (dialtone.ParseNumberType).
func ParseNumberType(s string) (NumberType, error) { return dialtone.ParseNumberType(s) }

// Number is a dialed number after normalization.
type Number struct {
	E164    string // "+442079460018"
	Country string // ISO 3166 region of the number, e.g. "GB"
	Type    NumberType
}

// Normalize reads what a user dialed, in the convention of their country
// (national format, the country's international prefix such as 00, 011 or
// 810, or "+"), and returns the number in E.164.
//
// It also accepts:
//   - tel: URIs (RFC 3966): a global number ("tel:+44-20-7946-0018"), or a
//     local one whose phone-context is a global number prefix (§5.1.5,
//     "tel:020-7946-0018;phone-context=+44"); other parameters (ext, isub)
//     are ignored, and a local number with a domain name as context is read
//     in country. Percent-encoding is decoded.
//   - visual separators: spaces (also no-break and other Unicode spaces),
//     '-', '.', '/', parentheses and Unicode dashes.
//   - 00 as the international prefix from any country, when the number does
//     not read as a valid number in the country's own convention: 00 is the
//     prefix ITU-T recommends, and users abroad type it everywhere.
func Normalize(dialed, country string) (Number, error) {
	country = strings.ToUpper(country)
	if len(country) != 2 || phonenumbers.GetCountryCodeForRegion(country) == 0 {
		return Number{}, fmt.Errorf("normalize %q: %w %q", dialed, ErrUnknownCountry, country)
	}
	s, ok := dialString(dialed)
	if !ok {
		return Number{}, fmt.Errorf("normalize %q: %w", dialed, ErrInvalidNumber)
	}
	pn, err := phonenumbers.Parse(s, country)
	valid := err == nil && phonenumbers.IsValidNumber(pn)
	if !valid && strings.HasPrefix(s, "00") {
		if alt, altErr := phonenumbers.Parse("+"+s[2:], country); altErr == nil && phonenumbers.IsValidNumber(alt) {
			pn, err, valid = alt, nil, true
		}
	}
	if err != nil {
		return Number{}, fmt.Errorf("normalize %q: %w: %v", dialed, ErrInvalidNumber, err)
	}
	if !valid {
		return Number{}, fmt.Errorf("normalize %q: %w", dialed, ErrInvalidNumber)
	}
	return Number{
		E164:    phonenumbers.Format(pn, phonenumbers.E164),
		Country: phonenumbers.GetRegionCodeForNumber(pn),
		Type:    numberType(phonenumbers.GetNumberType(pn)),
	}, nil
}

// maxDialed bounds what Normalize reads: E.164 numbers have at most 15
// digits, and a national or 00-prefixed form a few more.
const maxDialed = 32

// dialString reduces dialed to an optional leading '+' and digits: the tel:
// URI unwrapped and visual separators dropped. ok is false when anything
// else is left.
func dialString(dialed string) (s string, ok bool) {
	s = strings.TrimSpace(dialed)
	if strings.IndexByte(s, '%') >= 0 {
		u, err := url.PathUnescape(s)
		if err != nil {
			return "", false
		}
		s = strings.TrimSpace(u)
	}
	if len(s) > 4 && strings.EqualFold(s[:4], "tel:") {
		s = telNumber(s[4:])
	}
	var buf [maxDialed]byte
	n := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r == '+' && n == 0:
			if n == len(buf) {
				return "", false
			}
			buf[n] = byte(r)
			n++
		case r == '-' || r == '.' || r == '/' || r == '(' || r == ')',
			unicode.IsSpace(r), unicode.Is(unicode.Pd, r):
		default:
			return "", false
		}
	}
	if n == 0 || n == 1 && buf[0] == '+' {
		return "", false
	}
	return string(buf[:n]), true
}

// telNumber returns the number of a tel: URI without its scheme (RFC 3966
// §3): a global number as is, a local one behind its phone-context when
// that is a global number prefix (§5.1.5).
func telNumber(uri string) string {
	number, params, _ := strings.Cut(uri, ";")
	if strings.HasPrefix(number, "+") {
		return number
	}
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(p, "=")
		if strings.EqualFold(name, "phone-context") && strings.HasPrefix(value, "+") {
			return value + number
		}
	}
	return number
}

func numberType(t phonenumbers.PhoneNumberType) NumberType {
	switch t {
	case phonenumbers.MOBILE:
		return Mobile
	case phonenumbers.FIXED_LINE, phonenumbers.FIXED_LINE_OR_MOBILE:
		return Fixed
	case phonenumbers.TOLL_FREE:
		return TollFree
	case phonenumbers.PREMIUM_RATE:
		return Premium
	}
	return Other
}
