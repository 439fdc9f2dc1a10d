package billing_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
	"github.com/dialtone/dialtone/storetest"
)

// clock is a test clock moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// stores opens each real store, fresh and migrated.

type env struct {
	st    dialtone.Store
	clock *clock
	ctl   *billing.Controller
	acct  *dialtone.Account
	seq   int
}

// newEnv: an account on plan "retail" (UK mobile 0.10/min 60/60, UK fixed
// 0.12/min 30/6 + 0.05 connect) with balance money.
func newEnv(t *testing.T, st dialtone.Store, money string) *env {
	t.Helper()
	return newEnvWith(t, st, money, nil, slog.New(slog.DiscardHandler))
}

// newEnvWith is newEnv with the controller's configuration changed by tune.
func newEnvWith(t *testing.T, st dialtone.Store, money string, tune func(*billing.Config), log *slog.Logger) *env {
	t.Helper()
	ctx := context.Background()
	deck := []dialtone.Rate{
		{Prefix: "447", Destination: "United Kingdom - Mobile", PerMinute: d("0.10"), FirstIncrement: 60, NextIncrement: 60, From: t0.AddDate(-1, 0, 0)},
		{Prefix: "44", Destination: "United Kingdom", PerMinute: d("0.12"), ConnectFee: d("0.05"), FirstIncrement: 30, NextIncrement: 6, From: t0.AddDate(-1, 0, 0)},
	}
	if err := st.ReplaceRates(ctx, dialtone.RatePlan{Name: "retail", Currency: "USD"}, deck); err != nil {
		t.Fatal(err)
	}
	buy := []dialtone.Rate{{Prefix: "44", Destination: "UK", PerMinute: d("0.03"), FirstIncrement: 1, NextIncrement: 1, From: t0.AddDate(-1, 0, 0)}}
	if err := st.ReplaceRates(ctx, dialtone.RatePlan{Name: "carrier1-buy", Currency: "USD"}, buy); err != nil {
		t.Fatal(err)
	}
	a := storetest.NewAccount("alice")
	a.RatePlan = "retail"
	if err := st.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	if money != "0" {
		storetest.TopUp(t, st, a.ID, money)
	}
	c := &clock{t: t0}
	cfg := billing.Config{Node: "n1", Interval: 60 * time.Second, BuyPlan: func(trunk string) string { return map[string]string{"carrier1": "carrier1-buy"}[trunk] }}
	if tune != nil {
		tune(&cfg)
	}
	ctl, err := billing.NewController(cfg, st, c.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, clock: c, ctl: ctl, acct: a}
}

func (e *env) authorize(t *testing.T, e164, typ string) (*billing.Call, *dialtone.CDR, error) {
	t.Helper()
	e.seq++
	id := fmt.Sprintf("call-%d", e.seq)
	cdr := &dialtone.CDR{ID: id, AppCallID: "app-" + id, AccountID: e.acct.ID, Account: e.acct.Username, DialedRaw: e164, DialedE164: e164,
		Trunk: "carrier1", SetupAt: e.clock.Now()}
	k, err := e.ctl.Authorize(context.Background(), billing.Request{CallID: id, Account: e.acct, E164: e164, Country: "GB", NumberType: typ, CDR: *cdr})
	return k, cdr, err
}

// finish ends an answered call after dur.
func (e *env) finish(t *testing.T, k *billing.Call, cdr *dialtone.CDR, answer time.Time, dur time.Duration) {
	t.Helper()
	cdr.AnswerAt, cdr.EndAt, cdr.Duration = answer, answer.Add(dur), dur
	cdr.Disposition, cdr.SIPCode, cdr.SIPReason, cdr.HangupBy = dialtone.Answered, 200, "OK", dialtone.PartyCaller
	if err := k.Finish(context.Background(), cdr); err != nil {
		t.Fatalf("Finish() = %v", err)
	}
}

