package dialtone_test

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

func TestDecideLeave(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	pending := func() *dialtone.LeaveRequest {
		return &dialtone.LeaveRequest{ID: 7, From: time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC), Days: 5, Status: dialtone.Pending}
	}
	for _, tc := range []struct {
		name             string
		approve          bool
		allowance, taken int
		status           string
		want             error
	}{
		{"fits", true, 20, 15, dialtone.Approved, nil},
		{"past the allowance", true, 20, 16, dialtone.Pending, dialtone.ErrInsufficientFunds},
		{"reject ignores the allowance", false, 0, 99, dialtone.Rejected, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := pending()
			err := dialtone.DecideLeave(l, tc.approve, tc.allowance, tc.taken, 3, at)
			if !errors.Is(err, tc.want) || l.Status != tc.status {
				t.Fatalf("DecideLeave = %v, status %s; want %v, %s", err, l.Status, tc.want, tc.status)
			}
			if err == nil && (l.DecidedBy != 3 || !l.DecidedAt.Equal(at)) {
				t.Errorf("decided by %d at %v, want 3 at %v", l.DecidedBy, l.DecidedAt, at)
			}
		})
	}
	l := pending()
	l.Status = dialtone.Approved
	if err := dialtone.DecideLeave(l, false, 20, 0, 3, at); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("deciding an approved request = %v, want ErrConflict", err)
	}
}

func TestLeaveYear(t *testing.T) {
	year, start, end := dialtone.LeaveYear(time.Date(2026, 12, 31, 23, 0, 0, 0, time.FixedZone("x", -3600)))
	if year != 2027 || !start.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) || !end.Equal(time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("LeaveYear = %d, %v, %v; want the UTC year 2027", year, start, end)
	}
}

func TestMoveExpense(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	e := &dialtone.Expense{ID: 1, Status: dialtone.Pending}
	if err := dialtone.MoveExpense(e, dialtone.Pending, dialtone.Approved, 4, at); err != nil || e.Status != dialtone.Approved || e.DecidedBy != 4 {
		t.Fatalf("approve = %v, %+v", err, e)
	}
	if err := dialtone.MoveExpense(e, dialtone.Pending, dialtone.Rejected, 4, at); !errors.Is(err, dialtone.ErrConflict) || e.Status != dialtone.Approved {
		t.Errorf("deciding twice = %v, status %s; want ErrConflict, approved", err, e.Status)
	}
	if err := dialtone.MoveExpense(e, dialtone.Approved, dialtone.Reimbursed, 0, time.Time{}); err != nil || e.DecidedBy != 4 || !e.DecidedAt.Equal(at) {
		t.Errorf("reimburse = %v, %+v; want the decision kept", err, e)
	}
}

func TestCheckGrab(t *testing.T) {
	exp := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ok := dialtone.GrabState{Recipient: true, ExpiresAt: exp}
	for _, tc := range []struct {
		name string
		st   dialtone.GrabState
		at   time.Time
		want error
	}{
		{"ok", ok, exp.Add(-time.Second), nil},
		{"not a recipient", dialtone.GrabState{ExpiresAt: exp}, exp.Add(-time.Second), dialtone.ErrForbidden},
		{"grabbed", dialtone.GrabState{Recipient: true, Grabbed: true, ExpiresAt: exp}, exp.Add(-time.Second), dialtone.ErrConflict},
		{"expired at the instant", ok, exp, dialtone.ErrExhausted},
		{"refunded", dialtone.GrabState{Recipient: true, Refunded: true, ExpiresAt: exp}, exp.Add(-time.Hour), dialtone.ErrExhausted},
		{"not a recipient wins over expired", dialtone.GrabState{ExpiresAt: exp}, exp.Add(time.Hour), dialtone.ErrForbidden},
	} {
		if err := dialtone.CheckGrab("e1", tc.st, tc.at); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: CheckGrab = %v, want %v", tc.name, err, tc.want)
		}
	}
	m, err := dialtone.GrabMovement("e1", 2, "USD", 9, decimal.NewFromInt(3))
	if err != nil || m.Key != "envelope:e1:share:2" || m.Validate() != nil {
		t.Errorf("GrabMovement = %+v, %v", m, err)
	}
	r, err := dialtone.RefundMovement("e1", "USD", 5, decimal.NewFromInt(3))
	if err != nil || r.Key != "envelope:e1:refund" || r.Validate() != nil {
		t.Errorf("RefundMovement = %+v, %v", r, err)
	}
}

func TestApplyConfirm(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	s := &dialtone.CallSession{ID: "s1", ConfirmedAt: t0}
	if err := dialtone.ApplyConfirm(s, t0.Add(-time.Second), nil); err != nil || !s.ConfirmedAt.Equal(t0) {
		t.Errorf("an older confirmation moved ConfirmedAt to %v (%v)", s.ConfirmedAt, err)
	}
	if err := dialtone.ApplyConfirm(s, t0.Add(time.Second), &dialtone.CDR{ID: "c1"}); err != nil || !s.ConfirmedAt.Equal(t0.Add(time.Second)) || s.CDR.ID != "c1" {
		t.Errorf("ApplyConfirm = %v, %v, cdr %q", err, s.ConfirmedAt, s.CDR.ID)
	}
	s.Settled = true
	if err := dialtone.ApplyConfirm(s, t0.Add(time.Minute), nil); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("confirming a settled session = %v, want ErrConflict", err)
	}
}

func TestDirectKey(t *testing.T) {
	c := dialtone.Conversation{Kind: dialtone.Direct, Members: []int64{9, 3}}
	if k, ok := c.DirectKey(); !ok || k != "3:9" {
		t.Errorf("DirectKey = %q, %v; want 3:9", k, ok)
	}
	g := dialtone.Conversation{Kind: dialtone.Group, Members: []int64{9, 3}}
	if _, ok := g.DirectKey(); ok {
		t.Error("a group has a direct key")
	}
}
