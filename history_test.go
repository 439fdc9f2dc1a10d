package dialtone_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

func TestCallOfKey(t *testing.T) {
	for _, tc := range []struct {
		key, id string
		ok      bool
	}{
		{"call:0b7e-1:hold:1", "0b7e-1", true},
		{"call:0b7e-1:hold:12", "0b7e-1", true},
		{"call:0b7e-1:settle", "0b7e-1", true},
		{"call::settle", "", false},
		{"call:x:release", "x", true},
		{"call:x:", "", false},
		{"call:x", "", false},
		{"topup:abc", "", false},
		{"transfer:1:call:x:settle", "", false},
	} {
		if id, ok := dialtone.CallOfKey(tc.key); id != tc.id || ok != tc.ok {
			t.Errorf("CallOfKey(%q) = %q, %v; want %q, %v", tc.key, id, ok, tc.id, tc.ok)
		}
	}
}

func TestFoldWallet(t *testing.T) {
	d := decimal.RequireFromString
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	e := func(id int64, key, kind, amount, balance string) dialtone.Entry {
		return dialtone.Entry{MovementID: id, Key: key, Kind: kind, Amount: d(amount), Balance: d(balance), CreatedAt: at.Add(time.Duration(id) * time.Second)}
	}
	// Newest first, as a store reads them; call x's entries interleave
	// with a top-up.
	entries := []dialtone.Entry{
		e(9, "call:z:hold:1", "hold", "-0.10", "0.60"),
		e(8, "call:y:settle", "settle", "0.10", "0.70"),
		e(7, "call:y:hold:1", "hold", "-0.10", "0.60"),
		e(6, "call:x:settle", "settle", "0.0488", "0.70"),
		e(5, "call:x:hold:2", "hold", "-0.10", "0.6512"),
		e(4, "topup:b", "topup", "0.50", "0.7512"),
		e(3, "call:x:hold:1", "hold", "-0.10", "0.2512"),
		e(1, "topup:a", "topup", "0.3512", "0.3512"),
	}
	calls := map[string]dialtone.CallRecord{
		"x": {Settled: true, CDR: &dialtone.CDR{DialedE164: "+442079460018", Disposition: dialtone.Answered, Duration: 75*time.Second + time.Millisecond, BilledSeconds: 76}},
		"y": {Settled: true, CDR: &dialtone.CDR{DialedRaw: "12345", Disposition: dialtone.NoAnswer}},
		"z": {CDR: &dialtone.CDR{DialedE164: "+15551234567"}},
	}
	want := []struct {
		id                    int64
		kind, amount, balance string
		state                 dialtone.CallState
		memo                  string
	}{
		{9, "call", "-0.10", "0.60", dialtone.CallOnHold, "call to +15551234567: in progress, credit on hold"},
		{8, "call", "0", "0.70", dialtone.CallNotCharged, "call to 12345: no answer, nothing charged"},
		{6, "call", "-0.1512", "0.70", dialtone.CallCharged, "call to +442079460018: 1:16, billed 76 s"},
		{4, "topup", "0.50", "0.7512", "", ""},
		{1, "topup", "0.3512", "0.3512", "", ""},
	}
	got := dialtone.FoldWallet(entries, calls)
	if len(got) != len(want) {
		t.Fatalf("FoldWallet() = %d items %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		ok := g.ID == w.id && g.Kind == w.kind && g.Amount.Equal(d(w.amount)) && g.Balance.Equal(d(w.balance))
		if g.Call != nil {
			ok = ok && g.Call.State == w.state && g.Memo == w.memo && g.Call.Charge.Equal(d(w.amount).Neg())
		} else {
			ok = ok && w.state == ""
		}
		if !ok {
			t.Errorf("FoldWallet()[%d] = %+v (call %+v), want %+v", i, g, g.Call, w)
		}
	}
	// A call the store knows nothing of is still one line.
	lost := dialtone.FoldWallet([]dialtone.Entry{e(2, "call:q:hold:1", "hold", "-0.10", "0.90")}, nil)
	if len(lost) != 1 || lost[0].Call == nil || lost[0].Call.State != dialtone.CallOnHold || lost[0].Memo != "call q: in progress, credit on hold" {
		t.Errorf("FoldWallet(unknown call) = %+v", lost)
	}
}