func wallet(t *testing.T, e *env) decimal.Decimal {
	t.Helper()
	b, err := e.st.Balance(context.Background(), dialtone.WalletAccount(e.acct.ID))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func forEachStore(t *testing.T, f func(t *testing.T, open func(t *testing.T) dialtone.Store)) {
	for name, open := range storetest.Stores() {
		t.Run(name, func(t *testing.T) { f(t, open) })
	}
}

func TestAuthorizeRefusals(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) dialtone.Store) {
		e := newEnv(t, open(t), "0.09")
		if _, _, err := e.authorize(t, "+447400123456", "mobile"); !errors.Is(err, dialtone.ErrInsufficientFunds) {
			t.Errorf("Authorize(0.09 for a 0.10 minute) = %v, want %v", err, dialtone.ErrInsufficientFunds)
		}
		if _, _, err := e.authorize(t, "+33142685300", "fixed"); !errors.Is(err, dialtone.ErrNoRate) {
			t.Errorf("Authorize(France, not in the plan) = %v, want %v", err, dialtone.ErrNoRate)
		}
		free := storetest.NewAccount("bob")
		if err := e.st.CreateAccount(context.Background(), free); err != nil {
			t.Fatal(err)
		}
		k, err := e.ctl.Authorize(context.Background(), billing.Request{CallID: "x", Account: free, E164: "+447400123456", NumberType: "mobile"})
		if k != nil || !errors.Is(err, dialtone.ErrNoPlan) {
			t.Errorf("Authorize(account without a plan) = %v, %v; want nil, %v", k, err, dialtone.ErrNoPlan)
		}
		if open, _ := e.st.OpenSessions(context.Background(), "n1"); len(open) != 0 {
			t.Errorf("refused calls left %d open sessions", len(open))
		}
		// Free calls only when the configuration says so.
		ctl, err := billing.NewController(billing.Config{Node: "n1", Unbilled: true}, e.st, e.clock.Now, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if k, err := ctl.Authorize(context.Background(), billing.Request{CallID: "y", Account: free, E164: "+447400123456", NumberType: "mobile"}); k != nil || err != nil {
			t.Errorf("Authorize(account without a plan, unbilled allowed) = %v, %v; want nil, nil (not billed)", k, err)
		}
		// A default plan prices the calls of accounts that name none.
		ctl, _ = billing.NewController(billing.Config{Node: "n1", DefaultPlan: "retail"}, e.st, e.clock.Now, slog.New(slog.DiscardHandler))
		if _, err := ctl.Authorize(context.Background(), billing.Request{CallID: "z", Account: free, E164: "+447400123456", NumberType: "mobile"}); !errors.Is(err, dialtone.ErrInsufficientFunds) {
			t.Errorf("Authorize(no plan, default plan, empty wallet) = %v, want %v", err, dialtone.ErrInsufficientFunds)
		}
	})
}

// TestAuthorizeReservesFirstIncrement: the first increment and the connect
// fee are on hold before the carrier is dialed; a call that fails gives
// them back.
func TestAuthorizeReservesFirstIncrement(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) dialtone.Store) {
		e := newEnv(t, open(t), "1.00")
		ctx := context.Background()
		// UK fixed: 0.12/min 30/6 + 0.05 connect: 30 s cost 0.06 + 0.05.
		k, cdr, err := e.authorize(t, "+442079460018", "fixed")
		if err != nil {
			t.Fatal(err)
		}
		if w := wallet(t, e); !w.Equal(d("0.89")) {
			t.Errorf("wallet after Authorize = %s, want 0.89 (0.11 on hold)", w)
		}
		if h, _ := e.st.Balance(ctx, dialtone.HoldAccount(e.acct.ID)); !h.Equal(d("0.11")) {
			t.Errorf("hold after Authorize = %s, want 0.11", h)
		}
		cdr.EndAt, cdr.Disposition, cdr.SIPCode, cdr.SIPReason = e.clock.Now(), dialtone.Busy, 486, "Busy Here"
		if err := k.Finish(ctx, cdr); err != nil {
			t.Fatalf("Finish(busy) = %v", err)
		}
		got, err := e.st.CDRByID(ctx, cdr.ID)
		if err != nil || got.BilledSeconds != 0 || !got.Price.IsZero() || !got.Cost.IsZero() {
			t.Errorf("CDR of a busy call = %+v, %v; want billed 0, price 0, cost 0", got, err)
		}
		if w := wallet(t, e); !w.Equal(d("1")) {
			t.Errorf("wallet after the busy call = %s, want 1.00 back", w)
		}
		storetest.CheckLedger(t, e.st)
	})
}

