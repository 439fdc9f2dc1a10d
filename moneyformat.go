package dialtone

import (
	"strings"

	"github.com/shopspring/decimal"
	"golang.org/x/text/currency"
)

// CurrencyPlaces is the number of minor-unit digits of an ISO 4217
// currency: 2 for USD, 0 for JPY, 3 for KWD. A code that is not ISO 4217
// (or is not known) has 2.
func CurrencyPlaces(code string) int {
	u, err := currency.ParseISO(strings.ToUpper(strings.TrimSpace(code)))
	if err != nil {
		return 2
	}
	scale, _ := currency.Standard.Rounding(u)
	return scale
}

// Amount is the one text of an amount of money wherever a person or an API
// client reads it: the currency's minor-unit places ("4.98", "-1.00",
// "500" for JPY), and more only when the amount has them (a rate per minute
// of "0.0125", a per-second charge of "0.0061"), trimmed and never beyond
// MoneyScale. It never rounds: what is shown is what is stored. The API
// sends it as a string next to a currency field; FormatMoney adds the code
// for text.
func Amount(d decimal.Decimal, cur string) string {
	places := int32(CurrencyPlaces(cur))
	// Digits the amount really has, up to the stored precision.
	exact := d.Round(MoneyScale)
	for p := int32(MoneyScale); p > places; p-- {
		if !exact.Equal(exact.Round(p - 1)) {
			places = p
			break
		}
	}
	return exact.StringFixed(places)
}

// FormatMoney is Amount followed by the currency code: "4.98 USD".
func FormatMoney(d decimal.Decimal, cur string) string {
	return Amount(d, cur) + " " + strings.ToUpper(cur)
}
