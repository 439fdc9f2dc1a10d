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

// OrgStore keeps organizations and their requests.
type OrgStore interface {
	// CreateOrg stores o and makes admin its first member, an admin.
	CreateOrg(ctx context.Context, o *Org, admin int64) error
	// Org fails with ErrNotFound for an unknown id.
	Org(ctx context.Context, id int64) (*Org, error)
	// SetMember adds an account to an organization or changes its role and allowance.
	SetMember(ctx context.Context, m Member) error
	// Member fails with ErrNotFound for an account that is not a member.
	Member(ctx context.Context, orgID, accountID int64) (*Member, error)
	Members(ctx context.Context, orgID int64) ([]Member, error)
	// CompanyPayer finds an organization that pays accountID's calls: the
	// first membership with a call cap. ok is false when there is none.
	CompanyPayer(ctx context.Context, accountID int64) (m Member, ok bool, err error)
	// CompanySpent is what the organization has paid for accountID's calls
	// since since, plus what its calls in progress hold.
	CompanySpent(ctx context.Context, orgID, accountID int64, since time.Time) (decimal.Decimal, error)

	CreateLeave(ctx context.Context, l *LeaveRequest) error
	// Leave fails with ErrNotFound for an unknown id.
	Leave(ctx context.Context, id int64) (*LeaveRequest, error)
	// DecideLeave approves or rejects a pending request. Approval fails with
	// ErrInsufficientFunds when it would take the member past their annual
	// allowance, and any decision with ErrConflict when it is not pending.
	DecideLeave(ctx context.Context, id int64, approve bool, by int64, at time.Time) (*LeaveRequest, error)
	// LeaveTaken counts a member's approved days starting in a year.
	LeaveTaken(ctx context.Context, orgID, accountID int64, year int) (int, error)

	CreateExpense(ctx context.Context, e *Expense) error
	// Expense fails with ErrNotFound for an unknown id.
	Expense(ctx context.Context, id int64) (*Expense, error)
	// DecideExpense approves or rejects a pending claim (ErrConflict otherwise).
	DecideExpense(ctx context.Context, id int64, approve bool, by int64, at time.Time) (*Expense, error)
	// ReimburseExpense posts pay (the organization to the employee) and marks
	// an approved claim reimbursed, at once; ErrConflict when it is not approved.
	ReimburseExpense(ctx context.Context, id int64, pay *Movement) (*Expense, error)
	// Expenses lists an organization's claims (of one account when accountID
	// is not 0), newest first, below before.
	Expenses(ctx context.Context, orgID, accountID, before int64, limit int) ([]Expense, error)

	// ClockIn opens the day's shift; ErrConflict if it is open or done.
	ClockIn(ctx context.Context, orgID, accountID int64, at time.Time) error
	// ClockOut closes it; ErrConflict if there is none open.
	ClockOut(ctx context.Context, orgID, accountID int64, at time.Time) error
	// Attendance lists an organization's shifts of a day.
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