// TestMomentaryCallBilledFirstIncrement: a call hung up milliseconds after
// the answer is billed its first increment, and its CDR's seconds and price
// agree; also when the hangup is settled before the answer's reservation.
func TestMomentaryCallBilledFirstIncrement(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) dialtone.Store) {
		e := newEnv(t, open(t), "1.00")
		ctx := context.Background()
		tests := []struct {
			e164, typ   string
			finishFirst bool
			billed      int64
			price       string
		}{
			{"+447400123456", "mobile", false, 60, "0.1"},
			{"+442079460018", "fixed", false, 30, "0.11"},
			{"+447400123456", "mobile", true, 60, "0.1"},
		}
		for _, tt := range tests {
			k, cdr, err := e.authorize(t, tt.e164, tt.typ)
			if err != nil {
				t.Fatal(err)
			}
			answer := e.clock.Now()
			if !tt.finishFirst {
				if _, err := k.Answered(ctx, answer, cdr); err != nil {
					t.Fatal(err)
				}
			}
			e.finish(t, k, cdr, answer, 3*time.Millisecond)
			if tt.finishFirst {
				if _, err := k.Answered(ctx, answer, cdr); !errors.Is(err, dialtone.ErrConflict) {
					t.Errorf("Answered(after Finish) = %v, want %v", err, dialtone.ErrConflict)
				}
			}
			got, _ := e.st.CDRByID(ctx, cdr.ID)
			if got.BilledSeconds != tt.billed || !got.Price.Equal(d(tt.price)) {
				t.Errorf("3 ms call to %s (finished first %v): billed %d, price %s; want %d, %s", tt.e164, tt.finishFirst, got.BilledSeconds, got.Price, tt.billed, tt.price)
			}
		}
		if w := wallet(t, e); !w.Equal(d("0.69")) {
			t.Errorf("wallet = %s, want 1.00 - 0.10 - 0.11 - 0.10", w)
		}
		storetest.CheckLedger(t, e.st)
	})
}

// TestFreeCallFlagged: a plan that prices a destination at nothing while
// the carrier charges for it is counted and logged.
func TestFreeCallFlagged(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) dialtone.Store) {
		st := open(t)
		reg := prometheus.NewRegistry()
		var logs bytes.Buffer
		var mu sync.Mutex
		e := newEnvWith(t, st, "1.00", func(c *billing.Config) { c.Metrics = billing.NewMetrics(reg) },
			slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil)))
		ctx := context.Background()
		zero := []dialtone.Rate{{Prefix: "44", Destination: "United Kingdom", PerMinute: d("0"), FirstIncrement: 60, NextIncrement: 60, From: t0.AddDate(-1, 0, 0)}}
		if err := st.ReplaceRates(ctx, dialtone.RatePlan{Name: "zero", Currency: "USD"}, zero); err != nil {
			t.Fatal(err)
		}
		e.acct.RatePlan = "zero"
		k, cdr, err := e.authorize(t, "+442079460018", "fixed")
		if err != nil {
			t.Fatal(err)
		}
		answer := e.clock.Now()
		k.Answered(ctx, answer, cdr)
		e.finish(t, k, cdr, answer, 30*time.Second)
		got, _ := st.CDRByID(ctx, cdr.ID)
		if !got.Price.IsZero() || got.BilledSeconds != 60 || !got.Cost.Equal(d("0.015")) {
			t.Errorf("CDR = price %s, billed %d, cost %s; want 0, 60, 0.015", got.Price, got.BilledSeconds, got.Cost)
		}
		if n := counter(t, reg, "dialtone_billing_free_calls_total"); n != 1 {
			t.Errorf("dialtone_billing_free_calls_total = %v, want 1", n)
		}
		mu.Lock()
		line := logs.String()
		mu.Unlock()
		for _, want := range []string{"level=WARN", "call_id=" + cdr.ID, "account=alice", "destination=+442079460018"} {
			if !strings.Contains(line, want) {
				t.Errorf("log %q does not say %q", line, want)
			}
		}
		// A paid call is not flagged.
		e.acct.RatePlan = "retail"
		k, cdr, _ = e.authorize(t, "+442079460018", "fixed")
		k.Answered(ctx, answer, cdr)
		e.finish(t, k, cdr, answer, 30*time.Second)
		if n := counter(t, reg, "dialtone_billing_free_calls_total"); n != 1 {
			t.Errorf("dialtone_billing_free_calls_total after a paid call = %v, want 1", n)
		}
	})
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return -1
}

