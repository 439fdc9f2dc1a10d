package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dialtone/dialtone"
)

// ledger posts a movement in one statement. Outside a transaction it runs
// on the pgx pool natively (the hot path: every call's debits), movements
// posted at the same time taken together into one transaction (see
// batcher); inside one, on the database/sql transaction of the store
// method that posts.
type ledger struct {
	pool  *pgxpool.Pool
	batch *batcher
}

func newLedger(pool *pgxpool.Pool) ledger {
	return ledger{pool: pool, batch: newBatcher(pool)}
}

// querier is what the pool and a database/sql transaction both do here.
type querier interface {
	exec(ctx context.Context, sql string, args ...any) error
	queryRow(ctx context.Context, sql string, args ...any) interface{ Scan(...any) error }
}

type poolQ struct{ *pgxpool.Pool }

func (q poolQ) exec(ctx context.Context, sql string, args ...any) error {
	_, err := q.Exec(ctx, sql, args...)
	return err
}

func (q poolQ) queryRow(ctx context.Context, sql string, args ...any) interface{ Scan(...any) error } {
	return q.QueryRow(ctx, sql, args...)
}

type txQ struct{ *sql.Tx }

func (q txQ) exec(ctx context.Context, sql string, args ...any) error {
	_, err := q.ExecContext(ctx, sql, args...)
	return err
}

func (q txQ) queryRow(ctx context.Context, sql string, args ...any) interface{ Scan(...any) error } {
	return q.QueryRowContext(ctx, sql, args...)
}

// Post applies m in one statement, committed with the movements posted at
// the same time (see batcher); the accounts are created and the statement
// retried if one is missing.
func (l ledger) Post(ctx context.Context, m *dialtone.Movement, now time.Time) (bool, error) {
	return l.batch.post(ctx, m, now)
}

// PostTx applies m inside tx, the accounts made sure of first.
func (l ledger) PostTx(ctx context.Context, tx *sql.Tx, m *dialtone.Movement, now time.Time) (bool, error) {
	return post(ctx, txQ{tx}, true, m, now)
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
	return q.exec(ctx, `INSERT INTO ledger_accounts (name, currency, allow_negative, house)
		SELECT unnest($1::text[]), $2, unnest($3::bool[]), unnest($4::bool[]) ON CONFLICT (name) DO NOTHING`, names, m.Currency, negs, houses)
}

// post applies m through q: the pool (one statement, autocommit; the
// accounts are created and the statement retried if one is missing) or a
// transaction (the accounts are made sure of first).
func post(ctx context.Context, q querier, inTx bool, m *dialtone.Movement, now time.Time) (replayed bool, err error) {
	if inTx {
		if err := ensureAccounts(ctx, q, m); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
	}
	replayed, err = postOnce(ctx, q, m, now)
	// Alone, the statement is its own transaction: one that deadlocked
	// was rolled back whole and may run again.
	for attempt := 0; !inTx && retryable(err) && attempt < batchRetries; attempt++ {
		replayed, err = postOnce(ctx, q, m, now)
	}
	var pe *pgconn.PgError
	if !inTx && errors.As(err, &pe) && pe.Code == "DT001" {
		if err := ensureAccounts(ctx, q, m); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
		replayed, err = postOnce(ctx, q, m, now)
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

func postOnce(ctx context.Context, q querier, m *dialtone.Movement, now time.Time) (replayed bool, err error) {
	now = now.Truncate(time.Microsecond)
	query, args := statement(m, now)
	var id *int64
	var zero int64
	if err := q.queryRow(ctx, query, args...).Scan(&id, &zero); err != nil {
		return false, err
	}
	if id != nil {
		m.ID, m.CreatedAt = *id, now
		return false, nil
	}
	return replay(ctx, q, m)
}

// statement is m's posting statement (see postStatement) and its arguments;
// now is already truncated to the database's microseconds.
func statement(m *dialtone.Movement, now time.Time) (string, []any) {
	postings := append([]dialtone.Posting(nil), m.Postings...)
	sort.Slice(postings, func(i, j int) bool { return postings[i].Account < postings[j].Account }) // lock order
	args := []any{m.Key, m.Kind, m.Currency, m.Memo, m.Fingerprint(), now}
	pattern := make([]byte, len(postings))
	for i, p := range postings {
		amount, _ := dialtone.ToMicros(p.Amount) // checked by Validate
		args = append(args, p.Account, amount)
		pattern[i] = 'u'
		if dialtone.IsHouseAccount(p.Account) {
			pattern[i] = 'h'
		}
	}
	return postStatement(string(pattern)), args
}

// replay reads the movement already stored under m's key: m again (a
// replay) or a different one (a conflict).
func replay(ctx context.Context, q querier, m *dialtone.Movement) (bool, error) {
	var stored string
	if err := q.queryRow(ctx, `SELECT id, fingerprint FROM ledger_movements WHERE key = $1`, m.Key).Scan(&m.ID, &stored); err != nil {
		return false, err
	}
	if stored != m.Fingerprint() {
		return false, fmt.Errorf("%w: the idempotency key was used for a different movement", dialtone.ErrConflict)
	}
	return true, nil
}
