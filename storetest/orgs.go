package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// runOrgs registers the OrgStore subtests.
func runOrgs(t *testing.T, open func(t *testing.T) dialtone.Store) {
	t.Run("Orgs", func(t *testing.T) { testOrgs(t, open(t)) })
	t.Run("Leave", func(t *testing.T) { testLeave(t, open(t)) })
	t.Run("LeaveDates", func(t *testing.T) { testLeaveDates(t, open(t)) })
	t.Run("LeaveConcurrent", func(t *testing.T) { testLeaveConcurrent(t, open(t)) })
	t.Run("Expenses", func(t *testing.T) { testExpenses(t, open(t)) })
	t.Run("ExpensesPages", func(t *testing.T) { testExpensesPages(t, open(t)) })
	t.Run("ReimburseConcurrent", func(t *testing.T) { testReimburseConcurrent(t, open(t)) })
	t.Run("Attendance", func(t *testing.T) { testAttendance(t, open(t)) })
	t.Run("CompanyCalls", func(t *testing.T) { testCompanyCalls(t, open(t)) })
}

// wantErr fails the test unless err matches target (nil: unless err is nil).
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if target == nil {
		if err != nil {
			t.Errorf("%s = %v, want nil", what, err)
		}
		return
	}
	if !errors.Is(err, target) {
		t.Errorf("%s = %v, want %v", what, err, target)
	}
}

// newOrg makes an organization in USD whose first admin is admin.
func newOrg(t testing.TB, st dialtone.Store, name string, admin int64) *dialtone.Org {
	t.Helper()
	o := &dialtone.Org{Name: name, Currency: "USD", CreatedAt: Base}
	if err := st.CreateOrg(context.Background(), o, admin); err != nil {
		t.Fatalf("CreateOrg(%s) = %v", name, err)
	}
	return o
}

func setMember(t testing.TB, st dialtone.Store, m dialtone.Member) {
	t.Helper()
	if err := st.SetMember(context.Background(), m); err != nil {
		t.Fatalf("SetMember(%+v) = %v", m, err)
	}
}

// fundOrg credits an organization's wallet from the outside world.
func fundOrg(t testing.TB, st dialtone.Store, orgID int64, amount string) {
	t.Helper()
	key := fmt.Sprintf("test-fund-org:%d:%d", orgID, time.Now().UnixNano())
	if _, err := st.Post(context.Background(), usd(key, "org-topup", "test", dialtone.FundingAccount("USD"), dialtone.OrgAccount(orgID), D(amount))); err != nil {
		t.Fatalf("fund org %d with %s: %v", orgID, amount, err)
	}
}

func sameMember(a, b dialtone.Member) bool {
	return a.OrgID == b.OrgID && a.AccountID == b.AccountID && a.Role == b.Role && a.LeaveDays == b.LeaveDays && a.CallCap.Equal(b.CallCap)
}