func TestCallPricedAndCharged(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) dialtone.Store) {
		e := newEnv(t, open(t), "1.00")
		k, cdr, err := e.authorize(t, "+447400123456", "mobile")
		if err != nil || k.MaxSeconds != 600 {
			t.Fatalf("Authorize() = %v (max %v), want 600 s for 1.00 at 0.10/min", err, k)
		}
		answer := e.clock.Now()
		until, err := k.Answered(context.Background(), answer, cdr)
		if err != nil || !until.Equal(answer.Add(60*time.Second)) {
			t.Fatalf("Answered() = %v, %v; want answer+60s", until, err)
		}
		if w := wallet(t, e); !w.Equal(d("0.90")) {
			t.Errorf("wallet after the first reservation = %s, want 0.90", w)
		}
		e.clock.Add(55 * time.Second)
		if until, err = k.Extend(context.Background(), e.clock.Now()); err != nil || !until.Equal(answer.Add(120*time.Second)) {
			t.Fatalf("Extend() = %v, %v; want answer+120s", until, err)
		}
		e.finish(t, k, cdr, answer, 90*time.Second+300*time.Millisecond)
		got, err := e.st.CDRByID(context.Background(), cdr.ID)
		if err != nil {
			t.Fatal(err)
		}
		// 91 s at 60/60 = 120 s = 0.20; cost 91 s at 0.03/min 1/1 = 0.0455; margin 0.1545.
		if got.BilledSeconds != 120 || !got.Price.Equal(d("0.2")) || !got.SellRate.Equal(d("0.1")) || got.Prefix != "447" ||
			got.Destination != "United Kingdom - Mobile" || !got.BuyRate.Equal(d("0.03")) || !got.Cost.Equal(d("0.0455")) ||
			!got.Margin.Equal(d("0.1545")) || got.Currency != "USD" || got.RatePlan != "retail" || got.NumberType != "mobile" {
			t.Errorf("CDR = billed %d, price %s, sell %s, prefix %s, dest %q, buy %s, cost %s, margin %s, %s %s %s",
				got.BilledSeconds, got.Price, got.SellRate, got.Prefix, got.Destination, got.BuyRate, got.Cost, got.Margin, got.Currency, got.RatePlan, got.NumberType)
		}
		if w := wallet(t, e); !w.Equal(d("0.80")) {
			t.Errorf("wallet after the call = %s, want 0.80", w)
		}
		if err := k.Finish(context.Background(), cdr); !errors.Is(err, dialtone.ErrConflict) {
			t.Errorf("Finish(again) = %v, want %v", err, dialtone.ErrConflict)
		}
		storetest.CheckLedger(t, e.st)
	})
}

