package trunks

import (
	"errors"
	"testing"

	"github.com/dialtone/dialtone"
)

func TestCheckCaller(t *testing.T) {
	verified := &dialtone.Account{Username: "alice", Country: "US", CallerID: "+12025550142"}
	none := &dialtone.Account{Username: "bob", Country: "GB"}
	numeric := &dialtone.Account{Username: "12025550199", Country: "US"}
	tests := []struct {
		acct      *dialtone.Account
		presented string
		ok        bool
	}{
		{verified, "alice", true},
		{verified, "", true},
		{verified, "anonymous", true},
		{verified, "Anonymous", true},
		{verified, "somebody-else", true}, // not a number: claims nothing, the carrier never sees it
		{verified, "+12025550142", true},
		{verified, "12025550142", true}, // national spellings of the same number
		{verified, "2025550142", true},
		{verified, "(202) 555-0142", true},
		{verified, "%2B12025550142", true},
		{verified, "tel:+1-202-555-0142", true},
		{verified, "0012025550142", true},
		{verified, "+12025550143", false}, // another number
		{verified, "+442079460018", false},
		{verified, "911", false},
		{verified, "+1", false}, // a number, however short
		{verified, "12345678901234567890123456789012345", false},
		{none, "bob", true},
		{none, "+442079460018", false}, // no verified number: no number at all
		{none, "02079460018", false},
		{numeric, "12025550199", true}, // its username, though numeric
		{numeric, "+12025550199", false},
	}
	for _, tt := range tests {
		err := CheckCaller(tt.acct, tt.presented)
		if (err == nil) != tt.ok {
			t.Errorf("CheckCaller(%s, %q) = %v, want ok %v", tt.acct.Username, tt.presented, err, tt.ok)
			continue
		}
		if err != nil {
			var ce *CallerIDError
			if !errors.As(err, &ce) || !errors.Is(err, dialtone.ErrCallerID) || !errors.Is(err, dialtone.ErrForbidden) || ce.Warning() == "" {
				t.Errorf("CheckCaller(%s, %q) = %v, want a *CallerIDError that is ErrCallerID and ErrForbidden", tt.acct.Username, tt.presented, err)
			}
		}
	}
}

func TestPresent(t *testing.T) {
	verified := &dialtone.Account{Username: "alice", CallerID: "+12025550142"}
	none := &dialtone.Account{Username: "bob"}
	tests := []struct {
		name string
		cfg  CallerIDConfig
		acct *dialtone.Account
		want Presentation
	}{
		{"verified", CallerIDConfig{}, verified, Presentation{From: "+12025550142"}},
		{"verified with pai", CallerIDConfig{PAI: true}, verified, Presentation{From: "+12025550142", PAI: true}},
		{"trunk number wins", CallerIDConfig{From: "12025550100", PAI: true}, verified, Presentation{From: "12025550100", PAI: true}},
		{"trunk number without verified", CallerIDConfig{From: "12025550100"}, none, Presentation{From: "12025550100"}},
		{"privacy keeps the number for pai", CallerIDConfig{Privacy: true}, verified, Presentation{From: "+12025550142", PAI: true, Privacy: true}},
		{"no number: anonymous", CallerIDConfig{}, none, Presentation{}},
		{"no number: no pai", CallerIDConfig{PAI: true}, none, Presentation{}},
		{"no number, privacy", CallerIDConfig{Privacy: true}, none, Presentation{Privacy: true}},
	}
	for _, tt := range tests {
		if got := tt.cfg.Present(tt.acct); got != tt.want {
			t.Errorf("%s: %+v.Present(%s) = %+v, want %+v", tt.name, tt.cfg, tt.acct.Username, got, tt.want)
		}
	}
}

func TestVerifiedNumber(t *testing.T) {
	tests := []struct{ in, country, want string }{
		{"+12025550142", "US", "+12025550142"},
		{"(202) 555-0142", "US", "+12025550142"},
		{"020 7946 0018", "GB", "+442079460018"},
		{"0044 20 7946 0018", "US", "+442079460018"},
		{"+15551234567", "US", ""}, // 555 is not a US area code
		{"12", "US", ""},
		{"alice", "US", ""},
	}
	for _, tt := range tests {
		got, err := VerifiedNumber(tt.in, tt.country)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("VerifiedNumber(%q, %s) = %q, %v, want %q", tt.in, tt.country, got, err, tt.want)
		}
		if err != nil && !errors.Is(err, dialtone.ErrInvalidNumber) {
			t.Errorf("VerifiedNumber(%q) error %v is not ErrInvalidNumber", tt.in, err)
		}
	}
}

// FuzzCheckCaller: whatever an app writes in its From, a number gets
// through only as the account's own verified number.
func FuzzCheckCaller(f *testing.F) {
	for _, s := range []string{"alice", "+12025550142", "2025550142", "%2B12025550142", "tel:+1-202-555-0142", "+12025550143",
		"anonymous", "", "%zz", "+", "0012025550142", "tel:;phone-context=+1", "(202)\u00a0555-0142", "1234567890123456789012345678901234"} {
		f.Add(s)
	}
	acct := &dialtone.Account{Username: "alice", Country: "US", CallerID: "+12025550142"}
	f.Fuzz(func(t *testing.T, presented string) {
		err := CheckCaller(acct, presented)
		if err == nil {
			if n, nerr := Normalize(presented, acct.Country); nerr == nil && n.E164 != acct.CallerID && presented != acct.Username {
				t.Errorf("CheckCaller(%q) let through %s, not the verified number", presented, n.E164)
			}
		} else if !errors.Is(err, dialtone.ErrCallerID) {
			t.Errorf("CheckCaller(%q) = %v, not ErrCallerID", presented, err)
		}
	})
}
