// Package trunks owns where a call goes: the dialed number normalized to
// E.164 and classified (mobile, fixed, toll-free, premium), and the route
// table that maps it to carrier trunks in order.
//
// It is pure logic: no SIP, no SQL. A Table is immutable once built and
// safe for concurrent use; a new configuration builds a new Table.
package trunks

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/dialtone/dialtone"
)

// Errors. They wrap the domain errors so the call controller maps them to
// SIP responses (484, 404) without knowing this package.
var (
	ErrInvalidNumber  = fmt.Errorf("%w", dialtone.ErrInvalidNumber)
	ErrUnknownCountry = errors.New("unknown country")
	ErrNoRoute        = fmt.Errorf("%w", dialtone.ErrNoRoute)
	ErrPremium        = fmt.Errorf("premium-rate destination blocked: %w", dialtone.ErrForbidden)
)

// NumberType is what kind of line a number reaches; carriers price and
// route them differently.
type NumberType string

const (
	Mobile   NumberType = "mobile"
	Fixed    NumberType = "fixed" // also numbers the plan cannot tell from mobile (all of NANP)
	TollFree NumberType = "toll_free"
	Premium  NumberType = "premium"
	Other    NumberType = "other" // shared cost, VoIP, personal, pager, UAN, voicemail, unknown
)

// ParseNumberType reads a type name as written in configuration.
func ParseNumberType(s string) (NumberType, error) {
	switch t := NumberType(s); t {
	case Mobile, Fixed, TollFree, Premium, Other:
		return t, nil
	}
	return "", fmt.Errorf("number type %q is not one of mobile, fixed, toll_free, premium, other", s)
}

// Number is a dialed number after normalization.
type Number struct {
	E164    string // "+442079460018"
	Country string // ISO 3166 region of the number, e.g. "GB"
	Type    NumberType
}

// Normalize reads what a user dialed, in the convention of their country
// (national format, the country's international prefix such as 00 or 011,
// or "+"), and returns the number in E.164. It accepts tel: URIs (RFC 3966)
// and ignores visual separators.
func Normalize(dialed, country string) (Number, error) {
	country = strings.ToUpper(country)
	if len(country) != 2 || phonenumbers.GetCountryCodeForRegion(country) == 0 {
		return Number{}, fmt.Errorf("normalize %q: %w %q", dialed, ErrUnknownCountry, country)
	}
	s := strings.TrimSpace(dialed)
	if len(s) > 4 && strings.EqualFold(s[:4], "tel:") {
		s = s[4:]
		if i := strings.IndexByte(s, ';'); i >= 0 { // tel: parameters such as ;phone-context
			s = s[:i]
		}
	}
	s = strings.NewReplacer("-", "", ".", "", " ", "", "(", "", ")", "", "%20", "").Replace(s)
	if s == "" || len(s) > 32 || strings.Trim(s, "+0123456789") != "" || strings.LastIndexByte(s, '+') > 0 {
		return Number{}, fmt.Errorf("normalize %q: %w", dialed, ErrInvalidNumber)
	}
	pn, err := phonenumbers.Parse(s, country)
	if err != nil {
		return Number{}, fmt.Errorf("normalize %q: %w: %v", dialed, ErrInvalidNumber, err)
	}
	if !phonenumbers.IsValidNumber(pn) {
		return Number{}, fmt.Errorf("normalize %q: %w", dialed, ErrInvalidNumber)
	}
	return Number{
		E164:    phonenumbers.Format(pn, phonenumbers.E164),
		Country: phonenumbers.GetRegionCodeForNumber(pn),
		Type:    numberType(phonenumbers.GetNumberType(pn)),
	}, nil
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
