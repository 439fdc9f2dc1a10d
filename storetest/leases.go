package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

func runLeases(t *testing.T, open func(t *testing.T) dialtone.Store) {
	t.Run("Leases", func(t *testing.T) { testLeases(t, open(t)) })
	t.Run("LeasesConcurrentClaims", func(t *testing.T) { testLeasesConcurrentClaims(t, open(t)) })
	t.Run("LeasesFreeSlots", func(t *testing.T) { testLeasesFreeSlots(t, open(t)) })
}

// openHeld opens a session of node with 0.10 reserved, answered at
// answer unless that is zero.
func openHeld(t *testing.T, st dialtone.Store, acct *dialtone.Account, node, id string, answer time.Time) {
	t.Helper()
	ctx := context.Background()
	s := &dialtone.CallSession{ID: id, Node: node, AccountID: acct.ID, Currency: "USD", CDR: *NewCDR(t, st, acct.Username, id, Base),
		Sell: dialtone.Rate{Prefix: "1", PerMinute: D("0.06"), FirstIncrement: 1, NextIncrement: 1}}
	if err := st.OpenSession(ctx, s, &dialtone.Reservation{SessionID: id, Seq: 1, Money: D("0.10"), Covered: 100, At: Base}); err != nil {
		t.Fatalf("OpenSession(%s) = %v", id, err)
	}
	if !answer.IsZero() {
		if err := st.Reserve(ctx, dialtone.Reservation{SessionID: id, Seq: 2, Covered: 100, At: answer, AnswerAt: answer}); err != nil {
			t.Fatalf("Reserve(%s, answer) = %v", id, err)
		}
	}
}

func sessionIDs(ss []*dialtone.CallSession) []string {
	ids := make([]string, 0, len(ss))
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	sort.Strings(ids)
	return ids
}

func heartbeat(t *testing.T, st dialtone.Store, node string) dialtone.Lease {
	t.Helper()
	l, err := st.Heartbeat(context.Background(), node)
	if err != nil {
		t.Fatalf("Heartbeat(%s) = %v", node, err)
	}
	return l
}

