package dialtone

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// Role is a member's place in an organization.
type Role string

const (
	RoleAdmin    Role = "admin"    // manages members and money
	RoleManager  Role = "manager"  // decides others' leave and expenses
	RoleEmployee Role = "employee" // asks
)

// Org is an organization: people with roles, and a wallet (ledger account
// OrgAccount(ID)) that reimburses their expenses.
type Org struct {
	ID        int64
	Name      string
	Currency  string
	CreatedAt time.Time
}

// OrgAccount is the ledger account of an organization's money.
func OrgAccount(id int64) string { return "org:" + strconv.FormatInt(id, 10) }

// Member is an account's membership of an organization.
type Member struct {
	OrgID     int64
	AccountID int64
	Role      Role
	LeaveDays int             // annual leave allowance, days a calendar year
	CallCap   decimal.Decimal // the organization pays this member's calls up to this a month; zero: it does not
}

// Request states.
const (
	Pending    = "pending"
	Approved   = "approved"
	Rejected   = "rejected"
	Reimbursed = "reimbursed"
)

// LeaveRequest asks for days off, From to To inclusive (dates, UTC).
type LeaveRequest struct {
	ID        int64
	OrgID     int64
	AccountID int64
	From, To  time.Time
	Days      int
	Reason    string
	Status    string
	DecidedBy int64
	DecidedAt time.Time
	CreatedAt time.Time
}

// Expense is a claim for money an employee spent for the organization.
type Expense struct {
	ID        int64
	OrgID     int64
	AccountID int64
	Amount    decimal.Decimal
	Currency  string
	Category  string
	Receipt   string // attachment id
	Note      string
	Status    string
	DecidedBy int64
	DecidedAt time.Time
	CreatedAt time.Time
}

// Shift is one day's attendance of a member: clock-in and clock-out.
type Shift struct {
	OrgID     int64
	AccountID int64
	Day       string // YYYY-MM-DD, UTC
	In, Out   time.Time
}

