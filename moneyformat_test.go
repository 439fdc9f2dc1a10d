package dialtone_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

func TestFormatMoney(t *testing.T) {
	for _, tc := range []struct {
		amount, cur, want string
	}{
		{"4.98", "USD", "4.98 USD"},
		{"5", "USD", "5.00 USD"},
		{"-1", "USD", "-1.00 USD"},
		{"0", "USD", "0.00 USD"},
		{"2.00", "EUR", "2.00 EUR"},
		{"0.0125", "USD", "0.0125 USD"},       // a rate per minute with more places
		{"0.006100", "USD", "0.0061 USD"},     // trimmed to the places it has
		{"-0.000001", "USD", "-0.000001 USD"}, // the stored precision, never rounded away
		{"1.10", "USD", "1.10 USD"},
		{"500", "JPY", "500 JPY"},
		{"1.5", "JPY", "1.5 JPY"},
		{"1.5", "KWD", "1.500 KWD"},
		{"0.0125", "KWD", "0.0125 KWD"},
		{"3", "usd", "3.00 USD"},
		{"3", "XYZ", "3.00 XYZ"}, // unknown code: two places
	} {
		if got := dialtone.FormatMoney(decimal.RequireFromString(tc.amount), tc.cur); got != tc.want {
			t.Errorf("FormatMoney(%s, %q) = %q, want %q", tc.amount, tc.cur, got, tc.want)
		}
	}
	for cur, want := range map[string]int{"USD": 2, "JPY": 0, "KWD": 3, "EUR": 2, "GBP": 2, "": 2, "nonsense": 2} {
		if got := dialtone.CurrencyPlaces(cur); got != want {
			t.Errorf("CurrencyPlaces(%q) = %d, want %d", cur, got, want)
		}
	}
	if got := dialtone.Amount(decimal.RequireFromString("2"), "USD"); got != "2.00" {
		t.Errorf("Amount(2, USD) = %q, want %q", got, "2.00")
	}
}