// testLeases: a node's heartbeat keeps its calls its own; once its lease
// lapses another node claims them, once, each charged up to the dead
// node's last heartbeat, and the dead node can no longer reserve, confirm
// or settle them.
func testLeases(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	TopUp(t, st, alice.ID, "1.00")

	first := heartbeat(t, st, "n1")
	if first.HeartbeatAt.IsZero() || !first.Previous.IsZero() || first.Claims != 0 || first.Stopped {
		t.Errorf("Heartbeat(n1, first) = %+v, want a time, no previous one, no claims", first)
	}
	l1 := heartbeat(t, st, "n1")
	if !l1.Previous.Equal(first.HeartbeatAt) || l1.HeartbeatAt.Before(first.HeartbeatAt) {
		t.Errorf("Heartbeat(n1, again) = %+v, want previous %v and not earlier", l1, first.HeartbeatAt)
	}
	heartbeat(t, st, "n2")
	if _, err := st.Heartbeat(ctx, ""); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("Heartbeat(\"\") = %v, want %v", err, dialtone.ErrInvalid)
	}

	openHeld(t, st, alice, "n1", "a-answered", Base)
	openHeld(t, st, alice, "n1", "a-ringing", time.Time{})
	openHeld(t, st, alice, "n2", "b-answered", Base)

	// Renewed within the lapse: nobody may claim.
	if ls, err := st.LapsedLeases(ctx, "n2", time.Hour); err != nil || len(ls) != 0 {
		t.Errorf("LapsedLeases(1h) = %+v, %v; want none", ls, err)
	}
	if got, err := st.ClaimSessions(ctx, "n1", "n2", time.Hour); err != nil || len(got) != 0 {
		t.Errorf("ClaimSessions(n1 renewed within 1h) = %v, %v; want nothing", sessionIDs(got), err)
	}
	if _, err := st.ClaimSessions(ctx, "n1", "n1", 0); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("ClaimSessions(n1 by n1) = %v, want %v", err, dialtone.ErrInvalid)
	}
	if got, err := st.ClaimSessions(ctx, "nobody", "n2", 0); err != nil || len(got) != 0 {
		t.Errorf("ClaimSessions(a node never seen) = %v, %v; want nothing", sessionIDs(got), err)
	}

	// A lapse of 0: every lease not renewed since has lapsed.
	ls, err := st.LapsedLeases(ctx, "n2", 0)
	if err != nil || len(ls) != 1 || ls[0].Node != "n1" || !ls[0].HeartbeatAt.Equal(l1.HeartbeatAt) {
		t.Fatalf("LapsedLeases(n2, 0) = %+v, %v; want n1 at %v", ls, err, l1.HeartbeatAt)
	}
	got, err := st.ClaimSessions(ctx, "n1", "n2", 0)
	if err != nil || fmt.Sprint(sessionIDs(got)) != "[a-answered a-ringing]" {
		t.Fatalf("ClaimSessions(n1 by n2) = %v, %v; want n1's two calls", sessionIDs(got), err)
	}
	for _, s := range got {
		if s.Settler != "n2" || s.SettledBy() != "n2" || s.Node != "n1" || !s.LapsedAt.Equal(l1.HeartbeatAt) || s.Settled {
			t.Errorf("claimed %s: settler %q, node %q, lapsed at %v; want n2, n1, %v", s.ID, s.Settler, s.Node, s.LapsedAt, l1.HeartbeatAt)
		}
	}
	if again, err := st.ClaimSessions(ctx, "n1", "n3", 0); err != nil || len(again) != 0 {
		t.Errorf("ClaimSessions(n1 by n3, after n2) = %v, %v; want nothing", sessionIDs(again), err)
	}
	if open, _ := st.OpenSessions(ctx, "n1"); len(open) != 0 {
		t.Errorf("OpenSessions(n1) after the claim = %v, want none", sessionIDs(open))
	}
	if open, _ := st.OpenSessions(ctx, "n2"); fmt.Sprint(sessionIDs(open)) != "[a-answered a-ringing b-answered]" {
		t.Errorf("OpenSessions(n2) after the claim = %v, want its own and the claimed", sessionIDs(open))
	}

	// The old owner, back, is told and can do nothing more with them.
	if l := heartbeat(t, st, "n1"); l.Claims != 1 {
		t.Errorf("Heartbeat(n1, after the claim).Claims = %d, want 1", l.Claims)
	}
	if err := st.Reserve(ctx, dialtone.Reservation{SessionID: "a-answered", Seq: 3, Covered: 200, At: Base}); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("Reserve(claimed) = %v, want %v", err, dialtone.ErrConflict)
	}
	if err := st.Confirm(ctx, "a-answered", Base.Add(time.Minute), nil); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("Confirm(claimed) = %v, want %v", err, dialtone.ErrConflict)
	}
	cdr := got[0].CDR
	if err := st.Settle(ctx, dialtone.Settlement{SessionID: "a-answered", Price: D("0.06"), By: "n1"}, &cdr); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("Settle(claimed, by n1) = %v, want %v", err, dialtone.ErrConflict)
	}
	if err := st.Settle(ctx, dialtone.Settlement{SessionID: "a-answered", Price: D("0.06"), By: "n2"}, &cdr); err != nil {
		t.Errorf("Settle(claimed, by n2) = %v", err)
	}

	// n2 dies in turn with a claimed call unsettled: n3 takes both, and the
	// claimed one keeps the first owner's end.
	got, err = st.ClaimSessions(ctx, "n2", "n3", 0)
	if err != nil || fmt.Sprint(sessionIDs(got)) != "[a-ringing b-answered]" {
		t.Fatalf("ClaimSessions(n2 by n3) = %v, %v; want a-ringing and b-answered", sessionIDs(got), err)
	}
	for _, s := range got {
		if s.ID == "a-ringing" && !s.LapsedAt.Equal(l1.HeartbeatAt) {
			t.Errorf("a-ringing claimed twice: lapsed at %v, want n1's %v still", s.LapsedAt, l1.HeartbeatAt)
		}
		if err := st.Settle(ctx, dialtone.Settlement{SessionID: s.ID, By: "n3"}, &s.CDR); err != nil {
			t.Errorf("Settle(%s, by n3) = %v", s.ID, err)
		}
	}
	if ls, _ := st.LapsedLeases(ctx, "n3", 0); len(ls) != 0 {
		t.Errorf("LapsedLeases() with every call settled = %+v, want none", ls)
	}

	// A node that drops its lease is lapsed at once, until it beats again.
	heartbeat(t, st, "n4")
	openHeld(t, st, alice, "n4", "d-left", Base)
	if err := st.DropLease(ctx, "n4"); err != nil {
		t.Fatalf("DropLease(n4) = %v", err)
	}
	if ls, _ := st.LapsedLeases(ctx, "n3", time.Hour); len(ls) != 1 || ls[0].Node != "n4" || !ls[0].Stopped {
		t.Errorf("LapsedLeases(1h) after n4 dropped its lease = %+v, want n4, stopped", ls)
	}
	if l := heartbeat(t, st, "n4"); l.Stopped {
		t.Errorf("Heartbeat(n4) = %+v, want not stopped", l)
	}
	if ls, _ := st.LapsedLeases(ctx, "n3", time.Hour); len(ls) != 0 {
		t.Errorf("LapsedLeases(1h) after n4 beat again = %+v, want none", ls)
	}
	CheckLedger(t, st)
}

