package dialtone

import (
	"fmt"
	"strings"
)

// NumberType is what kind of line a number reaches; carriers price and
// route them differently. Package trunks classifies dialed numbers into
// these; rate decks, bundles and routes name them.
type NumberType string

const (
	Mobile   NumberType = "mobile"
	Fixed    NumberType = "fixed" // also numbers the plan cannot tell from mobile (most of NANP)
	TollFree NumberType = "toll_free"
	Premium  NumberType = "premium"
	Other    NumberType = "other" // shared cost, VoIP, personal, pager, UAN, voicemail, unknown
)

// NumberTypes is every number type, in the order documentation lists them.
// It is the one list: everything that accepts a type name checks it here.
var NumberTypes = []NumberType{Mobile, Fixed, TollFree, Premium, Other}

// ParseNumberType reads a type name as written in configuration, decks and
// bundles. It fails with ErrInvalid for a name not in NumberTypes.
func ParseNumberType(s string) (NumberType, error) {
	for _, t := range NumberTypes {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("%w: number type %q is not one of %s", ErrInvalid, s, NumberTypeNames())
}

// NumberTypeNames is NumberTypes as "mobile, fixed, ...", for messages.
func NumberTypeNames() string {
	names := make([]string, len(NumberTypes))
	for i, t := range NumberTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// IsE164 reports whether s has the shape of an E.164 number: '+', a
// country code that does not start with 0, and at most 15 digits in all
// (ITU-T E.164 section 6). Whether the number exists is for package
// trunks, which knows the numbering plans, to say.
func IsE164(s string) bool {
	d, ok := strings.CutPrefix(s, "+")
	if !ok || len(d) < 2 || len(d) > 15 || d[0] == '0' {
		return false
	}
	return strings.Trim(d, "0123456789") == ""
}