func testOrgs(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob, carol := newAccount(t, st, "alice"), newAccount(t, st, "bob"), newAccount(t, st, "carol")

	o := &dialtone.Org{Name: "Acme Ltd", Currency: "USD", CreatedAt: Base.Add(123456 * time.Microsecond)}
	if err := st.CreateOrg(ctx, o, alice.ID); err != nil {
		t.Fatalf("CreateOrg() = %v", err)
	}
	if o.ID == 0 {
		t.Fatalf("CreateOrg() left ID unset")
	}
	noTime := &dialtone.Org{Name: "Beta", Currency: "EUR"}
	if err := st.CreateOrg(ctx, noTime, bob.ID); err != nil || noTime.ID == 0 || noTime.ID == o.ID || noTime.CreatedAt.IsZero() {
		t.Errorf("CreateOrg(no CreatedAt) = %v; ID %d, CreatedAt %v: want a new ID and the time set", err, noTime.ID, noTime.CreatedAt)
	}
	got, err := st.Org(ctx, o.ID)
	if err != nil || got.ID != o.ID || got.Name != "Acme Ltd" || got.Currency != "USD" || !got.CreatedAt.Equal(o.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("Org(%d) = %+v, %v; want %+v in UTC", o.ID, got, err, o)
	}
	if _, err := st.Org(ctx, 987654); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("Org(unknown) = %v, want %v", err, dialtone.ErrNotFound)
	}
	// A CreateOrg whose admin does not exist stores nothing.
	ghost := &dialtone.Org{Name: "Ghost", Currency: "USD"}
	if err := st.CreateOrg(ctx, ghost, 987654); err == nil {
		t.Errorf("CreateOrg(unknown admin) = nil, want an error")
	}
	if ghost.ID != 0 {
		if _, err := st.Org(ctx, ghost.ID); !errors.Is(err, dialtone.ErrNotFound) {
			t.Errorf("Org(%d) after CreateOrg(unknown admin) failed = %v, want %v", ghost.ID, err, dialtone.ErrNotFound)
		}
	}

	// The creator is the first member, an admin with no allowance and no cap.
	m, err := st.Member(ctx, o.ID, alice.ID)
	if err != nil || !sameMember(*m, dialtone.Member{OrgID: o.ID, AccountID: alice.ID, Role: dialtone.RoleAdmin}) {
		t.Errorf("Member(org, creator) = %+v, %v; want an admin with 0 days and no cap", m, err)
	}
	if _, err := st.Member(ctx, o.ID, bob.ID); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("Member(org, non-member) = %v, want %v", err, dialtone.ErrNotFound)
	}
	if _, err := st.Member(ctx, 987654, alice.ID); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("Member(unknown org) = %v, want %v", err, dialtone.ErrNotFound)
	}

	// SetMember adds, then changes in place.
	carolM := dialtone.Member{OrgID: o.ID, AccountID: carol.ID, Role: dialtone.RoleEmployee, LeaveDays: 20, CallCap: D("12.345678")}
	setMember(t, st, carolM)
	bobM := dialtone.Member{OrgID: o.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee, LeaveDays: 10}
	setMember(t, st, bobM)
	bobM.Role, bobM.LeaveDays, bobM.CallCap = dialtone.RoleManager, 25, D("50")
	setMember(t, st, bobM)
	if m, err := st.Member(ctx, o.ID, bob.ID); err != nil || !sameMember(*m, bobM) {
		t.Errorf("Member(bob) after a second SetMember = %+v, %v; want %+v", m, err, bobM)
	}
	// Demoting the creator is allowed: the store keeps no rule about admins.
	ms, err := st.Members(ctx, o.ID)
	if err != nil || len(ms) != 3 {
		t.Fatalf("Members(org) = %+v, %v; want 3", ms, err)
	}
	want := []dialtone.Member{{OrgID: o.ID, AccountID: alice.ID, Role: dialtone.RoleAdmin}, bobM, carolM}
	for i := range want {
		if !sameMember(ms[i], want[i]) {
			t.Errorf("Members(org)[%d] = %+v, want %+v (ordered by account ID)", i, ms[i], want[i])
		}
	}
	if ms, err := st.Members(ctx, noTime.ID); err != nil || len(ms) != 1 || ms[0].AccountID != bob.ID || ms[0].Role != dialtone.RoleAdmin {
		t.Errorf("Members(other org) = %+v, %v; want its creator only", ms, err)
	}
	if ms, err := st.Members(ctx, 987654); err != nil || len(ms) != 0 {
		t.Errorf("Members(unknown org) = %+v, %v; want none", ms, err)
	}

	// Refusals change nothing.
	if err := st.SetMember(ctx, dialtone.Member{OrgID: o.ID, AccountID: carol.ID, Role: dialtone.RoleEmployee, CallCap: D("0.0000001")}); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("SetMember(call cap with 7 decimals) = %v, want %v", err, dialtone.ErrInvalid)
	}
	if err := st.SetMember(ctx, dialtone.Member{OrgID: o.ID, AccountID: carol.ID, Role: "boss"}); err == nil {
		t.Errorf("SetMember(role boss) = nil, want an error")
	}
	if err := st.SetMember(ctx, dialtone.Member{OrgID: 987654, AccountID: carol.ID, Role: dialtone.RoleEmployee}); err == nil {
		t.Errorf("SetMember(unknown org) = nil, want an error")
	}
	if err := st.SetMember(ctx, dialtone.Member{OrgID: o.ID, AccountID: 987654, Role: dialtone.RoleEmployee}); err == nil {
		t.Errorf("SetMember(unknown account) = nil, want an error")
	}
	if m, err := st.Member(ctx, o.ID, carol.ID); err != nil || !sameMember(*m, carolM) {
		t.Errorf("Member(carol) after refused changes = %+v, %v; want %+v", m, err, carolM)
	}
	if ms, _ := st.Members(ctx, o.ID); len(ms) != 3 {
		t.Errorf("Members(org) after refused changes = %d members, want 3", len(ms))
	}
}

// day is midnight UTC of a date.
func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func createLeave(t testing.TB, st dialtone.Store, orgID, accountID int64, from time.Time, days int) *dialtone.LeaveRequest {
	t.Helper()
	l := &dialtone.LeaveRequest{OrgID: orgID, AccountID: accountID, From: from, To: from.AddDate(0, 0, days-1), Days: days, Reason: "rest", CreatedAt: Base}
	if err := st.CreateLeave(context.Background(), l); err != nil {
		t.Fatalf("CreateLeave(%d days from %s) = %v", days, from.Format(time.DateOnly), err)
	}
	return l
}