// testLeasesConcurrentClaims: four nodes claim one dead node's calls at
// once: each call goes to exactly one of them, and each is settled once.
func testLeasesConcurrentClaims(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	TopUp(t, st, alice.ID, "5.00")
	heartbeat(t, st, "dead")
	const calls = 20
	for i := range calls {
		openHeld(t, st, alice, "dead", fmt.Sprintf("call-%02d", i), Base)
	}
	var mu sync.Mutex
	owner := map[string]string{}
	var wg sync.WaitGroup
	for c := range 4 {
		by := fmt.Sprintf("survivor-%d", c)
		heartbeat(t, st, by)
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := st.ClaimSessions(ctx, "dead", by, 0)
			if err != nil {
				t.Errorf("ClaimSessions(by %s) = %v", by, err)
				return
			}
			for _, s := range got {
				if err := st.Settle(ctx, dialtone.Settlement{SessionID: s.ID, Price: D("0.06"), By: by}, &s.CDR); err != nil {
					t.Errorf("Settle(%s by %s) = %v", s.ID, by, err)
				}
				mu.Lock()
				if prev, ok := owner[s.ID]; ok {
					t.Errorf("%s claimed by %s and %s", s.ID, prev, by)
				}
				owner[s.ID] = by
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(owner) != calls {
		t.Errorf("%d of %d calls claimed", len(owner), calls)
	}
	if l := heartbeat(t, st, "dead"); l.Claims != 1 {
		t.Errorf("Heartbeat(dead).Claims = %d, want 1 (one claimer took all)", l.Claims)
	}
	wantBalance(t, st, dialtone.WalletAccount(alice.ID), "3.8")
	wantBalance(t, st, dialtone.HoldAccount(alice.ID), "0")
	CheckLedger(t, st)
}

// testLeasesFreeSlots: a dead node's account and carrier slots close as
// its calls are taken over, long before they would expire; a node with
// slots open but no call to settle is taken over too; a lease renewed in
// time keeps its slots.
func testLeasesFreeSlots(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	TopUp(t, st, alice.ID, "1.00")
	now := time.Now()
	far := now.Add(time.Hour) // the slots' own expiry: not what frees them
	take := func(scope, id, node string) {
		t.Helper()
		if err := st.TakeSlot(ctx, scope, id, node, now, far, limit(100, 100, nil)); err != nil {
			t.Fatalf("TakeSlot(%s, %s) = %v", scope, id, err)
		}
	}
	open := func(scope string) int {
		t.Helper()
		var saw [2]int
		err := st.TakeSlot(ctx, scope, "probe", "probe", now, far, func(open, recent int) error {
			saw = [2]int{open, recent}
			return errFull // counts, takes nothing
		})
		if !errors.Is(err, errFull) {
			t.Fatalf("TakeSlot(%s, probe) = %v", scope, err)
		}
		return saw[0]
	}
	for _, n := range []string{"dead", "idle", "live"} {
		heartbeat(t, st, n)
	}
	take("account:1", "dead-1", "dead")
	take("account:1", "dead-2", "dead")
	take("carrier:c1", "dead-c", "dead")
	take("account:1", "live-1", "live")
	take("carrier:c1", "idle-c", "idle") // a call not billed: no session
	openHeld(t, st, alice, "dead", "dead-call", Base)

	if got, err := st.ClaimSessions(ctx, "dead", "live", time.Hour); err != nil || len(got) != 0 {
		t.Errorf("ClaimSessions(dead renewed within 1h) = %v, %v; want nothing", sessionIDs(got), err)
	}
	if n := open("account:1"); n != 3 {
		t.Errorf("account:1 open slots after a claim refused = %d, want 3 (the lease holds)", n)
	}
	ls, err := st.LapsedLeases(ctx, "live", 0)
	if err != nil || len(ls) != 2 || ls[0].Node != "dead" || ls[1].Node != "idle" {
		t.Fatalf("LapsedLeases(live, 0) = %+v, %v; want dead (a call) and idle (a slot)", ls, err)
	}
	got, err := st.ClaimSessions(ctx, "dead", "live", 0)
	if err != nil || fmt.Sprint(sessionIDs(got)) != "[dead-call]" {
		t.Fatalf("ClaimSessions(dead by live) = %v, %v; want dead-call", sessionIDs(got), err)
	}
	if n := open("account:1"); n != 1 {
		t.Errorf("account:1 open slots after dead's calls were taken over = %d, want 1 (live's)", n)
	}
	if n := open("carrier:c1"); n != 1 {
		t.Errorf("carrier:c1 open slots after dead's calls were taken over = %d, want 1 (idle's)", n)
	}
	if got, err := st.ClaimSessions(ctx, "idle", "live", 0); err != nil || len(got) != 0 {
		t.Errorf("ClaimSessions(idle by live) = %v, %v; want no call", sessionIDs(got), err)
	}
	if n := open("carrier:c1"); n != 0 {
		t.Errorf("carrier:c1 open slots after idle was taken over = %d, want 0", n)
	}
	if l := heartbeat(t, st, "idle"); l.Claims != 0 {
		t.Errorf("Heartbeat(idle).Claims = %d, want 0: no call of it was taken", l.Claims)
	}
	if ls, _ := st.LapsedLeases(ctx, "live", time.Hour); len(ls) != 0 {
		t.Errorf("LapsedLeases(1h) after the takeovers = %+v, want none", ls)
	}
	if err := st.Settle(ctx, dialtone.Settlement{SessionID: "dead-call", Price: D("0.06"), By: "live"}, &got[0].CDR); err != nil {
		t.Errorf("Settle(dead-call, by live) = %v", err)
	}
	CheckLedger(t, st)
}