func TestCreditRunsOut(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) dialtone.Store) {
		e := newEnv(t, open(t), "0.25")
		k, cdr, err := e.authorize(t, "+447400123456", "mobile")
		if err != nil {
			t.Fatal(err)
		}
		answer := e.clock.Now()
		until, _ := k.Answered(context.Background(), answer, cdr)
		for range 3 {
			e.clock.Add(55 * time.Second)
			until, err = k.Extend(context.Background(), e.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
		}
		if want := answer.Add(120 * time.Second); !until.Equal(want) {
			t.Fatalf("the call may run until %v, want %v: 0.25 pays two minutes", until.Sub(answer), want.Sub(answer))
		}
		e.finish(t, k, cdr, answer, 121*time.Second) // the cut-off was a second late: not charged
		if w := wallet(t, e); !w.Equal(d("0.05")) {
			t.Errorf("wallet = %s, want 0.05", w)
		}
		storetest.CheckLedger(t, e.st)
	})
}

func TestBundleThenWallet(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) dialtone.Store) {
		e := newEnv(t, open(t), "1.00")
		ctx := context.Background()
		h := &dialtone.Holding{AccountID: e.acct.ID, Bundle: "uk2", Seconds: 120, SecondsLeft: 120, Increment: 60, Countries: []string{"GB"},
			NumberTypes: []string{"fixed"}, BoughtAt: t0, ExpiresAt: t0.Add(time.Hour)}
		pay := storetest.Move(t, dialtone.Transfer{Key: "buy-uk2", Kind: "bundle", Currency: "USD", From: dialtone.WalletAccount(e.acct.ID), To: dialtone.BundleRevenueAccount("USD"), Amount: d("0.10")})
		if _, err := e.st.BuyBundle(ctx, h, pay); err != nil {
			t.Fatal(err)
		}
		// 150 s to a UK landline: 120 s from the bundle, 30 s at 0.12/min 30/6 = 0.06 + 0.05 connect.
		k, cdr, err := e.authorize(t, "+442079460018", "fixed")
		if err != nil {
			t.Fatal(err)
		}
		answer := e.clock.Now()
		if _, err := k.Answered(ctx, answer, cdr); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(55 * time.Second)
		k.Extend(ctx, e.clock.Now())
		e.clock.Add(60 * time.Second)
		k.Extend(ctx, e.clock.Now())
		e.finish(t, k, cdr, answer, 150*time.Second)
		got, _ := e.st.CDRByID(ctx, cdr.ID)
		if got.BundleSeconds != 120 || !got.Price.Equal(d("0.11")) || got.BilledSeconds != 150 {
			t.Errorf("CDR = bundle %d s, price %s, billed %d; want 120, 0.11, 150", got.BundleSeconds, got.Price, got.BilledSeconds)
		}
		if w := wallet(t, e); !w.Equal(d("0.79")) {
			t.Errorf("wallet = %s, want 1.00 - 0.10 bundle - 0.11 = 0.79", w)
		}
		if hs, _ := e.st.Holdings(ctx, e.acct.ID, e.clock.Now()); len(hs) != 0 {
			t.Errorf("Holdings() = %+v, want the bundle used up", hs)
		}
		// A mobile call is not covered by a landline bundle; after expiry nothing is.
		h2 := &dialtone.Holding{AccountID: e.acct.ID, Bundle: "uk2", Seconds: 120, SecondsLeft: 120, Increment: 60, BoughtAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if _, err := e.st.BuyBundle(ctx, h2, storetest.Move(t, dialtone.Transfer{Key: "buy-2", Kind: "bundle", Currency: "USD", From: dialtone.WalletAccount(e.acct.ID), To: dialtone.BundleRevenueAccount("USD"), Amount: d("0.10")})); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(2 * time.Hour)
		k, cdr, _ = e.authorize(t, "+447400123456", "mobile")
		answer = e.clock.Now()
		k.Answered(ctx, answer, cdr)
		e.finish(t, k, cdr, answer, 30*time.Second)
		got, _ = e.st.CDRByID(ctx, cdr.ID)
		if got.BundleSeconds != 0 || !got.Price.Equal(d("0.1")) {
			t.Errorf("after the bundle expired: bundle %d s, price %s; want 0 and 0.10 from the wallet", got.BundleSeconds, got.Price)
		}
		storetest.CheckLedger(t, e.st)
	})
}