func testLeave(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := newAccount(t, st, "alice"), newAccount(t, st, "bob")
	o := newOrg(t, st, "Acme", alice.ID)
	other := newOrg(t, st, "Other", alice.ID)
	setMember(t, st, dialtone.Member{OrgID: o.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee, LeaveDays: 10})
	setMember(t, st, dialtone.Member{OrgID: other.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee, LeaveDays: 3})

	l := &dialtone.LeaveRequest{OrgID: o.ID, AccountID: bob.ID, From: day(2026, 12, 1), To: day(2026, 12, 3), Days: 3,
		Reason: "family, \"visit\" — ünïcode", Status: dialtone.Approved, CreatedAt: Base.Add(7 * time.Microsecond)}
	if err := st.CreateLeave(ctx, l); err != nil {
		t.Fatalf("CreateLeave() = %v", err)
	}
	if l.ID == 0 || l.Status != dialtone.Pending {
		t.Errorf("CreateLeave() left ID %d, status %q; want an ID and pending whatever the caller set", l.ID, l.Status)
	}
	got, err := st.Leave(ctx, l.ID)
	if err != nil {
		t.Fatalf("Leave(%d) = %v", l.ID, err)
	}
	if !reflect.DeepEqual(got, l) {
		t.Errorf("Leave(%d) = %+v, want %+v", l.ID, got, l)
	}
	if _, err := st.Leave(ctx, 987654); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("Leave(unknown) = %v, want %v", err, dialtone.ErrNotFound)
	}
	if _, err := st.DecideLeave(ctx, 987654, true, alice.ID, Base); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("DecideLeave(unknown) = %v, want %v", err, dialtone.ErrNotFound)
	}
	if err := st.CreateLeave(ctx, &dialtone.LeaveRequest{OrgID: o.ID, AccountID: bob.ID, From: day(2026, 12, 1), To: day(2026, 12, 1), Days: 0, CreatedAt: Base}); err == nil {
		t.Errorf("CreateLeave(0 days) = nil, want an error")
	}
	noTime := &dialtone.LeaveRequest{OrgID: o.ID, AccountID: bob.ID, From: day(2026, 6, 1), To: day(2026, 6, 1), Days: 1}
	if err := st.CreateLeave(ctx, noTime); err != nil || noTime.CreatedAt.IsZero() {
		t.Errorf("CreateLeave(no CreatedAt) = %v, CreatedAt %v; want the time set", err, noTime.CreatedAt)
	}

	decidedAt := Base.Add(time.Hour + 5*time.Microsecond)
	d, err := st.DecideLeave(ctx, l.ID, true, alice.ID, decidedAt)
	if err != nil || d.Status != dialtone.Approved || d.DecidedBy != alice.ID || !d.DecidedAt.Equal(decidedAt) || d.Days != 3 {
		t.Fatalf("DecideLeave(approve) = %+v, %v", d, err)
	}
	if got, _ := st.Leave(ctx, l.ID); got.Status != dialtone.Approved || got.DecidedBy != alice.ID || !got.DecidedAt.Equal(decidedAt) {
		t.Errorf("Leave() after approval = %+v", got)
	}
	for _, approve := range []bool{true, false} {
		if _, err := st.DecideLeave(ctx, l.ID, approve, alice.ID, decidedAt); !errors.Is(err, dialtone.ErrConflict) {
			t.Errorf("DecideLeave(approved request, approve=%v) = %v, want %v", approve, err, dialtone.ErrConflict)
		}
	}
	if n, err := st.LeaveTaken(ctx, o.ID, bob.ID, 2026); err != nil || n != 3 {
		t.Errorf("LeaveTaken(2026) = %d, %v; want 3", n, err)
	}

	// The allowance: 10 days a year, 3 taken. 8 more do not fit, 7 do.
	big := createLeave(t, st, o.ID, bob.ID, day(2026, 12, 10), 8)
	if _, err := st.DecideLeave(ctx, big.ID, true, alice.ID, decidedAt); !errors.Is(err, dialtone.ErrInsufficientFunds) {
		t.Errorf("DecideLeave(3 taken + 8 of 10) = %v, want %v", err, dialtone.ErrInsufficientFunds)
	}
	if got, _ := st.Leave(ctx, big.ID); got.Status != dialtone.Pending || got.DecidedBy != 0 || !got.DecidedAt.IsZero() {
		t.Errorf("Leave() after a refused approval = %+v, want it still pending and undecided", got)
	}
	fits := createLeave(t, st, o.ID, bob.ID, day(2026, 11, 2), 7)
	if d, err := st.DecideLeave(ctx, fits.ID, true, alice.ID, decidedAt); err != nil || d.Status != dialtone.Approved {
		t.Errorf("DecideLeave(3 taken + 7 of 10) = %+v, %v; want approved", d, err)
	}
	one := createLeave(t, st, o.ID, bob.ID, day(2026, 12, 30), 1)
	if _, err := st.DecideLeave(ctx, one.ID, true, alice.ID, decidedAt); !errors.Is(err, dialtone.ErrInsufficientFunds) {
		t.Errorf("DecideLeave(10 taken + 1 of 10) = %v, want %v", err, dialtone.ErrInsufficientFunds)
	}
	// Rejection is always possible while pending, and frees nothing.
	if d, err := st.DecideLeave(ctx, big.ID, false, alice.ID, decidedAt); err != nil || d.Status != dialtone.Rejected || d.DecidedBy != alice.ID {
		t.Errorf("DecideLeave(reject) = %+v, %v; want rejected by alice", d, err)
	}
	if _, err := st.DecideLeave(ctx, big.ID, true, alice.ID, decidedAt); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("DecideLeave(rejected request) = %v, want %v", err, dialtone.ErrConflict)
	}
	// Each year has its own allowance.
	if n, _ := st.LeaveTaken(ctx, o.ID, bob.ID, 2026); n != 10 {
		t.Errorf("LeaveTaken(2026) = %d, want 10 (pending and rejected requests do not count)", n)
	}
	ny := createLeave(t, st, o.ID, bob.ID, day(2027, 1, 1), 10)
	if _, err := st.DecideLeave(ctx, ny.ID, true, alice.ID, decidedAt); err != nil {
		t.Errorf("DecideLeave(10 days in 2027) = %v, want approved: each year has its own allowance", err)
	}
	if n, _ := st.LeaveTaken(ctx, o.ID, bob.ID, 2027); n != 10 {
		t.Errorf("LeaveTaken(2027) = %d, want 10", n)
	}
	if n, err := st.LeaveTaken(ctx, o.ID, bob.ID, 2025); err != nil || n != 0 {
		t.Errorf("LeaveTaken(2025) = %d, %v; want 0", n, err)
	}
	// Each organization has its own allowance and its own count.
	if n, _ := st.LeaveTaken(ctx, other.ID, bob.ID, 2026); n != 0 {
		t.Errorf("LeaveTaken(other org, 2026) = %d, want 0", n)
	}
	// A request belongs to the year it starts in: 2026-12-31 to 2027-01-02
	// counts against 2026 in full.
	o1 := createLeave(t, st, other.ID, bob.ID, day(2026, 12, 31), 3)
	if _, err := st.DecideLeave(ctx, o1.ID, true, alice.ID, decidedAt); err != nil {
		t.Errorf("DecideLeave(3 of 3 in the other org) = %v", err)
	}
	if n26, _ := st.LeaveTaken(ctx, other.ID, bob.ID, 2026); n26 != 3 {
		t.Errorf("LeaveTaken(other org, 2026) = %d, want 3: a request counts in the year it starts", n26)
	}
	if n27, _ := st.LeaveTaken(ctx, other.ID, bob.ID, 2027); n27 != 0 {
		t.Errorf("LeaveTaken(other org, 2027) = %d, want 0", n27)
	}
	o2 := createLeave(t, st, other.ID, bob.ID, day(2026, 12, 10), 1)
	if _, err := st.DecideLeave(ctx, o2.ID, true, alice.ID, decidedAt); !errors.Is(err, dialtone.ErrInsufficientFunds) {
		t.Errorf("DecideLeave(4 of 3 in the other org) = %v, want %v", err, dialtone.ErrInsufficientFunds)
	}
	// A member with no allowance (the creator) can take no approved leave.
	a := createLeave(t, st, o.ID, alice.ID, day(2026, 12, 1), 1)
	if _, err := st.DecideLeave(ctx, a.ID, true, alice.ID, decidedAt); !errors.Is(err, dialtone.ErrInsufficientFunds) {
		t.Errorf("DecideLeave(member with 0 days) = %v, want %v", err, dialtone.ErrInsufficientFunds)
	}
	// Lowering the allowance below what was approved refuses more, and keeps what was approved.
	setMember(t, st, dialtone.Member{OrgID: o.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee, LeaveDays: 5})
	late := createLeave(t, st, o.ID, bob.ID, day(2026, 12, 31), 1)
	if _, err := st.DecideLeave(ctx, late.ID, true, alice.ID, decidedAt); !errors.Is(err, dialtone.ErrInsufficientFunds) {
		t.Errorf("DecideLeave(after the allowance was cut to 5) = %v, want %v", err, dialtone.ErrInsufficientFunds)
	}
	if n, _ := st.LeaveTaken(ctx, o.ID, bob.ID, 2026); n != 10 {
		t.Errorf("LeaveTaken(2026) after the cut = %d, want 10", n)
	}
}

