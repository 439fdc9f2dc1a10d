package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// CreateEnvelope funds and stores a red envelope (see dialtone.EnvelopeStore).
func (s *Store) CreateEnvelope(ctx context.Context, e *dialtone.Envelope, shares []decimal.Decimal, fund *dialtone.Movement) (bool, error) {
	if err := fund.Validate(); err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	total, err := dialtone.ToMicros(e.Total)
	if err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	amounts := make([]int64, len(shares))
	for i, sh := range shares {
		if amounts[i], err = dialtone.ToMicros(sh); err != nil {
			return false, fmt.Errorf("create envelope: %w", err)
		}
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	defer tx.Rollback()
	replayed, err := s.post(ctx, tx, fund)
	if err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	if replayed {
		if err := tx.QueryRow(ctx, `SELECT id FROM envelopes WHERE fund_key = ?`, fund.Key).Scan(&e.ID); err != nil {
			return false, fmt.Errorf("create envelope: %w: key %s paid for something else", dialtone.ErrConflict, fund.Key)
		}
		return true, nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO envelopes (id, sender_id, currency, total, count, mode, memo, created_at, expires_at, fund_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.SenderID, e.Currency, total, e.Count, e.Mode, e.Memo,
		s.d.T(e.CreatedAt), s.d.T(e.ExpiresAt), fund.Key); err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	for _, r := range e.Recipients {
		if _, err := tx.Exec(ctx, `INSERT INTO envelope_recipients (envelope_id, account_id) VALUES (?, ?)`, e.ID, r); err != nil {
			return false, fmt.Errorf("create envelope: recipient %d: %w", r, err)
		}
	}
	for i, m := range amounts {
		if _, err := tx.Exec(ctx, `INSERT INTO envelope_shares (envelope_id, n, amount) VALUES (?, ?, ?)`, e.ID, i+1, m); err != nil {
			return false, fmt.Errorf("create envelope: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	return false, nil
}

// GrabEnvelope takes the next share for accountID. Grabs of one envelope
// run one at a time: each first locks the envelope row (on SQLite the one
// writer serializes them), then reads the state in a statement of its own,
// so it sees the grabs committed before it. An account's second grab is
// then always ErrConflict and a free share is never hidden from others.
func (s *Store) GrabEnvelope(ctx context.Context, id string, accountID int64, at time.Time) (*dialtone.Grab, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	defer tx.Rollback()
	if s.d.ForUpdate != "" {
		var locked string
		if err := tx.QueryRow(ctx, `SELECT id FROM envelopes WHERE id = ?`+s.d.ForUpdate, id).Scan(&locked); err != nil {
			return nil, fmt.Errorf("grab %s: %w", id, notFound(err))
		}
	}
	var currency string
	var refunded time.Time
	var gs dialtone.GrabState
	err = tx.QueryRow(ctx, `SELECT currency, expires_at, refunded_at,
		EXISTS (SELECT 1 FROM envelope_recipients WHERE envelope_id = ? AND account_id = ?),
		EXISTS (SELECT 1 FROM envelope_shares WHERE envelope_id = ? AND account_id = ?)
		FROM envelopes WHERE id = ?`, id, accountID, id, accountID, id).
		Scan(&currency, st(&gs.ExpiresAt), st(&refunded), &gs.Recipient, &gs.Grabbed)
	if err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, notFound(err))
	}
	gs.Refunded = !refunded.IsZero()
	if err := dialtone.CheckGrab(id, gs, at); err != nil {
		return nil, err
	}
	g := dialtone.Grab{EnvelopeID: id, AccountID: accountID, At: at}
	var amount int64
	err = tx.QueryRow(ctx, `SELECT n, amount FROM envelope_shares WHERE envelope_id = ? AND account_id IS NULL
		ORDER BY n LIMIT 1`, id).Scan(&g.N, &amount)
	if errors.Is(err, errNoRows) {
		return nil, fmt.Errorf("grab %s: %w: every share is taken", id, dialtone.ErrExhausted)
	}
	if err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	g.Amount = dialtone.FromMicros(amount)
	if _, err := tx.Exec(ctx, `UPDATE envelope_shares SET account_id = ?, grabbed_at = ? WHERE envelope_id = ? AND n = ?`,
		accountID, s.d.T(at), id, g.N); err != nil {
		if s.d.IsUnique(err) { // the same account grabbing twice at once
			return nil, fmt.Errorf("grab %s: %w: grabbed already", id, dialtone.ErrConflict)
		}
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	pay, err := dialtone.GrabMovement(id, g.N, currency, accountID, g.Amount)
	if err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	if _, err := s.post(ctx, tx, pay); err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	return &g, nil
}

// Envelope returns an envelope and its shares.
func (s *Store) Envelope(ctx context.Context, id string) (*dialtone.Envelope, []dialtone.Grab, error) {
	e := dialtone.Envelope{ID: id}
	var total, refundedAmt int64
	err := s.r().QueryRow(ctx, `SELECT sender_id, currency, total, count, mode, memo, created_at, expires_at, refunded_at, refunded
		FROM envelopes WHERE id = ?`, id).Scan(&e.SenderID, &e.Currency, &total, &e.Count, &e.Mode, &e.Memo,
		st(&e.CreatedAt), st(&e.ExpiresAt), st(&e.RefundedAt), &refundedAmt)
	if err != nil {
		return nil, nil, fmt.Errorf("envelope %s: %w", id, notFound(err))
	}
	e.Total, e.Refunded = dialtone.FromMicros(total), dialtone.FromMicros(refundedAmt)
	e.Recipients, err = collect[int64](s.r().Query(ctx, `SELECT account_id FROM envelope_recipients WHERE envelope_id = ? ORDER BY account_id`, id))
	if err != nil {
		return nil, nil, fmt.Errorf("envelope %s: %w", id, err)
	}
	rows, err := s.r().Query(ctx, `SELECT n, amount, account_id, grabbed_at FROM envelope_shares WHERE envelope_id = ? ORDER BY n`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("envelope %s: %w", id, err)
	}
	defer rows.Close()
	var gs []dialtone.Grab
	for rows.Next() {
		g := dialtone.Grab{EnvelopeID: id}
		var amount int64
		if err := rows.Scan(&g.N, &amount, nullInt{&g.AccountID}, st(&g.At)); err != nil {
			return nil, nil, fmt.Errorf("envelope %s: %w", id, err)
		}
		g.Amount = dialtone.FromMicros(amount)
		gs = append(gs, g)
	}
	return &e, gs, rows.Err()
}

// ExpireEnvelopes refunds what is left of expired envelopes, once each: the
// refund locks the envelope and checks it again.
func (s *Store) ExpireEnvelopes(ctx context.Context, now time.Time) ([]string, error) {
	ids, err := collect[string](s.r().Query(ctx, `SELECT id FROM envelopes WHERE refunded_at IS NULL AND expires_at <= ? ORDER BY expires_at`, s.d.Time(now)))
	if err != nil {
		return nil, fmt.Errorf("expire envelopes: %w", err)
	}
	var done []string
	for _, id := range ids {
		ok, err := s.refundEnvelope(ctx, id, now)
		if err != nil {
			return done, err
		}
		if ok {
			done = append(done, id)
		}
	}
	return done, nil
}

func (s *Store) refundEnvelope(ctx context.Context, id string, now time.Time) (bool, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return false, fmt.Errorf("refund envelope %s: %w", id, err)
	}
	defer tx.Rollback()
	var sender, left int64
	var currency string
	var refunded time.Time
	if err := tx.QueryRow(ctx, `SELECT sender_id, currency, refunded_at FROM envelopes WHERE id = ?`+s.d.ForUpdate, id).
		Scan(&sender, &currency, st(&refunded)); err != nil {
		return false, fmt.Errorf("refund envelope %s: %w", id, err)
	}
	if !refunded.IsZero() {
		return false, nil // another run got here first
	}
	if err := tx.QueryRow(ctx, `SELECT CAST(coalesce(sum(amount), 0) AS BIGINT) FROM envelope_shares WHERE envelope_id = ? AND account_id IS NULL`, id).
		Scan(&left); err != nil {
		return false, fmt.Errorf("refund envelope %s: %w", id, err)
	}
	if left > 0 {
		refund, err := dialtone.RefundMovement(id, currency, sender, dialtone.FromMicros(left))
		if err != nil {
			return false, fmt.Errorf("refund envelope %s: %w", id, err)
		}
		if _, err := s.post(ctx, tx, refund); err != nil {
			return false, fmt.Errorf("refund envelope %s: %w", id, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE envelopes SET refunded_at = ?, refunded = ? WHERE id = ?`, s.d.T(now), left, id); err != nil {
		return false, fmt.Errorf("refund envelope %s: %w", id, err)
	}
	return true, tx.Commit()
}
