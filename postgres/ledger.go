package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Post applies a movement in one statement, so a debit costs one round
// trip and one commit (see dialtone.LedgerStore).
func (db *DB) Post(ctx context.Context, m *dialtone.Movement) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, fmt.Errorf("post: %w", err)
	}
	return db.post(ctx, db.pool, m)
}

var postSQL sync.Map // postings' house pattern, e.g. "uh" -> statement

// postStatement inserts the movement and, only if it is new, updates each
// user account's balance and appends an entry per posting with the balance
// after it. House accounts get their entry only (see the migration).
// Balances that may not go negative are held by a CHECK constraint; a
// missing account or one in another currency aborts the statement through
// ledger_fail.
func postStatement(pattern string) string {
	if s, ok := postSQL.Load(pattern); ok {
		return s.(string)
	}
	var b strings.Builder
	b.WriteString(`WITH mv AS (INSERT INTO ledger_movements (key, kind, currency, memo, fingerprint, created_at)
	VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING RETURNING id)`)
	var count []string
	for i, kind := range pattern {
		name, amount := "$"+strconv.Itoa(7+2*i), "$"+strconv.Itoa(8+2*i)
		k := strconv.Itoa(i)
		if kind == 'h' {
			fmt.Fprintf(&b, `,
a%[1]s AS (SELECT id, NULL::bigint AS balance FROM ledger_accounts WHERE name = %[2]s AND currency = $3 AND house AND EXISTS (SELECT 1 FROM mv))`, k, name)
		} else {
			fmt.Fprintf(&b, `,
a%[1]s AS (UPDATE ledger_accounts SET balance = balance + %[3]s::bigint WHERE name = %[2]s AND currency = $3 AND NOT house AND EXISTS (SELECT 1 FROM mv) RETURNING id, balance)`,
				k, name, amount)
		}
		fmt.Fprintf(&b, `,
e%[1]s AS (INSERT INTO ledger_entries (movement_id, account_id, amount, balance) SELECT mv.id, a%[1]s.id, %[2]s::bigint, a%[1]s.balance FROM mv, a%[1]s RETURNING 1)`,
			k, amount)
		count = append(count, `(SELECT count(*) FROM e`+k+`)`)
	}
	fmt.Fprintf(&b, `
SELECT (SELECT id FROM mv), CASE WHEN NOT EXISTS (SELECT 1 FROM mv) OR %s = %d THEN 0
	ELSE ledger_fail('an account of this movement is missing or in another currency') END`, strings.Join(count, " + "), len(pattern))
	s := b.String()
	postSQL.Store(pattern, s)
	return s
}

// ensureAccounts creates the movement's ledger accounts that do not exist yet.
func ensureAccounts(ctx context.Context, q querier, m *dialtone.Movement) error {
	names := make([]string, len(m.Postings))
	negs := make([]bool, len(m.Postings))
	houses := make([]bool, len(m.Postings))
	for i, p := range m.Postings {
		names[i], negs[i], houses[i] = p.Account, dialtone.AllowsNegative(p.Account), dialtone.IsHouseAccount(p.Account)
	}
	_, err := q.Exec(ctx, `INSERT INTO ledger_accounts (name, currency, allow_negative, house)
		SELECT unnest($1::text[]), $2, unnest($3::bool[]), unnest($4::bool[]) ON CONFLICT (name) DO NOTHING`, names, m.Currency, negs, houses)
	return err
}

// post applies m through q: the pool (one statement, autocommit; the
// accounts are created and the statement retried if one is missing) or a
// transaction (the accounts are made sure of first).
func (db *DB) post(ctx context.Context, q querier, m *dialtone.Movement) (replayed bool, err error) {
	_, inTx := q.(pgx.Tx)
	if inTx {
		if err := ensureAccounts(ctx, q, m); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
	}
	replayed, err = db.postOnce(ctx, q, m)
	var pe *pgconn.PgError
	if !inTx && errors.As(err, &pe) && pe.Code == "DT001" {
		if err := ensureAccounts(ctx, q, m); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
		replayed, err = db.postOnce(ctx, q, m)
	}
	switch {
	case errors.As(err, &pe) && pe.Code == "23514":
		return false, fmt.Errorf("post %s: %w", m.Key, dialtone.ErrInsufficientFunds)
	case errors.As(err, &pe) && pe.Code == "DT001":
		return false, fmt.Errorf("post %s: %w: an account is in another currency than %s", m.Key, dialtone.ErrInvalid, m.Currency)
	case err != nil:
		return false, fmt.Errorf("post %s: %w", m.Key, err)
	}
	return replayed, nil
}

