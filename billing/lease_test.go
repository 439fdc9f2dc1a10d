package billing_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dialtone/dialtone"
	"github.com/dialtone/dialtone/billing"
	"github.com/dialtone/dialtone/storetest"
)

func TestLeftEnd(t *testing.T) {
	answer := t0
	for _, tc := range []struct {
		name                      string
		answer, confirmed, lapsed time.Time
		alive                     time.Time
		want                      time.Time
	}{
		{"answered, died before its next interval: up to the last heartbeat", answer, answer, time.Time{}, answer.Add(8 * time.Second), answer.Add(8 * time.Second)},
		{"confirmed after the last heartbeat", answer, answer.Add(20 * time.Second), time.Time{}, answer.Add(18 * time.Second), answer.Add(20 * time.Second)},
		{"no heartbeat known: the last confirmation", answer, answer.Add(5 * time.Second), time.Time{}, time.Time{}, answer.Add(5 * time.Second)},
		{"answered after the last heartbeat: at its answer", answer, answer, time.Time{}, answer.Add(-2 * time.Second), answer},
		{"claimed: the dead node's heartbeat, not the claimer's", answer, answer, answer.Add(9 * time.Second), answer.Add(time.Hour), answer.Add(9 * time.Second)},
		{"never answered: the last sign of life", time.Time{}, answer, time.Time{}, answer.Add(3 * time.Second), answer.Add(3 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &dialtone.CallSession{AnswerAt: tc.answer, ConfirmedAt: tc.confirmed, LapsedAt: tc.lapsed}
			if got := billing.LeftEnd(s, tc.alive); !got.Equal(tc.want) {
				t.Errorf("LeftEnd(answer %v, confirmed %v, lapsed %v; alive %v) = %v, want %v",
					tc.answer, tc.confirmed, tc.lapsed, tc.alive, got, tc.want)
			}
		})
	}
}

