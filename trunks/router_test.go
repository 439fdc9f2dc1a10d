package trunks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// dnsAnswers stands in for DNS (trunks/srv is tested against a real DNS
// server): a domain's servers, or the lookup's error.
type dnsAnswers map[string][]netip.AddrPort

func (d dnsAnswers) Lookup(_ context.Context, transport, domain string) ([]netip.AddrPort, error) {
	aps, ok := d[transport+"/"+domain]
	if !ok {
		return nil, fmt.Errorf("srv _sip._%s.%s.: no such domain", transport, domain)
	}
	return aps, nil
}

// attempts renders a destination as name@host:port=user, or name!error.
func attempts(d Destination) []string {
	var out []string
	for _, a := range d.Attempts {
		if a.Err != nil {
			out = append(out, a.Carrier.Name()+"!"+a.Err.Error())
			continue
		}
		out = append(out, a.Carrier.Name()+"@"+a.Endpoint.String()+"="+a.User)
	}
	return out
}

func TestRouterRoute(t *testing.T) {
	cfg := Config{
		Trunks: []TrunkConfig{
			{Name: "cheap", Address: "10.0.0.1:5060", BuyPlan: "cheap-buy"},
			{Name: "dear", Addresses: []string{"10.0.0.2:5060", "10.0.0.3:5080"}, BuyPlan: "dear-buy",
				Rewrite: RewriteConfig{Strip: 2, Prefix: "0", TechPrefix: "77#"}},
			{Name: "unpriced", Address: "10.0.0.4:5060"},
			{Name: "dns", SRV: "carrier.test", Transport: "tcp"},
			{Name: "nxdomain", SRV: "gone.test"},
		},
		Routes: []RouteConfig{
			{Prefix: "44", Trunks: []string{"unpriced", "dear", "cheap"}, LeastCost: true},
			{Prefix: "447", Types: []string{"mobile"}, Trunks: []string{"dear", "cheap"}},
			{Prefix: "33", Trunks: []string{"nxdomain", "dns"}},
			{Prefix: "49", Trunks: []string{"cheap", "dear"}, Shares: []int{10, 90}},
		},
	}
	cfg.Defaults()
	cs, err := Build(cfg, nil, time.Now)
	if err != nil {
		t.Fatalf("Build = %v", err)
	}
	prices := map[string]string{"cheap-buy": "0.010", "dear-buy": "0.020"}
	cost := func(_ context.Context, plan string, n Number) (decimal.Decimal, bool) {
		p, ok := prices[plan]
		if !ok || n.Type == Mobile {
			return decimal.Zero, false
		}
		return decimal.RequireFromString(p), true
	}
	dns := dnsAnswers{"tcp/carrier.test": {netip.MustParseAddrPort("192.0.2.1:5060"), netip.MustParseAddrPort("192.0.2.2:5062")}}
	r := NewRouter(cs, dns, cost)
	r.rand = func() float64 { return 0.5 } // shares 10/90: the draw falls on the second trunk

	tests := []struct {
		dialed, country string
		want            []string
		wantErr         error
	}{
		// least cost: priced trunks cheapest first, the unpriced one last; each at its addresses in order.
		{"+44 121 234 5678", "US", []string{"cheap@10.0.0.1:5060=441212345678", "dear@10.0.0.2:5060=77#01212345678", "dear@10.0.0.3:5080=77#01212345678", "unpriced@10.0.0.4:5060=441212345678"}, nil},
		// a route naming a type wins over the shorter catch-all; listed order.
		{"07400 123456", "GB", []string{"dear@10.0.0.2:5060=77#07400123456", "dear@10.0.0.3:5080=77#07400123456", "cheap@10.0.0.1:5060=447400123456"}, nil},
		// SRV: a failed lookup is an attempt to skip, saying so; a good one gives the servers in DNS's order.
		{"+33 1 23 45 67 89", "FR", []string{"nxdomain!dns: srv _sip._udp.gone.test.: no such domain", "dns@192.0.2.1:5060=33123456789", "dns@192.0.2.2:5062=33123456789"}, nil},
		// shares: the drawn trunk first, the other behind it for failover.
		{"030 123456", "DE", []string{"dear@10.0.0.2:5060=77#030123456", "dear@10.0.0.3:5080=77#030123456", "cheap@10.0.0.1:5060=4930123456"}, nil},
		{"+1 201 555 0123", "US", nil, ErrNoRoute},
		{"12", "US", nil, ErrInvalidNumber},
	}
	for _, tt := range tests {
		t.Run(tt.dialed, func(t *testing.T) {
			d, err := r.Route(context.Background(), tt.dialed, tt.country)
			if got := attempts(d); !errors.Is(err, tt.wantErr) || !slices.Equal(got, tt.want) {
				t.Errorf("Route(%q, %q) = %q, %v, want %q, %v", tt.dialed, tt.country, got, err, tt.want, tt.wantErr)
			}
		})
	}
	for _, a := range must(r.Route(context.Background(), "+33123456789", "FR")).Attempts {
		if a.Err != nil && !errors.Is(a.Err, ErrDNS) {
			t.Errorf("a failed lookup's attempt error %v does not wrap ErrDNS", a.Err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRouterLeastCostOrder(t *testing.T) {
	tests := []struct {
		name   string
		prices map[string]string // trunk -> price; absent: no rate
		want   []string
	}{
		{"cheapest first", map[string]string{"a": "0.03", "b": "0.01", "c": "0.02"}, []string{"b", "c", "a"}},
		{"ties keep the route's order", map[string]string{"a": "0.01", "b": "0.01", "c": "0.01"}, []string{"a", "b", "c"}},
		{"unpriced last, in order", map[string]string{"c": "0.05"}, []string{"c", "a", "b"}},
		{"none priced: as listed", nil, []string{"a", "b", "c"}},
		{"exact decimals", map[string]string{"a": "0.0100001", "b": "0.01"}, []string{"b", "a", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Routes: []RouteConfig{{Trunks: []string{"a", "b", "c"}, LeastCost: true}}}
			for _, n := range []string{"a", "b", "c"} {
				cfg.Trunks = append(cfg.Trunks, TrunkConfig{Name: n, Address: "h:1", BuyPlan: n})
			}
			cfg.Defaults()
			r := NewRouter(must(Build(cfg, nil, time.Now)), nil, func(_ context.Context, plan string, _ Number) (decimal.Decimal, bool) {
				p, ok := tt.prices[plan]
				if !ok {
					return decimal.Zero, false
				}
				return decimal.RequireFromString(p), true
			})
			d, err := r.Route(context.Background(), "+442079460018", "GB")
			var got []string
			for _, a := range d.Attempts {
				got = append(got, a.Carrier.Name())
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("Route with prices %v = %v, %v, want %v", tt.prices, got, err, tt.want)
			}
		})
	}
}

func TestBuildKeepsGates(t *testing.T) {
	cfg := Config{Trunks: []TrunkConfig{{Name: "a", Address: "h:1", MaxChannels: 2}, {Name: "b", Address: "h:2"}}}
	cfg.Defaults()
	old := must(Build(cfg, nil, time.Now))
	release, err := old.Get("a").Gate.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cfg.Trunks[1].MaxChannels = 5 // b's limits change: a new gate
	cs := must(Build(cfg, old, time.Now))
	if cs.Get("a").Gate != old.Get("a").Gate || cs.Get("a").Gate.Channels() != 1 {
		t.Errorf("Build kept a's gate = %v, want the old one with its call", cs.Get("a").Gate == old.Get("a").Gate)
	}
	if cs.Get("b").Gate == old.Get("b").Gate {
		t.Errorf("Build kept b's gate although its limits changed")
	}
}

func TestRouterStatus(t *testing.T) {
	cfg := Config{Trunks: []TrunkConfig{
		{Name: "a", Addresses: []string{"10.0.0.1:5060", "10.0.0.2:5060"}, MaxChannels: 4, Register: RegisterConfig{Enabled: true}},
		{Name: "b", SRV: "gone.test"},
	}}
	cfg.Defaults()
	r := NewRouter(must(Build(cfg, nil, time.Now)), dnsAnswers{}, nil)
	r.Carriers().Get("a").Gate.SetUp(false, "OPTIONS: 503 Service Unavailable")
	if _, err := r.Endpoints(context.Background(), r.Carriers().Get("b")); !errors.Is(err, ErrDNS) {
		t.Fatalf("Endpoints(b) = %v, want %v", err, ErrDNS)
	}
	got := r.Status(func(trunk string) string { return "registered until soon" })
	if len(got) != 2 {
		t.Fatalf("Status() = %+v, want two carriers", got)
	}
	if a := got[0]; a.Name != "a" || a.Address != "10.0.0.1:5060,10.0.0.2:5060" || a.Up || a.Reason != "OPTIONS: 503 Service Unavailable" || a.MaxChannels != 4 || a.Register != "registered until soon" {
		t.Errorf("Status()[0] = %+v", a)
	}
	if b := got[1]; b.Name != "b" || b.Address != "srv:gone.test" || !b.Up || !strings.HasPrefix(b.Reason, "dns: ") || b.Register != "" {
		t.Errorf("Status()[1] = %+v, want srv:gone.test with its DNS failure", b)
	}
}

// TestRouterCheck: Check refuses what Route refuses, for the same reason,
// and asks DNS nothing (a carrier given by SRV is not looked up).
func TestRouterCheck(t *testing.T) {
	cfg := Config{
		Trunks: []TrunkConfig{{Name: "dns", SRV: "carrier.test", Transport: "tcp"}},
		Routes: []RouteConfig{{Prefix: "44", Trunks: []string{"dns"}}, {Prefix: "", Trunks: []string{"dns"}, Types: []string{"fixed"}}},
	}
	cfg.Defaults()
	cs, err := Build(cfg, nil, time.Now)
	if err != nil {
		t.Fatalf("Build = %v", err)
	}
	lookups := 0
	r := NewRouter(cs, resolverFunc(func() { lookups++ }), nil)
	for _, tt := range []struct {
		dialed, country, e164 string
		wantErr               error
	}{
		{"020 7946 0018", "GB", "+442079460018", nil},
		{"+1 212 555 0100", "GB", "+12125550100", nil},          // the catch-all of fixed lines
		{"+33 6 12 34 56 78", "US", "+33612345678", ErrNoRoute}, // a mobile: the catch-all carries fixed lines only
		{"+688 20 123", "US", "+68820123", dialtone.ErrBlocked},
		{"0909 879 0000", "GB", "+449098790000", ErrPremium},
		{"12", "US", "", ErrInvalidNumber},
	} {
		n, err := r.Check(tt.dialed, tt.country)
		_, routeErr := r.Route(context.Background(), tt.dialed, tt.country)
		if n.E164 != tt.e164 || !errors.Is(err, tt.wantErr) || (err == nil) != (routeErr == nil) {
			t.Errorf("Check(%q, %q) = %q, %v (Route: %v), want %q, %v", tt.dialed, tt.country, n.E164, err, routeErr, tt.e164, tt.wantErr)
		}
	}
	if lookups == 0 {
		t.Fatal("Route did not look the carrier up: the test does not show that Check does not")
	}
	before := lookups
	_, _ = r.Check("020 7946 0018", "GB")
	if lookups != before {
		t.Errorf("Check looked up DNS %d times, want none", lookups-before)
	}
}

type resolverFunc func()

func (f resolverFunc) Lookup(context.Context, string, string) ([]netip.AddrPort, error) {
	f()
	return []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:5060")}, nil
}
