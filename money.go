package dialtone

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Money is exact: decimal.Decimal in memory, integer micro-units (10^-6 of
// the currency unit) in storage. An amount with more than MoneyScale
// fractional digits is refused, never rounded silently.
const MoneyScale = 6

// Money errors.
var (
	ErrInsufficientFunds = errors.New("insufficient funds") // a debit would take a balance below zero
	ErrNoRate            = errors.New("no rate")            // the destination is not in the rate plan
	ErrNoPlan            = errors.New("no rate plan")       // the account has no plan and calls are not free by configuration
)

// ToMicros converts d to micro-units. It fails with ErrInvalid when d has
// more than MoneyScale fractional digits or does not fit in an int64.
func ToMicros(d decimal.Decimal) (int64, error) {
	m := d.Shift(MoneyScale)
	if !m.IsInteger() {
		return 0, fmt.Errorf("%w amount %s: more than %d decimal places", ErrInvalid, d, MoneyScale)
	}
	if m.Abs().GreaterThan(decimal.New(1, 18)) {
		return 0, fmt.Errorf("%w amount %s: too large", ErrInvalid, d)
	}
	return m.IntPart(), nil
}

// FromMicros converts micro-units back to an amount.
func FromMicros(m int64) decimal.Decimal { return decimal.New(m, -MoneyScale) }

// ParseAmount reads a decimal amount such as "12.50", refusing anything that
// is not a plain decimal of at most MoneyScale fractional digits.
func ParseAmount(s string) (decimal.Decimal, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "eE") {
		return decimal.Zero, fmt.Errorf("%w amount %q: not a decimal number", ErrInvalid, s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero, fmt.Errorf("%w amount %q: not a decimal number", ErrInvalid, s)
	}
	if _, err := ToMicros(d); err != nil {
		return decimal.Zero, err
	}
	return d, nil
}

// Ledger account names. Every movement of money is between these.
//
//	wallet:<account id>   an app user's spendable money; never negative
//	hold:<account id>     money reserved by that user's calls in progress
//	revenue:calls:<CUR>   what calls earned
//	revenue:bundles:<CUR> what bundle sales earned
//	funding:<CUR>         the outside world: top-ups come from it (it goes negative)
func WalletAccount(accountID int64) string   { return fmt.Sprintf("wallet:%d", accountID) }
func HoldAccount(accountID int64) string     { return fmt.Sprintf("hold:%d", accountID) }
func CallRevenueAccount(cur string) string   { return "revenue:calls:" + cur }
func BundleRevenueAccount(cur string) string { return "revenue:bundles:" + cur }
func FundingAccount(cur string) string       { return "funding:" + cur }

// IsHouseAccount says whether an account is one of the switch's own
// (revenue, funding) rather than a user's. Every call posts to them, so a
// store may compute their balance from their entries instead of keeping a
// balance row that every call would have to lock.
func IsHouseAccount(account string) bool {
	return strings.HasPrefix(account, "revenue:") || strings.HasPrefix(account, "funding:")
}

// AllowsNegative says whether a ledger account may go below zero: only the
// funding accounts, which mirror money that came from outside.
func AllowsNegative(account string) bool { return strings.HasPrefix(account, "funding:") }

// Posting credits (positive) or debits (negative) one ledger account.
type Posting struct {
	Account string
	Amount  decimal.Decimal
}

// Movement is one double-entry transaction: its postings sum to zero. The
// key makes it idempotent: posting the same key again changes nothing.
type Movement struct {
	ID        int64
	Key       string // idempotency key, unique across the ledger
	Kind      string // topup, bundle, hold, settle, transfer, ...
	Currency  string
	Memo      string
	Postings  []Posting
	CreatedAt time.Time
}

// Validate checks the double-entry rules.
func (m *Movement) Validate() error {
	switch {
	case m.Key == "" || len(m.Key) > 200:
		return fmt.Errorf("%w movement: idempotency key must be 1 to 200 characters", ErrInvalid)
	case m.Kind == "":
		return fmt.Errorf("%w movement %s: kind is empty", ErrInvalid, m.Key)
	case len(m.Currency) != 3:
		return fmt.Errorf("%w movement %s: currency %q is not an ISO 4217 code", ErrInvalid, m.Key, m.Currency)
	case len(m.Postings) < 2:
		return fmt.Errorf("%w movement %s: needs at least two postings", ErrInvalid, m.Key)
	}
	sum := decimal.Zero
	seen := map[string]bool{}
	for _, p := range m.Postings {
		if p.Account == "" {
			return fmt.Errorf("%w movement %s: posting without an account", ErrInvalid, m.Key)
		}
		if seen[p.Account] {
			return fmt.Errorf("%w movement %s: account %s posted twice", ErrInvalid, m.Key, p.Account)
		}
		seen[p.Account] = true
		if p.Amount.IsZero() {
			return fmt.Errorf("%w movement %s: zero posting to %s", ErrInvalid, m.Key, p.Account)
		}
		if _, err := ToMicros(p.Amount); err != nil {
			return fmt.Errorf("movement %s: %w", m.Key, err)
		}
		sum = sum.Add(p.Amount)
	}
	if !sum.IsZero() {
		return fmt.Errorf("%w movement %s: postings sum to %s, not zero", ErrInvalid, m.Key, sum)
	}
	return nil
}

// Transfer is a request for the common two-posting movement: Amount
// leaves From and reaches To. Movement checks it and builds the Movement.
type Transfer struct {
	Key      string          // idempotency key, unique across the ledger
	Kind     string          // topup, bundle, hold, transfer, ...
	Currency string          // ISO 4217 of the amount and both accounts
	Memo     string          // note kept in the ledger
	From     string          // ledger account debited
	To       string          // ledger account credited
	Amount   decimal.Decimal // positive
}

// Validate reports the first problem with t, naming the field. The store
// checks the double-entry rules again when the movement is posted.
func (t Transfer) Validate() error {
	switch {
	case t.Key == "" || len(t.Key) > 200:
		return fmt.Errorf("%w transfer: key must be 1 to 200 characters", ErrInvalid)
	case t.Kind == "":
		return fmt.Errorf("%w transfer %s: kind is empty", ErrInvalid, t.Key)
	case len(t.Currency) != 3:
		return fmt.Errorf("%w transfer %s: currency %q is not an ISO 4217 code", ErrInvalid, t.Key, t.Currency)
	case t.From == "" || t.To == "":
		return fmt.Errorf("%w transfer %s: from and to must name ledger accounts", ErrInvalid, t.Key)
	case t.From == t.To:
		return fmt.Errorf("%w transfer %s: from and to are both %s", ErrInvalid, t.Key, t.From)
	case !t.Amount.IsPositive():
		return fmt.Errorf("%w transfer %s: amount %s is not positive", ErrInvalid, t.Key, t.Amount)
	}
	if _, err := ToMicros(t.Amount); err != nil {
		return fmt.Errorf("transfer %s: %w", t.Key, err)
	}
	return nil
}

// Movement checks t and returns its movement: From debited, To credited.
func (t Transfer) Movement() (*Movement, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &Movement{Key: t.Key, Kind: t.Kind, Currency: t.Currency, Memo: t.Memo, Postings: []Posting{
		{Account: t.From, Amount: t.Amount.Neg()},
		{Account: t.To, Amount: t.Amount},
	}}, nil
}

// Entry is one posting as stored, with the account's balance after it.
type Entry struct {
	MovementID int64
	Key        string
	Kind       string
	Memo       string
	Account    string
	Amount     decimal.Decimal
	Balance    decimal.Decimal // after the entry; zero for house accounts a store does not materialize
	CreatedAt  time.Time
}

// LedgerCheck is the result of verifying the whole ledger.
type LedgerCheck struct {
	Accounts   int
	Movements  int64
	Total      decimal.Decimal // sum of every balance: always zero
	Mismatched []string        // accounts whose balance differs from the sum of their entries
	Negative   []string        // accounts below zero that may not be
}

// OK reports whether every invariant holds.
func (c LedgerCheck) OK() bool {
	return c.Total.IsZero() && len(c.Mismatched) == 0 && len(c.Negative) == 0
}

// LedgerStore keeps the double-entry ledger.
type LedgerStore interface {
	// Post applies m atomically. Posting a key that exists with the same
	// postings changes nothing and reports replayed; with different postings
	// it fails with ErrConflict. A posting that would take an account that
	// may not go negative below zero fails with ErrInsufficientFunds and
	// changes nothing.
	Post(ctx context.Context, m *Movement) (replayed bool, err error)
	// Balance is zero for an account that has never moved.
	Balance(ctx context.Context, account string) (decimal.Decimal, error)
	// Entries lists an account's entries, newest first, with IDs below
	// before (0: from the newest).
	Entries(ctx context.Context, account string, before int64, limit int) ([]Entry, error)
	// CheckLedger verifies the invariants over the whole ledger.
	CheckLedger(ctx context.Context) (LedgerCheck, error)
}

// Fingerprint is a canonical text of m's money, for comparing a replay with
// the original.
func (m *Movement) Fingerprint() string {
	var b strings.Builder
	b.WriteString(m.Kind)
	b.WriteByte('|')
	b.WriteString(m.Currency)
	for _, p := range sortedPostings(m.Postings) {
		micros, _ := ToMicros(p.Amount)
		fmt.Fprintf(&b, "|%s=%d", p.Account, micros)
	}
	return b.String()
}

func sortedPostings(ps []Posting) []Posting {
	out := append([]Posting(nil), ps...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Account < out[j-1].Account; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