// testLeaveDates: From and To are dates. A request's dates come back at
// midnight UTC, a time of day dropped, on every engine.
func testLeaveDates(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice := newAccount(t, st, "alice")
	o := newOrg(t, st, "Acme", alice.ID)
	l := &dialtone.LeaveRequest{OrgID: o.ID, AccountID: alice.ID, From: time.Date(2026, 12, 1, 15, 30, 0, 0, time.UTC),
		To: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC), Days: 2, CreatedAt: Base}
	if err := st.CreateLeave(ctx, l); err != nil {
		t.Fatal(err)
	}
	got, err := st.Leave(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.From.Equal(day(2026, 12, 1)) || !got.To.Equal(day(2026, 12, 2)) {
		t.Errorf("Leave() From, To = %s, %s; want the dates 2026-12-01, 2026-12-02 at midnight UTC", got.From.Format(time.RFC3339), got.To.Format(time.RFC3339))
	}
}

// testLeaveConcurrent: approvals decided at once never exceed the allowance,
// and one request is decided once.
func testLeaveConcurrent(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := newAccount(t, st, "alice"), newAccount(t, st, "bob")
	o := newOrg(t, st, "Acme", alice.ID)
	setMember(t, st, dialtone.Member{OrgID: o.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee, LeaveDays: 5})
	var reqs []*dialtone.LeaveRequest
	for i := range 12 {
		reqs = append(reqs, createLeave(t, st, o.ID, bob.ID, day(2026, 3, 1+i), 1))
	}
	var approved, refused atomic.Int64
	var wg sync.WaitGroup
	for _, l := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.DecideLeave(ctx, l.ID, true, alice.ID, Base)
			switch {
			case err == nil:
				approved.Add(1)
			case errors.Is(err, dialtone.ErrInsufficientFunds):
				refused.Add(1)
			default:
				t.Errorf("DecideLeave(%d) = %v", l.ID, err)
			}
		}()
	}
	wg.Wait()
	if approved.Load() != 5 || refused.Load() != 7 {
		t.Errorf("12 one-day requests approved at once against 5 days: %d approved, %d refused; want 5 and 7", approved.Load(), refused.Load())
	}
	if n, _ := st.LeaveTaken(ctx, o.ID, bob.ID, 2026); n != 5 {
		t.Errorf("LeaveTaken() = %d, want 5", n)
	}

	// One request, decided by many at once: one decision wins.
	setMember(t, st, dialtone.Member{OrgID: o.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee, LeaveDays: 100})
	l := createLeave(t, st, o.ID, bob.ID, day(2026, 8, 1), 2)
	var won, conflicts atomic.Int64
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.DecideLeave(ctx, l.ID, i%2 == 0, alice.ID, Base)
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, dialtone.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("DecideLeave(%d) = %v", l.ID, err)
			}
		}()
	}
	wg.Wait()
	if won.Load() != 1 || conflicts.Load() != 9 {
		t.Errorf("one request decided 10 times at once: %d decisions, %d conflicts; want 1 and 9", won.Load(), conflicts.Load())
	}
	got, _ := st.Leave(ctx, l.ID)
	taken, _ := st.LeaveTaken(ctx, o.ID, bob.ID, 2026)
	if (got.Status == dialtone.Approved) != (taken == 7) || (got.Status != dialtone.Approved && got.Status != dialtone.Rejected) {
		t.Errorf("after the race: status %s, %d days taken; want approved with 7 or rejected with 5", got.Status, taken)
	}
}

func createExpense(t testing.TB, st dialtone.Store, orgID, accountID int64, amount string, at time.Time) *dialtone.Expense {
	t.Helper()
	e := &dialtone.Expense{OrgID: orgID, AccountID: accountID, Amount: D(amount), Currency: "USD", Category: "travel", Receipt: "att-1", Note: "taxi", CreatedAt: at}
	if err := st.CreateExpense(context.Background(), e); err != nil {
		t.Fatalf("CreateExpense(%s) = %v", amount, err)
	}
	return e
}

