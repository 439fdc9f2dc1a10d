package companion

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// Red envelopes are split in cents: every share is at least 0.01 and the
// shares always sum to the total exactly.

var cent = decimal.New(1, -2)

func toCents(total decimal.Decimal, n int) (int64, error) {
	c := total.Shift(2)
	switch {
	case n < 1 || n > 1000:
		return 0, fmt.Errorf("%w count %d: want 1 to 1000 shares", dialtone.ErrInvalid, n)
	case !c.IsInteger():
		return 0, fmt.Errorf("%w total %s: at most 2 decimal places", dialtone.ErrInvalid, total)
	case c.IntPart() < int64(n):
		return 0, fmt.Errorf("%w total %s: %d shares need at least %s", dialtone.ErrInvalid, total, n, cent.Mul(decimal.NewFromInt(int64(n))))
	}
	return c.IntPart(), nil
}

// SplitEqual divides total into n shares that differ by at most 0.01, the
// larger ones first.
func SplitEqual(total decimal.Decimal, n int) ([]decimal.Decimal, error) {
	c, err := toCents(total, n)
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
		out[i] = decimal.New(v, -2)
	}
	return out, nil
}

// SplitLucky divides total into n random shares ("lucky money"): each share
// but the last is drawn uniformly from 0.01 up to (not including) twice the
// average of what is left, and never so large that the shares after it
// could not get 0.01 each; the last takes the rest. u returns uniform
// numbers in [0, 1).
func SplitLucky(total decimal.Decimal, n int, u func() float64) ([]decimal.Decimal, error) {
	c, err := toCents(total, n)
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
		v = min(v, left-(k-1)) // leave a cent for each share after this one
		out[i] = decimal.New(v, -2)
		left -= v
	}
	out[n-1] = decimal.New(left, -2)
	return out, nil
}
