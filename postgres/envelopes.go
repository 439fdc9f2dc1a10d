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

// CreateEnvelope funds and stores a red envelope (see dialtone.EnvelopeStore).
func (db *DB) CreateEnvelope(ctx context.Context, e *dialtone.Envelope, shares []decimal.Decimal, fund *dialtone.Movement) (bool, error) {
	if err := fund.Validate(); err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	total, err := dialtone.ToMicros(e.Total)
	if err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	amounts := make([]int64, len(shares))
	ns := make([]int32, len(shares))
	for i, s := range shares {
		if amounts[i], err = dialtone.ToMicros(s); err != nil {
			return false, fmt.Errorf("create envelope: %w", err)
		}
		ns[i] = int32(i + 1)
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	defer tx.Rollback(ctx)
	replayed, err := db.post(ctx, tx, fund)
	if err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	if replayed {
		if err := tx.QueryRow(ctx, `SELECT id FROM envelopes WHERE fund_key = $1`, fund.Key).Scan(&e.ID); err != nil {
			return false, fmt.Errorf("create envelope: %w: key %s paid for something else", dialtone.ErrConflict, fund.Key)
		}
		return true, nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO envelopes (id, sender_id, currency, total, count, mode, memo, created_at, expires_at, fund_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, e.ID, e.SenderID, e.Currency, total, e.Count, e.Mode, e.Memo,
		e.CreatedAt.UTC(), e.ExpiresAt.UTC(), fund.Key); err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO envelope_recipients (envelope_id, account_id) SELECT $1, unnest($2::bigint[])`, e.ID, e.Recipients); err != nil {
		return false, fmt.Errorf("create envelope: recipients: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO envelope_shares (envelope_id, n, amount) SELECT $1, unnest($2::int[]), unnest($3::bigint[])`, e.ID, ns, amounts); err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("create envelope: %w", err)
	}
	return false, nil
}

// GrabEnvelope takes the next share for accountID. Grabs hold the envelope
// FOR SHARE, so they run side by side but never beside its refund; each
// takes a share row FOR UPDATE SKIP LOCKED.
func (db *DB) GrabEnvelope(ctx context.Context, id string, accountID int64, at time.Time) (*dialtone.Grab, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	defer tx.Rollback(ctx)
	var expires time.Time
	var refunded *time.Time
	var currency string
	var recipient, grabbed bool
	err = tx.QueryRow(ctx, `SELECT currency, expires_at, refunded_at,
		EXISTS (SELECT 1 FROM envelope_recipients WHERE envelope_id = $1 AND account_id = $2),
		EXISTS (SELECT 1 FROM envelope_shares WHERE envelope_id = $1 AND account_id = $2)
		FROM envelopes WHERE id = $1 FOR SHARE`, id, accountID).Scan(&currency, &expires, &refunded, &recipient, &grabbed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("grab %s: %w", id, dialtone.ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("grab %s: %w", id, err)
	case !recipient:
		return nil, fmt.Errorf("grab %s: %w: not a recipient", id, dialtone.ErrForbidden)
	case grabbed:
		return nil, fmt.Errorf("grab %s: %w: grabbed already", id, dialtone.ErrConflict)
	case refunded != nil || !at.Before(expires):
		return nil, fmt.Errorf("grab %s: %w: expired", id, dialtone.ErrExhausted)
	}
	g := dialtone.Grab{EnvelopeID: id, AccountID: accountID, At: at}
	var amount int64
	err = tx.QueryRow(ctx, `SELECT n, amount FROM envelope_shares WHERE envelope_id = $1 AND account_id IS NULL
		ORDER BY n LIMIT 1 FOR UPDATE SKIP LOCKED`, id).Scan(&g.N, &amount)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("grab %s: %w: every share is taken", id, dialtone.ErrExhausted)
	}
	if err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	g.Amount = dialtone.FromMicros(amount)
	if _, err := tx.Exec(ctx, `UPDATE envelope_shares SET account_id = $1, grabbed_at = $2 WHERE envelope_id = $3 AND n = $4`,
		accountID, at.UTC(), id, g.N); err != nil {
		if isUnique(err) { // the same account grabbing twice at once
			return nil, fmt.Errorf("grab %s: %w: grabbed already", id, dialtone.ErrConflict)
		}
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
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("grab %s: %w", id, err)
	}
	return &g, nil
}

