package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// CreateOrg stores an organization with its first admin.
func (s *Store) CreateOrg(ctx context.Context, o *dialtone.Org, admin int64) error {
	if o.CreatedAt.IsZero() {
		o.CreatedAt = s.now()
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("create org: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRow(ctx, `INSERT INTO orgs (name, currency, created_at) VALUES (?, ?, ?) RETURNING id`,
		o.Name, o.Currency, s.d.T(o.CreatedAt)).Scan(&o.ID); err != nil {
		return fmt.Errorf("create org: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO org_members (org_id, account_id, role) VALUES (?, ?, 'admin')`, o.ID, admin); err != nil {
		return fmt.Errorf("create org: %w", err)
	}
	return tx.Commit()
}

// Org returns one organization.
func (s *Store) Org(ctx context.Context, id int64) (*dialtone.Org, error) {
	o := dialtone.Org{ID: id}
	err := s.r().QueryRow(ctx, `SELECT name, currency, created_at FROM orgs WHERE id = ?`, id).Scan(&o.Name, &o.Currency, st(&o.CreatedAt))
	if err != nil {
		return nil, fmt.Errorf("org %d: %w", id, notFound(err))
	}
	return &o, nil
}

// SetMember adds or changes a member.
func (s *Store) SetMember(ctx context.Context, m dialtone.Member) error {
	cap, err := dialtone.ToMicros(m.CallCap)
	if err != nil {
		return fmt.Errorf("set member: %w", err)
	}
	_, err = s.w().Exec(ctx, `INSERT INTO org_members (org_id, account_id, role, leave_days, call_cap) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (org_id, account_id) DO UPDATE SET role = excluded.role, leave_days = excluded.leave_days, call_cap = excluded.call_cap`,
		m.OrgID, m.AccountID, string(m.Role), m.LeaveDays, cap)
	if err != nil {
		return fmt.Errorf("set member: %w", err)
	}
	return nil
}

// Member returns one membership.
func (s *Store) Member(ctx context.Context, orgID, accountID int64) (*dialtone.Member, error) {
	m := dialtone.Member{OrgID: orgID, AccountID: accountID}
	var role string
	var cap int64
	err := s.r().QueryRow(ctx, `SELECT role, leave_days, call_cap FROM org_members WHERE org_id = ? AND account_id = ?`, orgID, accountID).Scan(&role, &m.LeaveDays, &cap)
	if errors.Is(err, errNoRows) {
		return nil, fmt.Errorf("member %d of org %d: %w", accountID, orgID, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	m.Role, m.CallCap = dialtone.Role(role), dialtone.FromMicros(cap)
	return &m, nil
}

// Members lists an organization's members.
func (s *Store) Members(ctx context.Context, orgID int64) ([]dialtone.Member, error) {
	rows, err := s.r().Query(ctx, `SELECT account_id, role, leave_days, call_cap FROM org_members WHERE org_id = ? ORDER BY account_id`, orgID)
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
func (s *Store) CreateLeave(ctx context.Context, l *dialtone.LeaveRequest) error {
	if l.CreatedAt.IsZero() {
		l.CreatedAt = s.now()
	}
	l.Status = dialtone.Pending
	// From and To are dates, kept as midnight UTC on every engine.
	l.From, l.To = l.From.UTC().Truncate(24*time.Hour), l.To.UTC().Truncate(24*time.Hour)
	err := s.w().QueryRow(ctx, `INSERT INTO leave_requests (org_id, account_id, from_day, to_day, days, reason, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, l.OrgID, l.AccountID, s.d.Time(l.From), s.d.Time(l.To), l.Days, l.Reason, l.Status,
		s.d.T(l.CreatedAt)).Scan(&l.ID)
	if err != nil {
		return fmt.Errorf("create leave: %w", err)
	}
	return nil
}

const leaveColumns = `id, org_id, account_id, from_day, to_day, days, reason, status, decided_by, decided_at, created_at`

func scanLeave(row scanner) (*dialtone.LeaveRequest, error) {
	var l dialtone.LeaveRequest
	if err := row.Scan(&l.ID, &l.OrgID, &l.AccountID, st(&l.From), st(&l.To), &l.Days, &l.Reason, &l.Status,
		nullInt{&l.DecidedBy}, st(&l.DecidedAt), st(&l.CreatedAt)); err != nil {
		return nil, err
	}
	return &l, nil
}

// Leave returns one leave request.
func (s *Store) Leave(ctx context.Context, id int64) (*dialtone.LeaveRequest, error) {
	l, err := scanLeave(s.r().QueryRow(ctx, `SELECT `+leaveColumns+` FROM leave_requests WHERE id = ?`, id))
	if errors.Is(err, errNoRows) {
		return nil, fmt.Errorf("leave %d: %w", id, dialtone.ErrNotFound)
	}
	return l, err
}

// DecideLeave approves (within the allowance, see dialtone.DecideLeave) or
// rejects a pending request. The member's row is locked, so two approvals
// cannot both fit the same days.
func (s *Store) DecideLeave(ctx context.Context, id int64, approve bool, by int64, at time.Time) (*dialtone.LeaveRequest, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("decide leave: %w", err)
	}
	defer tx.Rollback()
	l, err := scanLeave(tx.QueryRow(ctx, `SELECT `+leaveColumns+` FROM leave_requests WHERE id = ?`+s.d.ForUpdate, id))
	if errors.Is(err, errNoRows) {
		return nil, fmt.Errorf("leave %d: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("decide leave: %w", err)
	}
	var allowance, taken int
	if approve && l.Status == dialtone.Pending {
		if err := tx.QueryRow(ctx, `SELECT leave_days FROM org_members WHERE org_id = ? AND account_id = ?`+s.d.ForUpdate, l.OrgID, l.AccountID).
			Scan(&allowance); err != nil {
			return nil, fmt.Errorf("decide leave: %w", err)
		}
		_, start, end := dialtone.LeaveYear(l.From)
		if taken, err = s.leaveTaken(ctx, tx.q, l.OrgID, l.AccountID, start, end); err != nil {
			return nil, fmt.Errorf("decide leave: %w", err)
		}
	}
	if err := dialtone.DecideLeave(l, approve, allowance, taken, by, at); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `UPDATE leave_requests SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?`, l.Status, by, s.d.T(at), id); err != nil {
		return nil, fmt.Errorf("decide leave: %w", err)
	}
	return l, tx.Commit()
}

func (s *Store) leaveTaken(ctx context.Context, q q, orgID, accountID int64, start, end time.Time) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT CAST(coalesce(sum(days), 0) AS INTEGER) FROM leave_requests WHERE org_id = ? AND account_id = ? AND status = 'approved'
		AND from_day >= ? AND from_day < ?`, orgID, accountID, s.d.Time(start), s.d.Time(end)).Scan(&n)
	return n, err
}

// LeaveTaken counts approved days starting in a year.
func (s *Store) LeaveTaken(ctx context.Context, orgID, accountID int64, year int) (int, error) {
	_, start, end := dialtone.LeaveYear(time.Date(year, 6, 1, 0, 0, 0, 0, time.UTC))
	return s.leaveTaken(ctx, s.r(), orgID, accountID, start, end)
}

const expenseColumns = `id, org_id, account_id, amount, currency, category, receipt, note, status, decided_by, decided_at, created_at`

func scanExpense(row scanner) (*dialtone.Expense, error) {
	var e dialtone.Expense
	var amount int64
	if err := row.Scan(&e.ID, &e.OrgID, &e.AccountID, &amount, &e.Currency, &e.Category, &e.Receipt, &e.Note, &e.Status,
		nullInt{&e.DecidedBy}, st(&e.DecidedAt), st(&e.CreatedAt)); err != nil {
		return nil, err
	}
	e.Amount = dialtone.FromMicros(amount)
	return &e, nil
}

// CreateExpense stores a submitted claim.
func (s *Store) CreateExpense(ctx context.Context, e *dialtone.Expense) error {
	amount, err := dialtone.ToMicros(e.Amount)
	if err != nil {
		return fmt.Errorf("create expense: %w", err)
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.now()
	}
	e.Status = dialtone.Pending
	err = s.w().QueryRow(ctx, `INSERT INTO expenses (org_id, account_id, amount, currency, category, receipt, note, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, e.OrgID, e.AccountID, amount, e.Currency, e.Category, e.Receipt, e.Note, e.Status,
		s.d.T(e.CreatedAt)).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("create expense: %w", err)
	}
	return nil
}

// Expense returns one claim.
func (s *Store) Expense(ctx context.Context, id int64) (*dialtone.Expense, error) {
	e, err := scanExpense(s.r().QueryRow(ctx, `SELECT `+expenseColumns+` FROM expenses WHERE id = ?`, id))
	if errors.Is(err, errNoRows) {
		return nil, fmt.Errorf("expense %d: %w", id, dialtone.ErrNotFound)
	}
	return e, err
}

// changeExpense moves a claim from one status to another in tx.
func (s *Store) changeExpense(ctx context.Context, tx tx, id int64, from, to string, by int64, at time.Time) (*dialtone.Expense, error) {
	e, err := scanExpense(tx.QueryRow(ctx, `SELECT `+expenseColumns+` FROM expenses WHERE id = ?`+s.d.ForUpdate, id))
	if err != nil {
		return nil, fmt.Errorf("expense %d: %w", id, notFound(err))
	}
	if err := dialtone.MoveExpense(e, from, to, by, at); err != nil {
		return nil, err
	}
	if by != 0 {
		_, err = tx.Exec(ctx, `UPDATE expenses SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?`, to, by, s.d.T(at), id)
	} else {
		_, err = tx.Exec(ctx, `UPDATE expenses SET status = ? WHERE id = ?`, to, id)
	}
	if err != nil {
		return nil, fmt.Errorf("expense %d: %w", id, err)
	}
	return e, nil
}

// DecideExpense approves or rejects a pending claim.
func (s *Store) DecideExpense(ctx context.Context, id int64, approve bool, by int64, at time.Time) (*dialtone.Expense, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("decide expense: %w", err)
	}
	defer tx.Rollback()
	to := dialtone.Rejected
	if approve {
		to = dialtone.Approved
	}
	e, err := s.changeExpense(ctx, tx, id, dialtone.Pending, to, by, at)
	if err != nil {
		return nil, err
	}
	return e, tx.Commit()
}

// ReimburseExpense pays an approved claim and marks it reimbursed.
func (s *Store) ReimburseExpense(ctx context.Context, id int64, pay *dialtone.Movement) (*dialtone.Expense, error) {
	if err := pay.Validate(); err != nil {
		return nil, fmt.Errorf("reimburse expense %d: %w", id, err)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("reimburse expense %d: %w", id, err)
	}
	defer tx.Rollback()
	e, err := s.changeExpense(ctx, tx, id, dialtone.Approved, dialtone.Reimbursed, 0, time.Time{})
	if err != nil {
		return nil, err
	}
	if _, err := s.post(ctx, tx, pay); err != nil {
		return nil, fmt.Errorf("reimburse expense %d: %w", id, err)
	}
	return e, tx.Commit()
}

// Expenses lists claims, newest first.
func (s *Store) Expenses(ctx context.Context, orgID, accountID, before int64, limit int) ([]dialtone.Expense, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.r().Query(ctx, `SELECT `+expenseColumns+` FROM expenses WHERE org_id = ? AND (CAST(? AS BIGINT) = 0 OR account_id = ?) AND id < ?
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
func (s *Store) ClockIn(ctx context.Context, orgID, accountID int64, at time.Time) error {
	_, err := s.w().Exec(ctx, `INSERT INTO shifts (org_id, account_id, day, clock_in) VALUES (?, ?, ?, ?)`,
		orgID, accountID, at.UTC().Format(time.DateOnly), s.d.T(at))
	if s.d.IsUnique(err) {
		return fmt.Errorf("clock in: %w: already clocked in today", dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("clock in: %w", err)
	}
	return nil
}

// ClockOut closes the day's shift.
func (s *Store) ClockOut(ctx context.Context, orgID, accountID int64, at time.Time) error {
	res, err := s.w().Exec(ctx, `UPDATE shifts SET clock_out = ? WHERE org_id = ? AND account_id = ? AND day = ? AND clock_out IS NULL`,
		s.d.T(at), orgID, accountID, at.UTC().Format(time.DateOnly))
	if err != nil {
		return fmt.Errorf("clock out: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("clock out: %w: not clocked in today", dialtone.ErrConflict)
	}
	return nil
}

// Attendance lists a day's shifts.
func (s *Store) Attendance(ctx context.Context, orgID int64, day string) ([]dialtone.Shift, error) {
	rows, err := s.r().Query(ctx, `SELECT account_id, clock_in, clock_out FROM shifts WHERE org_id = ? AND day = ? ORDER BY account_id`, orgID, day)
	if err != nil {
		return nil, fmt.Errorf("attendance: %w", err)
	}
	defer rows.Close()
	var out []dialtone.Shift
	for rows.Next() {
		sh := dialtone.Shift{OrgID: orgID, Day: day}
		if err := rows.Scan(&sh.AccountID, st(&sh.In), st(&sh.Out)); err != nil {
			return nil, fmt.Errorf("attendance: %w", err)
		}
		out = append(out, sh)
	}
	return out, rows.Err()
}

// CompanyPayer finds the first organization that pays accountID's calls.
func (s *Store) CompanyPayer(ctx context.Context, accountID int64) (dialtone.Member, bool, error) {
	m := dialtone.Member{AccountID: accountID}
	var role string
	var cap int64
	err := s.r().QueryRow(ctx, `SELECT org_id, role, leave_days, call_cap FROM org_members WHERE account_id = ? AND call_cap > 0
		ORDER BY org_id LIMIT 1`, accountID).Scan(&m.OrgID, &role, &m.LeaveDays, &cap)
	if errors.Is(err, errNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("company payer of %d: %w", accountID, err)
	}
	m.Role, m.CallCap = dialtone.Role(role), dialtone.FromMicros(cap)
	return m, true, nil
}

// CompanySpent sums what an organization paid and holds for a member's calls since a time.
func (s *Store) CompanySpent(ctx context.Context, orgID, accountID int64, since time.Time) (decimal.Decimal, error) {
	return s.companySpent(ctx, s.r(), orgID, accountID, since)
}

func (s *Store) companySpent(ctx context.Context, q q, orgID, accountID int64, since time.Time) (decimal.Decimal, error) {
	payer := dialtone.OrgAccount(orgID)
	var spent, held int64
	err := q.QueryRow(ctx, `SELECT
		CAST((SELECT coalesce(sum(price), 0) FROM cdrs WHERE paid_by = ? AND account_id = ? AND end_at >= ?) AS BIGINT),
		CAST((SELECT coalesce(sum(reserved), 0) FROM call_sessions WHERE payer = ? AND account_id = ? AND `+s.d.Schema.IsFalse("settled")+`) AS BIGINT)`,
		payer, accountID, s.d.Time(since), payer, accountID).Scan(&spent, &held)
	if err != nil {
		return decimal.Zero, fmt.Errorf("company spent on %d: %w", accountID, err)
	}
	return dialtone.FromMicros(spent + held), nil
}

// checkCallCap fails with ErrInsufficientFunds when an organization paying
// more for a member's calls would pass the member's call cap: what it paid
// since a time and holds, plus more. The membership row stays locked until
// tx ends, so concurrent calls of the member are checked one after another.
func (s *Store) checkCallCap(ctx context.Context, tx tx, orgID, accountID int64, since time.Time, more decimal.Decimal) error {
	var cap int64
	err := tx.QueryRow(ctx, `SELECT call_cap FROM org_members WHERE org_id = ? AND account_id = ?`+s.d.ForUpdate, orgID, accountID).Scan(&cap)
	if errors.Is(err, errNoRows) {
		return fmt.Errorf("call cap of %d in org %d: %w: not a member", accountID, orgID, dialtone.ErrInsufficientFunds)
	}
	if err != nil {
		return fmt.Errorf("call cap of %d in org %d: %w", accountID, orgID, err)
	}
	spent, err := s.companySpent(ctx, tx.q, orgID, accountID, since)
	if err != nil {
		return err
	}
	if limit := dialtone.FromMicros(cap); spent.Add(more).GreaterThan(limit) {
		return fmt.Errorf("call cap of %d in org %d: %w: %s spent, %s more passes the cap of %s", accountID, orgID, dialtone.ErrInsufficientFunds, spent, more, limit)
	}
	return nil
}
