package companion_test

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone/companion"
)

func TestSplitEqual(t *testing.T) {
	for _, tt := range []struct {
		total    string
		n        int
		currency string
		want     []string
	}{
		{"1.00", 3, "USD", []string{"0.34", "0.33", "0.33"}},
		{"0.03", 3, "USD", []string{"0.01", "0.01", "0.01"}},
		{"10", 4, "EUR", []string{"2.5", "2.5", "2.5", "2.5"}},
		{"100", 3, "JPY", []string{"34", "33", "33"}},        // yen have no subunit
		{"1", 3, "KWD", []string{"0.334", "0.333", "0.333"}}, // three places of fils
	} {
		got, err := companion.SplitEqual(decimal.RequireFromString(tt.total), tt.n, tt.currency)
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
		total    string
		n        int
		currency string
	}{{"0.02", 3, "USD"}, {"1.001", 2, "USD"}, {"1", 0, "USD"}, {"1", 1001, "USD"}, {"2", 3, "JPY"}, {"10.5", 2, "JPY"}, {"0.0001", 1, "KWD"}} {
		if _, err := companion.SplitEqual(decimal.RequireFromString(bad.total), bad.n, bad.currency); err == nil {
			t.Errorf("SplitEqual(%s %s, %d) accepted", bad.total, bad.currency, bad.n)
		}
		if _, err := companion.SplitLucky(decimal.RequireFromString(bad.total), bad.n, bad.currency, rand.Float64); err == nil {
			t.Errorf("SplitLucky(%s %s, %d) accepted", bad.total, bad.currency, bad.n)
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
		shares, err := companion.SplitLucky(total, n, "USD", r.Float64)
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
	// Yen are split in whole yen.
	for i := range 1000 {
		shares, err := companion.SplitLucky(decimal.NewFromInt(100), 7, "JPY", r.Float64)
		if err != nil {
			t.Fatal(err)
		}
		sum := decimal.Zero
		for _, s := range shares {
			if !s.IsInteger() || s.LessThan(decimal.NewFromInt(1)) {
				t.Fatalf("split %d: JPY share %s, want whole yen of at least 1", i, s)
			}
			sum = sum.Add(s)
		}
		if !sum.Equal(decimal.NewFromInt(100)) {
			t.Fatalf("split %d: JPY shares sum to %s", i, sum)
		}
	}
}
