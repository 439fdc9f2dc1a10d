package trunks

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		dialed, country string
		e164            string
		typ             NumberType
	}{
		// United States (NANP: fixed and mobile share ranges; read as fixed)
		{"(201) 555-0123", "US", "+12015550123", Fixed},
		{"201-555-0123", "US", "+12015550123", Fixed},
		{"1 201 555 0123", "US", "+12015550123", Fixed},
		{"+1 201 555 0123", "GB", "+12015550123", Fixed},
		{"0012015550123", "DE", "+12015550123", Fixed},
		{"tel:+1-201-555-0123", "FR", "+12015550123", Fixed},
		{"8002345678", "US", "+18002345678", TollFree},
		{"19002345678", "US", "+19002345678", Premium},
		// United Kingdom
		{"0121 234 5678", "GB", "+441212345678", Fixed},
		{"07400 123456", "GB", "+447400123456", Mobile},
		{"011 44 7400 123456", "US", "+447400123456", Mobile},
		{"00447400123456", "FR", "+447400123456", Mobile},
		{"+44 (0)121 234 5678", "US", "+441212345678", Fixed},
		{"0800 123 4567", "GB", "+448001234567", TollFree},
		{"09012345678", "GB", "+449012345678", Premium},
		// Germany
		{"030 123456", "DE", "+4930123456", Fixed},
		{"01512 3456789", "DE", "+4915123456789", Mobile},
		{"011 49 1512 3456789", "US", "+4915123456789", Mobile},
		// France
		{"01 23 45 67 89", "FR", "+33123456789", Fixed},
		{"06.12.34.56.78", "FR", "+33612345678", Mobile},
		{"+33 6 12 34 56 78", "US", "+33612345678", Mobile},
		// India
		{"081234 56789", "IN", "+918123456789", Mobile},
		{"+91 81234 56789", "GB", "+918123456789", Mobile},
		{"1800 12 3456", "IN", "+911800123456", TollFree},
		// China
		{"010 1234 5678", "CN", "+861012345678", Fixed},
		{"131 2345 6789", "CN", "+8613123456789", Mobile},
		{"001 86 131 2345 6789", "HK", "+8613123456789", Mobile}, // HK dials out with 001
		// Hong Kong
		{"2123 4567", "HK", "+85221234567", Fixed},
		{"5123 4567", "HK", "+85251234567", Mobile},
		{"011 852 5123 4567", "CA", "+85251234567", Mobile},
		// Brazil
		{"(11) 2345-6789", "BR", "+551123456789", Fixed},
		{"(11) 96123-4567", "BR", "+5511961234567", Mobile},
		// Australia
		{"(02) 1234 5678", "AU", "+61212345678", Fixed},
		{"0412 345 678", "AU", "+61412345678", Mobile},
		{"+61 412 345 678", "NG", "+61412345678", Mobile},
		// Japan
		{"03-1234-5678", "JP", "+81312345678", Fixed},
		{"090-1234-5678", "JP", "+819012345678", Mobile},
		{"0120-123-456", "JP", "+81120123456", TollFree},
		// Nigeria
		{"0802 123 4567", "NG", "+2348021234567", Mobile},
		{"02033 12 3456", "NG", "+2342033123456", Fixed},
		// Spain and Mexico
		{"612 34 56 78", "ES", "+34612345678", Mobile},
		{"810 12 34 56", "ES", "+34810123456", Fixed},
		{"200 123 4567", "MX", "+522001234567", Fixed},
	}
	for _, tt := range tests {
		t.Run(tt.dialed+"/"+tt.country, func(t *testing.T) {
			n, err := Normalize(tt.dialed, tt.country)
			if err != nil {
				t.Fatalf("Normalize(%q, %q) = %v", tt.dialed, tt.country, err)
			}
			if n.E164 != tt.e164 || n.Type != tt.typ {
				t.Errorf("Normalize(%q, %q) = %s %s, want %s %s", tt.dialed, tt.country, n.E164, n.Type, tt.e164, tt.typ)
			}
		})
	}
}

func TestNormalizeInvalid(t *testing.T) {
	tests := []struct {
		dialed, country string
		want            error
	}{
		{"12", "US", ErrInvalidNumber},
		{"", "US", ErrInvalidNumber},
		{"alice", "US", ErrInvalidNumber},
		{"+44 12", "GB", ErrInvalidNumber},
		{"555", "GB", ErrInvalidNumber},
		{"1+2", "US", ErrInvalidNumber},
		{"+999 123456789", "US", ErrInvalidNumber},
		{strings.Repeat("9", 40), "US", ErrInvalidNumber},
		{"2015550123", "XX", ErrUnknownCountry},
		{"2015550123", "", ErrUnknownCountry},
	}
	for _, tt := range tests {
		if n, err := Normalize(tt.dialed, tt.country); !errors.Is(err, tt.want) {
			t.Errorf("Normalize(%q, %q) = %+v, %v, want %v", tt.dialed, tt.country, n, err, tt.want)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"+442079460018", "tel:+1-201-555-0123;phone-context=x", "011 44 20", "(02) 1234 5678", "++1", "\x00"} {
		f.Add(s, "US")
	}
	f.Fuzz(func(t *testing.T, dialed, country string) {
		n, err := Normalize(dialed, country)
		if err != nil {
			return
		}
		if !strings.HasPrefix(n.E164, "+") || strings.Trim(n.E164[1:], "0123456789") != "" {
			t.Errorf("Normalize(%q, %q) = %q, not E.164", dialed, country, n.E164)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Normalize("011 44 7400 123456", "US"); err != nil {
			b.Fatal(err)
		}
	}
}
