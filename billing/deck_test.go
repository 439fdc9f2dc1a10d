package billing_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
)

func TestParseDeck(t *testing.T) {
	in := "\ufeffPrefix,Destination,Rate,Connect_Fee,First_Increment,Next_Increment,Effective_From,Effective_To,Number_Type\n" +
		"44,United Kingdom,0.02,0,60,60,2026-01-01,,\n" +
		"447,\"United Kingdom - Mobile, all\",0.0875,0.01,30,6,2026-01-01T00:00:00Z,2027-01-01,mobile\n" +
		"\n" +
		"1,USA,0.005,,1,1,,,fixed\n"
	rates, err := billing.ParseDeck(strings.NewReader(in), nil)
	if err != nil {
		t.Fatalf("ParseDeck() = %v", err)
	}
	if len(rates) != 3 {
		t.Fatalf("ParseDeck() = %d rates, want 3", len(rates))
	}
	m := rates[1]
	if m.Prefix != "447" || m.Destination != "United Kingdom - Mobile, all" || !m.PerMinute.Equal(d("0.0875")) || !m.ConnectFee.Equal(d("0.01")) ||
		m.FirstIncrement != 30 || m.NextIncrement != 6 || !m.From.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) ||
		!m.To.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) || m.NumberType != "mobile" {
		t.Errorf("rate on line 3 = %+v", m)
	}
	if u := rates[2]; !u.ConnectFee.IsZero() || !u.To.IsZero() || u.From.Year() != 1970 {
		t.Errorf("defaults on line 5 = %+v", u)
	}
	minimal, err := billing.ParseDeck(strings.NewReader("prefix,destination,rate\n33,France,0.01\n"), nil)
	if err != nil || minimal[0].FirstIncrement != 60 || minimal[0].NextIncrement != 60 {
		t.Errorf("ParseDeck(minimal columns) = %+v, %v; want 60/60 increments", minimal, err)
	}
}

// Every bad row is reported with its line and field, and nothing is returned.
func TestParseDeckErrors(t *testing.T) {
	head := "prefix,destination,rate,connect_fee,first_increment,next_increment,effective_from,effective_to,number_type\n"
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty", "", []string{"line 1: the deck is empty"}},
		{"no rows", head, []string{"line 2: the deck has no rates"}},
		{"missing column", "prefix,rate\n44,0.1\n", []string{"line 1, destination: required column is missing"}},
		{"unknown column", "prefix,destination,rate,colour\n44,UK,0.1,red\n", []string{`line 1, column 4: unknown column "colour"`}},
		{"bad prefix", head + "+44,UK,0.1,0,60,60,,,\n", []string{`line 2, prefix: "+44" is not 1 to 15 digits`}},
		{"negative rate", head + "44,UK,-0.1,0,60,60,,,\n", []string{"line 2, rate: -0.1 is negative"}},
		{"over-precise rate", head + "44,UK,0.0000001,0,60,60,,,\n", []string{`line 2, rate: "0.0000001" is not a decimal`}},
		{"rate in words", head + "44,UK,ten cents,0,60,60,,,\n", []string{`line 2, rate: "ten cents" is not a decimal`}},
		{"exponent", head + "44,UK,1e-2,0,60,60,,,\n", []string{`line 2, rate: "1e-2" is not a decimal`}},
		{"zero increment", head + "44,UK,0.1,0,0,60,,,\n", []string{`line 2, first_increment: "0" is not a whole number`}},
		{"bad date", head + "44,UK,0.1,0,60,60,01/02/2026,,\n", []string{`line 2, effective_from: "01/02/2026" is not YYYY-MM-DD`}},
		{"to before from", head + "44,UK,0.1,0,60,60,2026-02-01,2026-01-01,\n", []string{"line 2, effective_to: 2026-01-01 is not after"}},
		{"bad type", head + "44,UK,0.1,0,60,60,,,satellite\n", []string{`line 2, number_type: "satellite" is not one of`}},
		{"short row", head + "44,UK,0.1\n", []string{"line 2: 3 fields, the header has 9"}},
		{"duplicate", head + "44,UK,0.1,0,60,60,,,\n44,UK again,0.2,0,60,60,,,\n", []string{"line 3, prefix: 44 with the same number type and effective date is on line 2 too"}},
		{"several at once", head + "44,UK,x,0,60,60,,,\n33,FR,0.1,0,60,60,,,\n49,DE,0.1,0,60,60,,,pager\n",
			[]string{"line 2, rate", "line 4, number_type"}},
		{"bad quoting", head + "44,\"UK,0.1,0,60,60,,,\n", []string{"line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rates, err := billing.ParseDeck(strings.NewReader(tt.in), nil)
			if err == nil || rates != nil {
				t.Fatalf("ParseDeck() = %d rates, %v; want an error and no rates", len(rates), err)
			}
			if !errors.Is(err, dialtone.ErrInvalid) {
				t.Errorf("ParseDeck() = %v, want it to match dialtone.ErrInvalid", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseDeck() = %q, want it to say %q", err, w)
				}
			}
		})
	}
}

func FuzzParseDeck(f *testing.F) {
	f.Add("prefix,destination,rate\n44,UK,0.1\n")
	f.Add("prefix,destination,rate,connect_fee,first_increment,next_increment,effective_from,effective_to,number_type\n447,UK,0.0875,0.01,30,6,2026-01-01,2027-01-01,mobile\n")
	f.Add("prefix,destination,rate\n\"44,UK\n")
	f.Fuzz(func(t *testing.T, in string) {
		rates, err := billing.ParseDeck(strings.NewReader(in), nil)
		if err != nil {
			if rates != nil {
				t.Fatalf("rates returned with an error")
			}
			return
		}
		for _, r := range rates {
			if r.Prefix == "" || r.PerMinute.IsNegative() || r.FirstIncrement < 1 || r.NextIncrement < 1 {
				t.Fatalf("accepted a bad rate %+v", r)
			}
			if _, err := dialtone.ToMicros(r.PerMinute); err != nil {
				t.Fatalf("accepted an over-precise rate %+v", r)
			}
		}
	})
}