// TestDeadNodeCallsSettledOnce: node a dies with a call answered 40 s ago
// and one ringing; node b, once a's lease lapses, settles the first from
// its answer to a's last heartbeat and releases the second. Node a, back,
// finds them taken at its heartbeat: the call still up is told to end at
// once, and a charges nothing and writes no CDR again.
func TestDeadNodeCallsSettledOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, open func(t *testing.T) dialtone.Store) {
		ctx := context.Background()
		st := open(t)
		e := newEnvWith(t, st, "1.00", func(c *billing.Config) { c.Node = "a" }, slog.New(slog.DiscardHandler))
		now := func() time.Time { return time.Now().UTC() } // the leases are on the database's clock
		ctlA, _ := billing.NewController(billing.Config{Node: "a", Interval: time.Minute}, st, now, slog.New(slog.DiscardHandler))
		reg := prometheus.NewRegistry()
		metricsB := billing.NewMetrics(reg)
		ctlB, _ := billing.NewController(billing.Config{Node: "b", Interval: time.Minute, Metrics: metricsB}, st, now, slog.New(slog.DiscardHandler))
		leasesA, err := billing.NewLeases(billing.LeaseConfig{Heartbeat: time.Hour, Lapse: 2 * time.Hour}, st, ctlA, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		leasesB, _ := billing.NewLeases(billing.LeaseConfig{Heartbeat: time.Millisecond, Lapse: 5 * time.Millisecond}, st, ctlB, slog.New(slog.DiscardHandler))
		if _, err := leasesB.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer leasesB.Close(ctx, true)

		req := func(id string) billing.Request {
			return billing.Request{CallID: id, Account: e.acct, E164: "+442079460018", Country: "GB", NumberType: "fixed",
				CDR: dialtone.CDR{ID: id, AccountID: e.acct.ID, Account: e.acct.Username, DialedE164: "+442079460018", SetupAt: now().Add(-45 * time.Second)}}
		}
		up, err := ctlA.Authorize(ctx, req("up"))
		if err != nil {
			t.Fatal(err)
		}
		var told atomic.Int32 // the switch hangs the call up when told
		up.OnTakenOver(func() { told.Add(1) })
		answer := now().Add(-40 * time.Second)
		cdr := req("up").CDR
		cdr.AnswerAt = answer
		if _, err := up.Answered(ctx, answer, &cdr); err != nil { // 60 s reserved
			t.Fatal(err)
		}
		if _, err := ctlA.Authorize(ctx, req("ringing")); err != nil {
			t.Fatal(err)
		}
		leaseA, err := leasesA.Start(ctx) // a's only heartbeat: then it stalls
		if err != nil {
			t.Fatal(err)
		}
		defer leasesA.Close(ctx, false)

		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			leasesB.Tick(ctx)
			if n, _ := st.CDRs(ctx, dialtone.CDRFilter{From: answer.Add(-time.Hour), To: now().Add(time.Hour)}); len(n) == 2 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		got, err := st.CDRByID(ctx, "up")
		if err != nil {
			t.Fatalf("CDR of the answered call: %v", err)
		}
		// 40 s (to a's heartbeat) at 30/6: 42 s billed, 0.05 + 0.12 x 42/60.
		if got.Disposition != dialtone.Answered || got.HangupBy != dialtone.PartySwitch || got.BilledSeconds != 42 ||
			!got.Price.Equal(d("0.134")) || !got.EndAt.Equal(leaseA.HeartbeatAt) || !strings.Contains(got.SIPReason, "node a died") {
			t.Errorf("CDR of a's answered call = %s by %s, end %v, billed %d, price %s, %q; want ANSWERED by switch, ending at a's heartbeat %v, 42 s, 0.134, naming a",
				got.Disposition, got.HangupBy, got.EndAt, got.BilledSeconds, got.Price, got.SIPReason, leaseA.HeartbeatAt)
		}
		if got, err := st.CDRByID(ctx, "ringing"); err != nil || got.Disposition != dialtone.Failed || !got.Price.IsZero() {
			t.Errorf("CDR of a's ringing call = %+v, %v; want FAILED and free", got, err)
		}
		if w := wallet(t, e); !w.Equal(d("0.866")) {
			t.Errorf("wallet = %s, want 1.00 - 0.134", w)
		}
		if n := leaseCounter(t, reg, "dialtone_lease_settled_calls_total"); n != 2 {
			t.Errorf("calls of dead nodes settled by b = %v, want 2", n)
		}

		// a wakes up: its heartbeat finds its calls claimed; the call it
		// still has is not extended, and its end settles nothing.
		if n := told.Load(); n != 0 {
			t.Errorf("a's call told taken over %d times before a's heartbeat, want 0", n)
		}
		leasesA.Tick(ctx)
		if n := told.Load(); n != 1 {
			t.Errorf("a's call told taken over %d times at a's heartbeat, want 1 (it must end at once)", n)
		}
		if _, err := up.Extend(ctx, now()); err == nil {
			t.Errorf("Extend() of a call another node took over = nil, want an error")
		}
		if n := told.Load(); n != 1 {
			t.Errorf("a's call told taken over %d times after a refused Extend, want still 1", n)
		}
		cdr.EndAt, cdr.Duration, cdr.Disposition, cdr.HangupBy = now(), now().Sub(answer), dialtone.Answered, dialtone.PartyCaller
		if err := up.Finish(ctx, &cdr); err != nil {
			t.Errorf("Finish() of a call another node settled = %v, want nil (nothing to do)", err)
		}
		// a restarts: nothing of its own is left to settle.
		ctlA2, _ := billing.NewController(billing.Config{Node: "a", Interval: time.Minute}, st, now, slog.New(slog.DiscardHandler))
		if n, err := ctlA2.Recover(ctx, leaseA.HeartbeatAt); n != 0 || err != nil {
			t.Errorf("Recover() on a after b settled its calls = %d, %v; want 0", n, err)
		}
		if cdrs, _ := st.CDRs(ctx, dialtone.CDRFilter{From: answer.Add(-time.Hour), To: now().Add(time.Hour)}); len(cdrs) != 2 {
			t.Errorf("%d CDRs, want 2", len(cdrs))
		}
		if w := wallet(t, e); !w.Equal(d("0.866")) {
			t.Errorf("wallet at the end = %s, want 0.866", w)
		}
		storetest.CheckLedger(t, st)
	})
}

// leaseCounter reads a counter of reg.
func leaseCounter(t *testing.T, reg *prometheus.Registry, name string) float64 {
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
	t.Fatalf("no counter %s", name)
	return 0
}

func TestLeaseSettings(t *testing.T) {
	for _, tc := range []struct {
		heartbeat, lapse time.Duration
		want             string // in the error; "" for none
	}{
		{3 * time.Second, 15 * time.Second, ""},
		{time.Second, 3 * time.Second, ""},
		{50 * time.Millisecond, time.Second, "billing.heartbeat"},
		{2 * time.Minute, time.Hour, "billing.heartbeat"},
		{3 * time.Second, 8 * time.Second, "billing.lease_lapse"},
		{3 * time.Second, 2 * time.Hour, "billing.lease_lapse"},
	} {
		s := billing.DefaultSettings()
		s.Heartbeat, s.LeaseLapse = tc.heartbeat, tc.lapse
		err := s.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(heartbeat %v, lapse %v) = %v, want %q", tc.heartbeat, tc.lapse, err, tc.want)
		}
	}
	if d := billing.DefaultSettings(); d.Heartbeat != 3*time.Second || d.LeaseLapse != 15*time.Second || d.Validate() != nil {
		t.Errorf("DefaultSettings() heartbeat %v, lapse %v: want 3s, 15s, valid", d.Heartbeat, d.LeaseLapse)
	}
}
