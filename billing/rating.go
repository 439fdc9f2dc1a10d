// Package billing prices calls and controls credit while they run.
//
// Rating is pure: a Deck finds the rate of a number by longest prefix,
// effective date and number type; Billed and Price apply the rate's
// increments, connect fee and an explicit rounding; Cost spends bundle
// seconds before wallet money. None of it touches a store or a clock.
//
// The Controller (credit.go) is the call-time side: it authorizes a call
// (the longest it can afford) by reserving its first increment before any
// carrier is dialed, reserves credit one interval at a time in the store
// while the call runs, and settles it exactly once, also after a crash. An
// account without a rate plan cannot call unless the configuration says
// calls are free (Config.Unbilled). It is safe for concurrent use; each
// Call belongs to one call.
//
// It also owns the billing and bundles sections of the configuration file
// (Settings, BundleSettings, Catalog): their defaults and validation. The
// number types decks and bundles name are dialtone.NumberTypes.
package billing

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// RoundingMode says which way a price that has more decimal places than the
// rounding allows goes.
type RoundingMode string

const (
	RoundUp       RoundingMode = "up"        // towards +infinity: the carrier's usual rule
	RoundHalfUp   RoundingMode = "half_up"   // 0.00005 -> 0.0001
	RoundHalfEven RoundingMode = "half_even" // banker's rounding
	RoundDown     RoundingMode = "down"      // truncate
)

// Rounding is applied to the usage part of every price.
type Rounding struct {
	Places int32        `yaml:"places"` // 0 to dialtone.MoneyScale
	Mode   RoundingMode `yaml:"mode"`   // up, half_up, half_even, down
}

// DefaultRounding rounds prices up to four decimal places.
var DefaultRounding = Rounding{Places: 4, Mode: RoundUp}

// Validate names what is wrong.
func (r Rounding) Validate() error {
	if r.Places < 0 || r.Places > dialtone.MoneyScale {
		return fmt.Errorf("rounding places %d: want 0 to %d", r.Places, dialtone.MoneyScale)
	}
	switch r.Mode {
	case RoundUp, RoundHalfUp, RoundHalfEven, RoundDown:
		return nil
	}
	return fmt.Errorf("rounding mode %q: want up, half_up, half_even or down", r.Mode)
}

// Apply rounds d.
func (r Rounding) Apply(d decimal.Decimal) decimal.Decimal {
	switch r.Mode {
	case RoundHalfUp:
		return d.Round(r.Places)
	case RoundHalfEven:
		return d.RoundBank(r.Places)
	case RoundDown:
		return d.RoundDown(r.Places)
	default:
		return d.RoundCeil(r.Places)
	}
}

// Seconds is a call's duration in whole seconds, rounded up.
func Seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// Billed applies the rate's increments to a call of secs seconds: nothing
// for 0, the first increment for up to that, then whole next increments.
func Billed(r *dialtone.Rate, secs int64) int64 {
	switch {
	case secs <= 0:
		return 0
	case secs <= r.FirstIncrement:
		return r.FirstIncrement
	}
	rest := secs - r.FirstIncrement
	return r.FirstIncrement + (rest+r.NextIncrement-1)/r.NextIncrement*r.NextIncrement
}

var sixty = decimal.NewFromInt(60)

// Price of billed seconds at r: the per-minute rate pro rata, rounded, plus
// the connect fee. Zero seconds cost nothing (the call was not answered or
// did not last).
func Price(r *dialtone.Rate, billed int64, rnd Rounding) decimal.Decimal {
	if billed <= 0 {
		return decimal.Zero
	}
	usage := r.PerMinute.Mul(decimal.NewFromInt(billed)).Div(sixty)
	return rnd.Apply(usage).Add(r.ConnectFee)
}

// Deck finds rates by number. It is immutable and safe for concurrent use.
type Deck struct {
	Plan     dialtone.RatePlan
	byPrefix map[string][]dialtone.Rate // typed rates first, then by effective date
	maxLen   int
}

// NewDeck indexes rates.
func NewDeck(plan dialtone.RatePlan, rates []dialtone.Rate) *Deck {
	d := &Deck{Plan: plan, byPrefix: make(map[string][]dialtone.Rate, len(rates))}
	for _, r := range rates {
		d.byPrefix[r.Prefix] = append(d.byPrefix[r.Prefix], r)
		d.maxLen = max(d.maxLen, len(r.Prefix))
	}
	for _, rs := range d.byPrefix {
		sort.SliceStable(rs, func(i, j int) bool {
			if (rs[i].NumberType != "") != (rs[j].NumberType != "") {
				return rs[i].NumberType != ""
			}
			return rs[i].From.After(rs[j].From)
		})
	}
	return d
}

// Find returns the rate for an E.164 number ("+..." or digits) of a number
// type at an instant: the longest matching prefix whose rate is in effect,
// a rate for the number's type before one for any type.
func (d *Deck) Find(e164, numberType string, at time.Time) (*dialtone.Rate, bool) {
	digits := strings.TrimPrefix(e164, "+")
	for l := min(len(digits), d.maxLen); l >= 1; l-- {
		rs := d.byPrefix[digits[:l]]
		for i := range rs {
			r := &rs[i]
			if (r.NumberType == "" || r.NumberType == numberType) && !at.Before(r.From) && (r.To.IsZero() || at.Before(r.To)) {
				return r, true
			}
		}
	}
	return nil, false
}

// Len is the number of rates.
func (d *Deck) Len() int {
	n := 0
	for _, rs := range d.byPrefix {
		n += len(rs)
	}
	return n
}
