package storetest

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// D parses a decimal literal in tests.
func D(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// Move is the movement of a transfer the test knows to be valid.
func Move(t testing.TB, tr dialtone.Transfer) *dialtone.Movement {
	t.Helper()
	m, err := tr.Movement()
	if err != nil {
		t.Fatalf("transfer %s: %v", tr.Key, err)
	}
	return m
}

// TopUp credits an account's wallet from the outside world.
func TopUp(t testing.TB, st dialtone.Store, accountID int64, amount string) {
	t.Helper()
	key := fmt.Sprintf("test-topup:%d:%d", accountID, time.Now().UnixNano())
	m := Move(t, dialtone.Transfer{Key: key, Kind: "topup", Currency: "USD", Memo: "test", From: dialtone.FundingAccount("USD"), To: dialtone.WalletAccount(accountID), Amount: D(amount)})
	if _, err := st.Post(context.Background(), m); err != nil {
		t.Fatalf("top up %s: %v", amount, err)
	}
}

func balance(t testing.TB, st dialtone.Store, account string) decimal.Decimal {
	t.Helper()
	b, err := st.Balance(context.Background(), account)
	if err != nil {
		t.Fatalf("Balance(%s) = %v", account, err)
	}
	return b
}

func wantBalance(t testing.TB, st dialtone.Store, account, want string) {
	t.Helper()
	if got := balance(t, st, account); !got.Equal(D(want)) {
		t.Errorf("Balance(%s) = %s, want %s", account, got, want)
	}
}

// CheckLedger fails the test when a ledger invariant does not hold.
func CheckLedger(t testing.TB, st dialtone.Store) {
	t.Helper()
	c, err := st.CheckLedger(context.Background())
	if err != nil {
		t.Fatalf("CheckLedger() = %v", err)
	}
	if !c.OK() {
		t.Errorf("CheckLedger() = total %s, mismatched %v, negative %v: want total 0 and none", c.Total, c.Mismatched, c.Negative)
	}
}

func newAccount(t testing.TB, st dialtone.Store, name string) *dialtone.Account {
	t.Helper()
	a := NewAccount(name)
	if err := st.CreateAccount(context.Background(), a); err != nil {
		t.Fatalf("CreateAccount(%s) = %v", name, err)
	}
	return a
}

func testExport(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	a := NewCDR(t, st, "alice", "cdr-1", Base)
	b := NewCDR(t, st, "alice", "cdr-2", Base.Add(time.Minute))
	b.SIPReason, b.Caller, b.Margin = `Busy, "really" busy`, "Zoë\n+1", D("-0.5")
	c := NewCDR(t, st, "alice", "cdr-3", Base.Add(2*time.Minute))
	c.Disposition, c.AnswerAt, c.RingingAt, c.Duration, c.BilledSeconds, c.SIPCode = dialtone.Failed, time.Time{}, time.Time{}, 0, 0, 503
	for _, x := range []*dialtone.CDR{a, b, c} {
		if err := st.InsertCDR(ctx, x); err != nil {
			t.Fatalf("InsertCDR(%s) = %v", x.ID, err)
		}
	}
	f := dialtone.CDRFilter{From: Base.Add(-time.Hour), To: Base.Add(time.Hour)}
	var want bytes.Buffer
	e := dialtone.NewExporter(&want, dialtone.ExportCSV)
	for _, x := range []*dialtone.CDR{a, b, c} {
		if err := e.Write(x); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	n, err := st.ExportCDRs(ctx, f, dialtone.ExportCSV, &got)
	if err != nil || n != 3 {
		t.Fatalf("ExportCDRs(csv) = %d, %v; want 3 rows", n, err)
	}
	gr, err1 := csv.NewReader(&got).ReadAll()
	wr, err2 := csv.NewReader(&want).ReadAll()
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("read csv: %v", err)
	}
	if !reflect.DeepEqual(gr, wr) {
		t.Errorf("ExportCDRs(csv) =\n%q\nwant\n%q", gr, wr)
	}
	var jl bytes.Buffer
	if n, err := st.ExportCDRs(ctx, f, dialtone.ExportJSONL, &jl); err != nil || n != 3 {
		t.Fatalf("ExportCDRs(jsonl) = %d, %v; want 3 rows", n, err)
	}
	lines := strings.Split(strings.TrimSpace(jl.String()), "\n")
	var row map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &row); err != nil || len(lines) != 3 {
		t.Fatalf("jsonl: %d lines, line 2 %q: %v", len(lines), lines[1], err)
	}
	if row["sip_reason"] != b.SIPReason || row["margin"] != "-0.500000" || row["billed_seconds"] != float64(60) {
		t.Errorf("jsonl line 2 = %v", row)
	}
	var empty bytes.Buffer
	if n, err := st.ExportCDRs(ctx, dialtone.CDRFilter{From: Base.Add(time.Hour), To: Base.Add(2 * time.Hour)}, dialtone.ExportCSV, &empty); err != nil || n != 0 {
		t.Fatalf("ExportCDRs(empty range) = %d, %v", n, err)
	}
	if got := strings.TrimSpace(empty.String()); got != strings.Join(dialtone.ExportColumns, ",") {
		t.Errorf("ExportCDRs(empty range) = %q, want the header only", got)
	}
}

