package dialtone

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"
)

func TestDefaultLimitsAreComplete(t *testing.T) {
	if err := DefaultLimits().Validate(true); err != nil {
		t.Fatalf("DefaultLimits().Validate(true) = %v", err)
	}
	if err := (Limits{}).Validate(true); err == nil {
		t.Error("Limits{}.Validate(true) = nil, want an error: the defaults name every limit")
	}
	if err := (Limits{}).Validate(false); err != nil {
		t.Errorf("Limits{}.Validate(false) = %v, want nil: an account may leave all to the defaults", err)
	}
}

func TestLimitsOver(t *testing.T) {
	d := DefaultLimits()
	own := Limits{Concurrent: 5, PerMinute: Unlimited, SpendDay: UnlimitedMoney, Countries: []string{"GB"}}
	got := own.Over(d)
	if got.Concurrent != 5 || got.PerMinute != Unlimited || !got.SpendHour.Equal(d.SpendHour) || !got.SpendDay.Equal(UnlimitedMoney) ||
		!got.MaxRate.Equal(d.MaxRate) || len(got.Countries) != 1 || got.Countries[0] != "GB" || len(got.NumberTypes) != len(d.NumberTypes) {
		t.Errorf("Over = %+v", got)
	}
	if !(Limits{}).IsDefault() || own.IsDefault() {
		t.Error("IsDefault wrong")
	}
}

func TestLimitsCheck(t *testing.T) {
	d := DefaultLimits() // 2 at once, 10 a minute, 10/h, 30/day, 1.00 a minute, any country, mobile fixed toll_free
	ok := LimitCall{Country: "US", NumberType: "mobile", Rate: decimal.RequireFromString("0.02"), Rated: true}
	gb := Limits{Countries: []string{"GB", "FR"}}.Over(d)
	lifted := Limits{Concurrent: Unlimited, PerMinute: Unlimited, SpendHour: UnlimitedMoney, SpendDay: UnlimitedMoney,
		MaxRate: UnlimitedMoney, NumberTypes: NumberTypes}.Over(d)
	dear := ok
	dear.Rate = decimal.RequireFromString("1.0001")
	unrated := LimitCall{Country: "US", NumberType: "fixed"}
	premium := ok
	premium.NumberType = "premium"
	unknownType := ok
	unknownType.NumberType = ""
	money := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	for _, tt := range []struct {
		name string
		l    Limits
		call LimitCall
		u    LimitUsage
		want Limit // "" allowed
	}{
		{"idle account", d, ok, LimitUsage{}, ""},
		{"one call in progress", d, ok, LimitUsage{Calls: 1, RecentCalls: 1}, ""},
		{"two in progress", d, ok, LimitUsage{Calls: 2, RecentCalls: 2}, LimitConcurrent},
		{"nine this minute", d, ok, LimitUsage{RecentCalls: 9}, ""},
		{"ten this minute", d, ok, LimitUsage{RecentCalls: 10}, LimitPerMinute},
		{"spent under the hour", d, ok, LimitUsage{SpentHour: money("9.99"), SpentDay: money("9.99")}, ""},
		{"spent the hour", d, ok, LimitUsage{SpentHour: money("10"), SpentDay: money("10")}, LimitSpendHour},
		{"spent the day", d, ok, LimitUsage{SpentHour: money("1"), SpentDay: money("30.00")}, LimitSpendDay},
		{"rate at the cap", d, LimitCall{Country: "US", NumberType: "fixed", Rate: money("1"), Rated: true}, LimitUsage{}, ""},
		{"rate over the cap", d, dear, LimitUsage{}, LimitMaxRate},
		{"no rate known", d, unrated, LimitUsage{}, ""},
		{"premium by default", d, premium, LimitUsage{}, LimitNumberType},
		{"unknown type", d, unknownType, LimitUsage{}, LimitNumberType},
		{"country not listed", gb, ok, LimitUsage{}, LimitCountry},
		{"country listed", gb, LimitCall{Country: "FR", NumberType: "fixed"}, LimitUsage{}, ""},
		{"destination before counts", gb, ok, LimitUsage{Calls: 5}, LimitCountry},
		{"lifted", lifted, LimitCall{Country: "001", NumberType: "other", Rate: money("9"), Rated: true},
			LimitUsage{Calls: 1000, RecentCalls: 100000, SpentHour: money("1e6"), SpentDay: money("1e6")}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.l.Check(tt.call, tt.u)
			switch {
			case tt.want == "" && e != nil:
				t.Errorf("Check(%+v, %+v) = %v, want allowed", tt.call, tt.u, e)
			case tt.want != "" && (e == nil || e.Limit != tt.want):
				t.Errorf("Check(%+v, %+v) = %v, want %s", tt.call, tt.u, e, tt.want)
			case e != nil && !errors.Is(e, ErrForbidden):
				t.Errorf("%v is not ErrForbidden", e)
			}
		})
	}
}

