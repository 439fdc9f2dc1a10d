package trunks

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// blockRouter routes every number to one carrier, under dest.
func blockRouter(t *testing.T, dest DestinationsConfig) *Router {
	t.Helper()
	cfg := Config{
		Trunks:       []TrunkConfig{{Name: "carrier", Address: "10.0.0.1:5060"}},
		Routes:       []RouteConfig{{Prefix: "", Trunks: []string{"carrier"}}},
		Destinations: dest,
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	cs, err := Build(cfg, nil, time.Now)
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	return NewRouter(cs, nil, nil)
}

// TestBlockedSpellings: a blocked number is refused in every way it can be
// written, because the check runs on the normalized number.
func TestBlockedSpellings(t *testing.T) {
	r := blockRouter(t, DestinationsConfig{Block: NumberSet{Prefixes: []string{"+4470"}, Countries: []string{"cu"}}})
	tests := []struct {
		dialed, country, rule string
	}{
		{"+8821612345678", "US", "prefix +882"},
		{"008821612345678", "US", "prefix +882"},
		{"0118821612345678", "US", "prefix +882"},
		{"008821612345678", "GB", "prefix +882"},
		{"008821612345678", "DE", "prefix +882"},
		{"tel:+8821612345678", "US", "prefix +882"},
		{"TEL:+882-16-1234-5678;ext=9", "US", "prefix +882"},
		{"tel:1612345678;phone-context=+882", "US", "prefix +882"},
		{"+88-216 1234.5678", "US", "prefix +882"},
		{"(+882) 16/1234-5678", "US", "prefix +882"},
		{"+882\u00a016\u20111234\u20135678", "US", "prefix +882"},
		{"%2B8821612345678", "US", "prefix +882"},
		{"%2b882%2016%201234%205678", "US", "prefix +882"},
		{"tel:%2B8821612345678", "US", "prefix +882"},
		{"011 882 16 1234 5678", "US", "prefix +882"},
		{"+881631234567", "US", "prefix +881"},
		{"00881631234567", "FR", "prefix +881"},
		{"+870773111632", "US", "prefix +870"},
		{"+979123456789", "US", "prefix +979"},
		{"+883510012345", "US", "prefix +883"},
		{"+80812345678", "US", "prefix +808"},
		{"+68820123", "US", "country TV"},
		{"01168820123", "US", "country TV"},
		{"0068820123", "GB", "country TV"},
		{"+690 3010", "US", "country TK"},
		{"+6837012", "US", "country NU"},
		{"+674 557 1234", "US", "country NR"},
		{"+5352123456", "US", "country CU"},        // configured country
		{"07000 123456", "GB", "prefix +4470"},     // configured prefix, national spelling
		{"+44 70 0012 3456", "US", "prefix +4470"}, // and international
	}
	for _, tt := range tests {
		t.Run(tt.dialed, func(t *testing.T) {
			d, err := r.Route(context.Background(), tt.dialed, tt.country)
			var be *BlockedError
			if !errors.As(err, &be) || be.Rule != tt.rule {
				t.Fatalf("Route(%q, %s) = %v, %v, want blocked by %s", tt.dialed, tt.country, attempts(d), err, tt.rule)
			}
			if !errors.Is(err, dialtone.ErrBlocked) || !errors.Is(err, dialtone.ErrForbidden) {
				t.Errorf("Route(%q) error %v is not ErrBlocked and ErrForbidden", tt.dialed, err)
			}
			if len(d.Attempts) != 0 || d.Number.E164 == "" {
				t.Errorf("Route(%q) = %+v, want the number and no attempts", tt.dialed, d)
			}
			if !strings.Contains(be.Warning(), tt.rule) {
				t.Errorf("Warning() = %q, want it to name %s", be.Warning(), tt.rule)
			}
		})
	}
	for _, ok := range []string{"+442079460018", "+12125550100", "0088", "+447911123456", "+5312345"} {
		d, err := r.Route(context.Background(), ok, "US")
		if errors.Is(err, dialtone.ErrBlocked) {
			t.Errorf("Route(%q) = %v, want it not blocked", ok, err)
		} else if err == nil && len(d.Attempts) != 1 {
			t.Errorf("Route(%q) = %v, want one attempt", ok, attempts(d))
		}
	}
}

// TestBlockedAllow: allow opens what a block (built in or configured) closes.
func TestBlockedAllow(t *testing.T) {
	r := blockRouter(t, DestinationsConfig{
		Block: NumberSet{Countries: []string{"CU"}},
		Allow: NumberSet{Prefixes: []string{"+8816"}, Countries: []string{"TV", "CU"}},
	})
	tests := []struct {
		dialed  string
		blocked bool
	}{
		{"+881631234567", false}, // allowed prefix inside the blocked +881
		{"+881812345678", true},  // the rest of +881 stays blocked
		{"+68820123", false},     // allowed country, blocked by default
		{"+5352123456", false},   // allowed country wins over a configured block
		{"+6837012", true},       // other default countries stay blocked
		{"+8821612345678", true}, // a country allow does not open non-geographic ranges
		{"+442079460018", false},
	}
	for _, tt := range tests {
		_, err := r.Route(context.Background(), tt.dialed, "US")
		if got := errors.Is(err, dialtone.ErrBlocked); got != tt.blocked {
			t.Errorf("Route(%q) = %v, want blocked %v", tt.dialed, err, tt.blocked)
		}
	}
}

// TestBlockedPremiumStillNeedsRoute: premium numbers stay refused by
// routing, as a blocked destination.
func TestBlockedPremiumStillNeedsRoute(t *testing.T) {
	r := blockRouter(t, DestinationsConfig{})
	_, err := r.Route(context.Background(), "+19005550123", "US")
	if !errors.Is(err, ErrPremium) || !errors.Is(err, dialtone.ErrBlocked) {
		t.Errorf("Route(premium) = %v, want %v as a blocked destination", err, ErrPremium)
	}
	// The app's 403 says why in its Warning, as for any blocked destination.
	var w interface{ Warning() string }
	if !errors.As(err, &w) || w.Warning() != "destination blocked: premium-rate number" {
		t.Errorf("Route(premium) = %v, want a Warning naming the premium-rate number", err)
	}
	// A blocked country is no premium-rate refusal.
	_, err = r.Route(context.Background(), "+68820123", "US")
	if !errors.Is(err, dialtone.ErrBlocked) || errors.Is(err, ErrPremium) {
		t.Errorf("Route(Tuvalu) = %v, want blocked, not as premium", err)
	}
}

func TestDestinationsValidate(t *testing.T) {
	tests := []struct {
		name string
		dest DestinationsConfig
		want string
	}{
		{"no plus", DestinationsConfig{Block: NumberSet{Prefixes: []string{"882"}}}, "destinations.block.prefixes:"},
		{"letters", DestinationsConfig{Block: NumberSet{Prefixes: []string{"+88x"}}}, "destinations.block.prefixes:"},
		{"bare plus", DestinationsConfig{Allow: NumberSet{Prefixes: []string{"+"}}}, "destinations.allow.prefixes:"},
		{"too long", DestinationsConfig{Allow: NumberSet{Prefixes: []string{"+1234567890123456"}}}, "destinations.allow.prefixes:"},
		{"unknown country", DestinationsConfig{Block: NumberSet{Countries: []string{"XX"}}}, "destinations.block.countries:"},
		{"three letters", DestinationsConfig{Allow: NumberSet{Countries: []string{"USA"}}}, "destinations.allow.countries:"},
	}
	for _, tt := range tests {
		cfg := Config{Destinations: tt.dest}
		cfg.Defaults()
		if err := cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: Validate() = %v, want an error starting %q", tt.name, err, tt.want)
		}
	}
	ok := Config{Destinations: DestinationsConfig{Block: NumberSet{Prefixes: []string{"+53", " +4470"}, Countries: []string{"cu"}}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(good destinations) = %v", err)
	}
}

// TestBlockedReload: a new configuration put in force changes the list for
// the calls that start after it.
func TestBlockedReload(t *testing.T) {
	r := blockRouter(t, DestinationsConfig{})
	if _, err := r.Route(context.Background(), "+68820123", "US"); !errors.Is(err, dialtone.ErrBlocked) {
		t.Fatalf("Route(Tuvalu) = %v, want blocked by default", err)
	}
	cfg := Config{
		Trunks:       []TrunkConfig{{Name: "carrier", Address: "10.0.0.1:5060"}},
		Routes:       []RouteConfig{{Prefix: "", Trunks: []string{"carrier"}}},
		Destinations: DestinationsConfig{Allow: NumberSet{Countries: []string{"TV"}}, Block: NumberSet{Prefixes: []string{"+44"}}},
	}
	cfg.Defaults()
	cs, err := Build(cfg, r.Carriers(), time.Now)
	if err != nil {
		t.Fatalf("Build() = %v", err)
	}
	r.Set(cs)
	if d, err := r.Route(context.Background(), "+68820123", "US"); err != nil || len(d.Attempts) != 1 {
		t.Errorf("Route(Tuvalu) after allowing it = %v, %v, want one attempt", attempts(d), err)
	}
	if _, err := r.Route(context.Background(), "+442079460018", "US"); !errors.Is(err, dialtone.ErrBlocked) {
		t.Errorf("Route(+44) after blocking it = %v, want blocked", err)
	}
}