func testLedger(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	wallet, fund, rev := dialtone.WalletAccount(alice.ID), dialtone.FundingAccount("USD"), dialtone.CallRevenueAccount("USD")
	top := Move(t, dialtone.Transfer{Key: "pay-1", Kind: "topup", Currency: "USD", Memo: "card", From: fund, To: wallet, Amount: D("10.00")})
	if replayed, err := st.Post(ctx, top); err != nil || replayed {
		t.Fatalf("Post(topup) = %v, %v", replayed, err)
	}
	if replayed, err := st.Post(ctx, Move(t, dialtone.Transfer{Key: "pay-1", Kind: "topup", Currency: "USD", Memo: "card", From: fund, To: wallet, Amount: D("10")})); err != nil || !replayed {
		t.Errorf("Post(same key, same amount) = %v, %v; want replayed", replayed, err)
	}
	if _, err := st.Post(ctx, Move(t, dialtone.Transfer{Key: "pay-1", Kind: "topup", Currency: "USD", Memo: "card", From: fund, To: wallet, Amount: D("11.00")})); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("Post(same key, other amount) = %v, want %v", err, dialtone.ErrConflict)
	}
	wantBalance(t, st, wallet, "10")
	if _, err := st.Post(ctx, Move(t, dialtone.Transfer{Key: "spend-1", Kind: "call", Currency: "USD", From: wallet, To: rev, Amount: D("10.01")})); !errors.Is(err, dialtone.ErrInsufficientFunds) {
		t.Errorf("Post(overspend) = %v, want %v", err, dialtone.ErrInsufficientFunds)
	}
	bad := []*dialtone.Movement{
		{Key: "bad-1", Kind: "x", Currency: "USD", Postings: []dialtone.Posting{{Account: wallet, Amount: D("-1")}, {Account: rev, Amount: D("0.5")}}},
		// Movements dialtone.Transfer would refuse to build: the store checks too.
		{Key: "bad-2", Kind: "x", Currency: "USD", Postings: []dialtone.Posting{{Account: wallet, Amount: D("-0.0000001")}, {Account: rev, Amount: D("0.0000001")}}},
		{Key: "bad-3", Kind: "x", Currency: "USD", Postings: []dialtone.Posting{{Account: wallet, Amount: D("-1")}, {Account: wallet, Amount: D("1")}}},
		Move(t, dialtone.Transfer{Key: "bad-4", Kind: "x", Currency: "EUR", From: wallet, To: "revenue:calls:EUR", Amount: D("1")}),
		{Key: "", Kind: "x", Currency: "USD", Postings: []dialtone.Posting{{Account: wallet, Amount: D("-1")}, {Account: rev, Amount: D("1")}}},
	}
	for _, m := range bad {
		if _, err := st.Post(ctx, m); !errors.Is(err, dialtone.ErrInvalid) {
			t.Errorf("Post(%s %v) = %v, want %v", m.Key, m.Postings, err, dialtone.ErrInvalid)
		}
	}
	wantBalance(t, st, wallet, "10")
	wantBalance(t, st, rev, "0")
	if _, err := st.Post(ctx, Move(t, dialtone.Transfer{Key: "spend-1", Kind: "call", Currency: "USD", Memo: "call 1", From: wallet, To: rev, Amount: D("2.5")})); err != nil {
		t.Fatalf("Post(spend after a refused try with its key) = %v", err)
	}
	wantBalance(t, st, wallet, "7.5")
	wantBalance(t, st, fund, "-10")
	es, err := st.Entries(ctx, wallet, 0, 10)
	if err != nil || len(es) != 2 {
		t.Fatalf("Entries(wallet) = %d entries, %v; want 2", len(es), err)
	}
	if es[0].Key != "spend-1" || !es[0].Amount.Equal(D("-2.5")) || !es[0].Balance.Equal(D("7.5")) || es[1].Key != "pay-1" || !es[1].Balance.Equal(D("10")) {
		t.Errorf("Entries(wallet) = %+v", es)
	}
	if older, err := st.Entries(ctx, wallet, es[0].MovementID, 10); err != nil || len(older) != 1 || older[0].Key != "pay-1" {
		t.Errorf("Entries(wallet, before newest) = %+v, %v", older, err)
	}
	CheckLedger(t, st)
}

