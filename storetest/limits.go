package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// runLimits registers the LimitStore subtests.
func runLimits(t *testing.T, open func(t *testing.T) dialtone.Store) {
	t.Run("AccountLimits", func(t *testing.T) { testAccountLimits(t, open(t)) })
	t.Run("CallSpend", func(t *testing.T) { testCallSpend(t, open(t)) })
}

func testAccountLimits(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := newAccount(t, st, "alice"), newAccount(t, st, "bob")
	if l, err := st.AccountLimits(ctx, alice.ID); err != nil || !l.IsDefault() {
		t.Fatalf("AccountLimits(none set) = %+v, %v; want all default", l, err)
	}
	set := dialtone.Limits{Concurrent: 5, PerMinute: dialtone.Unlimited, SpendHour: D("2.50"), SpendDay: dialtone.UnlimitedMoney,
		MaxRate: D("0.123456"), Countries: []string{"US", "GB"}, NumberTypes: []dialtone.NumberType{dialtone.Mobile, dialtone.Fixed}}
	if err := st.SetAccountLimits(ctx, alice.ID, set); err != nil {
		t.Fatalf("SetAccountLimits() = %v", err)
	}
	wantLimits(t, st, alice.ID, set)
	if l, _ := st.AccountLimits(ctx, bob.ID); !l.IsDefault() {
		t.Errorf("AccountLimits(bob) = %+v, want bob's untouched", l)
	}
	// A second set replaces the whole: what it leaves out is the default again.
	next := dialtone.Limits{PerMinute: 3, Countries: []string{dialtone.AnyCountry}}
	if err := st.SetAccountLimits(ctx, alice.ID, next); err != nil {
		t.Fatalf("SetAccountLimits(again) = %v", err)
	}
	wantLimits(t, st, alice.ID, next)
	if err := st.SetAccountLimits(ctx, alice.ID, dialtone.Limits{}); err != nil {
		t.Fatalf("SetAccountLimits(reset) = %v", err)
	}
	wantLimits(t, st, alice.ID, dialtone.Limits{})
	if err := st.SetAccountLimits(ctx, 999999, set); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("SetAccountLimits(no account) = %v, want %v", err, dialtone.ErrNotFound)
	}
	if err := st.SetAccountLimits(ctx, alice.ID, dialtone.Limits{Concurrent: -7}); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("SetAccountLimits(-7 calls) = %v, want %v", err, dialtone.ErrInvalid)
	}
}

func wantLimits(t *testing.T, st dialtone.Store, accountID int64, want dialtone.Limits) {
	t.Helper()
	got, err := st.AccountLimits(context.Background(), accountID)
	if err != nil {
		t.Fatalf("AccountLimits() = %v", err)
	}
	// Compare the text forms: amounts equal in value may differ in exponent.
	if !reflect.DeepEqual(got.Settings(), want.Settings()) {
		t.Errorf("AccountLimits() = %+v, want %+v", got.Settings(), want.Settings())
	}
}

// testCallSpend: the prices of the account's calls that ended in the
// window, and the money its open sessions hold, are summed; other
// accounts', older calls and settled sessions are not.
func testCallSpend(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	newAccount(t, st, "bob")
	wantSpend := func(since time.Time, want string) {
		t.Helper()
		got, err := st.CallSpend(ctx, alice.ID, since)
		if err != nil || !got.Equal(D(want)) {
			t.Errorf("CallSpend(since %s) = %s, %v; want %s", since.Format(time.TimeOnly), got, err, want)
		}
	}
	wantSpend(Base.Add(-time.Hour), "0")
	for i, c := range []struct {
		account, price string
		end            time.Time
	}{
		{"alice", "0.10", Base.Add(-2 * time.Hour)},
		{"alice", "0.25", Base.Add(-30 * time.Minute)},
		{"alice", "0.05", Base},
		{"bob", "7.00", Base},
	} {
		cdr := NewCDR(t, st, c.account, "spend-"+string(rune('a'+i)), c.end)
		cdr.Price = D(c.price)
		if err := st.InsertCDR(ctx, cdr); err != nil {
			t.Fatal(err)
		}
	}
	wantSpend(Base.Add(-time.Hour), "0.3")
	wantSpend(Base.Add(-3*time.Hour), "0.4")
	wantSpend(Base, "0.05") // a call that ended at since counts

	// Money held by a call in progress counts at once, until it is settled.
	TopUp(t, st, alice.ID, "1.00")
	cdr := NewCDR(t, st, "alice", "open-1", Base)
	s := &dialtone.CallSession{ID: "open-1", Node: "n1", AccountID: alice.ID, Currency: "USD", CDR: *cdr,
		Sell: dialtone.Rate{Prefix: "1", PerMinute: D("0.30"), FirstIncrement: 60, NextIncrement: 60}}
	if err := st.OpenSession(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Reserve(ctx, dialtone.Reservation{SessionID: "open-1", Seq: 1, Money: D("0.30"), Covered: 60, At: Base, AnswerAt: Base}); err != nil {
		t.Fatal(err)
	}
	wantSpend(Base.Add(-time.Hour), "0.6")
	cdr.Price = D("0.20")
	if err := st.Settle(ctx, dialtone.Settlement{SessionID: "open-1", Price: D("0.20")}, cdr); err != nil {
		t.Fatal(err)
	}
	wantSpend(Base.Add(-time.Hour), "0.5")
	CheckLedger(t, st)
}
