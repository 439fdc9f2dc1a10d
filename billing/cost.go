package billing

import (
	"slices"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// Allowance is bundle time a call may use: seconds on one holding, used in
// multiples of the holding's increment.
type Allowance struct {
	HoldingID int64
	Seconds   int64
	Increment int64
}

// Pool is what an account can pay a call with: bundle allowances in the
// order they are used (soonest expiry first), then wallet money.
type Pool struct {
	Bundles []Allowance
	Money   decimal.Decimal
}

// Charge is what a call of some length costs, split between bundles and money.
type Charge struct {
	Seconds       int64                 // call seconds
	BundleSeconds int64                 // bundle seconds used, rounded by each bundle's increment
	Takes         []dialtone.BundleTake // the same per holding
	WalletBilled  int64                 // seconds billed in money, by the rate's increments
	Price         decimal.Decimal       // money
}

// Billed is the seconds charged in all: bundle plus money.
func (c Charge) Billed() int64 { return c.BundleSeconds + c.WalletBilled }

// Cost charges a call of secs seconds at r: bundles first, each rounded up to
// its own increment when it covers the rest of the call, or used in whole
// increments when it does not; whatever is left is billed in money by the
// rate's increments, with the connect fee. A call covered by bundles pays no
// connect fee.
func Cost(r *dialtone.Rate, rnd Rounding, bundles []Allowance, secs int64) Charge {
	c := Charge{Seconds: secs}
	rest := secs
	for _, b := range bundles {
		if rest <= 0 {
			break
		}
		if b.Increment <= 0 || b.Seconds <= 0 {
			continue
		}
		take := (rest + b.Increment - 1) / b.Increment * b.Increment
		covered := rest
		if take > b.Seconds {
			take = b.Seconds / b.Increment * b.Increment
			covered = take
		}
		if take == 0 {
			continue
		}
		c.Takes = append(c.Takes, dialtone.BundleTake{HoldingID: b.HoldingID, Seconds: take, Increment: b.Increment})
		c.BundleSeconds += take
		rest -= covered
	}
	c.WalletBilled = Billed(r, rest)
	c.Price = Price(r, c.WalletBilled, rnd)
	return c
}

// MaxSeconds is the longest call, up to limit seconds, that pool pays for
// at r; 0 when it cannot pay for the first increment.
func MaxSeconds(r *dialtone.Rate, rnd Rounding, pool Pool, limit int64) int64 {
	fits := func(s int64) bool { return Cost(r, rnd, pool.Bundles, s).Price.LessThanOrEqual(pool.Money) }
	if limit <= 0 || !fits(1) {
		return 0
	}
	lo, hi := int64(1), limit // fits(lo) holds; the price never falls as seconds grow
	if fits(hi) {
		return hi
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// Covers says whether a holding may pay for a call to a number of a country
// and type.
func Covers(h *dialtone.Holding, country, numberType string) bool {
	return (len(h.Countries) == 0 || slices.Contains(h.Countries, country)) &&
		(len(h.NumberTypes) == 0 || slices.Contains(h.NumberTypes, numberType))
}
