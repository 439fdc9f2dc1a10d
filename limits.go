package dialtone

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Limit names one per-account limit: in the refusal sent to the app, in
// logs and as the label of the refusals metric.
type Limit string

const (
	LimitConcurrent Limit = "concurrent_calls" // calls in progress at once
	LimitPerMinute  Limit = "calls_per_minute" // calls started in any 60 seconds
	LimitSpendHour  Limit = "spend_hour"       // money spent and held in the last hour
	LimitSpendDay   Limit = "spend_day"        // money spent and held in the last 24 hours
	LimitMaxRate    Limit = "max_rate"         // the highest sell rate per minute a call may have
	LimitCountry    Limit = "country"          // the countries a call may reach
	LimitNumberType Limit = "number_type"      // the number types a call may reach
)

// AllLimits is every limit, in the order documentation lists them.
var AllLimits = []Limit{LimitConcurrent, LimitPerMinute, LimitSpendHour, LimitSpendDay, LimitMaxRate, LimitCountry, LimitNumberType}

// Unlimited, as a count, means no bound.
const Unlimited = -1

// UnlimitedMoney, as an amount, means no bound.
var UnlimitedMoney = decimal.NewFromInt(-1)

// AnyCountry, as the only country, allows every country.
const AnyCountry = "*"

// Limits are what one account may do, or the defaults of every account.
//
// In an account's limits, the zero value of a field (0, a zero amount, an
// empty list) means "the default"; Unlimited, UnlimitedMoney and
// []string{AnyCountry} lift the bound. There is no limit of zero calls or
// zero money: an account that must not call is disabled instead. The
// defaults (Over's argument) name every field.
type Limits struct {
	Concurrent  int             // calls in progress at once
	PerMinute   int             // calls started within any 60 seconds
	SpendHour   decimal.Decimal // money spent and held by calls within the last hour, in the account's currency
	SpendDay    decimal.Decimal // the same within the last 24 hours
	MaxRate     decimal.Decimal // the highest sell rate per minute of a call, in the account's currency
	Countries   []string        // ISO 3166 regions a call may reach ("001" for non-geographic numbers); AnyCountry: all
	NumberTypes []NumberType    // number types a call may reach
}

// DefaultLimits are the limits of an account of an operator who
// configured none: what a prepaid app-to-phone service sets so that a
// stolen password or a runaway client costs little, while a person using
// the app never meets them.
//
//   - 2 calls at once: a person talks on one call; a second covers a call
//     set up while the first ends, or a transfer. Fraud with stolen
//     credentials runs tens of calls in parallel.
//   - 10 new calls a minute: a person redialing a busy number stays far
//     below; a dialer script or a traffic pumper does not.
//   - 10.00 an hour and 30.00 a day of call spending (in the account's
//     currency): a long international call a day fits; an emptied wallet,
//     or an organization's money, is not lost within minutes.
//   - 1.00 a minute at most: nearly every mobile and fixed destination
//     costs less; satellite and the ranges International Revenue Share
//     Fraud pumps cost more.
//   - every country: the price cap and the number types already keep out
//     what is dear, and one country list cannot suit every service.
//   - mobile, fixed and toll-free numbers: premium-rate and "other"
//     numbers (shared cost, personal, UAN, pagers) are where revenue-share
//     fraud lives, and an app user rarely needs them.
func DefaultLimits() Limits {
	return Limits{
		Concurrent: 2, PerMinute: 10,
		SpendHour: decimal.NewFromInt(10), SpendDay: decimal.NewFromInt(30),
		MaxRate:     decimal.NewFromInt(1),
		Countries:   []string{AnyCountry},
		NumberTypes: []NumberType{Mobile, Fixed, TollFree},
	}
}

// Over returns l with each field it leaves to the default taken from d.
func (l Limits) Over(d Limits) Limits {
	if l.Concurrent == 0 {
		l.Concurrent = d.Concurrent
	}
	if l.PerMinute == 0 {
		l.PerMinute = d.PerMinute
	}
	if l.SpendHour.IsZero() {
		l.SpendHour = d.SpendHour
	}
	if l.SpendDay.IsZero() {
		l.SpendDay = d.SpendDay
	}
	if l.MaxRate.IsZero() {
		l.MaxRate = d.MaxRate
	}
	if len(l.Countries) == 0 {
		l.Countries = d.Countries
	}
	if len(l.NumberTypes) == 0 {
		l.NumberTypes = d.NumberTypes
	}
	return l
}