func testLedgerConcurrency(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	wallet, rev := dialtone.WalletAccount(alice.ID), dialtone.CallRevenueAccount("USD")
	TopUp(t, st, alice.ID, "1.00")
	var ok, short, replays atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		spend := Move(t, dialtone.Transfer{Key: fmt.Sprintf("spend-%d", i), Kind: "call", Currency: "USD", From: wallet, To: rev, Amount: D("0.03")})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.Post(ctx, spend)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, dialtone.ErrInsufficientFunds):
				short.Add(1)
			default:
				t.Errorf("Post(spend-%d) = %v", i, err)
			}
		}()
	}
	for range 10 {
		refund := Move(t, dialtone.Transfer{Key: "refund-1", Kind: "refund", Currency: "USD", From: rev, To: dialtone.FundingAccount("USD"), Amount: D("0.01")})
		wg.Add(1)
		go func() {
			defer wg.Done()
			replayed, err := st.Post(ctx, refund)
			if err != nil && !errors.Is(err, dialtone.ErrInsufficientFunds) {
				t.Errorf("Post(refund-1) = %v", err)
			}
			if replayed {
				replays.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 33 || short.Load() != 17 {
		t.Errorf("50 concurrent debits of 0.03 from 1.00: %d applied, %d refused; want 33 and 17", ok.Load(), short.Load())
	}
	wantBalance(t, st, wallet, "0.01")
	es, err := st.Entries(ctx, rev, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	refunds := 0
	for _, e := range es {
		if e.Key == "refund-1" {
			refunds++
		}
	}
	if refunds > 1 {
		t.Errorf("a movement posted 10 times at once was applied %d times", refunds)
	}
	CheckLedger(t, st)
}

func testRates(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	deck := []dialtone.Rate{
		{Prefix: "44", Destination: "United Kingdom", PerMinute: D("0.02"), ConnectFee: D("0"), FirstIncrement: 60, NextIncrement: 60, From: from},
		{Prefix: "447", Destination: "United Kingdom - Mobile", PerMinute: D("0.0875"), ConnectFee: D("0.01"), FirstIncrement: 30, NextIncrement: 6, From: from, NumberType: "mobile"},
		{Prefix: "1", Destination: "USA", PerMinute: D("0.005"), ConnectFee: D("0"), FirstIncrement: 1, NextIncrement: 1, From: from, To: from.AddDate(1, 0, 0)},
	}
	if err := st.ReplaceRates(ctx, dialtone.RatePlan{Name: "retail", Currency: "USD"}, deck); err != nil {
		t.Fatalf("ReplaceRates() = %v", err)
	}
	plan, got, err := st.Rates(ctx, "retail")
	if err != nil || plan.Currency != "USD" || plan.Rates != 3 {
		t.Fatalf("Rates(retail) = %+v, %v", plan, err)
	}
	byPrefix := map[string]dialtone.Rate{}
	for _, r := range got {
		byPrefix[r.Prefix] = r
	}
	for _, w := range deck {
		g := byPrefix[w.Prefix]
		if g.Destination != w.Destination || !g.PerMinute.Equal(w.PerMinute) || !g.ConnectFee.Equal(w.ConnectFee) ||
			g.FirstIncrement != w.FirstIncrement || g.NextIncrement != w.NextIncrement || !g.From.Equal(w.From) || !g.To.Equal(w.To) || g.NumberType != w.NumberType {
			t.Errorf("Rates(retail)[%s] = %+v, want %+v", w.Prefix, g, w)
		}
	}
	badDeck := []dialtone.Rate{deck[0], {Prefix: "49", PerMinute: D("0.0000001"), FirstIncrement: 1, NextIncrement: 1, From: from}}
	if err := st.ReplaceRates(ctx, dialtone.RatePlan{Name: "retail", Currency: "USD"}, badDeck); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("ReplaceRates(over-precise rate) = %v, want %v", err, dialtone.ErrInvalid)
	}
	if _, got, _ := st.Rates(ctx, "retail"); len(got) != 3 {
		t.Errorf("after a refused import the deck has %d rates, want the 3 it had", len(got))
	}
	if err := st.ReplaceRates(ctx, dialtone.RatePlan{Name: "retail", Currency: "USD"}, deck[:1]); err != nil {
		t.Fatal(err)
	}
	if _, got, _ := st.Rates(ctx, "retail"); len(got) != 1 {
		t.Errorf("after replacing with 1 rate the deck has %d", len(got))
	}
	if _, _, err := st.Rates(ctx, "nope"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("Rates(nope) = %v, want %v", err, dialtone.ErrNotFound)
	}
	if plans, err := st.RatePlans(ctx); err != nil || len(plans) != 1 || plans[0].Name != "retail" || plans[0].Rates != 1 {
		t.Errorf("RatePlans() = %+v, %v", plans, err)
	}
}

// NewHolding is a bundle of seconds with 30 days of validity from now.
func NewHolding(accountID int64, seconds int64, now time.Time) *dialtone.Holding {
	return &dialtone.Holding{AccountID: accountID, Bundle: "world100", Seconds: seconds, SecondsLeft: seconds, Increment: 60,
		Countries: []string{"US", "CA"}, NumberTypes: []string{"mobile", "fixed"}, BoughtAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
}

func testBundles(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	wallet := dialtone.WalletAccount(alice.ID)
	TopUp(t, st, alice.ID, "5")
	pay := func(key, price string) *dialtone.Movement {
		return Move(t, dialtone.Transfer{Key: key, Kind: "bundle", Currency: "USD", Memo: "world100", From: wallet, To: dialtone.BundleRevenueAccount("USD"), Amount: D(price)})
	}
	h := NewHolding(alice.ID, 6000, Base)
	if replayed, err := st.BuyBundle(ctx, h, pay("buy-1", "0.99")); err != nil || replayed || h.ID == 0 {
		t.Fatalf("BuyBundle() = %v, %v (id %d)", replayed, err, h.ID)
	}
	again := NewHolding(alice.ID, 6000, Base)
	if replayed, err := st.BuyBundle(ctx, again, pay("buy-1", "0.99")); err != nil || !replayed || again.ID != h.ID {
		t.Errorf("BuyBundle(same key) = %v, %v (id %d); want replayed, id %d", replayed, err, again.ID, h.ID)
	}
	if _, err := st.BuyBundle(ctx, NewHolding(alice.ID, 6000, Base), pay("buy-2", "100")); !errors.Is(err, dialtone.ErrInsufficientFunds) {
		t.Errorf("BuyBundle(too dear) = %v, want %v", err, dialtone.ErrInsufficientFunds)
	}
	wantBalance(t, st, wallet, "4.01")
	hs, err := st.Holdings(ctx, alice.ID, Base.Add(time.Hour))
	if err != nil || len(hs) != 1 || hs[0].SecondsLeft != 6000 || !reflect.DeepEqual(hs[0].Countries, []string{"US", "CA"}) {
		t.Fatalf("Holdings() = %+v, %v; want the one bundle", hs, err)
	}
	if hs, _ := st.Holdings(ctx, alice.ID, Base.Add(31*24*time.Hour)); len(hs) != 0 {
		t.Errorf("Holdings(after expiry) = %+v, want none", hs)
	}
	CheckLedger(t, st)
}

func testSessions(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	wallet, hold := dialtone.WalletAccount(alice.ID), dialtone.HoldAccount(alice.ID)
	TopUp(t, st, alice.ID, "1.00")
	h := NewHolding(alice.ID, 120, Base)
	if _, err := st.BuyBundle(ctx, h, Move(t, dialtone.Transfer{Key: "buy", Kind: "bundle", Currency: "USD", From: wallet, To: dialtone.BundleRevenueAccount("USD"), Amount: D("0.10")})); err != nil {
		t.Fatal(err)
	}
	cdr := NewCDR(t, st, "alice", "call-1", Base.Add(2*time.Minute))
	s := &dialtone.CallSession{ID: "call-1", Node: "n1", AccountID: alice.ID, Currency: "USD", CDR: *cdr,
		Sell: dialtone.Rate{Prefix: "1", PerMinute: D("0.10"), FirstIncrement: 60, NextIncrement: 60}}
	if err := st.OpenSession(ctx, s, nil); err != nil {
		t.Fatalf("OpenSession() = %v", err)
	}
	if err := st.OpenSession(ctx, s, nil); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("OpenSession(again) = %v, want %v", err, dialtone.ErrConflict)
	}
	r1 := dialtone.Reservation{SessionID: "call-1", Seq: 1, Money: D("0.10"), Takes: []dialtone.BundleTake{{HoldingID: h.ID, Seconds: 60}},
		Covered: 120, At: Base, AnswerAt: Base}
	for range 2 { // the retry changes nothing
		if err := st.Reserve(ctx, r1); err != nil {
			t.Fatalf("Reserve(1) = %v", err)
		}
	}
	wantBalance(t, st, wallet, "0.8")
	wantBalance(t, st, hold, "0.1")
	if err := st.Reserve(ctx, dialtone.Reservation{SessionID: "call-1", Seq: 3, Money: D("0.1"), Covered: 180}); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("Reserve(seq 3 after 1) = %v, want %v", err, dialtone.ErrInvalid)
	}
	if err := st.Reserve(ctx, dialtone.Reservation{SessionID: "call-1", Seq: 2, Money: D("0.81"), Covered: 300}); !errors.Is(err, dialtone.ErrInsufficientFunds) {
		t.Errorf("Reserve(more than the wallet) = %v, want %v", err, dialtone.ErrInsufficientFunds)
	}
	if err := st.Reserve(ctx, dialtone.Reservation{SessionID: "call-1", Seq: 2, Takes: []dialtone.BundleTake{{HoldingID: h.ID, Seconds: 61}}, Covered: 300}); !errors.Is(err, dialtone.ErrInsufficientFunds) {
		t.Errorf("Reserve(more than the bundle) = %v, want %v", err, dialtone.ErrInsufficientFunds)
	}
	wantBalance(t, st, wallet, "0.8")
	if err := st.Confirm(ctx, "call-1", Base.Add(90*time.Second), cdr); err != nil {
		t.Fatalf("Confirm() = %v", err)
	}
	open, err := st.OpenSessions(ctx, "n1")
	if err != nil || len(open) != 1 {
		t.Fatalf("OpenSessions(n1) = %d, %v; want 1", len(open), err)
	}
	o := open[0]
	if !o.ReservedMoney.Equal(D("0.1")) || o.Covered != 120 || o.Seq != 1 || !o.ConfirmedAt.Equal(Base.Add(90*time.Second)) ||
		!o.AnswerAt.Equal(Base) || !reflect.DeepEqual(o.Takes, r1.Takes) || !o.Sell.PerMinute.Equal(D("0.10")) || o.CDR.ID != "call-1" {
		t.Errorf("OpenSessions(n1)[0] = %+v", o)
	}
	if open, _ := st.OpenSessions(ctx, "n2"); len(open) != 0 {
		t.Errorf("OpenSessions(n2) = %d sessions, want none", len(open))
	}
	cdr.Price, cdr.BundleSeconds = D("0.05"), 30
	st1 := dialtone.Settlement{SessionID: "call-1", Price: D("0.05"), BundleUsed: []dialtone.BundleTake{{HoldingID: h.ID, Seconds: 30}}}
	if err := st.Settle(ctx, dialtone.Settlement{SessionID: "call-1", Price: D("0.11")}, cdr); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("Settle(more than held) = %v, want %v", err, dialtone.ErrInvalid)
	}
	if err := st.Settle(ctx, st1, cdr); err != nil {
		t.Fatalf("Settle() = %v", err)
	}
	if err := st.Settle(ctx, st1, cdr); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("Settle(again) = %v, want %v", err, dialtone.ErrConflict)
	}
	wantBalance(t, st, wallet, "0.85")
	wantBalance(t, st, hold, "0")
	wantBalance(t, st, dialtone.CallRevenueAccount("USD"), "0.05")
	if hs, _ := st.Holdings(ctx, alice.ID, Base); len(hs) != 1 || hs[0].SecondsLeft != 90 {
		t.Errorf("Holdings() after settling = %+v, want 90 s left", hs)
	}
	if got, err := st.CDRByID(ctx, "call-1"); err != nil || !got.Price.Equal(D("0.05")) || got.BundleSeconds != 30 {
		t.Errorf("CDRByID(call-1) = %+v, %v; want the settled CDR", got, err)
	}
	if open, _ := st.OpenSessions(ctx, "n1"); len(open) != 0 {
		t.Errorf("OpenSessions(n1) after settling = %d, want none", len(open))
	}
	CheckLedger(t, st)
}

