package trunks

import (
	"fmt"
	"strings"

	"github.com/dialtone/dialtone"
)

// The caller-ID rule of the switch, in one place: what an app may present
// as its From user (CheckCaller), and what a carrier is told (Present).
// A carrier never sees a number only because the app wrote it in its
// From: it sees the trunk's fixed number, or the account's verified
// number (dialtone.Account.CallerID), or nobody (anonymous).

// CallerIDError is a From user the account may not present: a number that
// is not its verified one. It is a dialtone.ErrCallerID.
type CallerIDError struct {
	Presented string // the From user as the app wrote it
	Account   string
}

func (e *CallerIDError) Error() string {
	return fmt.Sprintf("account %s presented %q, which is not its verified number", e.Account, e.Presented)
}

// Unwrap makes the error a dialtone.ErrCallerID (and so ErrForbidden).
func (e *CallerIDError) Unwrap() error { return dialtone.ErrCallerID }

// Warning is the text of the SIP Warning header the app gets with its 403.
func (e *CallerIDError) Warning() string {
	return "caller ID not allowed: only the account's verified number may be presented"
}

// CheckCaller reports whether acct may present presented, the user part
// of the From of its INVITE. Its username, "anonymous", an empty user or
// anything that is not a phone number claims no number and is fine (the
// carrier is told what Present says). A phone number, in any spelling
// Normalize reads (+, 00, 011, national, tel:, separators,
// percent-encoding), must be the account's verified number: any other
// number, or any number at all from an account without one, is refused
// with a *CallerIDError.
func CheckCaller(acct *dialtone.Account, presented string) error {
	if presented == "" || presented == acct.Username || strings.EqualFold(presented, "anonymous") {
		return nil
	}
	d := strings.TrimPrefix(presented, "+")
	if _, isNumber := dialString(presented); !isNumber && strings.Trim(d, "0123456789") != "" {
		return nil // not a number (a long run of digits is one, even too long to dial)
	}
	if acct.CallerID != "" {
		if n, err := Normalize(presented, acct.Country); err == nil && n.E164 == acct.CallerID {
			return nil
		}
	}
	return &CallerIDError{Presented: presented, Account: acct.Username}
}

// Presentation is what one carrier is told about the caller.
type Presentation struct {
	// From is the From user: a number, or empty for an anonymous From
	// (sip:anonymous@anonymous.invalid, RFC 3323 section 4.1.1.3).
	From string
	// PAI: send P-Asserted-Identity with From (RFC 3325); never without a number.
	PAI bool
	// Privacy: anonymous From and Privacy: id (RFC 3323), the number only in PAI.
	Privacy bool
}

// Present is what a carrier of policy c is told for a call of acct: the
// trunk's fixed number (caller_id.from) when it has one, else the
// account's verified number, else nobody. An account's username is never
// sent: it is not a phone number, carriers refuse or mangle it, and it
// would tell the called party who the user is in the app.
func (c CallerIDConfig) Present(acct *dialtone.Account) Presentation {
	from := c.From
	if from == "" {
		from = acct.CallerID
	}
	return Presentation{From: from, PAI: (c.PAI || c.Privacy) && from != "", Privacy: c.Privacy}
}

// VerifiedNumber reads a number an operator gives as an account's caller
// ID, in the account's country's convention (or with + or 00), and
// returns it in E.164. It must be a valid number of its numbering plan.
func VerifiedNumber(number, country string) (string, error) {
	n, err := Normalize(number, country)
	if err != nil {
		return "", fmt.Errorf("caller ID: %w", err)
	}
	return n.E164, nil
}
