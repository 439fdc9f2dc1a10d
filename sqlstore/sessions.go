package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// OpenSession records a new call session, with its first reservation when
// first is not nil (see dialtone.SessionStore).
func (s *Store) OpenSession(ctx context.Context, cs *dialtone.CallSession, first *dialtone.Reservation) error {
	state, err := dialtone.EncodeSessionState(cs)
	if err != nil {
		return fmt.Errorf("open session %s: %w", cs.ID, err)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("open session %s: %w", cs.ID, err)
	}
	defer tx.Rollback()
	_, err = tx.Exec(ctx, `INSERT INTO call_sessions (id, node, account_id, currency, state, payer) VALUES (?, ?, ?, ?, ?, ?)`,
		cs.ID, cs.Node, cs.AccountID, cs.Currency, state, cs.PayerAccount())
	if s.d.IsUnique(err) {
		return fmt.Errorf("open session %s: %w", cs.ID, dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("open session %s: %w", cs.ID, err)
	}
	next := cs
	if first != nil {
		if first.SessionID != cs.ID || first.Seq != 1 {
			return fmt.Errorf("open session %s: %w: the first reservation is %s/%d", cs.ID, dialtone.ErrInvalid, first.SessionID, first.Seq)
		}
		opened := *cs
		opened.Seq, opened.Covered, opened.ReservedMoney, opened.Takes, opened.Settled = 0, 0, decimal.Zero, nil, false
		if next, err = s.reserveTx(ctx, tx, &opened, *first); err != nil {
			return fmt.Errorf("open session %s: %w", cs.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("open session %s: %w", cs.ID, err)
	}
	*cs = *next
	return nil
}

// lockSession reads a session and locks it until tx ends.
func (s *Store) lockSession(ctx context.Context, tx tx, id string) (*dialtone.CallSession, error) {
	cs, err := s.scanSession(tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM call_sessions WHERE id = ?`+s.d.ForUpdate, id))
	return cs, notFound(err)
}

// Reserve extends a session's credit (see dialtone.SessionStore).
func (s *Store) Reserve(ctx context.Context, r dialtone.Reservation) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("reserve %s: %w", r.SessionID, err)
	}
	defer tx.Rollback()
	cs, err := s.lockSession(ctx, tx, r.SessionID)
	if err != nil {
		return fmt.Errorf("reserve %s: %w", r.SessionID, err)
	}
	next, err := s.reserveTx(ctx, tx, cs, r)
	if err != nil || next == nil { // next is nil when r was applied already
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("reserve %s: %w", r.SessionID, err)
	}
	return nil
}

// reserveTx applies r to cs (locked by tx): the hold, the bundle takes and
// the session's new state. It returns nil when r was applied already.
func (s *Store) reserveTx(ctx context.Context, tx tx, cs *dialtone.CallSession, r dialtone.Reservation) (*dialtone.CallSession, error) {
	next, m, err := dialtone.ApplyReservation(cs, r)
	if err != nil || next == nil {
		return nil, err
	}
	if org, ok := strings.CutPrefix(cs.PayerAccount(), "org:"); ok && !r.CapSince.IsZero() && r.Money.IsPositive() {
		orgID, err := strconv.ParseInt(org, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("reserve %s: payer %s: %w", r.SessionID, cs.PayerAccount(), dialtone.ErrInvalid)
		}
		if err := s.checkCallCap(ctx, tx, orgID, cs.AccountID, r.CapSince, r.Money); err != nil {
			return nil, fmt.Errorf("reserve %s: %w", r.SessionID, err)
		}
	}
	if m != nil {
		if _, err := s.post(ctx, tx, m); err != nil {
			return nil, fmt.Errorf("reserve %s: %w", r.SessionID, err)
		}
	}
	for _, t := range r.Takes {
		res, err := tx.Exec(ctx, `UPDATE holdings SET seconds_left = seconds_left - ? WHERE id = ? AND account_id = ? AND seconds_left >= ?`,
			t.Seconds, t.HoldingID, cs.AccountID, t.Seconds)
		if err != nil {
			return nil, fmt.Errorf("reserve %s: %w", r.SessionID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, fmt.Errorf("reserve %s: %w: bundle %d has less than %d s left", r.SessionID, dialtone.ErrInsufficientFunds, t.HoldingID, t.Seconds)
		}
	}
	if err := s.saveSession(ctx, tx, next); err != nil {
		return nil, fmt.Errorf("reserve %s: %w", r.SessionID, err)
	}
	return next, nil
}

// Confirm records that the call was up at at.
func (s *Store) Confirm(ctx context.Context, id string, at time.Time, cdr *dialtone.CDR) error {
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("confirm %s: %w", id, err)
	}
	defer tx.Rollback()
	cs, err := s.lockSession(ctx, tx, id)
	if err != nil {
		return fmt.Errorf("confirm %s: %w", id, err)
	}
	if err := dialtone.ApplyConfirm(cs, at, cdr); err != nil {
		return err
	}
	if err := s.saveSession(ctx, tx, cs); err != nil {
		return fmt.Errorf("confirm %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("confirm %s: %w", id, err)
	}
	return nil
}

// Settle charges a finished call, returns what it did not use and writes its CDR.
func (s *Store) Settle(ctx context.Context, stl dialtone.Settlement, cdr *dialtone.CDR) error {
	args, err := s.cdrArgs(cdr)
	if err != nil {
		return fmt.Errorf("settle %s: %w", stl.SessionID, err)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("settle %s: %w", stl.SessionID, err)
	}
	defer tx.Rollback()
	cs, err := s.lockSession(ctx, tx, stl.SessionID)
	if err != nil {
		return fmt.Errorf("settle %s: %w", stl.SessionID, err)
	}
	m, returns, err := dialtone.PlanSettlement(cs, stl)
	if err != nil {
		return err
	}
	if m != nil {
		if _, err := s.post(ctx, tx, m); err != nil {
			return fmt.Errorf("settle %s: %w", stl.SessionID, err)
		}
	}
	for _, t := range returns {
		if _, err := tx.Exec(ctx, `UPDATE holdings SET seconds_left = seconds_left + ? WHERE id = ?`, t.Seconds, t.HoldingID); err != nil {
			return fmt.Errorf("settle %s: %w", stl.SessionID, err)
		}
	}
	cs.Settled = true
	if err := s.saveSession(ctx, tx, cs); err != nil {
		return fmt.Errorf("settle %s: %w", stl.SessionID, err)
	}
	if _, err := tx.Exec(ctx, insertCDRSQL, args...); err != nil {
		if s.d.IsUnique(err) {
			err = dialtone.ErrConflict
		}
		return fmt.Errorf("settle %s: cdr: %w", stl.SessionID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("settle %s: %w", stl.SessionID, err)
	}
	return nil
}

// OpenSessions lists the unsettled sessions node settles: its own that no
// other node claimed, and those it claimed.
func (s *Store) OpenSessions(ctx context.Context, node string) ([]*dialtone.CallSession, error) {
	out, err := s.sessions(ctx, s.r(), `SELECT `+sessionColumns+` FROM call_sessions WHERE `+settledBy+` AND `+s.d.Schema.IsFalse("settled")+` ORDER BY id`, node, node)
	if err != nil {
		return nil, fmt.Errorf("open sessions: %w", err)
	}
	return out, nil
}

// settledBy selects the sessions a node (the two parameters) settles.
const settledBy = `(settler = ? OR (settler IS NULL AND node = ?))`

// sessions reads the sessions a query selects.
func (s *Store) sessions(ctx context.Context, on q, query string, args ...any) ([]*dialtone.CallSession, error) {
	rows, err := on.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*dialtone.CallSession
	for rows.Next() {
		cs, err := s.scanSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, cs)
	}
	return out, rows.Err()
}

const sessionColumns = `id, node, account_id, currency, payer, state, answer_at, confirmed_at, covered, reserved, takes, seq, settled, settler, lapsed_at`

func (s *Store) scanSession(row scanner) (*dialtone.CallSession, error) {
	var cs dialtone.CallSession
	var state, takes string
	var reserved int64
	var answer, confirmed, lapsed time.Time
	var settler sql.NullString
	if err := row.Scan(&cs.ID, &cs.Node, &cs.AccountID, &cs.Currency, &cs.Payer, &state, st(&answer), st(&confirmed),
		&cs.Covered, &reserved, &takes, &cs.Seq, &cs.Settled, &settler, st(&lapsed)); err != nil {
		return nil, err
	}
	if err := dialtone.DecodeSessionState(&cs, state, takes); err != nil {
		return nil, err
	}
	cs.AnswerAt, cs.ConfirmedAt, cs.LapsedAt, cs.Settler = answer, confirmed, lapsed, settler.String
	cs.ReservedMoney = dialtone.FromMicros(reserved)
	return &cs, nil
}

func (s *Store) saveSession(ctx context.Context, tx tx, cs *dialtone.CallSession) error {
	state, err := dialtone.EncodeSessionState(cs)
	if err != nil {
		return err
	}
	takes, err := dialtone.EncodeTakes(cs.Takes)
	if err != nil {
		return err
	}
	reserved, err := dialtone.ToMicros(cs.ReservedMoney)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE call_sessions SET state = ?, answer_at = ?, confirmed_at = ?, covered = ?, reserved = ?, takes = ?, seq = ?, settled = ?
		WHERE id = ?`, state, s.d.T(cs.AnswerAt), s.d.T(cs.ConfirmedAt), cs.Covered, reserved, takes, cs.Seq, cs.Settled, cs.ID)
	return err
}
