package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// testWalletHistory: a wallet's history shows each call as one line (the
// number, the billed duration, the charge), its reservations folded in,
// a call in progress as a hold, a failed call's released hold as nothing
// charged; and pages never split or repeat a call.
func testWalletHistory(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	TopUp(t, st, alice.ID, "1.00")
	call := func(id string) {
		t.Helper()
		cdr := NewCDR(t, st, "alice", id, Base)
		if err := st.OpenSession(ctx, &dialtone.CallSession{ID: id, Node: "n1", AccountID: alice.ID, Currency: "USD", CDR: *cdr,
			Sell: dialtone.Rate{Prefix: "44", PerMinute: D("0.10"), FirstIncrement: 60, NextIncrement: 60}}, nil); err != nil {
			t.Fatalf("OpenSession(%s) = %v", id, err)
		}
	}
	reserve := func(id string, seq int) {
		t.Helper()
		if err := st.Reserve(ctx, dialtone.Reservation{SessionID: id, Seq: seq, Money: D("0.10"), Covered: int64(60 * seq), At: Base}); err != nil {
			t.Fatalf("Reserve(%s, %d) = %v", id, seq, err)
		}
	}
	settle := func(id, price string, disp dialtone.Disposition, billed int64) {
		t.Helper()
		cdr := NewCDR(t, st, "alice", id, Base.Add(2*time.Minute))
		cdr.Price, cdr.Disposition, cdr.BilledSeconds, cdr.DialedE164 = D(price), disp, billed, "+44740012"+id[len(id)-1:]
		if disp != dialtone.Answered {
			cdr.Duration, cdr.AnswerAt = 0, time.Time{}
		}
		if err := st.Settle(ctx, dialtone.Settlement{SessionID: id, Price: D(price)}, cdr); err != nil {
			t.Fatalf("Settle(%s) = %v", id, err)
		}
	}
	call("call-a")
	reserve("call-a", 1)
	TopUp(t, st, alice.ID, "0.50") // while call a is up
	reserve("call-a", 2)
	settle("call-a", "0.15", dialtone.Answered, 90)
	call("call-b")
	reserve("call-b", 1)
	settle("call-b", "0", dialtone.Busy, 0) // failed: its hold released, nothing charged
	call("call-c")
	reserve("call-c", 1) // in progress

	type line struct {
		kind, amount, balance string
		call                  string
		state                 dialtone.CallState
		dialed                string
		billed                int64
	}
	want := []line{
		{"call", "-0.1", "1.25", "call-c", dialtone.CallOnHold, "+447400123456", 0},
		{"call", "0", "1.35", "call-b", dialtone.CallNotCharged, "+44740012b", 0},
		{"call", "-0.15", "1.35", "call-a", dialtone.CallCharged, "+44740012a", 90},
		{"topup", "0.5", "1.4", "", "", "", 0},
		{"topup", "1", "1", "", "", "", 0},
	}
	check := func(name string, got []dialtone.WalletItem, want []line) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d items %+v, want %d", name, len(got), got, len(want))
		}
		for i, w := range want {
			g := got[i]
			ok := g.Kind == w.kind && g.Amount.Equal(D(w.amount)) && g.Balance.Equal(D(w.balance)) && (g.Call == nil) == (w.call == "")
			if ok && g.Call != nil {
				ok = g.Call.ID == w.call && g.Call.State == w.state && g.Call.Dialed == w.dialed && g.Call.BilledSeconds == w.billed &&
					g.Call.Charge.Equal(D(w.amount).Neg())
			}
			if !ok {
				t.Errorf("%s: item %d = %+v (call %+v), want %+v", name, i, g, g.Call, w)
			}
		}
		for i := 1; i < len(got); i++ {
			if got[i].ID >= got[i-1].ID {
				t.Errorf("%s: items not newest first: %d then %d", name, got[i-1].ID, got[i].ID)
			}
		}
	}
	all, err := st.WalletHistory(ctx, alice.ID, 0, 50)
	if err != nil {
		t.Fatalf("WalletHistory() = %v", err)
	}
	check("all", all, want)
	if all[2].Memo != "call to +44740012a: 1:00, billed 90 s" || all[1].Memo != "call to +44740012b: busy, nothing charged" {
		t.Errorf("WalletHistory() memos = %q, %q", all[2].Memo, all[1].Memo)
	}
	// Pages of two: the cursor is the last item's ID.
	var paged []dialtone.WalletItem
	for before, n := int64(0), 0; n < 5; n++ {
		page, err := st.WalletHistory(ctx, alice.ID, before, 2)
		if err != nil {
			t.Fatalf("WalletHistory(page %d) = %v", n, err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		before = page[len(page)-1].ID
	}
	check("paged", paged, want)
	// Below the second top-up sit call a's first hold and the first top-up:
	// call a was shown above, so only the top-up is left.
	rest, err := st.WalletHistory(ctx, alice.ID, all[3].ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	check("below the second top-up", rest, want[4:])
	// Many calls, their entries across the store's reading batches: each
	// call once, in order, whatever the page size.
	const many = 90
	TopUp(t, st, alice.ID, "20")
	for i := range many {
		id := fmt.Sprintf("many-%03d", i)
		call(id)
		reserve(id, 1)
		reserve(id, 2)
		settle(id, "0.01", dialtone.Answered, 60)
	}
	for _, size := range []int{7, 50} {
		var ids []string
		for before, n := int64(0), 0; n < 100; n++ {
			page, err := st.WalletHistory(ctx, alice.ID, before, size)
			if err != nil {
				t.Fatalf("WalletHistory(page size %d) = %v", size, err)
			}
			if len(page) == 0 {
				break
			}
			for _, it := range page {
				if it.Call != nil {
					ids = append(ids, it.Call.ID)
				} else {
					ids = append(ids, it.Kind)
				}
			}
			before = page[len(page)-1].ID
		}
		want := []string{}
		for i := many - 1; i >= 0; i-- {
			want = append(want, fmt.Sprintf("many-%03d", i))
		}
		want = append(want, "topup", "call-c", "call-b", "call-a", "topup", "topup")
		if strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Errorf("pages of %d = %v, want %v", size, ids, want)
		}
	}
	if other, err := st.WalletHistory(ctx, alice.ID+1000, 0, 50); err != nil || len(other) != 0 {
		t.Errorf("WalletHistory(unknown account) = %+v, %v; want nothing", other, err)
	}
	CheckLedger(t, st)
}
