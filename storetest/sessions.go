package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dialtone/dialtone"
)

// testOpenReserved: a session opens with its first reservation or not at
// all, so a call that cannot pay leaves nothing behind.
func testOpenReserved(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	wallet, hold := dialtone.WalletAccount(alice.ID), dialtone.HoldAccount(alice.ID)
	TopUp(t, st, alice.ID, "0.10")
	h := NewHolding(alice.ID, 60, Base)
	if _, err := st.BuyBundle(ctx, h, Move(t, dialtone.Transfer{Key: "buy", Kind: "bundle", Currency: "USD", From: wallet, To: dialtone.BundleRevenueAccount("USD"), Amount: D("0.02")})); err != nil {
		t.Fatal(err)
	}
	session := func(id string) *dialtone.CallSession {
		return &dialtone.CallSession{ID: id, Node: "n1", AccountID: alice.ID, Currency: "USD", CDR: *NewCDR(t, st, "alice", id, Base),
			Sell: dialtone.Rate{Prefix: "1", PerMinute: D("0.05"), FirstIncrement: 60, NextIncrement: 60}}
	}
	first := func(id string, money string, takes ...dialtone.BundleTake) *dialtone.Reservation {
		return &dialtone.Reservation{SessionID: id, Seq: 1, Money: D(money), Takes: takes, Covered: 60, At: Base}
	}

	s1 := session("call-1")
	if err := st.OpenSession(ctx, s1, first("call-1", "0.05")); err != nil {
		t.Fatalf("OpenSession(with 0.05 reserved) = %v", err)
	}
	if s1.Seq != 1 || s1.Covered != 60 || !s1.ReservedMoney.Equal(D("0.05")) || !s1.AnswerAt.IsZero() {
		t.Errorf("OpenSession() left the session at seq %d, covered %d, reserved %s, answered %v; want 1, 60, 0.05, never",
			s1.Seq, s1.Covered, s1.ReservedMoney, s1.AnswerAt)
	}
	wantBalance(t, st, wallet, "0.03")
	wantBalance(t, st, hold, "0.05")

	// More than the wallet, or than the bundle has: nothing is recorded.
	if err := st.OpenSession(ctx, session("call-2"), first("call-2", "0.04")); !errors.Is(err, dialtone.ErrInsufficientFunds) {
		t.Errorf("OpenSession(0.04 from 0.03) = %v, want %v", err, dialtone.ErrInsufficientFunds)
	}
	if err := st.OpenSession(ctx, session("call-2"), first("call-2", "0", dialtone.BundleTake{HoldingID: h.ID, Seconds: 61, Increment: 1})); !errors.Is(err, dialtone.ErrInsufficientFunds) {
		t.Errorf("OpenSession(61 s from a 60 s bundle) = %v, want %v", err, dialtone.ErrInsufficientFunds)
	}
	if err := st.OpenSession(ctx, session("call-2"), &dialtone.Reservation{SessionID: "call-2", Seq: 2, Covered: 60}); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("OpenSession(first reservation numbered 2) = %v, want %v", err, dialtone.ErrInvalid)
	}
	if open, _ := st.OpenSessions(ctx, "n1"); len(open) != 1 || open[0].ID != "call-1" {
		t.Errorf("OpenSessions() after the refusals = %d sessions, want call-1 only", len(open))
	}
	wantBalance(t, st, wallet, "0.03")
	if hs, _ := st.Holdings(ctx, alice.ID, Base); len(hs) != 1 || hs[0].SecondsLeft != 60 {
		t.Errorf("Holdings() after the refusals = %+v, want 60 s left", hs)
	}
	// The refused ID was not taken; a bundle take is reserved with the session.
	s2 := session("call-2")
	if err := st.OpenSession(ctx, s2, first("call-2", "0", dialtone.BundleTake{HoldingID: h.ID, Seconds: 60, Increment: 1})); err != nil {
		t.Fatalf("OpenSession(the bundle's 60 s) = %v", err)
	}
	if hs, _ := st.Holdings(ctx, alice.ID, Base); len(hs) != 0 {
		t.Errorf("Holdings() with the bundle reserved = %+v, want none left", hs)
	}
	// Released unanswered: the whole hold and the bundle go back.
	for _, s := range []*dialtone.CallSession{s1, s2} {
		if err := st.Settle(ctx, dialtone.Settlement{SessionID: s.ID}, &s.CDR); err != nil {
			t.Fatalf("Settle(%s, nothing used) = %v", s.ID, err)
		}
	}
	wantBalance(t, st, wallet, "0.08")
	wantBalance(t, st, hold, "0")
	if hs, _ := st.Holdings(ctx, alice.ID, Base); len(hs) != 1 || hs[0].SecondsLeft != 60 {
		t.Errorf("Holdings() after the release = %+v, want 60 s back", hs)
	}
	CheckLedger(t, st)
}

// testOpenReservedConcurrent: 20 calls open at once on a wallet that pays
// three first increments, and on a company cap that pays two: exactly three
// and two open.
func testOpenReservedConcurrent(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := newAccount(t, st, "alice"), newAccount(t, st, "bob")
	TopUp(t, st, alice.ID, "0.30")
	org := newOrg(t, st, "Acme", alice.ID)
	fundOrg(t, st, org.ID, "10")
	setMember(t, st, dialtone.Member{OrgID: org.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee, CallCap: D("0.25")})
	month := time.Date(Base.Year(), Base.Month(), 1, 0, 0, 0, 0, time.UTC)

	race := func(who *dialtone.Account, payer string, capSince time.Time) int64 {
		var opened atomic.Int64
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("%s-%d", who.Username, i)
				s := &dialtone.CallSession{ID: id, Node: "n1", AccountID: who.ID, Currency: "USD", Payer: payer, CDR: *NewCDR(t, st, who.Username, id, Base)}
				err := st.OpenSession(ctx, s, &dialtone.Reservation{SessionID: id, Seq: 1, Money: D("0.10"), Covered: 60, At: Base, CapSince: capSince})
				switch {
				case err == nil:
					opened.Add(1)
				case !errors.Is(err, dialtone.ErrInsufficientFunds):
					t.Errorf("OpenSession(%s) = %v", id, err)
				}
			}()
		}
		wg.Wait()
		return opened.Load()
	}
	if n := race(alice, "", time.Time{}); n != 3 {
		t.Errorf("%d of 20 calls opened on 0.30 at 0.10 each, want 3", n)
	}
	wantBalance(t, st, dialtone.WalletAccount(alice.ID), "0")
	if n := race(bob, dialtone.OrgAccount(org.ID), month); n != 2 {
		t.Errorf("%d of 20 calls opened on a 0.25 call cap at 0.10 each, want 2", n)
	}
	wantBalance(t, st, dialtone.OrgAccount(org.ID), "9.8")
	CheckLedger(t, st)
}
