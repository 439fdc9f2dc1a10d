package companion

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// Red envelopes are split in the currency's minor unit (dialtone.
// CurrencyPlaces: a cent of USD, a yen, a fils of KWD): every share is at
// least one unit and the shares always sum to the total exactly.

// toUnits is total in minor units of currency, checked for n shares, and
// the exponent of one unit.
func toUnits(total decimal.Decimal, n int, currency string) (units int64, exp int32, err error) {
	places := int32(dialtone.CurrencyPlaces(currency))
	c := total.Shift(places)
	switch {
	case n < 1 || n > 1000:
		return 0, 0, fmt.Errorf("%w count %d: want 1 to 1000 shares", dialtone.ErrInvalid, n)
	case !c.IsInteger():
		return 0, 0, fmt.Errorf("%w total %s: at most %d decimal places in %s", dialtone.ErrInvalid, total, places, currency)
	case c.IntPart() < int64(n):
		return 0, 0, fmt.Errorf("%w total %s: %d shares need at least %s %s", dialtone.ErrInvalid, total, n, decimal.New(int64(n), -places), currency)
	}
	return c.IntPart(), -places, nil
}

// SplitEqual divides total (in currency) into n shares that differ by at
// most one minor unit, the larger ones first.
func SplitEqual(total decimal.Decimal, n int, currency string) ([]decimal.Decimal, error) {
	c, exp, err := toUnits(total, n, currency)
	if err != nil {
		return nil, err
	}
	base, extra := c/int64(n), c%int64(n)
	out := make([]decimal.Decimal, n)
	for i := range out {
		v := base
		if int64(i) < extra {
			v++
		}
		out[i] = decimal.New(v, exp)
	}
	return out, nil
}

// SplitLucky divides total (in currency) into n random shares ("lucky
// money"): each share but the last is drawn uniformly from one minor unit
// up to (not including) twice the average of what is left, and never so
// large that the shares after it could not get a unit each; the last
// takes the rest. u returns uniform numbers in [0, 1).
func SplitLucky(total decimal.Decimal, n int, currency string, u func() float64) ([]decimal.Decimal, error) {
	c, exp, err := toUnits(total, n, currency)
	if err != nil {
		return nil, err
	}
	out := make([]decimal.Decimal, n)
	left := c
	for i := range n - 1 {
		k := int64(n - i)     // shares still to draw, this one included
		limit := 2 * left / k // exclusive bound: twice the remaining average
		v := int64(1)
		if limit > 1 {
			v = 1 + int64(u()*float64(limit-1))
		}
		v = min(v, left-(k-1)) // leave a unit for each share after this one
		out[i] = decimal.New(v, exp)
		left -= v
	}
	out[n-1] = decimal.New(left, exp)
	return out, nil
}
