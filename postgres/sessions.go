package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dialtone/dialtone"
)

// OpenSession records a new call session.
func (db *DB) OpenSession(ctx context.Context, s *dialtone.CallSession) error {
	state, err := dialtone.EncodeSessionState(s)
	if err != nil {
		return fmt.Errorf("open session %s: %w", s.ID, err)
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO call_sessions (id, node, account_id, currency, state, payer) VALUES ($1, $2, $3, $4, $5, $6)`,
		s.ID, s.Node, s.AccountID, s.Currency, state, s.PayerAccount())
	if isUnique(err) {
		return fmt.Errorf("open session %s: %w", s.ID, dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("open session %s: %w", s.ID, err)
	}
	return nil
}

// lockSession reads a session and locks it until tx ends.
func lockSession(ctx context.Context, tx pgx.Tx, id string) (*dialtone.CallSession, error) {
	s, err := scanSession(tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM call_sessions WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, dialtone.ErrNotFound
	}
	return s, err
}

// Reserve extends a session's credit (see dialtone.SessionStore).
func (db *DB) Reserve(ctx context.Context, r dialtone.Reservation) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("reserve %s: %w", r.SessionID, err)
	}
	defer tx.Rollback(ctx)
	s, err := lockSession(ctx, tx, r.SessionID)
	if err != nil {
		return fmt.Errorf("reserve %s: %w", r.SessionID, err)
	}
	next, m, err := dialtone.ApplyReservation(s, r)
	if err != nil || next == nil {
		return err
	}
	if m != nil {
		if _, err := db.post(ctx, tx, m); err != nil {
			return fmt.Errorf("reserve %s: %w", r.SessionID, err)
		}
	}
	for _, t := range r.Takes {
		tag, err := tx.Exec(ctx, `UPDATE holdings SET seconds_left = seconds_left - $1 WHERE id = $2 AND account_id = $3 AND seconds_left >= $1`,
			t.Seconds, t.HoldingID, s.AccountID)
		if err != nil {
			return fmt.Errorf("reserve %s: %w", r.SessionID, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("reserve %s: %w: bundle %d has less than %d s left", r.SessionID, dialtone.ErrInsufficientFunds, t.HoldingID, t.Seconds)
		}
	}
	if err := saveSession(ctx, tx, next); err != nil {
		return fmt.Errorf("reserve %s: %w", r.SessionID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("reserve %s: %w", r.SessionID, err)
	}
	return nil
}

// Confirm records that the call was up at at.
func (db *DB) Confirm(ctx context.Context, id string, at time.Time, cdr *dialtone.CDR) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("confirm %s: %w", id, err)
	}
	defer tx.Rollback(ctx)
	s, err := lockSession(ctx, tx, id)
	if err != nil {
		return fmt.Errorf("confirm %s: %w", id, err)
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
	if err := saveSession(ctx, tx, s); err != nil {
		return fmt.Errorf("confirm %s: %w", id, err)
	}
	if err := tx.Commit(ctx); err != nil {
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
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("settle %s: %w", st.SessionID, err)
	}
	defer tx.Rollback(ctx)
	s, err := lockSession(ctx, tx, st.SessionID)
	if err != nil {
		return fmt.Errorf("settle %s: %w", st.SessionID, err)
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
		if _, err := tx.Exec(ctx, `UPDATE holdings SET seconds_left = seconds_left + $1 WHERE id = $2`, t.Seconds, t.HoldingID); err != nil {
			return fmt.Errorf("settle %s: %w", st.SessionID, err)
		}
	}
	s.Settled = true
	if err := saveSession(ctx, tx, s); err != nil {
		return fmt.Errorf("settle %s: %w", st.SessionID, err)
	}
	if _, err := tx.Exec(ctx, insertCDRSQL, args...); err != nil {
		if isUnique(err) {
			err = dialtone.ErrConflict
		}
		return fmt.Errorf("settle %s: cdr: %w", st.SessionID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("settle %s: %w", st.SessionID, err)
	}
	return nil
}

// OpenSessions lists the sessions of node that were never settled.
func (db *DB) OpenSessions(ctx context.Context, node string) ([]*dialtone.CallSession, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sessionColumns+` FROM call_sessions WHERE node = $1 AND NOT settled ORDER BY id`, node)
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

func scanSession(row pgx.Row) (*dialtone.CallSession, error) {
	var s dialtone.CallSession
	var state, takes string
	var answer, confirmed *time.Time
	var reserved int64
	if err := row.Scan(&s.ID, &s.Node, &s.AccountID, &s.Currency, &s.Payer, &state, &answer, &confirmed, &s.Covered, &reserved, &takes, &s.Seq, &s.Settled); err != nil {
		return nil, err
	}
	if err := dialtone.DecodeSessionState(&s, state, takes); err != nil {
		return nil, err
	}
	s.AnswerAt, s.ConfirmedAt = fromTS(answer), fromTS(confirmed)
	s.ReservedMoney = dialtone.FromMicros(reserved)
	return &s, nil
}

func saveSession(ctx context.Context, tx pgx.Tx, s *dialtone.CallSession) error {
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
	_, err = tx.Exec(ctx, `UPDATE call_sessions SET state = $1, answer_at = $2, confirmed_at = $3, covered = $4, reserved = $5, takes = $6, seq = $7, settled = $8
		WHERE id = $9`, state, ts(s.AnswerAt), ts(s.ConfirmedAt), s.Covered, reserved, takes, s.Seq, s.Settled, s.ID)
	return err
}