func reimbursement(e *dialtone.Expense, key string) *dialtone.Movement {
	return usd(key, "reimbursement", "expense", dialtone.OrgAccount(e.OrgID), dialtone.WalletAccount(e.AccountID), e.Amount)
}

func sameExpense(a, b *dialtone.Expense) bool {
	x, y := *a, *b
	x.Amount, y.Amount = decimal.Zero, decimal.Zero
	return a.Amount.Equal(b.Amount) && reflect.DeepEqual(x, y)
}

func testExpenses(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := newAccount(t, st, "alice"), newAccount(t, st, "bob")
	o := newOrg(t, st, "Acme", alice.ID)
	setMember(t, st, dialtone.Member{OrgID: o.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee})
	orgAcct, bobWallet := dialtone.OrgAccount(o.ID), dialtone.WalletAccount(bob.ID)

	e := &dialtone.Expense{OrgID: o.ID, AccountID: bob.ID, Amount: D("42.123456"), Currency: "USD", Category: "travel",
		Receipt: "att-123", Note: "taxi to the \"airport\"", Status: dialtone.Reimbursed, CreatedAt: Base.Add(9 * time.Microsecond)}
	if err := st.CreateExpense(ctx, e); err != nil {
		t.Fatalf("CreateExpense() = %v", err)
	}
	if e.ID == 0 || e.Status != dialtone.Pending {
		t.Errorf("CreateExpense() left ID %d, status %q; want an ID and pending", e.ID, e.Status)
	}
	got, err := st.Expense(ctx, e.ID)
	if err != nil || !sameExpense(got, e) {
		t.Errorf("Expense(%d) = %+v, %v; want %+v", e.ID, got, err, e)
	}
	if _, err := st.Expense(ctx, 987654); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("Expense(unknown) = %v, want %v", err, dialtone.ErrNotFound)
	}
	if err := st.CreateExpense(ctx, &dialtone.Expense{OrgID: o.ID, AccountID: bob.ID, Amount: D("0.0000001"), Currency: "USD", CreatedAt: Base}); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("CreateExpense(7 decimals) = %v, want %v", err, dialtone.ErrInvalid)
	}
	if err := st.CreateExpense(ctx, &dialtone.Expense{OrgID: o.ID, AccountID: bob.ID, Amount: D("0"), Currency: "USD", CreatedAt: Base}); err == nil {
		t.Errorf("CreateExpense(0) = nil, want an error")
	}
	noTime := &dialtone.Expense{OrgID: o.ID, AccountID: bob.ID, Amount: D("1"), Currency: "USD"}
	if err := st.CreateExpense(ctx, noTime); err != nil || noTime.CreatedAt.IsZero() {
		t.Errorf("CreateExpense(no CreatedAt) = %v, CreatedAt %v; want the time set", err, noTime.CreatedAt)
	}
	for _, approve := range []bool{true, false} {
		if _, err := st.DecideExpense(ctx, 987654, approve, alice.ID, Base); !errors.Is(err, dialtone.ErrNotFound) {
			t.Errorf("DecideExpense(unknown) = %v, want %v", err, dialtone.ErrNotFound)
		}
	}
	if _, err := st.ReimburseExpense(ctx, 987654, reimbursement(e, "pay-unknown")); !errors.Is(err, dialtone.ErrNotFound) {
		t.Errorf("ReimburseExpense(unknown) = %v, want %v", err, dialtone.ErrNotFound)
	}

	// Pending claims are not paid.
	if _, err := st.ReimburseExpense(ctx, e.ID, reimbursement(e, "pay-early")); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("ReimburseExpense(pending) = %v, want %v", err, dialtone.ErrConflict)
	}
	decidedAt := Base.Add(time.Hour + 3*time.Microsecond)
	d, err := st.DecideExpense(ctx, e.ID, true, alice.ID, decidedAt)
	if err != nil || d.Status != dialtone.Approved || d.DecidedBy != alice.ID || !d.DecidedAt.Equal(decidedAt) || !d.Amount.Equal(e.Amount) {
		t.Fatalf("DecideExpense(approve) = %+v, %v", d, err)
	}
	if got, _ := st.Expense(ctx, e.ID); !sameExpense(got, d) {
		t.Errorf("Expense() after approval = %+v, want %+v", got, d)
	}
	if _, err := st.DecideExpense(ctx, e.ID, false, alice.ID, decidedAt); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("DecideExpense(approved claim) = %v, want %v", err, dialtone.ErrConflict)
	}

	// The organization cannot pay yet: the claim stays approved, no money moves.
	fundOrg(t, st, o.ID, "40")
	if _, err := st.ReimburseExpense(ctx, e.ID, reimbursement(e, "pay-1")); !errors.Is(err, dialtone.ErrInsufficientFunds) {
		t.Errorf("ReimburseExpense(org has 40 of 42.123456) = %v, want %v", err, dialtone.ErrInsufficientFunds)
	}
	if got, _ := st.Expense(ctx, e.ID); got.Status != dialtone.Approved {
		t.Errorf("Expense() after a refused payment is %s, want approved", got.Status)
	}
	wantBalance(t, st, orgAcct, "40")
	wantBalance(t, st, bobWallet, "0")
	bad := reimbursement(e, "pay-bad")
	bad.Postings[1].Amount = D("1")
	if _, err := st.ReimburseExpense(ctx, e.ID, bad); !errors.Is(err, dialtone.ErrInvalid) {
		t.Errorf("ReimburseExpense(unbalanced movement) = %v, want %v", err, dialtone.ErrInvalid)
	}

	fundOrg(t, st, o.ID, "10")
	r, err := st.ReimburseExpense(ctx, e.ID, reimbursement(e, "pay-1"))
	if err != nil || r.Status != dialtone.Reimbursed || r.DecidedBy != alice.ID || !r.DecidedAt.Equal(decidedAt) {
		t.Fatalf("ReimburseExpense() = %+v, %v; want reimbursed, the approval kept", r, err)
	}
	if got, _ := st.Expense(ctx, e.ID); !sameExpense(got, r) {
		t.Errorf("Expense() after payment = %+v, want %+v", got, r)
	}
	wantBalance(t, st, orgAcct, "7.876544")
	wantBalance(t, st, bobWallet, "42.123456")
	if _, err := st.ReimburseExpense(ctx, e.ID, reimbursement(e, "pay-2")); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("ReimburseExpense(reimbursed claim) = %v, want %v", err, dialtone.ErrConflict)
	}
	if _, err := st.DecideExpense(ctx, e.ID, true, alice.ID, decidedAt); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("DecideExpense(reimbursed claim) = %v, want %v", err, dialtone.ErrConflict)
	}
	wantBalance(t, st, bobWallet, "42.123456")

	// Rejected claims are final and never paid.
	rej := createExpense(t, st, o.ID, bob.ID, "1.50", Base)
	if d, err := st.DecideExpense(ctx, rej.ID, false, alice.ID, decidedAt); err != nil || d.Status != dialtone.Rejected || d.DecidedBy != alice.ID {
		t.Errorf("DecideExpense(reject) = %+v, %v", d, err)
	}
	if _, err := st.ReimburseExpense(ctx, rej.ID, reimbursement(rej, "pay-rej")); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("ReimburseExpense(rejected claim) = %v, want %v", err, dialtone.ErrConflict)
	}
	if _, err := st.DecideExpense(ctx, rej.ID, true, alice.ID, decidedAt); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("DecideExpense(rejected claim) = %v, want %v", err, dialtone.ErrConflict)
	}
	wantBalance(t, st, orgAcct, "7.876544")

	// A payment key used before for other money is refused, the claim stays approved.
	second := createExpense(t, st, o.ID, bob.ID, "2", Base)
	if _, err := st.DecideExpense(ctx, second.ID, true, alice.ID, decidedAt); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReimburseExpense(ctx, second.ID, reimbursement(second, "pay-1")); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("ReimburseExpense(a key used for another amount) = %v, want %v", err, dialtone.ErrConflict)
	}
	if got, _ := st.Expense(ctx, second.ID); got.Status != dialtone.Approved {
		t.Errorf("Expense() after a refused payment is %s, want approved", got.Status)
	}
	wantBalance(t, st, orgAcct, "7.876544")
	CheckLedger(t, st)
}