// Envelope returns an envelope and its shares.
func (db *DB) Envelope(ctx context.Context, id string) (*dialtone.Envelope, []dialtone.Grab, error) {
	e := dialtone.Envelope{ID: id}
	var total, refundedAmt int64
	var refunded *time.Time
	err := db.pool.QueryRow(ctx, `SELECT sender_id, currency, total, count, mode, memo, created_at, expires_at, refunded_at, refunded,
		ARRAY(SELECT account_id FROM envelope_recipients WHERE envelope_id = $1 ORDER BY account_id)
		FROM envelopes WHERE id = $1`, id).Scan(&e.SenderID, &e.Currency, &total, &e.Count, &e.Mode, &e.Memo, &e.CreatedAt, &e.ExpiresAt,
		&refunded, &refundedAmt, &e.Recipients)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, fmt.Errorf("envelope %s: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("envelope %s: %w", id, err)
	}
	e.Total, e.Refunded = dialtone.FromMicros(total), dialtone.FromMicros(refundedAmt)
	e.CreatedAt, e.ExpiresAt, e.RefundedAt = e.CreatedAt.UTC(), e.ExpiresAt.UTC(), fromTS(refunded)
	rows, err := db.pool.Query(ctx, `SELECT n, amount, account_id, grabbed_at FROM envelope_shares WHERE envelope_id = $1 ORDER BY n`, id)
	if err != nil {
		return nil, nil, fmt.Errorf("envelope %s: %w", id, err)
	}
	defer rows.Close()
	var gs []dialtone.Grab
	for rows.Next() {
		g := dialtone.Grab{EnvelopeID: id}
		var amount int64
		var acct *int64
		var at *time.Time
		if err := rows.Scan(&g.N, &amount, &acct, &at); err != nil {
			return nil, nil, fmt.Errorf("envelope %s: %w", id, err)
		}
		g.Amount, g.At = dialtone.FromMicros(amount), fromTS(at)
		if acct != nil {
			g.AccountID = *acct
		}
		gs = append(gs, g)
	}
	return &e, gs, rows.Err()
}

// ExpireEnvelopes refunds what is left of expired envelopes, once each: the
// refund locks the envelope FOR UPDATE and checks it again.
func (db *DB) ExpireEnvelopes(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT id FROM envelopes WHERE refunded_at IS NULL AND expires_at <= $1 ORDER BY expires_at`, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("expire envelopes: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("expire envelopes: %w", err)
	}
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
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("refund envelope %s: %w", id, err)
	}
	defer tx.Rollback(ctx)
	var sender, left int64
	var currency string
	var refunded *time.Time
	if err := tx.QueryRow(ctx, `SELECT sender_id, currency, refunded_at FROM envelopes WHERE id = $1 FOR UPDATE`, id).Scan(&sender, &currency, &refunded); err != nil {
		return false, fmt.Errorf("refund envelope %s: %w", id, err)
	}
	if refunded != nil {
		return false, nil // another run got here first
	}
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0)::bigint FROM envelope_shares WHERE envelope_id = $1 AND account_id IS NULL`, id).Scan(&left); err != nil {
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
	if _, err := tx.Exec(ctx, `UPDATE envelopes SET refunded_at = $1, refunded = $2 WHERE id = $3`, now.UTC(), left, id); err != nil {
		return false, fmt.Errorf("refund envelope %s: %w", id, err)
	}
	return true, tx.Commit(ctx)
}
