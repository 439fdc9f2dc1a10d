package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// CreateOrg stores an organization with its first admin.
func (db *DB) CreateOrg(ctx context.Context, o *dialtone.Org, admin int64) error {
	if o.CreatedAt.IsZero() {
		o.CreatedAt = db.now()
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create org: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO orgs (name, currency, created_at) VALUES (?, ?, ?)`, o.Name, o.Currency, o.CreatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("create org: %w", err)
	}
	o.ID, _ = res.LastInsertId()
	if _, err := tx.ExecContext(ctx, `INSERT INTO org_members (org_id, account_id, role) VALUES (?, ?, 'admin')`, o.ID, admin); err != nil {
		return fmt.Errorf("create org: %w", err)
	}
	return tx.Commit()
}

// Org returns one organization.
func (db *DB) Org(ctx context.Context, id int64) (*dialtone.Org, error) {
	o := dialtone.Org{ID: id}
	var created int64
	err := db.read.QueryRowContext(ctx, `SELECT name, currency, created_at FROM orgs WHERE id = ?`, id).Scan(&o.Name, &o.Currency, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("org %d: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("org %d: %w", id, err)
	}
	o.CreatedAt = time.UnixMicro(created).UTC()
	return &o, nil
}

// SetMember adds or changes a member.
func (db *DB) SetMember(ctx context.Context, m dialtone.Member) error {
	cap, err := dialtone.ToMicros(m.CallCap)
	if err != nil {
		return fmt.Errorf("set member: %w", err)
	}
	_, err = db.write.ExecContext(ctx, `INSERT INTO org_members (org_id, account_id, role, leave_days, call_cap) VALUES (?, ?, ?, ?, ?)
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
	err := db.read.QueryRowContext(ctx, `SELECT role, leave_days, call_cap FROM org_members WHERE org_id = ? AND account_id = ?`, orgID, accountID).Scan(&role, &m.LeaveDays, &cap)
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := db.read.QueryContext(ctx, `SELECT account_id, role, leave_days, call_cap FROM org_members WHERE org_id = ? ORDER BY account_id`, orgID)
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

// CreateLeave stores a pending leave request.
func (db *DB) CreateLeave(ctx context.Context, l *dialtone.LeaveRequest) error {
	if l.CreatedAt.IsZero() {
		l.CreatedAt = db.now()
	}
	l.Status = dialtone.Pending
	res, err := db.write.ExecContext(ctx, `INSERT INTO leave_requests (org_id, account_id, from_day, to_day, days, reason, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, l.OrgID, l.AccountID, l.From.UnixMicro(), l.To.UnixMicro(), l.Days, l.Reason, l.Status, l.CreatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("create leave: %w", err)
	}
	l.ID, _ = res.LastInsertId()
	return nil
}

func scanLeave(row scanner) (*dialtone.LeaveRequest, error) {
	var l dialtone.LeaveRequest
	var from, to, created int64
	var by, at sql.NullInt64
	if err := row.Scan(&l.ID, &l.OrgID, &l.AccountID, &from, &to, &l.Days, &l.Reason, &l.Status, &by, &at, &created); err != nil {
		return nil, err
	}
	l.From, l.To, l.CreatedAt = time.UnixMicro(from).UTC(), time.UnixMicro(to).UTC(), time.UnixMicro(created).UTC()
	l.DecidedBy, l.DecidedAt = by.Int64, fromMicros(at)
	return &l, nil
}

const leaveColumns = `id, org_id, account_id, from_day, to_day, days, reason, status, decided_by, decided_at, created_at`

// Leave returns one leave request.
func (db *DB) Leave(ctx context.Context, id int64) (*dialtone.LeaveRequest, error) {
	l, err := scanLeave(db.read.QueryRowContext(ctx, `SELECT `+leaveColumns+` FROM leave_requests WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("leave %d: %w", id, dialtone.ErrNotFound)
	}
	return l, err
}

// DecideLeave approves (within the allowance) or rejects a pending request.
func (db *DB) DecideLeave(ctx context.Context, id int64, approve bool, by int64, at time.Time) (*dialtone.LeaveRequest, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("decide leave: %w", err)
	}
	defer tx.Rollback()
	l, err := scanLeave(tx.QueryRowContext(ctx, `SELECT `+leaveColumns+` FROM leave_requests WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
		start, end := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(year+1, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := tx.QueryRowContext(ctx, `SELECT leave_days, (SELECT coalesce(sum(days), 0) FROM leave_requests
			WHERE org_id = ? AND account_id = ? AND status = 'approved' AND from_day >= ? AND from_day < ?)
			FROM org_members WHERE org_id = ? AND account_id = ?`, l.OrgID, l.AccountID, start.UnixMicro(), end.UnixMicro(), l.OrgID, l.AccountID).
			Scan(&allowance, &taken); err != nil {
			return nil, fmt.Errorf("decide leave: %w", err)
		}
		if taken+l.Days > allowance {
			return nil, fmt.Errorf("leave %d: %w: %d of %d days taken in %d, %d more asked", id, dialtone.ErrInsufficientFunds, taken, allowance, year, l.Days)
		}
		l.Status = dialtone.Approved
	}
	l.DecidedBy, l.DecidedAt = by, at
	if _, err := tx.ExecContext(ctx, `UPDATE leave_requests SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?`, l.Status, by, at.UnixMicro(), id); err != nil {
		return nil, fmt.Errorf("decide leave: %w", err)
	}
	return l, tx.Commit()
}

// LeaveTaken counts approved days starting in a year.
func (db *DB) LeaveTaken(ctx context.Context, orgID, accountID int64, year int) (int, error) {
	start, end := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(year+1, 1, 1, 0, 0, 0, 0, time.UTC)
	var n int
	err := db.read.QueryRowContext(ctx, `SELECT coalesce(sum(days), 0) FROM leave_requests WHERE org_id = ? AND account_id = ? AND status = 'approved'
		AND from_day >= ? AND from_day < ?`, orgID, accountID, start.UnixMicro(), end.UnixMicro()).Scan(&n)
	return n, err
}

const expenseColumns = `id, org_id, account_id, amount, currency, category, receipt, note, status, decided_by, decided_at, created_at`

func scanExpense(row scanner) (*dialtone.Expense, error) {
	var e dialtone.Expense
	var amount, created int64
	var by, at sql.NullInt64
	if err := row.Scan(&e.ID, &e.OrgID, &e.AccountID, &amount, &e.Currency, &e.Category, &e.Receipt, &e.Note, &e.Status, &by, &at, &created); err != nil {
		return nil, err
	}
	e.Amount, e.CreatedAt, e.DecidedBy, e.DecidedAt = dialtone.FromMicros(amount), time.UnixMicro(created).UTC(), by.Int64, fromMicros(at)
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
	res, err := db.write.ExecContext(ctx, `INSERT INTO expenses (org_id, account_id, amount, currency, category, receipt, note, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.OrgID, e.AccountID, amount, e.Currency, e.Category, e.Receipt, e.Note, e.Status, e.CreatedAt.UnixMicro())
	if err != nil {
		return fmt.Errorf("create expense: %w", err)
	}
	e.ID, _ = res.LastInsertId()
	return nil
}

// Expense returns one claim.
func (db *DB) Expense(ctx context.Context, id int64) (*dialtone.Expense, error) {
	e, err := scanExpense(db.read.QueryRowContext(ctx, `SELECT `+expenseColumns+` FROM expenses WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("expense %d: %w", id, dialtone.ErrNotFound)
	}
	return e, err
}

// changeExpense moves a claim from one status to another in tx.
func changeExpense(ctx context.Context, tx *sql.Tx, id int64, from, to string, by int64, at time.Time) (*dialtone.Expense, error) {
	e, err := scanExpense(tx.QueryRowContext(ctx, `SELECT `+expenseColumns+` FROM expenses WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
		_, err = tx.ExecContext(ctx, `UPDATE expenses SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?`, to, by, at.UnixMicro(), id)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE expenses SET status = ? WHERE id = ?`, to, id)
	}
	if err != nil {
		return nil, fmt.Errorf("expense %d: %w", id, err)
	}
	return e, nil
}

// DecideExpense approves or rejects a pending claim.
func (db *DB) DecideExpense(ctx context.Context, id int64, approve bool, by int64, at time.Time) (*dialtone.Expense, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("decide expense: %w", err)
	}
	defer tx.Rollback()
	to := dialtone.Rejected
	if approve {
		to = dialtone.Approved
	}
	e, err := changeExpense(ctx, tx, id, dialtone.Pending, to, by, at)
	if err != nil {
		return nil, err
	}
	return e, tx.Commit()
}

// ReimburseExpense pays an approved claim and marks it reimbursed.
func (db *DB) ReimburseExpense(ctx context.Context, id int64, pay *dialtone.Movement) (*dialtone.Expense, error) {
	if err := pay.Validate(); err != nil {
		return nil, fmt.Errorf("reimburse expense %d: %w", id, err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("reimburse expense %d: %w", id, err)
	}
	defer tx.Rollback()
	e, err := changeExpense(ctx, tx, id, dialtone.Approved, dialtone.Reimbursed, 0, time.Time{})
	if err != nil {
		return nil, err
	}
	if _, err := db.post(ctx, tx, pay); err != nil {
		return nil, fmt.Errorf("reimburse expense %d: %w", id, err)
	}
	return e, tx.Commit()
}

// Expenses lists claims, newest first.
func (db *DB) Expenses(ctx context.Context, orgID, accountID, before int64, limit int) ([]dialtone.Expense, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+expenseColumns+` FROM expenses WHERE org_id = ? AND (? = 0 OR account_id = ?) AND id < ?
		ORDER BY id DESC LIMIT ?`, orgID, accountID, accountID, before, limit)
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
	_, err := db.write.ExecContext(ctx, `INSERT INTO shifts (org_id, account_id, day, clock_in) VALUES (?, ?, ?, ?)`,
		orgID, accountID, at.UTC().Format(time.DateOnly), at.UnixMicro())
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
	res, err := db.write.ExecContext(ctx, `UPDATE shifts SET clock_out = ? WHERE org_id = ? AND account_id = ? AND day = ? AND clock_out IS NULL`,
		at.UnixMicro(), orgID, accountID, at.UTC().Format(time.DateOnly))
	if err != nil {
		return fmt.Errorf("clock out: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("clock out: %w: not clocked in today", dialtone.ErrConflict)
	}
	return nil
}

// Attendance lists a day's shifts.
func (db *DB) Attendance(ctx context.Context, orgID int64, day string) ([]dialtone.Shift, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT account_id, clock_in, clock_out FROM shifts WHERE org_id = ? AND day = ? ORDER BY account_id`, orgID, day)
	if err != nil {
		return nil, fmt.Errorf("attendance: %w", err)
	}
	defer rows.Close()
	var out []dialtone.Shift
	for rows.Next() {
		s := dialtone.Shift{OrgID: orgID, Day: day}
		var in int64
		var out2 sql.NullInt64
		if err := rows.Scan(&s.AccountID, &in, &out2); err != nil {
			return nil, fmt.Errorf("attendance: %w", err)
		}
		s.In, s.Out = time.UnixMicro(in).UTC(), fromMicros(out2)
		out = append(out, s)
	}
	return out, rows.Err()
}

// CompanyPayer finds the first organization that pays accountID's calls.
func (db *DB) CompanyPayer(ctx context.Context, accountID int64) (dialtone.Member, bool, error) {
	m := dialtone.Member{AccountID: accountID}
	var role string
	var cap int64
	err := db.read.QueryRowContext(ctx, `SELECT org_id, role, leave_days, call_cap FROM org_members WHERE account_id = ? AND call_cap > 0
		ORDER BY org_id LIMIT 1`, accountID).Scan(&m.OrgID, &role, &m.LeaveDays, &cap)
	if errors.Is(err, sql.ErrNoRows) {
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
	var spent, held int64
	err := db.read.QueryRowContext(ctx, `SELECT
		(SELECT coalesce(sum(price), 0) FROM cdrs WHERE paid_by = ? AND account_id = ? AND end_at >= ?),
		(SELECT coalesce(sum(reserved), 0) FROM call_sessions WHERE payer = ? AND account_id = ? AND settled = 0)`,
		payer, accountID, since.UnixMicro(), payer, accountID).Scan(&spent, &held)
	if err != nil {
		return decimal.Zero, fmt.Errorf("company spent on %d: %w", accountID, err)
	}
	return dialtone.FromMicros(spent + held), nil
}