func expenseIDs(es []dialtone.Expense) []int64 {
	var ids []int64
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

func testExpensesPages(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob, carol := newAccount(t, st, "alice"), newAccount(t, st, "bob"), newAccount(t, st, "carol")
	o := newOrg(t, st, "Acme", alice.ID)
	other := newOrg(t, st, "Other", alice.ID)
	var all, bobs []int64 // newest first
	for i := range 7 {
		who := bob.ID
		if i%3 == 2 {
			who = carol.ID
		}
		// Created times run backwards: the order is by ID, not by time.
		e := createExpense(t, st, o.ID, who, fmt.Sprintf("%d.25", i+1), Base.Add(-time.Duration(i)*time.Hour))
		all = append([]int64{e.ID}, all...)
		if who == bob.ID {
			bobs = append([]int64{e.ID}, bobs...)
		}
		createExpense(t, st, other.ID, bob.ID, "9", Base) // never listed below
	}
	tests := []struct {
		name    string
		account int64
		before  int64
		limit   int
		want    []int64
	}{
		{"all", 0, 0, 100, all},
		{"first page", 0, 0, 3, all[:3]},
		{"second page", 0, all[2], 3, all[3:6]},
		{"last page", 0, all[5], 3, all[6:]},
		{"past the end", 0, all[6], 3, nil},
		{"one account", bob.ID, 0, 100, bobs},
		{"one account, paged", bob.ID, bobs[1], 2, bobs[2:4]},
		{"an account with none", alice.ID, 0, 100, nil},
	}
	for _, tt := range tests {
		got, err := st.Expenses(ctx, o.ID, tt.account, tt.before, tt.limit)
		if err != nil {
			t.Fatalf("Expenses(%s) = %v", tt.name, err)
		}
		if fmt.Sprint(expenseIDs(got)) != fmt.Sprint(tt.want) {
			t.Errorf("Expenses(%s) = %v, want %v", tt.name, expenseIDs(got), tt.want)
		}
		for _, e := range got {
			if e.OrgID != o.ID || e.Status != dialtone.Pending || e.Currency != "USD" || e.Category != "travel" {
				t.Errorf("Expenses(%s) holds %+v", tt.name, e)
			}
		}
	}
	if got, err := st.Expenses(ctx, 987654, 0, 0, 100); err != nil || len(got) != 0 {
		t.Errorf("Expenses(unknown org) = %v, %v; want none", got, err)
	}
	if got, _ := st.Expenses(ctx, o.ID, 0, 0, 1); len(got) != 1 || !got[0].Amount.Equal(D("7.25")) {
		t.Errorf("Expenses(newest) = %+v, want the 7.25 claim", got)
	}
}

// testReimburseConcurrent: a claim paid by many at once, each with its own
// key, is paid once.
func testReimburseConcurrent(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := newAccount(t, st, "alice"), newAccount(t, st, "bob")
	o := newOrg(t, st, "Acme", alice.ID)
	fundOrg(t, st, o.ID, "100")
	var claims []*dialtone.Expense
	for range 3 {
		e := createExpense(t, st, o.ID, bob.ID, "10", Base)
		if _, err := st.DecideExpense(ctx, e.ID, true, alice.ID, Base); err != nil {
			t.Fatal(err)
		}
		claims = append(claims, e)
	}
	var paid, conflicts atomic.Int64
	var wg sync.WaitGroup
	for _, e := range claims {
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := st.ReimburseExpense(ctx, e.ID, reimbursement(e, fmt.Sprintf("pay-%d-%d", e.ID, i)))
				switch {
				case err == nil:
					paid.Add(1)
				case errors.Is(err, dialtone.ErrConflict):
					conflicts.Add(1)
				default:
					t.Errorf("ReimburseExpense(%d) = %v", e.ID, err)
				}
			}()
		}
	}
	wg.Wait()
	if paid.Load() != 3 || conflicts.Load() != 21 {
		t.Errorf("3 claims paid 8 times each at once: %d payments, %d conflicts; want 3 and 21", paid.Load(), conflicts.Load())
	}
	wantBalance(t, st, dialtone.WalletAccount(bob.ID), "30")
	wantBalance(t, st, dialtone.OrgAccount(o.ID), "70")
	CheckLedger(t, st)
}