// testSessionsConcurrent: 20 calls at once on an account that can pay for 3
// minutes, each reserving 30 s at a time until refused, never spend more
// than the account has.
func testSessionsConcurrent(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	TopUp(t, st, alice.ID, "0.30") // 3 minutes at 0.10
	var wg sync.WaitGroup
	var reserved atomic.Int64
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("call-%d", i)
			cdr := NewCDR(t, st, "alice", id, Base)
			cdr.Price = decimal.Zero
			if err := st.OpenSession(ctx, &dialtone.CallSession{ID: id, Node: "n1", AccountID: alice.ID, Currency: "USD", CDR: *cdr}, nil); err != nil {
				t.Errorf("OpenSession(%s) = %v", id, err)
				return
			}
			held := decimal.Zero
			for seq := 1; ; seq++ {
				err := st.Reserve(ctx, dialtone.Reservation{SessionID: id, Seq: seq, Money: D("0.05"), Covered: int64(30 * seq), At: Base})
				if errors.Is(err, dialtone.ErrInsufficientFunds) {
					break
				}
				if err != nil {
					t.Errorf("Reserve(%s, %d) = %v", id, seq, err)
					return
				}
				reserved.Add(1)
				held = held.Add(D("0.05"))
			}
			cdr.Price = held
			if err := st.Settle(ctx, dialtone.Settlement{SessionID: id, Price: held}, cdr); err != nil {
				t.Errorf("Settle(%s) = %v", id, err)
			}
		}()
	}
	wg.Wait()
	if reserved.Load() != 6 {
		t.Errorf("20 calls reserved %d intervals of 0.05 from 0.30, want exactly 6", reserved.Load())
	}
	wantBalance(t, st, dialtone.WalletAccount(alice.ID), "0")
	wantBalance(t, st, dialtone.CallRevenueAccount("USD"), "0.30")
	CheckLedger(t, st)
}

