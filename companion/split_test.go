package companion_test

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone/companion"
)

func TestSplitEqual(t *testing.T) {
	for _, tt := range []struct {
		total string
		n     int
		want  []string
	}{
		{"1.00", 3, []string{"0.34", "0.33", "0.33"}},
		{"0.03", 3, []string{"0.01", "0.01", "0.01"}},
		{"10", 4, []string{"2.5", "2.5", "2.5", "2.5"}},
	} {
		got, err := companion.SplitEqual(decimal.RequireFromString(tt.total), tt.n)
		if err != nil || len(got) != len(tt.want) {
			t.Fatalf("SplitEqual(%s, %d) = %v, %v", tt.total, tt.n, got, err)
		}
		for i := range got {
			if !got[i].Equal(decimal.RequireFromString(tt.want[i])) {
				t.Errorf("SplitEqual(%s, %d) = %v, want %v", tt.total, tt.n, got, tt.want)
			}
		}
	}
	for _, bad := range []struct {
		total string
		n     int
	}{{"0.02", 3}, {"1.001", 2}, {"1", 0}, {"1", 1001}} {
		if _, err := companion.SplitEqual(decimal.RequireFromString(bad.total), bad.n); err == nil {
			t.Errorf("SplitEqual(%s, %d) accepted", bad.total, bad.n)
		}
	}
}

// 100,000 random splits: each sums exactly to its total, every share is at
// least 0.01 and below twice the average of what was left when it was drawn.
func TestSplitLucky(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 100_000 {
		n := 1 + r.IntN(20)
		cents := int64(n) + r.Int64N(10_000)
		total := decimal.New(cents, -2)
		shares, err := companion.SplitLucky(total, n, r.Float64)
		if err != nil {
			t.Fatalf("split %d: SplitLucky(%s, %d) = %v", i, total, n, err)
		}
		sum, left := decimal.Zero, total
		for j, s := range shares {
			if s.LessThan(decimal.New(1, -2)) {
				t.Fatalf("split %d: share %d of SplitLucky(%s, %d) = %s, below 0.01", i, j, total, n, s)
			}
			if j < n-1 {
				avg := left.Div(decimal.NewFromInt(int64(n - j)))
				if s.GreaterThanOrEqual(avg.Mul(decimal.NewFromInt(2))) && s.GreaterThan(decimal.New(1, -2)) {
					t.Fatalf("split %d: share %d = %s is not below twice the remaining average %s", i, j, s, avg)
				}
			}
			sum, left = sum.Add(s), left.Sub(s)
		}
		if !sum.Equal(total) {
			t.Fatalf("split %d: shares of %s sum to %s", i, total, sum)
		}
	}
}
