package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"golang.org/x/crypto/bcrypt"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
	"github.com/dialtone/dialtone/companion"
	"github.com/dialtone/dialtone/storetest"
	"github.com/dialtone/dialtone/switch/guard"
	"github.com/dialtone/dialtone/trunks"
)

// TestQuoteAPI: GET /api/v1/quote over the real rules a call meets: the
// trunks' destination checks, the billing plan's rate and the bundles
// held, on a real store. Each account reads numbers in its own country.
func TestQuoteAPI(t *testing.T) {
	ctx := context.Background()
	st := storetest.Stores()["sqlite"](t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	d := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	if err := st.ReplaceRates(ctx, dialtone.RatePlan{Name: "retail", Currency: "USD"}, []dialtone.Rate{
		{Prefix: "44", Destination: "United Kingdom", PerMinute: d("0.12"), ConnectFee: d("0.05"), FirstIncrement: 30, NextIncrement: 6},
		{Prefix: "447", Destination: "United Kingdom - Mobile", PerMinute: d("0.60"), FirstIncrement: 1, NextIncrement: 1, NumberType: "mobile"},
		{Prefix: "1", Destination: "North America", PerMinute: d("0.0125"), FirstIncrement: 60, NextIncrement: 60},
	}); err != nil {
		t.Fatal(err)
	}
	cs, err := trunks.Build(trunks.Config{
		Trunks: []trunks.TrunkConfig{{Name: "carrier", Address: "127.0.0.1:5060", Transport: "udp"}},
		Routes: []trunks.RouteConfig{{Prefix: "1", Trunks: []string{"carrier"}}, {Prefix: "44", Trunks: []string{"carrier"}}},
	}, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := billing.NewController(billing.Config{Interval: time.Minute, MaxDuration: time.Hour}, st, clock, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	bundles := []dialtone.Bundle{{Code: "uk60", Name: "UK 60", Seconds: 3600, Price: d("0.99"), Currency: "USD",
		Validity: 30 * 24 * time.Hour, Increment: 60, Countries: []string{"GB"}}}
	cfg := companion.DefaultSettings().Config(bundles, dialtone.DefaultLimits())
	cfg.Quoter = quoter{router: trunks.NewRouter(cs, nil, nil), ctl: ctl, st: st, now: clock}
	g, err := guard.New(guard.Defaults(), guard.NewMemoryStore(), nil, slog.New(slog.DiscardHandler), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	srv := httptest.NewServer(companion.New(cfg, st, nil, g, clock, slog.New(slog.DiscardHandler)).Handler())
	t.Cleanup(srv.Close)

	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	signIn := func(name, country, plan string) string {
		t.Helper()
		a := storetest.NewAccount(name)
		a.Country, a.RatePlan = country, plan
		if err := st.CreateAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := st.SetPassword(ctx, a.ID, string(hash)); err != nil {
			t.Fatal(err)
		}
		res, err := http.Post(srv.URL+"/api/v1/sessions", "application/json", strings.NewReader(`{"username":"`+name+`","password":"correct horse"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct{ Token string }
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Token == "" {
			t.Fatalf("sign in %s: %d %v", name, res.StatusCode, err)
		}
		return out.Token
	}
	get := func(token, query string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/quote?"+query, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("GET quote?%s: not JSON: %q", query, raw)
		}
		return res.StatusCode, out
	}
	us, gb, noPlan := signIn("alice", "US", "retail"), signIn("oliver", "GB", "retail"), signIn("nora", "US", "")

	for _, tt := range []struct {
		name, token, number string
		status              int
		want                map[string]any // fields the answer must have; an error's code as "code"
		absent              []string
	}{
		{"UK landline from the US", us, "011 44 20 7946 0018", 200, map[string]any{"e164": "+442079460018", "country": "GB", "number_type": "fixed",
			"callable": true, "per_minute": "0.12", "connect_fee": "0.05", "currency": "USD", "first_increment": 30.0, "next_increment": 6.0,
			"destination": "United Kingdom", "bundle_covers": false}, []string{"reason", "blocked_reason"}},
		{"the same number as a Briton dials it", gb, "020 7946 0018", 200, map[string]any{"e164": "+442079460018", "per_minute": "0.12"}, nil},
		{"UK mobile: the longer prefix of its type", us, "+44 7911 123456", 200, map[string]any{"number_type": "mobile", "per_minute": "0.60",
			"first_increment": 1.0}, []string{"connect_fee"}},
		{"US number, national format", us, "(212) 555-0100", 200, map[string]any{"e164": "+12125550100", "per_minute": "0.0125"}, nil},
		{"blocked country", us, "+688 20 123", 200, map[string]any{"callable": false, "reason": "blocked", "blocked_reason": "country TV"}, []string{"per_minute"}},
		{"premium rate", gb, "0909 879 0000", 200, map[string]any{"callable": false, "reason": "blocked", "blocked_reason": "premium-rate number"}, nil},
		{"no route", us, "+33 1 42 68 53 00", 200, map[string]any{"callable": false, "reason": "no_route", "country": "FR"}, []string{"per_minute"}},
		{"no plan", noPlan, "+44 20 7946 0018", 200, map[string]any{"callable": false, "reason": "no_rate"}, nil},
		{"half typed", us, "+44 20", 400, map[string]any{"code": "invalid_number"}, nil},
		{"letters", us, "call me", 400, map[string]any{"code": "invalid_number"}, nil},
		{"too long", us, strings.Repeat("1", 65), 400, map[string]any{"code": "invalid_query"}, nil},
		{"signed out", "", "+442079460018", 401, map[string]any{"code": "unauthenticated"}, nil},
		{"bad token", "dt_nope", "+442079460018", 401, map[string]any{"code": "invalid_token"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out := get(tt.token, "number="+url.QueryEscape(tt.number))
			if code != tt.status {
				t.Fatalf("GET quote %q = %d %v, want %d", tt.number, code, out, tt.status)
			}
			if e, ok := out["error"].(map[string]any); ok {
				out = map[string]any{"code": e["code"]}
			}
			for k, v := range tt.want {
				if out[k] != v {
					t.Errorf("GET quote %q: %s = %v, want %v (%v)", tt.number, k, out[k], v, out)
				}
			}
			for _, k := range tt.absent {
				if _, ok := out[k]; ok {
					t.Errorf("GET quote %q: %s = %v, want none", tt.number, k, out[k])
				}
			}
		})
	}
	if code, out := get(us, "number=%2B442079460018&plan=free"); code != 400 || out["error"].(map[string]any)["code"] != "invalid_query" {
		t.Errorf("GET quote with an unknown parameter = %d %v, want 400 invalid_query", code, out)
	}
	if code, out := get(us, ""); code != 400 {
		t.Errorf("GET quote without a number = %d %v, want 400", code, out)
	}

	// A bundle for the UK covers UK numbers, not American ones.
	alice, err := st.AccountByUsername(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	m, err := dialtone.Transfer{Key: "topup:alice", Kind: "topup", Currency: "USD", From: dialtone.FundingAccount("USD"),
		To: dialtone.WalletAccount(alice.ID), Amount: d("5")}.Movement()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Post(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dialtone.BuyBundle(ctx, st, dialtone.BundlePurchase{Account: alice, Bundle: bundles[0], Key: "uk60-1", At: now}); err != nil {
		t.Fatal(err)
	}
	if _, out := get(us, "number=%2B442079460018"); out["bundle_covers"] != true || out["bundle_seconds_left"] != 3600.0 || out["per_minute"] != "0.12" {
		t.Errorf("GET quote of a UK number with a UK bundle = %v, want bundle_covers with 3600 s and the rate", out)
	}
	if _, out := get(us, "number=%2B12125550100"); out["bundle_covers"] != false || out["bundle_seconds_left"] != 0.0 {
		t.Errorf("GET quote of a US number with a UK bundle = %v, want no bundle", out)
	}
	if _, out := get(us, "number=%2B882123456789"); out["bundle_covers"] == true {
		t.Errorf("GET quote of a blocked number = %v, want no bundle", out)
	}
}