// IsDefault reports whether l leaves every limit to the default.
func (l Limits) IsDefault() bool {
	return l.Concurrent == 0 && l.PerMinute == 0 && l.SpendHour.IsZero() && l.SpendDay.IsZero() && l.MaxRate.IsZero() &&
		len(l.Countries) == 0 && len(l.NumberTypes) == 0
}

// Validate reports the first problem with l, naming the limit. With
// complete, every limit must be named (the defaults).
func (l Limits) Validate(complete bool) error {
	count := func(name Limit, n int) error {
		if n < Unlimited || n == 0 && complete {
			return fmt.Errorf("%w limits: %s %d must be a positive count or unlimited", ErrInvalid, name, n)
		}
		return nil
	}
	money := func(name Limit, d decimal.Decimal) error {
		if d.IsNegative() && !d.Equal(UnlimitedMoney) || d.IsZero() && complete {
			return fmt.Errorf("%w limits: %s %s must be a positive amount or unlimited", ErrInvalid, name, d)
		}
		if _, err := ToMicros(d); err != nil {
			return fmt.Errorf("%w limits: %s: %v", ErrInvalid, name, err)
		}
		return nil
	}
	for _, err := range []error{
		count(LimitConcurrent, l.Concurrent), count(LimitPerMinute, l.PerMinute),
		money(LimitSpendHour, l.SpendHour), money(LimitSpendDay, l.SpendDay), money(LimitMaxRate, l.MaxRate),
	} {
		if err != nil {
			return err
		}
	}
	if complete && len(l.Countries) == 0 {
		return fmt.Errorf("%w limits: countries is empty (%q allows every country)", ErrInvalid, AnyCountry)
	}
	for _, c := range l.Countries {
		if c == AnyCountry {
			if len(l.Countries) > 1 {
				return fmt.Errorf("%w limits: countries: %q stands alone", ErrInvalid, AnyCountry)
			}
			continue
		}
		if !validRegion(c) {
			return fmt.Errorf("%w limits: country %q is not an ISO 3166 alpha-2 code (upper case) nor 001", ErrInvalid, c)
		}
	}
	if complete && len(l.NumberTypes) == 0 {
		return fmt.Errorf("%w limits: number_types is empty", ErrInvalid)
	}
	for _, t := range l.NumberTypes {
		if _, err := ParseNumberType(string(t)); err != nil {
			return fmt.Errorf("limits: %w", err)
		}
	}
	return nil
}

func validRegion(c string) bool {
	if c == "001" {
		return true
	}
	return len(c) == 2 && c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z'
}

// LimitCall is what is known of a call when its limits are checked: it is
// routed, not yet authorized.
type LimitCall struct {
	Country    string          // region of the dialed number
	NumberType string          // its number type
	Rate       decimal.Decimal // the sell rate per minute it would be priced at
	Rated      bool            // whether Rate is known (an account whose calls are not billed has none)
}

// LimitUsage is what the account has used besides the call being checked.
type LimitUsage struct {
	Calls       int             // calls in progress
	RecentCalls int             // calls started within the last 60 seconds
	SpentHour   decimal.Decimal // money spent and held within the last hour
	SpentDay    decimal.Decimal // within the last 24 hours
}

// LimitError is a call refused by one of its account's limits.
type LimitError struct {
	Limit  Limit
	Detail string // what the bound is, e.g. "2 calls at once"
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%v: over the account's %s limit (%s)", ErrForbidden, e.Limit, e.Detail)
}

// Unwrap makes a LimitError an ErrForbidden.
func (e *LimitError) Unwrap() error { return ErrForbidden }

// Warning is what the app is told of the refusal: the limit and its bound.
func (e *LimitError) Warning() string { return string(e.Limit) + ": " + e.Detail }

