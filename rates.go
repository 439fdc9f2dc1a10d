package dialtone

import (
	"context"
	"time"

	"github.com/shopspring/decimal"
)

// Rate is one row of a rate deck: the price of calls to numbers starting
// with Prefix (E.164 digits, no '+').
//
// Billing increments: a call of d seconds is billed FirstIncrement seconds
// if d <= FirstIncrement, else FirstIncrement plus d-FirstIncrement rounded
// up to a multiple of NextIncrement ("60/60", "1/1", "30/6").
type Rate struct {
	Prefix         string
	Destination    string          // e.g. "United Kingdom - Mobile"
	PerMinute      decimal.Decimal // price of 60 billed seconds
	ConnectFee     decimal.Decimal // charged once per answered call
	FirstIncrement int64           // seconds
	NextIncrement  int64           // seconds
	From           time.Time       // effective from (inclusive)
	To             time.Time       // effective until (exclusive); zero: open-ended
	NumberType     string          // mobile, fixed, ...; empty: any
}

// RatePlan is a named rate deck in one currency: a sell plan (what users
// pay, assigned to accounts) or a buy deck (what a carrier charges us).
type RatePlan struct {
	Name      string
	Currency  string
	Rates     int // number of rows
	UpdatedAt time.Time
}

// RateStore keeps rate decks.
type RateStore interface {
	// ReplaceRates makes rates the whole deck of plan, atomically: readers see
	// the old deck or the new one, never a mix.
	ReplaceRates(ctx context.Context, plan RatePlan, rates []Rate) error
	// Rates returns a plan and its deck; ErrNotFound for an unknown plan.
	Rates(ctx context.Context, plan string) (RatePlan, []Rate, error)
	// RatePlans lists the plans by name.
	RatePlans(ctx context.Context) ([]RatePlan, error)
}

// Bundle is a product: prepaid seconds for some destinations, valid for a
// period, e.g. "World 100: 100 minutes, $0.99, 30 days, mobile and landline
// in US, CA, IN, HK, CN".
type Bundle struct {
	Code        string
	Name        string
	Seconds     int64
	Price       decimal.Decimal
	Currency    string
	Validity    time.Duration
	Countries   []string // ISO 3166 regions of the destination; empty: any
	NumberTypes []string // empty: any
	Increment   int64    // seconds; calls use the bundle in multiples of it
}

// Holding is a bundle an account bought: what is left of it and until when.
type Holding struct {
	ID          int64
	AccountID   int64
	Bundle      string
	Seconds     int64
	SecondsLeft int64
	Increment   int64
	Countries   []string
	NumberTypes []string
	BoughtAt    time.Time
	ExpiresAt   time.Time
}

// BundleStore keeps the bundles accounts hold.
type BundleStore interface {
	// BuyBundle posts pay (wallet to revenue) and adds h in one transaction.
	// A replay of pay's key changes nothing and reports replayed.
	BuyBundle(ctx context.Context, h *Holding, pay *Movement) (replayed bool, err error)
	// Holdings lists an account's bundles that are unexpired at at and have
	// seconds left, soonest expiry first.
	Holdings(ctx context.Context, accountID int64, at time.Time) ([]Holding, error)
}
