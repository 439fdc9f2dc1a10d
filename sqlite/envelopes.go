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

// CreateEnvelope funds and stores a red envelope (see dialtone.EnvelopeStore).
func (db *DB) CreateEnvelope(ctx context.Context, e *dialtone.Envelope, shares []decimal.Decimal, fund *dialtone.Movement) (bool, error) {
	if err := fund.Validate(); err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	defer tx.Rollback()
	replayed, err := db.post(ctx, tx, fund)
	if err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	if replayed {
		if err := tx.QueryRowContext(ctx, `SELECT id FROM envelopes WHERE fund_key = ?`, fund.Key).Scan(&e.ID); err != nil {
			return false, fmt.Errorf("create envelope: %w: key %s paid for something else", dialtone.ErrConflict, fund.Key)
		}
		return true, nil
	}
	total, err := dialtone.ToMicros(e.Total)
	if err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO envelopes (id, sender_id, currency, total, count, mode, memo, created_at, expires_at, fund_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ID, e.SenderID, e.Currency, total, e.Count, e.Mode, e.Memo,
		e.CreatedAt.UnixMicro(), e.ExpiresAt.UnixMicro(), fund.Key); err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	for _, r := range e.Recipients {
		if _, err := tx.ExecContext(ctx, `INSERT INTO envelope_recipients (envelope_id, account_id) VALUES (?, ?)`, e.ID, r); err != nil {
			return false, fmt.Errorf("create envelope: recipient %d: %w", r, err)
		}
	}
	for i, s := range shares {
		m, err := dialtone.ToMicros(s)
		if err != nil {
			return false, fmt.Errorf("create envelope: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO envelope_shares (envelope_id, n, amount) VALUES (?, ?, ?)`, e.ID, i+1, m); err != nil {
			return false, fmt.Errorf("create envelope: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	return false, nil
}

// GrabEnvelope takes the next share for accountID.
func (db *DB) GrabEnvelope(ctx context.Context, id string, accountID int64, at time.Time) (*dialtone.Grab, error) {
	tx, err := db.write.BeginTx(ctx, nil) // the one writer: grabs never overlap
	if err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	defer tx.Rollback()
	var expires int64
	var refunded sql.NullInt64
	var currency string
	err = tx.QueryRowContext(ctx, `SELECT currency, expires_at, refunded_at FROM envelopes WHERE id = ?`, id).Scan(&currency, &expires, &refunded)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("grab %s: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM envelope_recipients WHERE envelope_id = ? AND account_id = ?`, id, accountID).Scan(&n); err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("grab %s: %w: not a recipient", id, dialtone.ErrForbidden)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM envelope_shares WHERE envelope_id = ? AND account_id = ?`, id, accountID).Scan(&n); err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	if n > 0 {
		return nil, fmt.Errorf("grab %s: %w: grabbed already", id, dialtone.ErrConflict)
	}
	if refunded.Valid || at.UnixMicro() >= expires {
		return nil, fmt.Errorf("grab %s: %w: expired", id, dialtone.ErrExhausted)
	}
	g := dialtone.Grab{EnvelopeID: id, AccountID: accountID, At: at}
	var amount int64
	err = tx.QueryRowContext(ctx, `SELECT n, amount FROM envelope_shares WHERE envelope_id = ? AND account_id IS NULL ORDER BY n LIMIT 1`, id).Scan(&g.N, &amount)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("grab %s: %w: every share is taken", id, dialtone.ErrExhausted)
	}
	if err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	g.Amount = dialtone.FromMicros(amount)
	if _, err := tx.ExecContext(ctx, `UPDATE envelope_shares SET account_id = ?, grabbed_at = ? WHERE envelope_id = ? AND n = ?`,
		accountID, at.UnixMicro(), id, g.N); err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	m, err := dialtone.Transfer{Key: fmt.Sprintf("envelope:%s:share:%d", id, g.N), Kind: "envelope", Currency: currency, Memo: "red envelope " + id,
		From: dialtone.EnvelopeAccount(id), To: dialtone.WalletAccount(accountID), Amount: g.Amount}.Movement()
	if err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	if _, err := db.post(ctx, tx, m); err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	return &g, nil
}

// Envelope returns an envelope and its shares.
func (db *DB) Envelope(ctx context.Context, id string) (*dialtone.Envelope, []dialtone.Grab, error) {
	e := dialtone.Envelope{ID: id}
	var total, refundedAmt, created, expires int64
	var refunded sql.NullInt64
	err := db.read.QueryRowContext(ctx, `SELECT sender_id, currency, total, count, mode, memo, created_at, expires_at, refunded_at, refunded
		FROM envelopes WHERE id = ?`, id).Scan(&e.SenderID, &e.Currency, &total, &e.Count, &e.Mode, &e.Memo, &created, &expires, &refunded, &refundedAmt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("envelope %s: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("envelope %s: %w", id, err)
	}
	e.Total, e.Refunded = dialtone.FromMicros(total), dialtone.FromMicros(refundedAmt)
	e.CreatedAt, e.ExpiresAt, e.RefundedAt = time.UnixMicro(created).UTC(), time.UnixMicro(expires).UTC(), fromMicros(refunded)
	rows, err := db.read.QueryContext(ctx, `SELECT account_id FROM envelope_recipients WHERE envelope_id = ? ORDER BY account_id`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("envelope %s: %w", id, err)
	}
	for rows.Next() {
		var r int64
		if err := rows.Scan(&r); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("envelope %s: %w", id, err)
		}
		e.Recipients = append(e.Recipients, r)
	}
	rows.Close()
	rows, err = db.read.QueryContext(ctx, `SELECT n, amount, account_id, grabbed_at FROM envelope_shares WHERE envelope_id = ? ORDER BY n`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("envelope %s: %w", id, err)
	}
	defer rows.Close()
	var gs []dialtone.Grab
	for rows.Next() {
		g := dialtone.Grab{EnvelopeID: id}
		var amount int64
		var acct, at sql.NullInt64
		if err := rows.Scan(&g.N, &amount, &acct, &at); err != nil {
			return nil, nil, fmt.Errorf("envelope %s: %w", id, err)
		}
		g.Amount, g.AccountID, g.At = dialtone.FromMicros(amount), acct.Int64, fromMicros(at)
		gs = append(gs, g)
	}
	return &e, gs, rows.Err()
}

// ExpireEnvelopes refunds what is left of expired envelopes, once each.
func (db *DB) ExpireEnvelopes(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id FROM envelopes WHERE refunded_at IS NULL AND expires_at <= ? ORDER BY expires_at`, now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("expire envelopes: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("expire envelopes: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	var done []string
	for _, id := range ids {
		ok, err := db.refundEnvelope(ctx, id, now)
		if err != nil {
			return done, err
		}
		if ok {
			done = append(done, id)
		}
	}
	return done, nil
}

func (db *DB) refundEnvelope(ctx context.Context, id string, now time.Time) (bool, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("refund envelope %s: %w", id, err)
	}
	defer tx.Rollback()
	var sender int64
	var currency string
	var refunded sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT sender_id, currency, refunded_at FROM envelopes WHERE id = ?`, id).Scan(&sender, &currency, &refunded); err != nil {
		return false, fmt.Errorf("refund envelope %s: %w", id, err)
	}
	if refunded.Valid {
		return false, nil // another run got here first
	}
	var left int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(amount), 0) FROM envelope_shares WHERE envelope_id = ? AND account_id IS NULL`, id).Scan(&left); err != nil {
		return false, fmt.Errorf("refund envelope %s: %w", id, err)
	}
	if left > 0 {
		m, err := dialtone.Transfer{Key: "envelope:" + id + ":refund", Kind: "envelope-refund", Currency: currency, Memo: "unclaimed red envelope " + id,
			From: dialtone.EnvelopeAccount(id), To: dialtone.WalletAccount(sender), Amount: dialtone.FromMicros(left)}.Movement()
		if err != nil {
			return false, fmt.Errorf("refund envelope %s: %w", id, err)
		}
		if _, err := db.post(ctx, tx, m); err != nil {
			return false, fmt.Errorf("refund envelope %s: %w", id, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE envelopes SET refunded_at = ?, refunded = ? WHERE id = ?`, now.UnixMicro(), left, id); err != nil {
		return false, fmt.Errorf("refund envelope %s: %w", id, err)
	}
	return true, tx.Commit()
}