// CheckDestination reports the first limit of l (complete: see Over) that
// refuses call by what it reaches: its country, number type or rate.
func (l Limits) CheckDestination(call LimitCall) *LimitError {
	if !(len(l.Countries) == 1 && l.Countries[0] == AnyCountry) && !slices.Contains(l.Countries, call.Country) {
		return &LimitError{LimitCountry, fmt.Sprintf("%s is not among %s", orUnknown(call.Country), strings.Join(l.Countries, ","))}
	}
	if !slices.Contains(l.NumberTypes, NumberType(call.NumberType)) {
		return &LimitError{LimitNumberType, fmt.Sprintf("%s is not among %s", orUnknown(call.NumberType), joinTypes(l.NumberTypes))}
	}
	if call.Rated && !l.MaxRate.Equal(UnlimitedMoney) && call.Rate.GreaterThan(l.MaxRate) {
		return &LimitError{LimitMaxRate, fmt.Sprintf("%s a minute is over %s", call.Rate, l.MaxRate)}
	}
	return nil
}

// CheckSpend reports the spending limit of l that refuses a new call when
// the account has spent and holds what u says: a call may start while
// less than the limit is used.
func (l Limits) CheckSpend(u LimitUsage) *LimitError {
	if !l.SpendHour.Equal(UnlimitedMoney) && u.SpentHour.GreaterThanOrEqual(l.SpendHour) {
		return &LimitError{LimitSpendHour, fmt.Sprintf("%s spent of %s an hour", u.SpentHour, l.SpendHour)}
	}
	if !l.SpendDay.Equal(UnlimitedMoney) && u.SpentDay.GreaterThanOrEqual(l.SpendDay) {
		return &LimitError{LimitSpendDay, fmt.Sprintf("%s spent of %s a day", u.SpentDay, l.SpendDay)}
	}
	return nil
}

// CheckCalls reports the limit of l on calls that refuses one more call
// when the account has u.Calls in progress and started u.RecentCalls
// within the last 60 seconds.
func (l Limits) CheckCalls(u LimitUsage) *LimitError {
	if l.Concurrent != Unlimited && u.Calls >= l.Concurrent {
		return &LimitError{LimitConcurrent, fmt.Sprintf("%d calls at once", l.Concurrent)}
	}
	if l.PerMinute != Unlimited && u.RecentCalls >= l.PerMinute {
		return &LimitError{LimitPerMinute, fmt.Sprintf("%d calls a minute", l.PerMinute)}
	}
	return nil
}

// Check reports the first limit of l that refuses call given u, or nil:
// what it reaches first, then spending, then the counts of calls.
func (l Limits) Check(call LimitCall, u LimitUsage) *LimitError {
	if e := l.CheckDestination(call); e != nil {
		return e
	}
	if e := l.CheckSpend(u); e != nil {
		return e
	}
	return l.CheckCalls(u)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func joinTypes(ts []NumberType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ",")
}

// LimitStore keeps each account's own limits and sums what it spent.
type LimitStore interface {
	// AccountLimits returns the limits set for the account: the zero
	// Limits (every limit the default) when none were.
	AccountLimits(ctx context.Context, accountID int64) (Limits, error)
	// SetAccountLimits replaces the account's limits; the zero Limits
	// returns it to the defaults. It fails with ErrNotFound when there is
	// no such account.
	SetAccountLimits(ctx context.Context, accountID int64, l Limits) error
	// CallSpend sums the prices of the account's calls that ended at or
	// after since and the money held now by its calls in progress.
	CallSpend(ctx context.Context, accountID int64, since time.Time) (decimal.Decimal, error)
}

// LimitSettings are Limits as written in the configuration file, the API
// and the CLI: counts and amounts as text ("5", "2.50"), "unlimited", or
// "default" (or nothing) for the default; countries and number types as
// lists, ["*"] for every country, empty for the default.
type LimitSettings struct {
	Concurrent  Setting  `json:"concurrent_calls" yaml:"concurrent_calls"`
	PerMinute   Setting  `json:"calls_per_minute" yaml:"calls_per_minute"`
	SpendHour   Setting  `json:"spend_hour" yaml:"spend_hour"`
	SpendDay    Setting  `json:"spend_day" yaml:"spend_day"`
	MaxRate     Setting  `json:"max_rate" yaml:"max_rate"`
	Countries   []string `json:"countries" yaml:"countries"`
	NumberTypes []string `json:"number_types" yaml:"number_types"`
}