func testAttendance(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob := newAccount(t, st, "alice"), newAccount(t, st, "bob")
	o := newOrg(t, st, "Acme", alice.ID)
	other := newOrg(t, st, "Other", alice.ID)
	setMember(t, st, dialtone.Member{OrgID: o.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee})
	morning := time.Date(2026, 11, 24, 8, 59, 59, 123456000, time.UTC)
	evening := time.Date(2026, 11, 24, 17, 30, 0, 7000, time.UTC)

	if err := st.ClockOut(ctx, o.ID, bob.ID, morning); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("ClockOut(not clocked in) = %v, want %v", err, dialtone.ErrConflict)
	}
	wantErr(t, "ClockIn(bob)", st.ClockIn(ctx, o.ID, bob.ID, morning), nil)
	if err := st.ClockIn(ctx, o.ID, bob.ID, morning.Add(time.Minute)); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("ClockIn(open shift) = %v, want %v", err, dialtone.ErrConflict)
	}
	wantErr(t, "ClockIn(alice)", st.ClockIn(ctx, o.ID, alice.ID, morning.Add(time.Hour)), nil)
	wantErr(t, "ClockIn(bob, other org)", st.ClockIn(ctx, other.ID, bob.ID, morning), nil)

	shifts, err := st.Attendance(ctx, o.ID, "2026-11-24")
	if err != nil || len(shifts) != 2 {
		t.Fatalf("Attendance() = %+v, %v; want 2 shifts", shifts, err)
	}
	wantShifts := []dialtone.Shift{
		{OrgID: o.ID, AccountID: alice.ID, Day: "2026-11-24", In: morning.Add(time.Hour)},
		{OrgID: o.ID, AccountID: bob.ID, Day: "2026-11-24", In: morning},
	}
	if !reflect.DeepEqual(shifts, wantShifts) {
		t.Errorf("Attendance() with open shifts = %+v, want %+v (ordered by account, Out zero)", shifts, wantShifts)
	}

	wantErr(t, "ClockOut(bob)", st.ClockOut(ctx, o.ID, bob.ID, evening), nil)
	if err := st.ClockOut(ctx, o.ID, bob.ID, evening.Add(time.Minute)); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("ClockOut(done shift) = %v, want %v", err, dialtone.ErrConflict)
	}
	if err := st.ClockIn(ctx, o.ID, bob.ID, evening.Add(time.Hour)); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("ClockIn(done shift, same day) = %v, want %v", err, dialtone.ErrConflict)
	}
	shifts, _ = st.Attendance(ctx, o.ID, "2026-11-24")
	wantShifts[1].Out = evening
	if !reflect.DeepEqual(shifts, wantShifts) {
		t.Errorf("Attendance() after ClockOut = %+v, want %+v", shifts, wantShifts)
	}
	if s, _ := st.Attendance(ctx, other.ID, "2026-11-24"); len(s) != 1 || s[0].AccountID != bob.ID || !s[0].Out.IsZero() {
		t.Errorf("Attendance(other org) = %+v, want bob's open shift only", s)
	}

	// The day is the UTC date of the time: 23:30 in New York on the 24th is
	// the 25th; clocking out at 00:30 UTC on the 26th finds no shift of that day.
	ny := time.FixedZone("EST", -5*3600)
	late := time.Date(2026, 11, 24, 23, 30, 0, 0, ny)
	wantErr(t, "ClockIn(23:30 EST)", st.ClockIn(ctx, o.ID, bob.ID, late), nil)
	if s, _ := st.Attendance(ctx, o.ID, "2026-11-25"); len(s) != 1 || !s[0].In.Equal(late) || s[0].In.Location() != time.UTC || s[0].Day != "2026-11-25" {
		t.Errorf("Attendance(2026-11-25) = %+v, want bob's shift from 04:30 UTC", s)
	}
	if err := st.ClockOut(ctx, o.ID, bob.ID, time.Date(2026, 11, 26, 0, 30, 0, 0, time.UTC)); !errors.Is(err, dialtone.ErrConflict) {
		t.Errorf("ClockOut(the next UTC day) = %v, want %v", err, dialtone.ErrConflict)
	}
	wantErr(t, "ClockOut(same UTC day)", st.ClockOut(ctx, o.ID, bob.ID, time.Date(2026, 11, 25, 18, 0, 0, 0, ny)), nil)
	if s, err := st.Attendance(ctx, o.ID, "2026-11-23"); err != nil || len(s) != 0 {
		t.Errorf("Attendance(a day without shifts) = %+v, %v; want none", s, err)
	}
}

// companyCDR is a call of account paid by payer, ending at end, costing price.
func companyCDR(t testing.TB, st dialtone.Store, account, id, payer, price string, end time.Time) *dialtone.CDR {
	c := NewCDR(t, st, account, id, end)
	c.PaidBy, c.Price = payer, D(price)
	return c
}

