package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// Post applies a movement atomically (see dialtone.LedgerStore).
func (db *DB) Post(ctx context.Context, m *dialtone.Movement) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, fmt.Errorf("post: %w", err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("post %s: %w", m.Key, err)
	}
	defer tx.Rollback()
	replayed, err := db.post(ctx, tx, m)
	if err != nil || replayed {
		return replayed, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("post %s: %w", m.Key, err)
	}
	return false, nil
}

// post applies m inside tx. Postings are applied in account-name order.
func (db *DB) post(ctx context.Context, tx *sql.Tx, m *dialtone.Movement) (replayed bool, err error) {
	fp := m.Fingerprint()
	now := db.now()
	res, err := tx.ExecContext(ctx, `INSERT INTO ledger_movements (key, kind, currency, memo, fingerprint, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`, m.Key, m.Kind, m.Currency, m.Memo, fp, now.UnixMicro())
	if err != nil {
		return false, fmt.Errorf("post %s: %w", m.Key, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var stored string
		var id int64
		if err := tx.QueryRowContext(ctx, `SELECT id, fingerprint FROM ledger_movements WHERE key = ?`, m.Key).Scan(&id, &stored); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
		if stored != fp {
			return false, fmt.Errorf("post %s: %w: the idempotency key was used for a different movement", m.Key, dialtone.ErrConflict)
		}
		m.ID = id
		return true, nil
	}
	m.ID, _ = res.LastInsertId()
	m.CreatedAt = now
	postings := append([]dialtone.Posting(nil), m.Postings...)
	sort.Slice(postings, func(i, j int) bool { return postings[i].Account < postings[j].Account })
	for _, p := range postings {
		amount, _ := dialtone.ToMicros(p.Amount) // checked by Validate
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_accounts (name, currency, allow_negative) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			p.Account, m.Currency, dialtone.AllowsNegative(p.Account)); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
		var id, balance int64
		var currency string
		var neg bool
		if err := tx.QueryRowContext(ctx, `SELECT id, balance, currency, allow_negative FROM ledger_accounts WHERE name = ?`, p.Account).
			Scan(&id, &balance, &currency, &neg); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
		if currency != m.Currency {
			return false, fmt.Errorf("post %s: %w: account %s is in %s, the movement in %s", m.Key, dialtone.ErrInvalid, p.Account, currency, m.Currency)
		}
		balance += amount
		if balance < 0 && !neg {
			return false, fmt.Errorf("post %s: %w: %s has %s, needs %s", m.Key, dialtone.ErrInsufficientFunds,
				p.Account, dialtone.FromMicros(balance-amount), p.Amount.Neg())
		}
		if _, err := tx.ExecContext(ctx, `UPDATE ledger_accounts SET balance = ? WHERE id = ?`, balance, id); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_entries (movement_id, account_id, amount, balance) VALUES (?, ?, ?, ?)`,
			m.ID, id, amount, balance); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
	}
	return false, nil
}

// Balance of one ledger account.
func (db *DB) Balance(ctx context.Context, account string) (decimal.Decimal, error) {
	var b int64
	err := db.read.QueryRowContext(ctx, `SELECT balance FROM ledger_accounts WHERE name = ?`, account).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return decimal.Zero, nil
	}
	if err != nil {
		return decimal.Zero, fmt.Errorf("balance %s: %w", account, err)
	}
	return dialtone.FromMicros(b), nil
}

// Entries lists an account's entries, newest first.
func (db *DB) Entries(ctx context.Context, account string, before int64, limit int) ([]dialtone.Entry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := db.read.QueryContext(ctx, `SELECT e.id, m.key, m.kind, m.memo, e.amount, e.balance, m.created_at
		FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id JOIN ledger_movements m ON m.id = e.movement_id
		WHERE a.name = ? AND e.id < ? ORDER BY e.id DESC LIMIT ?`, account, before, limit)
	if err != nil {
		return nil, fmt.Errorf("entries %s: %w", account, err)
	}
	defer rows.Close()
	var out []dialtone.Entry
	for rows.Next() {
		e := dialtone.Entry{Account: account}
		var amount, balance, created int64
		if err := rows.Scan(&e.MovementID, &e.Key, &e.Kind, &e.Memo, &amount, &balance, &created); err != nil {
			return nil, fmt.Errorf("entries %s: %w", account, err)
		}
		e.Amount, e.Balance = dialtone.FromMicros(amount), dialtone.FromMicros(balance)
		e.CreatedAt = fromMicros(sql.NullInt64{Int64: created, Valid: true})
		out = append(out, e)
	}
	return out, rows.Err()
}

// CheckLedger verifies that balances sum to zero, each equals the sum of its
// entries, and none that may not be negative is.
func (db *DB) CheckLedger(ctx context.Context) (dialtone.LedgerCheck, error) {
	var c dialtone.LedgerCheck
	var total int64
	if err := db.read.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(balance), 0), (SELECT count(*) FROM ledger_movements) FROM ledger_accounts`).
		Scan(&c.Accounts, &total, &c.Movements); err != nil {
		return c, fmt.Errorf("check ledger: %w", err)
	}
	c.Total = dialtone.FromMicros(total)
	rows, err := db.read.QueryContext(ctx, `SELECT a.name, a.balance, a.allow_negative, coalesce(sum(e.amount), 0)
		FROM ledger_accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id GROUP BY a.id`)
	if err != nil {
		return c, fmt.Errorf("check ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var balance, sum int64
		var neg bool
		if err := rows.Scan(&name, &balance, &neg, &sum); err != nil {
			return c, fmt.Errorf("check ledger: %w", err)
		}
		if balance != sum {
			c.Mismatched = append(c.Mismatched, name)
		}
		if balance < 0 && !neg {
			c.Negative = append(c.Negative, name)
		}
	}
	return c, rows.Err()
}