// Setting is one limit as text. In JSON it may also be a number.
type Setting string

// The words a Setting may hold besides a number.
const (
	SettingDefault   = "default"
	SettingUnlimited = "unlimited"
)

// UnmarshalJSON reads a string or a number.
func (s *Setting) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = Setting(str)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("%w: a limit is a number, an amount as text, %q or %q", ErrInvalid, SettingUnlimited, SettingDefault)
	}
	*s = Setting(n.String())
	return nil
}

func (s Setting) count(name Limit) (int, error) {
	switch v := strings.TrimSpace(string(s)); v {
	case "", SettingDefault:
		return 0, nil
	case SettingUnlimited:
		return Unlimited, nil
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return 0, fmt.Errorf("%w limits: %s %q is not a count from 1 to 1000000, %q or %q", ErrInvalid, name, v, SettingUnlimited, SettingDefault)
		}
		return n, nil
	}
}

func (s Setting) money(name Limit) (decimal.Decimal, error) {
	switch v := strings.TrimSpace(string(s)); v {
	case "", SettingDefault:
		return decimal.Zero, nil
	case SettingUnlimited:
		return UnlimitedMoney, nil
	default:
		d, err := decimal.NewFromString(v)
		if err != nil || !d.IsPositive() {
			return decimal.Zero, fmt.Errorf("%w limits: %s %q is not a positive amount, %q or %q", ErrInvalid, name, v, SettingUnlimited, SettingDefault)
		}
		return d, nil
	}
}

// Limits parses s and validates the result (complete: see Validate).
func (s LimitSettings) Limits(complete bool) (Limits, error) {
	var l Limits
	var err error
	if l.Concurrent, err = s.Concurrent.count(LimitConcurrent); err != nil {
		return Limits{}, err
	}
	if l.PerMinute, err = s.PerMinute.count(LimitPerMinute); err != nil {
		return Limits{}, err
	}
	if l.SpendHour, err = s.SpendHour.money(LimitSpendHour); err != nil {
		return Limits{}, err
	}
	if l.SpendDay, err = s.SpendDay.money(LimitSpendDay); err != nil {
		return Limits{}, err
	}
	if l.MaxRate, err = s.MaxRate.money(LimitMaxRate); err != nil {
		return Limits{}, err
	}
	for _, c := range s.Countries {
		if c = strings.ToUpper(strings.TrimSpace(c)); c != "" {
			l.Countries = append(l.Countries, c)
		}
	}
	for _, t := range s.NumberTypes {
		if t = strings.TrimSpace(t); t != "" {
			l.NumberTypes = append(l.NumberTypes, NumberType(t))
		}
	}
	if err := l.Validate(complete); err != nil {
		return Limits{}, err
	}
	return l, nil
}

// Settings writes l as text: "default" for a limit left to the default.
func (l Limits) Settings() LimitSettings {
	count := func(n int) Setting {
		switch n {
		case 0:
			return SettingDefault
		case Unlimited:
			return SettingUnlimited
		}
		return Setting(strconv.Itoa(n))
	}
	money := func(d decimal.Decimal) Setting {
		switch {
		case d.IsZero():
			return SettingDefault
		case d.Equal(UnlimitedMoney):
			return SettingUnlimited
		}
		return Setting(d.String())
	}
	s := LimitSettings{
		Concurrent: count(l.Concurrent), PerMinute: count(l.PerMinute),
		SpendHour: money(l.SpendHour), SpendDay: money(l.SpendDay), MaxRate: money(l.MaxRate),
		Countries: append([]string{}, l.Countries...), NumberTypes: []string{},
	}
	for _, t := range l.NumberTypes {
		s.NumberTypes = append(s.NumberTypes, string(t))
	}
	return s
}
