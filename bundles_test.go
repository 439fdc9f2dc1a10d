package dialtone_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/storetest"
)

var world100 = dialtone.Bundle{Code: "world100", Name: "World 100", Seconds: 6000, Price: decimal.RequireFromString("0.99"), Currency: "USD",
	Validity: 30 * 24 * time.Hour, Countries: []string{"US", "CA"}, NumberTypes: []string{"mobile", "fixed"}, Increment: 60}

func TestBundlePurchasePlan(t *testing.T) {
	alice := &dialtone.Account{ID: 7, Username: "alice", Currency: "USD"}
	at := time.Date(2026, 11, 24, 12, 0, 0, 0, time.FixedZone("X", 3600))
	h, pay, err := dialtone.BundlePurchase{Account: alice, Bundle: world100, Key: "k-1", At: at}.Plan()
	if err != nil {
		t.Fatalf("Plan() = %v", err)
	}
	want := dialtone.Holding{AccountID: 7, Bundle: "world100", Seconds: 6000, SecondsLeft: 6000, Increment: 60,
		Countries: []string{"US", "CA"}, NumberTypes: []string{"mobile", "fixed"}, BoughtAt: at.UTC(), ExpiresAt: at.UTC().Add(30 * 24 * time.Hour)}
	if h.AccountID != want.AccountID || h.Bundle != want.Bundle || h.Seconds != want.Seconds || h.SecondsLeft != want.SecondsLeft ||
		h.Increment != want.Increment || !h.BoughtAt.Equal(want.BoughtAt) || h.BoughtAt.Location() != time.UTC || !h.ExpiresAt.Equal(want.ExpiresAt) ||
		strings.Join(h.Countries, ",") != "US,CA" || strings.Join(h.NumberTypes, ",") != "mobile,fixed" {
		t.Errorf("holding = %+v, want %+v", *h, want)
	}
	if pay.Key != "bundle:7:k-1" || pay.Kind != "bundle" || pay.Currency != "USD" || pay.Memo != "World 100" ||
		pay.Fingerprint() != "bundle|USD|revenue:bundles:USD=990000|wallet:7=-990000" {
		t.Errorf("payment = %+v (%s)", *pay, pay.Fingerprint())
	}
	if err := pay.Validate(); err != nil {
		t.Errorf("payment does not validate: %v", err)
	}

	euro := *alice
	euro.Currency = "EUR"
	broken := world100
	broken.NumberTypes = []string{"cell"}
	for _, tt := range []struct {
		name string
		p    dialtone.BundlePurchase
		want string
	}{
		{"other currency", dialtone.BundlePurchase{Account: &euro, Bundle: world100, Key: "k", At: at}, "sold in USD, account alice pays in EUR"},
		{"no key", dialtone.BundlePurchase{Account: alice, Bundle: world100, At: at}, "key"},
		{"no time", dialtone.BundlePurchase{Account: alice, Bundle: world100, Key: "k"}, "time"},
		{"no account", dialtone.BundlePurchase{Bundle: world100, Key: "k", At: at}, "no account"},
		{"bad product", dialtone.BundlePurchase{Account: alice, Bundle: broken, Key: "k", At: at}, "cell"},
	} {
		if _, _, err := tt.p.Plan(); !errors.Is(err, dialtone.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Plan() = %v, want ErrInvalid naming %q", tt.name, err, tt.want)
		}
	}
	if _, err := dialtone.FindBundle([]dialtone.Bundle{world100}, "nope"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("FindBundle(nope) = %v, want ErrNotFound", err)
	}
}

// TestBuyBundle runs the purchase on each real store: it pays and adds the
// holding once per key, refuses what the wallet cannot pay, and leaves the
// ledger balanced.
func TestBuyBundle(t *testing.T) {
	for name, open := range storetest.Stores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			alice := storetest.NewAccount("alice")
			if err := st.CreateAccount(ctx, alice); err != nil {
				t.Fatal(err)
			}
			storetest.TopUp(t, st, alice.ID, "1.50")
			buy := func(key string) (*dialtone.Holding, bool, error) {
				return dialtone.BuyBundle(ctx, st, dialtone.BundlePurchase{Account: alice, Bundle: world100, Key: key, At: storetest.Base})
			}
			h, replayed, err := buy("first")
			if err != nil || replayed || h.ID == 0 {
				t.Fatalf("BuyBundle = %+v, %v, %v", h, replayed, err)
			}
			again, replayed, err := buy("first")
			if err != nil || !replayed || again.ID != h.ID {
				t.Errorf("BuyBundle(same key) = id %d, %v, %v; want replayed, id %d", again.ID, replayed, err, h.ID)
			}
			if _, _, err := buy("second"); !errors.Is(err, dialtone.ErrInsufficientFunds) {
				t.Errorf("BuyBundle(0.51 left) = %v, want ErrInsufficientFunds", err)
			}
			if bal, err := st.Balance(ctx, dialtone.WalletAccount(alice.ID)); err != nil || !bal.Equal(decimal.RequireFromString("0.51")) {
				t.Errorf("wallet = %s, %v; want 0.51", bal, err)
			}
			hs, err := st.Holdings(ctx, alice.ID, storetest.Base.Add(time.Hour))
			if err != nil || len(hs) != 1 || hs[0].ID != h.ID || hs[0].SecondsLeft != 6000 || !hs[0].ExpiresAt.Equal(h.ExpiresAt) {
				t.Errorf("Holdings = %+v, %v; want the one bundle", hs, err)
			}
			es, err := st.Entries(ctx, dialtone.WalletAccount(alice.ID), 0, 1)
			if err != nil || len(es) != 1 || es[0].Key != "bundle:"+itoa(alice.ID)+":first" || es[0].Kind != "bundle" {
				t.Errorf("newest wallet entry = %+v, %v; want the payment", es, err)
			}
			storetest.CheckLedger(t, st)
		})
	}
}

func itoa(n int64) string { return decimal.NewFromInt(n).String() }
