package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// CreateOrg stores an organization with its first admin.
func (db *DB) CreateOrg(ctx context.Context, o *dialtone.Org, admin int64) error {
	if o.CreatedAt.IsZero() {
		o.CreatedAt = db.now()
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("create org: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := tx.QueryRow(ctx, `INSERT INTO orgs (name, currency, created_at) VALUES ($1, $2, $3) RETURNING id`, o.Name, o.Currency, o.CreatedAt.UTC()).Scan(&o.ID); err != nil {
		return fmt.Errorf("create org: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO org_members (org_id, account_id, role) VALUES ($1, $2, 'admin')`, o.ID, admin); err != nil {
		return fmt.Errorf("create org: %w", err)
	}
	return tx.Commit(ctx)
}

// Org returns one organization.
func (db *DB) Org(ctx context.Context, id int64) (*dialtone.Org, error) {
	o := dialtone.Org{ID: id}
	err := db.pool.QueryRow(ctx, `SELECT name, currency, created_at FROM orgs WHERE id = $1`, id).Scan(&o.Name, &o.Currency, &o.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("org %d: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("org %d: %w", id, err)
	}
	o.CreatedAt = o.CreatedAt.UTC()
	return &o, nil
}

// SetMember adds or changes a member.
func (db *DB) SetMember(ctx context.Context, m dialtone.Member) error {
	cap, err := dialtone.ToMicros(m.CallCap)
	if err != nil {
		return fmt.Errorf("set member: %w", err)
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO org_members (org_id, account_id, role, leave_days, call_cap) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (org_id, account_id) DO UPDATE SET role = excluded.role, leave_days = excluded.leave_days, call_cap = excluded.call_cap`,
		m.OrgID, m.AccountID, string(m.Role), m.LeaveDays, cap)
	if err != nil {
		return fmt.Errorf("set member: %w", err)
	}
	return nil
}

// Member returns one membership.
func (db *DB) Member(ctx context.Context, orgID, accountID int64) (*dialtone.Member, error) {
	m := dialtone.Member{OrgID: orgID, AccountID: accountID}
	var role string
	var cap int64
	err := db.pool.QueryRow(ctx, `SELECT role, leave_days, call_cap FROM org_members WHERE org_id = $1 AND account_id = $2`, orgID, accountID).Scan(&role, &m.LeaveDays, &cap)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("member %d of org %d: %w", accountID, orgID, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	m.Role, m.CallCap = dialtone.Role(role), dialtone.FromMicros(cap)
	return &m, nil
}

// Members lists an organization's members.
func (db *DB) Members(ctx context.Context, orgID int64) ([]dialtone.Member, error) {
	rows, err := db.pool.Query(ctx, `SELECT account_id, role, leave_days, call_cap FROM org_members WHERE org_id = $1 ORDER BY account_id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	defer rows.Close()
	var out []dialtone.Member
	for rows.Next() {
		m := dialtone.Member{OrgID: orgID}
		var role string
		var cap int64
		if err := rows.Scan(&m.AccountID, &role, &m.LeaveDays, &cap); err != nil {
			return nil, fmt.Errorf("members: %w", err)
		}
		m.Role, m.CallCap = dialtone.Role(role), dialtone.FromMicros(cap)
		out = append(out, m)
	}
	return out, rows.Err()
}

const leaveColumns = `id, org_id, account_id, from_day, to_day, days, reason, status, decided_by, decided_at, created_at`

func scanLeave(row pgx.Row) (*dialtone.LeaveRequest, error) {
	var l dialtone.LeaveRequest
	var by *int64
	var at *time.Time
	if err := row.Scan(&l.ID, &l.OrgID, &l.AccountID, &l.From, &l.To, &l.Days, &l.Reason, &l.Status, &by, &at, &l.CreatedAt); err != nil {
		return nil, err
	}
	l.From, l.To, l.CreatedAt, l.DecidedAt = l.From.UTC(), l.To.UTC(), l.CreatedAt.UTC(), fromTS(at)
	if by != nil {
		l.DecidedBy = *by
	}
	return &l, nil
}

// CreateLeave stores a pending leave request.
func (db *DB) CreateLeave(ctx context.Context, l *dialtone.LeaveRequest) error {
	if l.CreatedAt.IsZero() {
		l.CreatedAt = db.now()
	}
	l.Status = dialtone.Pending
	err := db.pool.QueryRow(ctx, `INSERT INTO leave_requests (org_id, account_id, from_day, to_day, days, reason, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, l.OrgID, l.AccountID, l.From.UTC(), l.To.UTC(), l.Days, l.Reason, l.Status, l.CreatedAt.UTC()).Scan(&l.ID)
	if err != nil {
		return fmt.Errorf("create leave: %w", err)
	}
	return nil
}

// Leave returns one leave request.
func (db *DB) Leave(ctx context.Context, id int64) (*dialtone.LeaveRequest, error) {
	l, err := scanLeave(db.pool.QueryRow(ctx, `SELECT `+leaveColumns+` FROM leave_requests WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("leave %d: %w", id, dialtone.ErrNotFound)
	}
	return l, err
}

// DecideLeave approves (within the allowance) or rejects a pending request.
// The member's row is locked, so two approvals cannot both fit the same days.
func (db *DB) DecideLeave(ctx context.Context, id int64, approve bool, by int64, at time.Time) (*dialtone.LeaveRequest, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("decide leave: %w", err)
	}
	defer tx.Rollback(ctx)
	l, err := scanLeave(tx.QueryRow(ctx, `SELECT `+leaveColumns+` FROM leave_requests WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("leave %d: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("decide leave: %w", err)
	}
	if l.Status != dialtone.Pending {
		return nil, fmt.Errorf("leave %d: %w: it is %s", id, dialtone.ErrConflict, l.Status)
	}
	l.Status = dialtone.Rejected
	if approve {
		var allowance, taken int
		year := l.From.Year()
		if err := tx.QueryRow(ctx, `SELECT leave_days FROM org_members WHERE org_id = $1 AND account_id = $2 FOR UPDATE`, l.OrgID, l.AccountID).Scan(&allowance); err != nil {
			return nil, fmt.Errorf("decide leave: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT coalesce(sum(days), 0)::int FROM leave_requests WHERE org_id = $1 AND account_id = $2 AND status = 'approved'
			AND from_day >= make_date($3, 1, 1) AND from_day < make_date($3 + 1, 1, 1)`, l.OrgID, l.AccountID, year).Scan(&taken); err != nil {
			return nil, fmt.Errorf("decide leave: %w", err)
		}
		if taken+l.Days > allowance {
			return nil, fmt.Errorf("leave %d: %w: %d of %d days taken in %d, %d more asked", id, dialtone.ErrInsufficientFunds, taken, allowance, year, l.Days)
		}
		l.Status = dialtone.Approved
	}
	l.DecidedBy, l.DecidedAt = by, at
	if _, err := tx.Exec(ctx, `UPDATE leave_requests SET status = $1, decided_by = $2, decided_at = $3 WHERE id = $4`, l.Status, by, at.UTC(), id); err != nil {
		return nil, fmt.Errorf("decide leave: %w", err)
	}
	return l, tx.Commit(ctx)
}

// LeaveTaken counts approved days starting in a year.
func (db *DB) LeaveTaken(ctx context.Context, orgID, accountID int64, year int) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT coalesce(sum(days), 0)::int FROM leave_requests WHERE org_id = $1 AND account_id = $2 AND status = 'approved'
		AND from_day >= make_date($3, 1, 1) AND from_day < make_date($3 + 1, 1, 1)`, orgID, accountID, year).Scan(&n)
	return n, err
}

const expenseColumns = `id, org_id, account_id, amount, currency, category, receipt, note, status, decided_by, decided_at, created_at`

func scanExpense(row pgx.Row) (*dialtone.Expense, error) {
	var e dialtone.Expense
	var amount int64
	var by *int64
	var at *time.Time
	if err := row.Scan(&e.ID, &e.OrgID, &e.AccountID, &amount, &e.Currency, &e.Category, &e.Receipt, &e.Note, &e.Status, &by, &at, &e.CreatedAt); err != nil {
		return nil, err
	}
	e.Amount, e.CreatedAt, e.DecidedAt = dialtone.FromMicros(amount), e.CreatedAt.UTC(), fromTS(at)
	if by != nil {
		e.DecidedBy = *by
	}
	return &e, nil
}

// CreateExpense stores a submitted claim.
func (db *DB) CreateExpense(ctx context.Context, e *dialtone.Expense) error {
	amount, err := dialtone.ToMicros(e.Amount)
	if err != nil {
		return fmt.Errorf("create expense: %w", err)
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = db.now()
	}
	e.Status = dialtone.Pending
	err = db.pool.QueryRow(ctx, `INSERT INTO expenses (org_id, account_id, amount, currency, category, receipt, note, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, e.OrgID, e.AccountID, amount, e.Currency, e.Category, e.Receipt, e.Note, e.Status, e.CreatedAt.UTC()).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("create expense: %w", err)
	}
	return nil
}

// Expense returns one claim.
func (db *DB) Expense(ctx context.Context, id int64) (*dialtone.Expense, error) {
	e, err := scanExpense(db.pool.QueryRow(ctx, `SELECT `+expenseColumns+` FROM expenses WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("expense %d: %w", id, dialtone.ErrNotFound)
	}
	return e, err
}

// changeExpense moves a claim from one status to another in tx.
func changeExpense(ctx context.Context, tx pgx.Tx, id int64, from, to string, by int64, at time.Time) (*dialtone.Expense, error) {
	e, err := scanExpense(tx.QueryRow(ctx, `SELECT `+expenseColumns+` FROM expenses WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("expense %d: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("expense %d: %w", id, err)
	}
	if e.Status != from {
		return nil, fmt.Errorf("expense %d: %w: it is %s", id, dialtone.ErrConflict, e.Status)
	}
	e.Status = to
	if by != 0 {
		e.DecidedBy, e.DecidedAt = by, at
		_, err = tx.Exec(ctx, `UPDATE expenses SET status = $1, decided_by = $2, decided_at = $3 WHERE id = $4`, to, by, at.UTC(), id)
	} else {
		_, err = tx.Exec(ctx, `UPDATE expenses SET status = $1 WHERE id = $2`, to, id)
	}
	if err != nil {
		return nil, fmt.Errorf("expense %d: %w", id, err)
	}
	return e, nil
}

// DecideExpense approves or rejects a pending claim.
func (db *DB) DecideExpense(ctx context.Context, id int64, approve bool, by int64, at time.Time) (*dialtone.Expense, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("decide expense: %w", err)
	}
	defer tx.Rollback(ctx)
	to := dialtone.Rejected
	if approve {
		to = dialtone.Approved
	}
	e, err := changeExpense(ctx, tx, id, dialtone.Pending, to, by, at)
	if err != nil {
		return nil, err
	}
	return e, tx.Commit(ctx)
}

// ReimburseExpense pays an approved claim and marks it reimbursed.
func (db *DB) ReimburseExpense(ctx context.Context, id int64, pay *dialtone.Movement) (*dialtone.Expense, error) {
	if err := pay.Validate(); err != nil {
		return nil, fmt.Errorf("reimburse expense %d: %w", id, err)
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("reimburse expense %d: %w", id, err)
	}
	defer tx.Rollback(ctx)
	e, err := changeExpense(ctx, tx, id, dialtone.Approved, dialtone.Reimbursed, 0, time.Time{})
	if err != nil {
		return nil, err
	}
	if _, err := db.post(ctx, tx, pay); err != nil {
		return nil, fmt.Errorf("reimburse expense %d: %w", id, err)
	}
	return e, tx.Commit(ctx)
}

// Expenses lists claims, newest first.
func (db *DB) Expenses(ctx context.Context, orgID, accountID, before int64, limit int) ([]dialtone.Expense, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.pool.Query(ctx, `SELECT `+expenseColumns+` FROM expenses WHERE org_id = $1 AND ($2 = 0 OR account_id = $2) AND id < $3
		ORDER BY id DESC LIMIT $4`, orgID, accountID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("expenses: %w", err)
	}
	defer rows.Close()
	var out []dialtone.Expense
	for rows.Next() {
		e, err := scanExpense(rows)
		if err != nil {
			return nil, fmt.Errorf("expenses: %w", err)
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// ClockIn opens the day's shift.
func (db *DB) ClockIn(ctx context.Context, orgID, accountID int64, at time.Time) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO shifts (org_id, account_id, day, clock_in) VALUES ($1, $2, $3, $4)`,
		orgID, accountID, at.UTC().Format(time.DateOnly), at.UTC())
	if isUnique(err) {
		return fmt.Errorf("clock in: %w: already clocked in today", dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("clock in: %w", err)
	}
	return nil
}

// ClockOut closes the day's shift.
func (db *DB) ClockOut(ctx context.Context, orgID, accountID int64, at time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE shifts SET clock_out = $1 WHERE org_id = $2 AND account_id = $3 AND day = $4 AND clock_out IS NULL`,
		at.UTC(), orgID, accountID, at.UTC().Format(time.DateOnly))
	if err != nil {
		return fmt.Errorf("clock out: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("clock out: %w: not clocked in today", dialtone.ErrConflict)
	}
	return nil
}

// Attendance lists a day's shifts.
func (db *DB) Attendance(ctx context.Context, orgID int64, day string) ([]dialtone.Shift, error) {
	rows, err := db.pool.Query(ctx, `SELECT account_id, clock_in, clock_out FROM shifts WHERE org_id = $1 AND day = $2 ORDER BY account_id`, orgID, day)
	if err != nil {
		return nil, fmt.Errorf("attendance: %w", err)
	}
	defer rows.Close()
	var out []dialtone.Shift
	for rows.Next() {
		s := dialtone.Shift{OrgID: orgID, Day: day}
		var clockOut *time.Time
		if err := rows.Scan(&s.AccountID, &s.In, &clockOut); err != nil {
			return nil, fmt.Errorf("attendance: %w", err)
		}
		s.In, s.Out = s.In.UTC(), fromTS(clockOut)
		out = append(out, s)
	}
	return out, rows.Err()
}

// CompanyPayer finds the first organization that pays accountID's calls.
func (db *DB) CompanyPayer(ctx context.Context, accountID int64) (dialtone.Member, bool, error) {
	m := dialtone.Member{AccountID: accountID}
	var role string
	var cap int64
	err := db.pool.QueryRow(ctx, `SELECT org_id, role, leave_days, call_cap FROM org_members WHERE account_id = $1 AND call_cap > 0
		ORDER BY org_id LIMIT 1`, accountID).Scan(&m.OrgID, &role, &m.LeaveDays, &cap)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("company payer of %d: %w", accountID, err)
	}
	m.Role, m.CallCap = dialtone.Role(role), dialtone.FromMicros(cap)
	return m, true, nil
}

// CompanySpent sums what an organization paid and holds for a member's calls since a time.
func (db *DB) CompanySpent(ctx context.Context, orgID, accountID int64, since time.Time) (decimal.Decimal, error) {
	payer := dialtone.OrgAccount(orgID)
	var total int64
	err := db.pool.QueryRow(ctx, `SELECT
		(SELECT coalesce(sum(price), 0) FROM cdrs WHERE paid_by = $1 AND account_id = $2 AND end_at >= $3)::bigint +
		(SELECT coalesce(sum(reserved), 0) FROM call_sessions WHERE payer = $1 AND account_id = $2 AND NOT settled)::bigint`,
		payer, accountID, since.UTC()).Scan(&total)
	if err != nil {
		return decimal.Zero, fmt.Errorf("company spent on %d: %w", accountID, err)
	}
	return dialtone.FromMicros(total), nil
}