// TestConcurrentCallsNeverOverspend: 20 calls at once on an account that
// can afford 3 minutes in total: the 3 whose first minute is paid are
// authorized, each runs until it is cut off, and exactly what was paid is
// billed.
func TestConcurrentCallsNeverOverspend(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) dialtone.Store) {
		e := newEnv(t, open(t), "0.30")
		ctx := context.Background()
		type call struct {
			k   *billing.Call
			cdr *dialtone.CDR
		}
		var mu sync.Mutex
		var calls []call
		var wg sync.WaitGroup
		for i := range 20 { // all set up at once, before any is answered
			id := fmt.Sprintf("call-%d", i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				cdr := &dialtone.CDR{ID: id, AppCallID: "app-" + id, AccountID: e.acct.ID, Account: e.acct.Username, DialedRaw: "+447400123456",
					DialedE164: "+447400123456", Trunk: "carrier1", SetupAt: e.clock.Now()}
				k, err := e.ctl.Authorize(ctx, billing.Request{CallID: id, Account: e.acct, E164: cdr.DialedE164, Country: "GB", NumberType: "mobile", CDR: *cdr})
				if errors.Is(err, dialtone.ErrInsufficientFunds) {
					return
				}
				if err != nil {
					t.Errorf("Authorize() = %v", err)
					return
				}
				mu.Lock()
				calls = append(calls, call{k, cdr})
				mu.Unlock()
			}()
		}
		wg.Wait()
		if len(calls) != 3 {
			t.Errorf("%d of 20 calls were authorized, want the 3 whose first minute is paid", len(calls))
		}
		if w := wallet(t, e); !w.IsZero() {
			t.Errorf("wallet with the authorized calls' first minutes on hold = %s, want 0", w)
		}
		var billed atomic.Int64
		for _, c := range calls {
			k, cdr := c.k, c.cdr
			wg.Add(1)
			go func() {
				defer wg.Done()
				answer := e.clock.Now()
				until, err := k.Answered(ctx, answer, cdr)
				if err != nil {
					t.Errorf("Answered() = %v", err)
					return
				}
				for {
					next, err := k.Extend(ctx, until)
					if err != nil {
						t.Errorf("Extend() = %v", err)
						return
					}
					if !next.After(until) {
						break
					}
					until = next
				}
				e.finish(t, k, cdr, answer, until.Sub(answer)) // each call runs until it is cut off
				got, _ := e.st.CDRByID(ctx, cdr.ID)
				billed.Add(got.BilledSeconds)
			}()
		}
		wg.Wait()
		if w := wallet(t, e); !w.IsZero() {
			t.Errorf("wallet = %s, want 0", w)
		}
		if billed.Load() != 180 {
			t.Errorf("the calls were billed %d s in all, want exactly the 180 s paid for", billed.Load())
		}
		rev, _ := e.st.Balance(ctx, dialtone.CallRevenueAccount("USD"))
		if !rev.Equal(d("0.30")) {
			t.Errorf("revenue = %s, want 0.30", rev)
		}
		if open, _ := e.st.OpenSessions(ctx, "n1"); len(open) != 0 {
			t.Errorf("%d sessions left open", len(open))
		}
		storetest.CheckLedger(t, e.st)
	})
}