func TestLimitSettings(t *testing.T) {
	s := LimitSettings{Concurrent: "5", PerMinute: "unlimited", SpendHour: " 2.50 ", SpendDay: "default", Countries: []string{"gb", " us"}, NumberTypes: []string{"mobile"}}
	l, err := s.Limits(false)
	if err != nil {
		t.Fatal(err)
	}
	if l.Concurrent != 5 || l.PerMinute != Unlimited || !l.SpendHour.Equal(decimal.RequireFromString("2.5")) || !l.SpendDay.IsZero() ||
		l.Countries[0] != "GB" || l.Countries[1] != "US" || l.NumberTypes[0] != Mobile {
		t.Errorf("Limits() = %+v", l)
	}
	back, err := l.Settings().Limits(false)
	if err != nil || back.Concurrent != l.Concurrent || !back.SpendHour.Equal(l.SpendHour) || back.PerMinute != l.PerMinute {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	for _, bad := range []LimitSettings{
		{Concurrent: "0"}, {Concurrent: "-1"}, {Concurrent: "1.5"}, {PerMinute: "lots"}, {PerMinute: "1000001"},
		{SpendHour: "0"}, {SpendHour: "-1"}, {SpendDay: "1e400"}, {MaxRate: "0.0000001"}, {MaxRate: "abc"},
		{Countries: []string{"USA"}}, {Countries: []string{"*", "US"}}, {Countries: []string{"1"}}, {NumberTypes: []string{"satellite"}},
	} {
		if _, err := bad.Limits(false); !errors.Is(err, ErrInvalid) {
			t.Errorf("Limits(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := (LimitSettings{Concurrent: "default"}).Limits(true); err == nil {
		t.Error("a complete set with a default in it was accepted")
	}
	var js LimitSettings
	if err := js.Concurrent.UnmarshalJSON([]byte("7")); err != nil || js.Concurrent != "7" {
		t.Errorf("UnmarshalJSON(7) = %v, %q", err, js.Concurrent)
	}
	if err := js.Concurrent.UnmarshalJSON([]byte("true")); err == nil {
		t.Error("UnmarshalJSON(true) accepted")
	}
}

// FuzzLimitSettings: an API body of limits is either refused as invalid
// or gives limits that validate, write back as text and read again the same.
func FuzzLimitSettings(f *testing.F) {
	f.Add(`{"concurrent_calls": 5, "spend_hour": "2.50", "countries": ["us", "GB"], "number_types": ["mobile"]}`)
	f.Add(`{"calls_per_minute": "unlimited", "max_rate": 1e400, "spend_day": "default"}`)
	f.Add(`{"countries": ["*"], "concurrent_calls": "-1", "max_rate": "0.0000001"}`)
	f.Add(`{"concurrent_calls": true}`)
	f.Fuzz(func(t *testing.T, body string) {
		var s LimitSettings
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			return
		}
		l, err := s.Limits(false)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Limits(%q) = %v, want ErrInvalid", body, err)
			}
			return
		}
		if err := l.Validate(false); err != nil {
			t.Fatalf("Limits(%q) gave limits that do not validate: %v", body, err)
		}
		back, err := l.Settings().Limits(false)
		if err != nil || !reflect.DeepEqual(back.Settings(), l.Settings()) {
			t.Fatalf("round trip of %q = %+v, %v; want %+v", body, back.Settings(), err, l.Settings())
		}
		_ = l.Over(DefaultLimits()).Check(LimitCall{Country: "GB", NumberType: "mobile", Rate: decimal.NewFromInt(2), Rated: true}, LimitUsage{Calls: 3})
	})
}
