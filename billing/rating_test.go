package billing_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func rate(perMinute, fee string, first, next int64) *dialtone.Rate {
	return &dialtone.Rate{Prefix: "44", PerMinute: d(perMinute), ConnectFee: d(fee), FirstIncrement: first, NextIncrement: next}
}

// Each row can be checked by hand: billed seconds by the increments, then
// rate x billed / 60, rounded, plus the connect fee.
func TestBilledAndPrice(t *testing.T) {
	up4 := billing.Rounding{Places: 4, Mode: billing.RoundUp}
	tests := []struct {
		name   string
		rate   *dialtone.Rate
		rnd    billing.Rounding
		secs   int64
		billed int64
		price  string
	}{
		{"60/60 zero seconds costs nothing", rate("0.10", "0", 60, 60), up4, 0, 0, "0"},
		{"60/60 one second is a minute", rate("0.10", "0", 60, 60), up4, 1, 60, "0.1"},
		{"60/60 exactly a minute", rate("0.10", "0", 60, 60), up4, 60, 60, "0.1"},
		{"60/60 61 s is two minutes", rate("0.10", "0", 60, 60), up4, 61, 120, "0.2"},
		{"1/1 per second", rate("0.06", "0", 1, 1), up4, 61, 61, "0.061"},
		{"1/1 a third of a cent rounds up", rate("0.02", "0", 1, 1), up4, 1, 1, "0.0004"},
		{"30/6 short call pays 30 s", rate("0.12", "0", 30, 6), up4, 10, 30, "0.06"},
		{"30/6 31 s is 36 s", rate("0.12", "0", 30, 6), up4, 31, 36, "0.072"},
		{"30/6 95 s is 96 s", rate("0.12", "0", 30, 6), up4, 95, 96, "0.192"},
		{"connect fee on an answered call", rate("0.10", "0.05", 60, 60), up4, 5, 60, "0.15"},
		{"connect fee not on zero seconds", rate("0.10", "0.05", 60, 60), up4, 0, 0, "0"},
		{"round up 0.0875 x 7/60", rate("0.0875", "0", 1, 1), up4, 7, 7, "0.0103"}, // 0.0102083.. up
		{"half up 0.0875 x 7/60", rate("0.0875", "0", 1, 1), billing.Rounding{Places: 4, Mode: billing.RoundHalfUp}, 7, 7, "0.0102"},
		{"down 0.0875 x 7/60", rate("0.0875", "0", 1, 1), billing.Rounding{Places: 4, Mode: billing.RoundDown}, 7, 7, "0.0102"},
		{"half even 0.00025 to 0.0002", rate("0.015", "0", 1, 1), billing.Rounding{Places: 4, Mode: billing.RoundHalfEven}, 1, 1, "0.0002"},
		{"half up 0.00025 to 0.0003", rate("0.015", "0", 1, 1), billing.Rounding{Places: 4, Mode: billing.RoundHalfUp}, 1, 1, "0.0003"},
		{"two places round up", rate("0.0875", "0", 60, 60), billing.Rounding{Places: 2, Mode: billing.RoundUp}, 61, 120, "0.18"},
		{"six places are exact", rate("0.0875", "0", 1, 1), billing.Rounding{Places: 6, Mode: billing.RoundUp}, 7, 7, "0.010209"},
		{"free destination", rate("0", "0", 60, 60), up4, 600, 600, "0"},
		{"long call 60/60", rate("0.01", "0", 60, 60), up4, 3 * 3600, 3 * 3600, "1.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := billing.Billed(tt.rate, tt.secs); got != tt.billed {
				t.Errorf("Billed(%d/%d, %d s) = %d, want %d", tt.rate.FirstIncrement, tt.rate.NextIncrement, tt.secs, got, tt.billed)
			}
			if got := billing.Price(tt.rate, tt.billed, tt.rnd); !got.Equal(d(tt.price)) {
				t.Errorf("Price(%s/min + %s, %d s, %v) = %s, want %s", tt.rate.PerMinute, tt.rate.ConnectFee, tt.billed, tt.rnd, got, tt.price)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int64
	}{{0, 0}, {-time.Second, 0}, {time.Millisecond, 1}, {time.Second, 1}, {1001 * time.Millisecond, 2}, {59876 * time.Millisecond, 60}} {
		if got := billing.Seconds(tt.d); got != tt.want {
			t.Errorf("Seconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// Bundles are used before money, soonest expiry first, each in its own increment.
func TestCostBundlesThenWallet(t *testing.T) {
	r := rate("0.12", "0.05", 30, 6)
	rnd := billing.DefaultRounding
	min100 := billing.Allowance{HoldingID: 1, Seconds: 6000, Increment: 60} // World 100
	sec90 := billing.Allowance{HoldingID: 2, Seconds: 90, Increment: 1}
	min1 := billing.Allowance{HoldingID: 3, Seconds: 60, Increment: 60}
	tests := []struct {
		name    string
		bundles []billing.Allowance
		secs    int64
		takes   []dialtone.BundleTake
		bundle  int64
		billed  int64
		price   string
	}{
		{"no bundle: 45 s is 30+18 billed, with connect fee", nil, 45, nil, 0, 48, "0.146"},
		{"minute bundle rounds the call up to 60 s", []billing.Allowance{min100}, 45, []dialtone.BundleTake{{HoldingID: 1, Seconds: 60, Increment: 60}}, 60, 0, "0"},
		{"minute bundle: 61 s uses two minutes", []billing.Allowance{min100}, 61, []dialtone.BundleTake{{HoldingID: 1, Seconds: 120, Increment: 60}}, 120, 0, "0"},
		{"per-second bundle uses exact seconds", []billing.Allowance{sec90}, 45, []dialtone.BundleTake{{HoldingID: 2, Seconds: 45, Increment: 1}}, 45, 0, "0"},
		{"spill-over: 90 s bundle, 100 s call, 10 s billed 30/6 with fee", []billing.Allowance{sec90}, 100,
			[]dialtone.BundleTake{{HoldingID: 2, Seconds: 90, Increment: 1}}, 90, 30, "0.11"},
		{"two bundles in order, then 50 s of money billed 30+24", []billing.Allowance{min1, sec90}, 200,
			[]dialtone.BundleTake{{HoldingID: 3, Seconds: 60, Increment: 60}, {HoldingID: 2, Seconds: 90, Increment: 1}}, 150, 54, "0.158"},
		{"a minute bundle with 59 s left cannot be used", []billing.Allowance{{HoldingID: 4, Seconds: 59, Increment: 60}}, 10, nil, 0, 30, "0.11"},
		{"zero seconds use nothing", []billing.Allowance{min100}, 0, nil, 0, 0, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := billing.Cost(r, rnd, tt.bundles, tt.secs)
			if len(c.Takes) != len(tt.takes) {
				t.Fatalf("Cost(%d s).Takes = %v, want %v", tt.secs, c.Takes, tt.takes)
			}
			for i := range c.Takes {
				if c.Takes[i] != tt.takes[i] {
					t.Errorf("Cost(%d s).Takes = %v, want %v", tt.secs, c.Takes, tt.takes)
				}
			}
			if c.BundleSeconds != tt.bundle || c.WalletBilled != tt.billed || !c.Price.Equal(d(tt.price)) {
				t.Errorf("Cost(%d s) = bundle %d, billed %d, price %s; want %d, %d, %s", tt.secs, c.BundleSeconds, c.WalletBilled, c.Price, tt.bundle, tt.billed, tt.price)
			}
		})
	}
}

func TestMaxSeconds(t *testing.T) {
	rnd := billing.DefaultRounding
	tests := []struct {
		name  string
		rate  *dialtone.Rate
		pool  billing.Pool
		limit int64
		want  int64
	}{
		{"0.30 at 0.10/min 60/60 is 3 minutes", rate("0.10", "0", 60, 60), billing.Pool{Money: d("0.30")}, 14400, 180},
		{"0.29 buys 2 minutes", rate("0.10", "0", 60, 60), billing.Pool{Money: d("0.29")}, 14400, 120},
		{"0.09 cannot pay the first minute", rate("0.10", "0", 60, 60), billing.Pool{Money: d("0.09")}, 14400, 0},
		{"connect fee counts", rate("0.10", "0.05", 60, 60), billing.Pool{Money: d("0.30")}, 14400, 120},
		{"1/1 at 0.06/min: 0.01 is 10 s", rate("0.06", "0", 1, 1), billing.Pool{Money: d("0.01")}, 14400, 10},
		{"bundle plus money", rate("0.10", "0", 60, 60), billing.Pool{Money: d("0.10"), Bundles: []billing.Allowance{{HoldingID: 1, Seconds: 120, Increment: 60}}}, 14400, 180},
		{"bundle alone, no money", rate("0.10", "0", 60, 60), billing.Pool{Bundles: []billing.Allowance{{HoldingID: 1, Seconds: 6000, Increment: 60}}}, 14400, 6000},
		{"capped by the limit", rate("0", "0", 60, 60), billing.Pool{}, 14400, 14400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := billing.MaxSeconds(tt.rate, rnd, tt.pool, tt.limit); got != tt.want {
				t.Errorf("MaxSeconds() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDeckFind(t *testing.T) {
	jan, jul := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	deck := billing.NewDeck(dialtone.RatePlan{Name: "retail", Currency: "USD"}, []dialtone.Rate{
		{Prefix: "44", Destination: "UK", PerMinute: d("0.02"), From: jan},
		{Prefix: "447", Destination: "UK Mobile", PerMinute: d("0.09"), From: jan},
		{Prefix: "447", Destination: "UK Mobile (July)", PerMinute: d("0.08"), From: jul},
		{Prefix: "1", Destination: "NANP fixed", PerMinute: d("0.005"), From: jan, NumberType: "fixed"},
		{Prefix: "1", Destination: "NANP", PerMinute: d("0.01"), From: jan},
		{Prefix: "86", Destination: "China (ended)", PerMinute: d("0.01"), From: jan, To: jul},
	})
	tests := []struct {
		e164, typ string
		at        time.Time
		want      string
	}{
		{"+442079460018", "fixed", jan.AddDate(0, 2, 0), "UK"},
		{"+447400123456", "mobile", jan.AddDate(0, 2, 0), "UK Mobile"},
		{"+447400123456", "mobile", jul.AddDate(0, 0, 1), "UK Mobile (July)"},
		{"+12015550123", "fixed", jan, "NANP fixed"},
		{"+12015550123", "mobile", jan, "NANP"},
		{"+8613800138000", "mobile", jan, "China (ended)"},
		{"+8613800138000", "mobile", jul, ""},
		{"+33142685300", "fixed", jan, ""},
		{"+447400123456", "mobile", jan.Add(-time.Second), ""},
	}
	for _, tt := range tests {
		r, ok := deck.Find(tt.e164, tt.typ, tt.at)
		got := ""
		if ok {
			got = r.Destination
		}
		if got != tt.want {
			t.Errorf("Find(%s, %s, %s) = %q, want %q", tt.e164, tt.typ, tt.at.Format(time.DateOnly), got, tt.want)
		}
	}
}

func BenchmarkRate(b *testing.B) {
	rates := make([]dialtone.Rate, 0, 20000)
	for i := range 20000 {
		rates = append(rates, dialtone.Rate{Prefix: "4" + decimal.NewFromInt(int64(1000+i)).String(), PerMinute: d("0.0123"), FirstIncrement: 30, NextIncrement: 6})
	}
	rates = append(rates, dialtone.Rate{Prefix: "447", PerMinute: d("0.0875"), FirstIncrement: 60, NextIncrement: 60})
	deck := billing.NewDeck(dialtone.RatePlan{Name: "bench", Currency: "USD"}, rates)
	bundles := []billing.Allowance{{HoldingID: 1, Seconds: 30, Increment: 1}}
	at := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r, ok := deck.Find("+447400123456", "mobile", at)
		if !ok {
			b.Fatal("no rate")
		}
		_ = billing.Cost(r, billing.DefaultRounding, bundles, int64(30+i%600))
	}
}
