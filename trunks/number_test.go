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
	for _, s := range []string{"+442079460018", "tel:+1-201-555-0123;phone-context=x", "011 44 20", "(02) 1234 5678", "++1", "\x00",
		"tel:20-7946-0018;phone-context=+44", "tel:;phone-context=+", "00 44 7400\u00a0123456", "(+44) 7400/123456", "tel:%2B44%20", "%zz"} {
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

// TestNormalizeForms dials each number in the forms people and phones
// use (at home, from abroad with 00, 011 or '+', as a tel: URI, with
// assorted separators) and wants the same E.164 number and type from all.
// The numbers are valid per libphonenumber's metadata; most are its
// example numbers.
func TestNormalizeForms(t *testing.T) {
	tests := []struct {
		country  string // where national is dialed
		national string // as written at home
		intl     string // "+CC rest", as written for abroad
		e164     string
		typ      NumberType
	}{
		// NANP: fixed and mobile share ranges and read as fixed, except
		// where the plan tells them apart (Jamaica).
		{"US", "(201) 555-0123", "+1 201 555 0123", "+12015550123", Fixed},
		{"US", "(800) 234-5678", "+1 800 234 5678", "+18002345678", TollFree},
		{"US", "(900) 234-5678", "+1 900 234 5678", "+19002345678", Premium},
		{"CA", "(506) 234-5678", "+1 506 234 5678", "+15062345678", Fixed},
		{"JM", "(876) 210-1234", "+1 876 210 1234", "+18762101234", Mobile},
		{"GB", "0121 234 5678", "+44 121 234 5678", "+441212345678", Fixed},
		{"GB", "020 7946 0018", "+44 20 7946 0018", "+442079460018", Fixed},
		{"GB", "07400 123456", "+44 7400 123456", "+447400123456", Mobile},
		{"GB", "0800 123 4567", "+44 800 123 4567", "+448001234567", TollFree},
		{"GB", "0901 234 5678", "+44 901 234 5678", "+449012345678", Premium},
		{"DE", "030 123456", "+49 30 123456", "+4930123456", Fixed},
		{"DE", "01512 3456789", "+49 1512 3456789", "+4915123456789", Mobile},
		{"DE", "0800 1234567890", "+49 800 1234567890", "+498001234567890", TollFree},
		{"DE", "0900 1 234567", "+49 900 1 234567", "+499001234567", Premium},
		{"FR", "01 23 45 67 89", "+33 1 23 45 67 89", "+33123456789", Fixed},
		{"FR", "06 12 34 56 78", "+33 6 12 34 56 78", "+33612345678", Mobile},
		{"FR", "0 891 12 34 56", "+33 891 12 34 56", "+33891123456", Premium},
		{"IT", "02 1234 5678", "+39 02 1234 5678", "+390212345678", Fixed}, // the 0 stays
		{"IT", "312 345 6789", "+39 312 345 6789", "+393123456789", Mobile},
		{"IT", "800 123 456", "+39 800 123 456", "+39800123456", TollFree},
		{"ES", "810 12 34 56", "+34 810 12 34 56", "+34810123456", Fixed},
		{"ES", "612 34 56 78", "+34 612 34 56 78", "+34612345678", Mobile},
		{"NL", "010 123 4567", "+31 10 123 4567", "+31101234567", Fixed},
		{"NL", "06 12345678", "+31 6 12345678", "+31612345678", Mobile},
		{"SE", "08-12 34 56", "+46 8 12 34 56", "+468123456", Fixed},
		{"SE", "070-123 45 67", "+46 70 123 45 67", "+46701234567", Mobile},
		{"CH", "021 234 56 78", "+41 21 234 56 78", "+41212345678", Fixed},
		{"CH", "078 123 45 67", "+41 78 123 45 67", "+41781234567", Mobile},
		{"PL", "12 345 67 89", "+48 12 345 67 89", "+48123456789", Fixed},
		{"PL", "512 345 678", "+48 512 345 678", "+48512345678", Mobile},
		{"IE", "(022) 12345", "+353 22 12345", "+3532212345", Fixed},
		{"IE", "085 012 3456", "+353 85 012 3456", "+353850123456", Mobile},
		{"RU", "8 (301) 123-45-67", "+7 301 123 45 67", "+73011234567", Fixed},
		{"RU", "8 (912) 345-67-89", "+7 912 345 67 89", "+79123456789", Mobile},
		{"TR", "(0212) 345 67 89", "+90 212 345 67 89", "+902123456789", Fixed},
		{"TR", "0501 234 56 78", "+90 501 234 56 78", "+905012345678", Mobile},
		{"IN", "011 2345 6789", "+91 11 2345 6789", "+911123456789", Fixed},
		{"IN", "081234 56789", "+91 81234 56789", "+918123456789", Mobile},
		{"IN", "1800 12 3456", "+91 1800 12 3456", "+911800123456", TollFree},
		{"CN", "010 1234 5678", "+86 10 1234 5678", "+861012345678", Fixed},
		{"CN", "131 2345 6789", "+86 131 2345 6789", "+8613123456789", Mobile},
		{"JP", "03-1234-5678", "+81 3 1234 5678", "+81312345678", Fixed},
		{"JP", "090-1234-5678", "+81 90 1234 5678", "+819012345678", Mobile},
		{"JP", "0120-123-456", "+81 120 123 456", "+81120123456", TollFree},
		{"KR", "02-212-3456", "+82 2 212 3456", "+8222123456", Fixed},
		{"KR", "010-2000-0000", "+82 10 2000 0000", "+821020000000", Mobile},
		{"HK", "2123 4567", "+852 2123 4567", "+85221234567", Fixed},
		{"HK", "5123 4567", "+852 5123 4567", "+85251234567", Mobile},
		{"SG", "6123 4567", "+65 6123 4567", "+6561234567", Fixed},
		{"SG", "8123 4567", "+65 8123 4567", "+6581234567", Mobile},
		{"PH", "(02) 3234 5678", "+63 2 3234 5678", "+63232345678", Fixed},
		{"PH", "0905 123 4567", "+63 905 123 4567", "+639051234567", Mobile},
		{"ID", "(021) 8350123", "+62 21 8350123", "+62218350123", Fixed},
		{"ID", "0812-345-678", "+62 812 345 678", "+62812345678", Mobile},
		{"AE", "02 234 5678", "+971 2 234 5678", "+97122345678", Fixed},
		{"AE", "050 123 4567", "+971 50 123 4567", "+971501234567", Mobile},
		{"AU", "(02) 1234 5678", "+61 2 1234 5678", "+61212345678", Fixed},
		{"AU", "0412 345 678", "+61 412 345 678", "+61412345678", Mobile},
		{"AU", "1800 123 456", "+61 1800 123 456", "+611800123456", TollFree},
		{"AU", "1900 123 456", "+61 1900 123 456", "+611900123456", Premium},
		{"NZ", "03 234 5678", "+64 3 234 5678", "+6432345678", Fixed},
		{"NZ", "021 123 4567", "+64 21 123 4567", "+64211234567", Mobile},
		{"BR", "(11) 2345-6789", "+55 11 2345 6789", "+551123456789", Fixed},
		{"BR", "(11) 96123-4567", "+55 11 96123 4567", "+5511961234567", Mobile},
		{"BR", "0800 12 3456", "+55 800 12 3456", "+55800123456", TollFree},
		{"AR", "011 2345-6789", "+54 11 2345 6789", "+541123456789", Fixed},
		{"AR", "011 15-2345-6789", "+54 9 11 2345 6789", "+5491123456789", Mobile},
		{"MX", "200 123 4567", "+52 200 123 4567", "+522001234567", Fixed},
		{"ZA", "010 123 4567", "+27 10 123 4567", "+27101234567", Fixed},
		{"ZA", "071 123 4567", "+27 71 123 4567", "+27711234567", Mobile},
		{"NG", "02033 12 3456", "+234 2033 12 3456", "+2342033123456", Fixed},
		{"NG", "0802 123 4567", "+234 802 123 4567", "+2348021234567", Mobile},
		{"KE", "020 2012345", "+254 20 2012345", "+254202012345", Fixed},
		{"KE", "0712 123456", "+254 712 123456", "+254712123456", Mobile},
		{"EG", "02 34567890", "+20 2 34567890", "+20234567890", Fixed},
		{"EG", "010 01234567", "+20 10 01234567", "+201001234567", Mobile},
	}
	for _, tt := range tests {
		t.Run(tt.country+"/"+tt.national, func(t *testing.T) {
			for _, f := range dialForms(t, tt.country, tt.national, tt.intl) {
				n, err := Normalize(f.dialed, f.from)
				if err != nil {
					t.Errorf("Normalize(%q, %q) = %v", f.dialed, f.from, err)
					continue
				}
				if n.E164 != tt.e164 || n.Type != tt.typ {
					t.Errorf("Normalize(%q, %q) = %s %s, want %s %s", f.dialed, f.from, n.E164, n.Type, tt.e164, tt.typ)
				}
			}
		})
	}
}

// TestNormalizeFormsInvalid dials numbers one digit short or otherwise
// outside their plan in every form, and wants each refused.
func TestNormalizeFormsInvalid(t *testing.T) {
	tests := []struct{ country, national, intl string }{
		{"GB", "07400 12345", "+44 7400 12345"},     // a digit short
		{"DE", "030 1", "+49 30 1"},                 // far too short
		{"US", "(201) 155-0123", "+1 201 155 0123"}, // NANP exchanges do not start with 1
		{"FR", "06 12 34 56", "+33 6 12 34 56"},
		{"JP", "090-1234-567", "+81 90 1234 567"},
	}
	for _, tt := range tests {
		for _, f := range dialForms(t, tt.country, tt.national, tt.intl) {
			if n, err := Normalize(f.dialed, f.from); !errors.Is(err, ErrInvalidNumber) {
				t.Errorf("Normalize(%q, %q) = %+v, %v, want %v", f.dialed, f.from, n, err, ErrInvalidNumber)
			}
		}
	}
}

type dialForm struct{ dialed, from string }

// dialForms writes one number the ways it is dialed: national (as written
// at home, with dashes, dots, or bare digits), and international from
// other countries: '+', 00 (where it is the prefix, and where it is not),
// 011 (NANP), tel: URIs global and local with a phone-context.
// intl is "+CC rest".
func dialForms(tb testing.TB, country, national, intl string) []dialForm {
	tb.Helper()
	cc, rest, ok := strings.Cut(strings.TrimPrefix(intl, "+"), " ")
	if !ok || !strings.HasPrefix(intl, "+") {
		tb.Fatalf("intl %q is not \"+CC rest\"", intl)
	}
	digits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
	}
	dashed := strings.ReplaceAll(rest, " ", "-")
	return []dialForm{
		{national, country},
		{strings.ReplaceAll(national, " ", "-"), country},
		{strings.ReplaceAll(national, " ", "."), country},
		{digits(national), country},
		{" " + strings.ReplaceAll(national, " ", "\u00a0") + " ", country}, // no-break spaces, as pasted
		{intl, "NG"},
		{"+" + cc + digits(rest), "US"},
		{"(+" + cc + ") " + dashed, "ZA"},
		{"+" + cc + "/" + strings.ReplaceAll(rest, " ", "/"), "AT"},
		{"00 " + cc + " " + rest, "DE"},
		{"00" + cc + digits(rest), "IN"},
		{"00" + cc + "." + strings.ReplaceAll(rest, " ", "."), "GB"},
		{"00 " + cc + " " + rest, "JP"},  // JP dials out with 010; 00 is still understood
		{"00" + cc + digits(rest), "KE"}, // KE: 000
		{"011 " + cc + " " + rest, "US"},
		{"011-" + cc + "-" + dashed, "CA"},
		{"011" + cc + digits(rest), "JM"},
		{"810 " + cc + " " + rest, "RU"},
		{"tel:+" + cc + "-" + dashed, "BR"},
		{"TEL:+" + cc + "." + strings.ReplaceAll(rest, " ", "."), "FR"},
		{"tel:+" + cc + "-" + dashed + ";ext=12", "AU"},
		{"tel:+" + cc + "%20" + strings.ReplaceAll(rest, " ", "%20"), "MX"},
		{"tel:" + dashed + ";phone-context=+" + cc, "CN"},
		{"tel:" + digits(rest) + ";isub=1;phone-context=+" + cc + ";ext=7", "SE"},
	}
}