func testTokens(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	if h, err := st.PasswordHash(ctx, alice.ID); err != nil || h != "" {
		t.Errorf("PasswordHash(new account) = %q, %v; want empty", h, err)
	}
	if err := st.SetPassword(ctx, alice.ID, "$2a$10$hash"); err != nil {
		t.Fatal(err)
	}
	if h, _ := st.PasswordHash(ctx, alice.ID); h != "$2a$10$hash" {
		t.Errorf("PasswordHash() = %q", h)
	}
	if err := st.SetPassword(ctx, 999999, "x"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("SetPassword(unknown) = %v, want %v", err, dialtone.ErrNotFound)
	}
	tok := &dialtone.Token{Hash: "abc", AccountID: alice.ID, CreatedAt: Base, ExpiresAt: Base.Add(time.Hour)}
	if err := st.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(ctx, tok); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("CreateToken(again) = %v, want %v", err, dialtone.ErrConflict)
	}
	got, err := st.TokenByHash(ctx, "abc")
	if err != nil || got.AccountID != alice.ID || !got.ExpiresAt.Equal(tok.ExpiresAt) || !got.Live(Base) || got.Live(Base.Add(2*time.Hour)) {
		t.Errorf("TokenByHash() = %+v, %v", got, err)
	}
	if err := st.RevokeToken(ctx, "abc", Base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.TokenByHash(ctx, "abc"); got.Live(Base.Add(2*time.Minute)) || !got.RevokedAt.Equal(Base.Add(time.Minute)) {
		t.Errorf("after RevokeToken: %+v", got)
	}
	if _, err := st.TokenByHash(ctx, "nope"); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("TokenByHash(unknown) = %v", err)
	}
}