func (db *DB) postOnce(ctx context.Context, q querier, m *dialtone.Movement) (replayed bool, err error) {
	postings := append([]dialtone.Posting(nil), m.Postings...)
	sort.Slice(postings, func(i, j int) bool { return postings[i].Account < postings[j].Account }) // lock order
	fp := m.Fingerprint()
	now := db.now().Truncate(1000)
	args := []any{m.Key, m.Kind, m.Currency, m.Memo, fp, now}
	pattern := make([]byte, len(postings))
	for i, p := range postings {
		amount, _ := dialtone.ToMicros(p.Amount) // checked by Validate
		args = append(args, p.Account, amount)
		pattern[i] = 'u'
		if dialtone.IsHouseAccount(p.Account) {
			pattern[i] = 'h'
		}
	}
	var id *int64
	var zero int64
	if err := q.QueryRow(ctx, postStatement(string(pattern)), args...).Scan(&id, &zero); err != nil {
		return false, err
	}
	if id != nil {
		m.ID, m.CreatedAt = *id, now
		return false, nil
	}
	var stored string
	if err := q.QueryRow(ctx, `SELECT id, fingerprint FROM ledger_movements WHERE key = $1`, m.Key).Scan(&m.ID, &stored); err != nil {
		return false, err
	}
	if stored != fp {
		return false, fmt.Errorf("%w: the idempotency key was used for a different movement", dialtone.ErrConflict)
	}
	return true, nil
}

// Balance of one ledger account.
func (db *DB) Balance(ctx context.Context, account string) (decimal.Decimal, error) {
	var b int64
	err := db.pool.QueryRow(ctx, `SELECT CASE WHEN a.house THEN (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e WHERE e.account_id = a.id)::bigint
		ELSE a.balance END FROM ledger_accounts a WHERE a.name = $1`, account).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
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
	rows, err := db.pool.Query(ctx, `SELECT e.id, m.key, m.kind, m.memo, e.amount, e.balance, m.created_at
		FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id JOIN ledger_movements m ON m.id = e.movement_id
		WHERE a.name = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3`, account, before, limit)
	if err != nil {
		return nil, fmt.Errorf("entries %s: %w", account, err)
	}
	defer rows.Close()
	var out []dialtone.Entry
	for rows.Next() {
		e := dialtone.Entry{Account: account}
		var amount int64
		var balance *int64
		if err := rows.Scan(&e.MovementID, &e.Key, &e.Kind, &e.Memo, &amount, &balance, &e.CreatedAt); err != nil {
			return nil, fmt.Errorf("entries %s: %w", account, err)
		}
		e.Amount, e.CreatedAt = dialtone.FromMicros(amount), e.CreatedAt.UTC()
		if balance != nil {
			e.Balance = dialtone.FromMicros(*balance)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CheckLedger verifies the ledger's invariants in one snapshot.
func (db *DB) CheckLedger(ctx context.Context) (dialtone.LedgerCheck, error) {
	var c dialtone.LedgerCheck
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return c, fmt.Errorf("check ledger: %w", err)
	}
	defer tx.Rollback(ctx)
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM ledger_accounts), (SELECT count(*) FROM ledger_movements)`).
		Scan(&c.Accounts, &c.Movements); err != nil {
		return c, fmt.Errorf("check ledger: %w", err)
	}
	var total int64
	rows, err := tx.Query(ctx, `SELECT a.name, CASE WHEN a.house THEN coalesce(sum(e.amount), 0) ELSE a.balance END::bigint,
		a.allow_negative, coalesce(sum(e.amount), 0)::bigint
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
		total += balance
		if balance != sum {
			c.Mismatched = append(c.Mismatched, name)
		}
		if balance < 0 && !neg {
			c.Negative = append(c.Negative, name)
		}
	}
	c.Total = dialtone.FromMicros(total)
	return c, rows.Err()
}