// TestRecoverSettlesOnce: a switch that dies with a call up settles it from
// its last confirmed point when it starts again, once.
func TestRecoverSettlesOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) dialtone.Store) {
		e := newEnv(t, open(t), "1.00")
		ctx := context.Background()
		k, cdr, _ := e.authorize(t, "+447400123456", "mobile")
		answer := e.clock.Now()
		k.Answered(ctx, answer, cdr)
		e.clock.Add(55 * time.Second)
		k.Extend(ctx, e.clock.Now()) // confirmed at answer+55s, 120 s reserved
		_, unanswered, _ := e.authorize(t, "+447400123456", "mobile")
		if w := wallet(t, e); !w.Equal(d("0.70")) {
			t.Fatalf("wallet with 120 s on hold and the first minute of a call not answered = %s, want 0.70", w)
		}
		// The process dies here. A new controller on the same store recovers.
		ctl2, _ := billing.NewController(billing.Config{Node: "n1", Interval: time.Minute}, e.st, e.clock.Now, slog.New(slog.DiscardHandler))
		var wg sync.WaitGroup
		var settled atomic.Int64
		for range 2 { // two recoveries at once settle each call once
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := ctl2.Recover(ctx, time.Time{})
				if err != nil {
					t.Errorf("Recover() = %v", err)
				}
				settled.Add(int64(n))
			}()
		}
		wg.Wait()
		if settled.Load() != 2 {
			t.Errorf("Recover() settled %d calls, want 2", settled.Load())
		}
		got, err := e.st.CDRByID(ctx, cdr.ID)
		if err != nil {
			t.Fatalf("CDR of the recovered call: %v", err)
		}
		if got.Disposition != dialtone.Answered || got.Duration != 55*time.Second || got.BilledSeconds != 60 || !got.Price.Equal(d("0.1")) || got.HangupBy != dialtone.PartySwitch {
			t.Errorf("recovered CDR = %s, %v, billed %d, price %s, by %s; want ANSWERED, 55s, 60, 0.10, switch",
				got.Disposition, got.Duration, got.BilledSeconds, got.Price, got.HangupBy)
		}
		if got, err := e.st.CDRByID(ctx, unanswered.ID); err != nil || got.Disposition != dialtone.Failed || !got.Price.IsZero() {
			t.Errorf("CDR of the call not yet answered = %+v, %v; want FAILED and free", got, err)
		}
		if w := wallet(t, e); !w.Equal(d("0.90")) {
			t.Errorf("wallet after recovery = %s, want 0.90", w)
		}
		if n, _ := ctl2.Recover(ctx, time.Time{}); n != 0 {
			t.Errorf("a second Recover() settled %d, want 0", n)
		}
		storetest.CheckLedger(t, e.st)
	})
}