// OrgStore keeps organizations and their requests. Membership and role
// checks (who may decide, who may clock in) are the caller's: the store
// keeps the rules below only.
type OrgStore interface {
	// CreateOrg stores o, setting its ID (and CreatedAt when zero), and makes
	// admin its first member: an admin with no leave allowance and no call
	// cap. It fails, storing nothing, when admin is not an account.
	CreateOrg(ctx context.Context, o *Org, admin int64) error
	// Org fails with ErrNotFound for an unknown id.
	Org(ctx context.Context, id int64) (*Org, error)
	// SetMember adds an account to an organization or changes its role,
	// allowance and call cap. It fails with ErrInvalid for a call cap of more
	// than MoneyScale decimals, and fails (no sentinel) for a role that is
	// not RoleAdmin, RoleManager or RoleEmployee, or an unknown organization
	// or account. It keeps no rule about admins: the last one may be demoted.
	SetMember(ctx context.Context, m Member) error
	// Member fails with ErrNotFound for an account that is not a member
	// (or an unknown organization).
	Member(ctx context.Context, orgID, accountID int64) (*Member, error)
	// Members lists an organization's members ordered by account ID; none
	// for an unknown organization.
	Members(ctx context.Context, orgID int64) ([]Member, error)
	// CompanyPayer finds an organization that pays accountID's calls: the
	// membership with a call cap above zero of the lowest organization ID.
	// ok is false when there is none.
	CompanyPayer(ctx context.Context, accountID int64) (m Member, ok bool, err error)
	// CompanySpent is what the organization has paid for accountID's calls
	// since since (the Price of its CDRs with PaidBy OrgAccount(orgID) and
	// EndAt at or after since), plus what its calls in progress hold (the
	// ReservedMoney of its unsettled sessions with that Payer, whenever they
	// started).
	CompanySpent(ctx context.Context, orgID, accountID int64, since time.Time) (decimal.Decimal, error)

	// CreateLeave stores l as pending, whatever its Status, and sets its ID
	// (and CreatedAt when zero). Days must be above zero. From and To are
	// dates: a time of day is dropped (kept as midnight UTC).
	CreateLeave(ctx context.Context, l *LeaveRequest) error
	// Leave fails with ErrNotFound for an unknown id.
	Leave(ctx context.Context, id int64) (*LeaveRequest, error)
	// DecideLeave approves or rejects a pending request, records by and at,
	// and returns the request as stored. It fails with ErrNotFound for an
	// unknown id and with ErrConflict when the request is not pending (also
	// when several decide it at once: one wins). Approval fails with
	// ErrInsufficientFunds, leaving the request pending, when the member's
	// approved days in this organization of the year From is in (see
	// LeaveTaken) plus Days would exceed their LeaveDays, as it is now; two
	// approvals at once never both fit the same days. Rejection always
	// succeeds on a pending request.
	DecideLeave(ctx context.Context, id int64, approve bool, by int64, at time.Time) (*LeaveRequest, error)
	// LeaveTaken counts a member's approved days, in one organization, of
	// the requests whose From is in year (UTC): a request across New Year
	// counts in full in the year it starts. Pending and rejected requests
	// do not count.
	LeaveTaken(ctx context.Context, orgID, accountID int64, year int) (int, error)

	// CreateExpense stores e as pending, whatever its Status, and sets its ID
	// (and CreatedAt when zero). It fails with ErrInvalid for an amount of
	// more than MoneyScale decimals, and fails for an amount not above zero.
	CreateExpense(ctx context.Context, e *Expense) error
	// Expense fails with ErrNotFound for an unknown id.
	Expense(ctx context.Context, id int64) (*Expense, error)
	// DecideExpense approves or rejects a pending claim, records by and at,
	// and returns the claim as stored: ErrNotFound for an unknown id,
	// ErrConflict when it is not pending.
	DecideExpense(ctx context.Context, id int64, approve bool, by int64, at time.Time) (*Expense, error)
	// ReimburseExpense posts pay (the organization to the employee) and marks
	// an approved claim reimbursed, at once, keeping its decision; it returns
	// the claim as stored. It fails with ErrNotFound for an unknown id,
	// ErrInvalid for an invalid pay, ErrConflict when the claim is not
	// approved (so a claim is paid once, even when many pay it at once, with
	// any keys) or pay's key was used for other money, and
	// ErrInsufficientFunds when the organization's wallet cannot pay. A
	// failure changes nothing: the claim stays approved.
	ReimburseExpense(ctx context.Context, id int64, pay *Movement) (*Expense, error)
	// Expenses lists an organization's claims (of one account when accountID
	// is not 0), newest first by ID (not CreatedAt), with IDs below before
	// (0: from the newest), at most limit.
	Expenses(ctx context.Context, orgID, accountID, before int64, limit int) ([]Expense, error)

	// ClockIn opens the shift of the UTC date of at; ErrConflict if that
	// day's shift is open or done (one shift a member a day).
	ClockIn(ctx context.Context, orgID, accountID int64, at time.Time) error
	// ClockOut closes the open shift of the UTC date of at; ErrConflict if
	// there is none open that day.
	ClockOut(ctx context.Context, orgID, accountID int64, at time.Time) error
	// Attendance lists an organization's shifts of a day (YYYY-MM-DD, UTC),
	// ordered by account ID; Out is zero while a shift is open.
	Attendance(ctx context.Context, orgID int64, day string) ([]Shift, error)
}

// LeaveYear is the calendar year (UTC) whose allowance a request starting
// at from draws on: [start, end).
func LeaveYear(from time.Time) (year int, start, end time.Time) {
	year = from.UTC().Year()
	return year, time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(year+1, 1, 1, 0, 0, 0, 0, time.UTC)
}

// DecideLeave checks a decision on l, given the member's annual allowance
// and the days already approved in the year of l.From, and applies it to l.
// Only a pending request can be decided (ErrConflict); an approval past the
// allowance fails with ErrInsufficientFunds. l is unchanged on error.
func DecideLeave(l *LeaveRequest, approve bool, allowance, taken int, by int64, at time.Time) error {
	if l.Status != Pending {
		return fmt.Errorf("leave %d: %w: it is %s", l.ID, ErrConflict, l.Status)
	}
	status := Rejected
	if approve {
		if taken+l.Days > allowance {
			year, _, _ := LeaveYear(l.From)
			return fmt.Errorf("leave %d: %w: %d of %d days taken in %d, %d more asked", l.ID, ErrInsufficientFunds, taken, allowance, year, l.Days)
		}
		status = Approved
	}
	l.Status, l.DecidedBy, l.DecidedAt = status, by, at
	return nil
}

// MoveExpense moves a claim from status from to status to (ErrConflict when
// it is in another); a decision (by not 0) records who decided and when.
func MoveExpense(e *Expense, from, to string, by int64, at time.Time) error {
	if e.Status != from {
		return fmt.Errorf("expense %d: %w: it is %s", e.ID, ErrConflict, e.Status)
	}
	e.Status = to
	if by != 0 {
		e.DecidedBy, e.DecidedAt = by, at
	}
	return nil
}