func testCompanyCalls(t *testing.T, st dialtone.Store) {
	ctx := context.Background()
	alice, bob, carol := newAccount(t, st, "alice"), newAccount(t, st, "bob"), newAccount(t, st, "carol")
	first := newOrg(t, st, "First", alice.ID)
	second := newOrg(t, st, "Second", alice.ID)
	third := newOrg(t, st, "Third", alice.ID)

	if _, ok, err := st.CompanyPayer(ctx, bob.ID); err != nil || ok {
		t.Errorf("CompanyPayer(no memberships) = %v, %v; want none", ok, err)
	}
	setMember(t, st, dialtone.Member{OrgID: first.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee, LeaveDays: 3})
	if _, ok, err := st.CompanyPayer(ctx, bob.ID); err != nil || ok {
		t.Errorf("CompanyPayer(a membership without a cap) = %v, %v; want none", ok, err)
	}
	setMember(t, st, dialtone.Member{OrgID: third.ID, AccountID: bob.ID, Role: dialtone.RoleManager, LeaveDays: 4, CallCap: D("30")})
	setMember(t, st, dialtone.Member{OrgID: second.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee, LeaveDays: 5, CallCap: D("20.5")})
	m, ok, err := st.CompanyPayer(ctx, bob.ID)
	want := dialtone.Member{OrgID: second.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee, LeaveDays: 5, CallCap: D("20.5")}
	if err != nil || !ok || !sameMember(m, want) {
		t.Errorf("CompanyPayer(bob) = %+v, %v, %v; want the capped membership of the lowest org ID, %+v", m, ok, err, want)
	}
	setMember(t, st, dialtone.Member{OrgID: second.ID, AccountID: bob.ID, Role: dialtone.RoleEmployee, LeaveDays: 5})
	if m, ok, _ := st.CompanyPayer(ctx, bob.ID); !ok || m.OrgID != third.ID || !m.CallCap.Equal(D("30")) {
		t.Errorf("CompanyPayer(bob) after the second org dropped its cap = %+v, %v; want the third org", m, ok)
	}
	if _, ok, err := st.CompanyPayer(ctx, 987654); err != nil || ok {
		t.Errorf("CompanyPayer(unknown account) = %v, %v; want none", ok, err)
	}

	// What the organization paid: its CDRs for this account from since on.
	month := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	org3 := dialtone.OrgAccount(third.ID)
	for _, c := range []*dialtone.CDR{
		companyCDR(t, st, "bob", "paid-1", org3, "1.25", month.Add(time.Hour)),
		companyCDR(t, st, "bob", "paid-2", org3, "0.000001", month.Add(48*time.Hour)),
		companyCDR(t, st, "bob", "on-since", org3, "2", month),                            // end_at == since counts
		companyCDR(t, st, "bob", "last-month", org3, "100", month.Add(-time.Microsecond)), // before since
		companyCDR(t, st, "bob", "own", dialtone.WalletAccount(bob.ID), "100", month.Add(time.Hour)),
		companyCDR(t, st, "bob", "other-org", dialtone.OrgAccount(first.ID), "100", month.Add(time.Hour)),
		companyCDR(t, st, "carol", "carol-1", org3, "100", month.Add(time.Hour)),
	} {
		if err := st.InsertCDR(ctx, c); err != nil {
			t.Fatalf("InsertCDR(%s) = %v", c.ID, err)
		}
	}
	spent := func(orgID, accountID int64, since time.Time, want string) {
		t.Helper()
		got, err := st.CompanySpent(ctx, orgID, accountID, since)
		if err != nil || !got.Equal(D(want)) {
			t.Errorf("CompanySpent(org %d, account %d, since %s) = %s, %v; want %s", orgID, accountID, since.Format(time.RFC3339Nano), got, err, want)
		}
	}
	spent(third.ID, bob.ID, month, "3.250001")
	spent(third.ID, bob.ID, month.Add(time.Microsecond), "1.250001")
	spent(third.ID, carol.ID, month, "100")
	spent(second.ID, bob.ID, month, "0")
	spent(987654, bob.ID, month, "0")

	// Plus what its calls in progress hold, whenever they started; a settled
	// call counts by its CDR only.
	fundOrg(t, st, third.ID, "10")
	open := func(id string) {
		cdr := companyCDR(t, st, "bob", id, org3, "0", month.Add(72*time.Hour))
		if err := st.OpenSession(ctx, &dialtone.CallSession{ID: id, Node: "n1", AccountID: bob.ID, Currency: "USD", Payer: org3, CDR: *cdr}, nil); err != nil {
			t.Fatalf("OpenSession(%s) = %v", id, err)
		}
		if err := st.Reserve(ctx, dialtone.Reservation{SessionID: id, Seq: 1, Money: D("0.4"), Covered: 60, At: month}); err != nil {
			t.Fatalf("Reserve(%s) = %v", id, err)
		}
	}
	open("live-1")
	open("live-2")
	wantBalance(t, st, org3, "9.2")
	spent(third.ID, bob.ID, month, "4.050001")
	spent(third.ID, bob.ID, month.AddDate(0, 1, 0), "0.8") // holds are counted whatever since is
	cdr := companyCDR(t, st, "bob", "live-1", org3, "0.15", month.Add(72*time.Hour))
	if err := st.Settle(ctx, dialtone.Settlement{SessionID: "live-1", Price: D("0.15")}, cdr); err != nil {
		t.Fatalf("Settle(live-1) = %v", err)
	}
	spent(third.ID, bob.ID, month, "3.800001") // 3.250001 + 0.15 charged + 0.4 still held
	wantBalance(t, st, org3, "9.45")
	wantBalance(t, st, dialtone.WalletAccount(bob.ID), "0")
	CheckLedger(t, st)
}
