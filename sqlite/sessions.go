package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/dialtone/dialtone"
)

// OpenSession records a new call session.
func (db *DB) OpenSession(ctx context.Context, s *dialtone.CallSession) error {
	state, err := dialtone.EncodeSessionState(s)
	if err != nil {
		return fmt.Errorf("open session %s: %w", s.ID, err)
	}
	_, err = db.write.ExecContext(ctx, `INSERT INTO call_sessions (id, node, account_id, currency, state, payer) VALUES (?, ?, ?, ?, ?, ?)`,
		s.ID, s.Node, s.AccountID, s.Currency, state, s.PayerAccount())
	if isUnique(err) {
		return fmt.Errorf("open session %s: %w", s.ID, dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("open session %s: %w", s.ID, err)
	}
	return nil
}

// Reserve extends a session's credit (see dialtone.SessionStore).
func (db *DB) Reserve(ctx context.Context, r dialtone.Reservation) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("reserve %s: %w", r.SessionID, err)
	}
	defer tx.Rollback()
	s, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM call_sessions WHERE id = ?`, r.SessionID))
	if err != nil {
		return fmt.Errorf("reserve %s: %w", r.SessionID, notFound(err))
	}
	next, m, err := dialtone.ApplyReservation(s, r)
	if err != nil {
		return err
	}
	if next == nil { // this reservation was applied already
		return nil
	}
	if m != nil {
		if _, err := db.post(ctx, tx, m); err != nil {
			return fmt.Errorf("reserve %s: %w", r.SessionID, err)
		}
	}
	for _, t := range r.Takes {
		res, err := tx.ExecContext(ctx, `UPDATE holdings SET seconds_left = seconds_left - ? WHERE id = ? AND account_id = ? AND seconds_left >= ?`,
			t.Seconds, t.HoldingID, s.AccountID, t.Seconds)
		if err != nil {
			return fmt.Errorf("reserve %s: %w", r.SessionID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("reserve %s: %w: bundle %d has less than %d s left", r.SessionID, dialtone.ErrInsufficientFunds, t.HoldingID, t.Seconds)
		}
	}
	if err := db.saveSession(ctx, tx, next); err != nil {
		return fmt.Errorf("reserve %s: %w", r.SessionID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("reserve %s: %w", r.SessionID, err)
	}
	return nil
}

// Confirm records that the call was up at at.
func (db *DB) Confirm(ctx context.Context, id string, at time.Time, cdr *dialtone.CDR) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("confirm %s: %w", id, err)
	}
	defer tx.Rollback()
	s, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM call_sessions WHERE id = ?`, id))
	if err != nil {
		return fmt.Errorf("confirm %s: %w", id, notFound(err))
	}
	if s.Settled {
		return fmt.Errorf("confirm %s: %w: settled already", id, dialtone.ErrConflict)
	}
	if at.After(s.ConfirmedAt) {
		s.ConfirmedAt = at
	}
	if cdr != nil {
		s.CDR = *cdr
	}
	if err := db.saveSession(ctx, tx, s); err != nil {
		return fmt.Errorf("confirm %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("confirm %s: %w", id, err)
	}
	return nil
}

// Settle charges a finished call, returns what it did not use and writes its CDR.
func (db *DB) Settle(ctx context.Context, st dialtone.Settlement, cdr *dialtone.CDR) error {
	args, err := cdrArgs(cdr)
	if err != nil {
		return fmt.Errorf("settle %s: %w", st.SessionID, err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("settle %s: %w", st.SessionID, err)
	}
	defer tx.Rollback()
	s, err := scanSession(tx.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM call_sessions WHERE id = ?`, st.SessionID))
	if err != nil {
		return fmt.Errorf("settle %s: %w", st.SessionID, notFound(err))
	}
	m, returns, err := dialtone.PlanSettlement(s, st)
	if err != nil {
		return err
	}
	if m != nil {
		if _, err := db.post(ctx, tx, m); err != nil {
			return fmt.Errorf("settle %s: %w", st.SessionID, err)
		}
	}
	for _, t := range returns {
		if _, err := tx.ExecContext(ctx, `UPDATE holdings SET seconds_left = seconds_left + ? WHERE id = ?`, t.Seconds, t.HoldingID); err != nil {
			return fmt.Errorf("settle %s: %w", st.SessionID, err)
		}
	}
	s.Settled = true
	if err := db.saveSession(ctx, tx, s); err != nil {
		return fmt.Errorf("settle %s: %w", st.SessionID, err)
	}
	if _, err := tx.ExecContext(ctx, insertCDRSQL, args...); err != nil {
		if isUnique(err) {
			err = dialtone.ErrConflict
		}
		return fmt.Errorf("settle %s: cdr: %w", st.SessionID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("settle %s: %w", st.SessionID, err)
	}
	return nil
}

// OpenSessions lists the sessions of node that were never settled.
func (db *DB) OpenSessions(ctx context.Context, node string) ([]*dialtone.CallSession, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+sessionColumns+` FROM call_sessions WHERE node = ? AND settled = 0 ORDER BY id`, node)
	if err != nil {
		return nil, fmt.Errorf("open sessions: %w", err)
	}
	defer rows.Close()
	var out []*dialtone.CallSession
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("open sessions: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

const sessionColumns = `id, node, account_id, currency, payer, state, answer_at, confirmed_at, covered, reserved, takes, seq, settled`

func scanSession(row scanner) (*dialtone.CallSession, error) {
	var s dialtone.CallSession
	var state, takes string
	var answer, confirmed sql.NullInt64
	var reserved int64
	if err := row.Scan(&s.ID, &s.Node, &s.AccountID, &s.Currency, &s.Payer, &state, &answer, &confirmed, &s.Covered, &reserved, &takes, &s.Seq, &s.Settled); err != nil {
		return nil, err
	}
	if err := dialtone.DecodeSessionState(&s, state, takes); err != nil {
		return nil, err
	}
	s.AnswerAt, s.ConfirmedAt = fromMicros(answer), fromMicros(confirmed)
	s.ReservedMoney = dialtone.FromMicros(reserved)
	return &s, nil
}

func (db *DB) saveSession(ctx context.Context, tx *sql.Tx, s *dialtone.CallSession) error {
	state, err := dialtone.EncodeSessionState(s)
	if err != nil {
		return err
	}
	takes, err := dialtone.EncodeTakes(s.Takes)
	if err != nil {
		return err
	}
	reserved, err := dialtone.ToMicros(s.ReservedMoney)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE call_sessions SET state = ?, answer_at = ?, confirmed_at = ?, covered = ?, reserved = ?, takes = ?, seq = ?, settled = ?
		WHERE id = ?`, state, micros(s.AnswerAt), micros(s.ConfirmedAt), s.Covered, reserved, takes, s.Seq, s.Settled, s.ID)
	return err
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return dialtone.ErrNotFound
	}
	return err
}