// TestCompanyPaysCalls: an organization pays an employee's calls up to a
// monthly cap; past it the employee pays from their own wallet.
func TestCompanyPaysCalls(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) dialtone.Store) {
		e := newEnv(t, open(t), "1.00") // the employee's own money
		ctx := context.Background()
		org := &dialtone.Org{Name: "Acme", Currency: "USD"}
		boss := storetest.NewAccount("boss")
		if err := e.st.CreateAccount(ctx, boss); err != nil {
			t.Fatal(err)
		}
		if err := e.st.CreateOrg(ctx, org, boss.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.Post(ctx, storetest.Move(t, dialtone.Transfer{Key: "fund-org", Kind: "topup", Currency: "USD", From: dialtone.FundingAccount("USD"), To: dialtone.OrgAccount(org.ID), Amount: d("5.00")})); err != nil {
			t.Fatal(err)
		}
		if err := e.st.SetMember(ctx, dialtone.Member{OrgID: org.ID, AccountID: e.acct.ID, Role: dialtone.RoleEmployee, CallCap: d("0.25")}); err != nil {
			t.Fatal(err)
		}
		// 0.25 a month at 0.10/min 60/60: the company pays two minutes.
		k, cdr, err := e.authorize(t, "+447400123456", "mobile")
		if err != nil || k.MaxSeconds != 120 {
			t.Fatalf("Authorize() = %v, max %d; want 120 s paid by the company", err, k.MaxSeconds)
		}
		answer := e.clock.Now()
		until, _ := k.Answered(ctx, answer, cdr)
		for range 3 {
			next, _ := k.Extend(ctx, until)
			if !next.After(until) {
				break
			}
			until = next
		}
		if got := until.Sub(answer); got != 120*time.Second {
			t.Errorf("the company-paid call may run %v, want 2m0s (the cap)", got)
		}
		e.finish(t, k, cdr, answer, 2*time.Minute)
		got, _ := e.st.CDRByID(ctx, cdr.ID)
		if got.PaidBy != dialtone.OrgAccount(org.ID) || !got.Price.Equal(d("0.2")) {
			t.Errorf("CDR paid by %q, price %s; want the organization, 0.20", got.PaidBy, got.Price)
		}
		if w := wallet(t, e); !w.Equal(d("1.00")) {
			t.Errorf("employee's wallet = %s, want 1.00 untouched", w)
		}
		if b, _ := e.st.Balance(ctx, dialtone.OrgAccount(org.ID)); !b.Equal(d("4.80")) {
			t.Errorf("organization's wallet = %s, want 4.80", b)
		}
		// 0.05 of the cap is left: not a minute; the employee pays the next call.
		k2, cdr2, err := e.authorize(t, "+447400123456", "mobile")
		if err != nil || k2.MaxSeconds != 600 {
			t.Fatalf("second Authorize() = %v, max %d; want 600 s from the employee's 1.00", err, k2.MaxSeconds)
		}
		answer = e.clock.Now()
		k2.Answered(ctx, answer, cdr2)
		e.finish(t, k2, cdr2, answer, 30*time.Second)
		got, _ = e.st.CDRByID(ctx, cdr2.ID)
		if got.PaidBy != dialtone.WalletAccount(e.acct.ID) || !wallet(t, e).Equal(d("0.90")) {
			t.Errorf("second call paid by %q, wallet %s; want the employee, 0.90", got.PaidBy, wallet(t, e))
		}
		// Next month the cap is fresh.
		e.clock.Add(31 * 24 * time.Hour)
		k3, _, err := e.authorize(t, "+447400123456", "mobile")
		if err != nil || k3.MaxSeconds != 120 {
			t.Errorf("next month Authorize() = %v, max %d; want 120 s from the company again", err, k3.MaxSeconds)
		}
		storetest.CheckLedger(t, e.st)
	})
}

// TestRecoverAnsweredOnItsFirstIncrement: a call whose account paid only
// its first minute (reserved at authorize, nothing more at answer) is still
// known as answered after a crash, and charged that minute.
func TestRecoverAnsweredOnItsFirstIncrement(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) dialtone.Store) {
		e := newEnv(t, open(t), "0.10")
		ctx := context.Background()
		k, cdr, err := e.authorize(t, "+447400123456", "mobile")
		if err != nil {
			t.Fatal(err)
		}
		answer := e.clock.Now()
		if until, err := k.Answered(ctx, answer, cdr); err != nil || !until.Equal(answer.Add(time.Minute)) {
			t.Fatalf("Answered() = %v, %v; want the paid minute", until, err)
		}
		e.clock.Add(20 * time.Second)
		ctl2, _ := billing.NewController(billing.Config{Node: "n1", Interval: time.Minute}, e.st, e.clock.Now, slog.New(slog.DiscardHandler))
		if n, err := ctl2.Recover(ctx, time.Time{}); n != 1 || err != nil {
			t.Fatalf("Recover() = %d, %v; want 1", n, err)
		}
		got, err := e.st.CDRByID(ctx, cdr.ID)
		if err != nil || got.Disposition != dialtone.Answered || got.BilledSeconds != 60 || !got.Price.Equal(d("0.1")) {
			t.Errorf("recovered CDR = %+v, %v; want answered, 60 s, 0.10", got, err)
		}
		if w := wallet(t, e); !w.IsZero() {
			t.Errorf("wallet = %s, want 0", w)
		}
		storetest.CheckLedger(t, e.st)
	})
}
