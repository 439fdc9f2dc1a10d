package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

// Post applies a movement atomically (see dialtone.LedgerStore).
func (s *Store) Post(ctx context.Context, m *dialtone.Movement) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, fmt.Errorf("post: %w", err)
	}
	if s.d.Ledger != nil {
		return s.d.Ledger.Post(ctx, m, s.now())
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return false, fmt.Errorf("post %s: %w", m.Key, err)
	}
	defer tx.Rollback()
	replayed, err := s.post(ctx, tx, m)
	if err != nil || replayed {
		return replayed, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("post %s: %w", m.Key, err)
	}
	return false, nil
}

// post applies m inside tx, through the dialect's ledger when it has one.
func (s *Store) post(ctx context.Context, tx tx, m *dialtone.Movement) (bool, error) {
	if s.d.Ledger != nil {
		return s.d.Ledger.PostTx(ctx, tx.Tx, m, s.now())
	}
	return s.postPortable(ctx, tx, m)
}

// postPortable reads, checks and writes each account's balance, in
// account-name order (the lock order where rows are locked).
func (s *Store) postPortable(ctx context.Context, tx tx, m *dialtone.Movement) (replayed bool, err error) {
	fp := m.Fingerprint()
	now := micro(s.now())
	err = tx.QueryRow(ctx, `INSERT INTO ledger_movements (key, kind, currency, memo, fingerprint, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING id`, m.Key, m.Kind, m.Currency, m.Memo, fp, s.d.T(now)).Scan(&m.ID)
	if err != nil && !errors.Is(err, errNoRows) {
		return false, fmt.Errorf("post %s: %w", m.Key, err)
	}
	if err != nil { // the key exists
		var stored string
		if err := tx.QueryRow(ctx, `SELECT id, fingerprint FROM ledger_movements WHERE key = ?`, m.Key).Scan(&m.ID, &stored); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
		if stored != fp {
			return false, fmt.Errorf("post %s: %w: the idempotency key was used for a different movement", m.Key, dialtone.ErrConflict)
		}
		return true, nil
	}
	m.CreatedAt = now
	postings := append([]dialtone.Posting(nil), m.Postings...)
	sort.Slice(postings, func(i, j int) bool { return postings[i].Account < postings[j].Account })
	for _, p := range postings {
		amount, _ := dialtone.ToMicros(p.Amount) // checked by Validate
		if _, err := tx.Exec(ctx, `INSERT INTO ledger_accounts (name, currency, allow_negative) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			p.Account, m.Currency, dialtone.AllowsNegative(p.Account)); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
		var id, balance int64
		var currency string
		var neg bool
		if err := tx.QueryRow(ctx, `SELECT id, balance, currency, allow_negative FROM ledger_accounts WHERE name = ?`+s.d.ForUpdate, p.Account).
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
		if _, err := tx.Exec(ctx, `UPDATE ledger_accounts SET balance = ? WHERE id = ?`, balance, id); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ledger_entries (movement_id, account_id, amount, balance) VALUES (?, ?, ?, ?)`,
			m.ID, id, amount, balance); err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
	}
	return false, nil
}

// house is the SQL test of a house ledger account row a.
func (s *Store) house() string {
	if s.d.HouseAccounts {
		return "a.house"
	}
	return "1 = 0"
}

// Balance of one ledger account: its materialized balance, or for a house
// account the sum of its entries.
func (s *Store) Balance(ctx context.Context, account string) (decimal.Decimal, error) {
	var b int64
	err := s.r().QueryRow(ctx, `SELECT CASE WHEN `+s.house()+` THEN CAST((SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e WHERE e.account_id = a.id) AS BIGINT)
		ELSE a.balance END FROM ledger_accounts a WHERE a.name = ?`, account).Scan(&b)
	if errors.Is(err, errNoRows) {
		return decimal.Zero, nil
	}
	if err != nil {
		return decimal.Zero, fmt.Errorf("balance %s: %w", account, err)
	}
	return dialtone.FromMicros(b), nil
}

// Entries lists an account's entries, newest first.
func (s *Store) Entries(ctx context.Context, account string, before int64, limit int) ([]dialtone.Entry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.r().Query(ctx, `SELECT e.id, m.key, m.kind, m.memo, e.amount, e.balance, m.created_at
		FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id JOIN ledger_movements m ON m.id = e.movement_id
		WHERE a.name = ? AND e.id < ? ORDER BY e.id DESC LIMIT ?`, account, before, limit)
	if err != nil {
		return nil, fmt.Errorf("entries %s: %w", account, err)
	}
	defer rows.Close()
	var out []dialtone.Entry
	for rows.Next() {
		e := dialtone.Entry{Account: account}
		var amount, balance int64 // balance: NULL (0) on house accounts
		if err := rows.Scan(&e.MovementID, &e.Key, &e.Kind, &e.Memo, &amount, nullInt{&balance}, st(&e.CreatedAt)); err != nil {
			return nil, fmt.Errorf("entries %s: %w", account, err)
		}
		e.Amount, e.Balance = dialtone.FromMicros(amount), dialtone.FromMicros(balance)
		out = append(out, e)
	}
	return out, rows.Err()
}

// CheckLedger verifies, in one snapshot, that balances sum to zero, each
// equals the sum of its entries, and none that may not be negative is.
func (s *Store) CheckLedger(ctx context.Context) (dialtone.LedgerCheck, error) {
	var c dialtone.LedgerCheck
	tx, err := s.snapshot(ctx)
	if err != nil {
		return c, fmt.Errorf("check ledger: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM ledger_accounts), (SELECT count(*) FROM ledger_movements)`).
		Scan(&c.Accounts, &c.Movements); err != nil {
		return c, fmt.Errorf("check ledger: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT a.name, CAST(CASE WHEN `+s.house()+` THEN coalesce(sum(e.amount), 0) ELSE a.balance END AS BIGINT),
		a.allow_negative, CAST(coalesce(sum(e.amount), 0) AS BIGINT)
		FROM ledger_accounts a LEFT JOIN ledger_entries e ON e.account_id = a.id GROUP BY a.id`)
	if err != nil {
		return c, fmt.Errorf("check ledger: %w", err)
	}
	defer rows.Close()
	var total int64
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

// historyBatch is how many wallet entries WalletHistory reads at a time.
const historyBatch = 200

// WalletHistory assembles a wallet's history (see dialtone.HistoryStore):
// it reads the wallet's entries newest first, and for the calls it meets,
// all of their entries, so that each call is folded whole into the item at
// its newest entry. A call whose newest entry is at or above before was on
// an earlier page and is left out.
func (s *Store) WalletHistory(ctx context.Context, accountID int64, before int64, limit int) ([]dialtone.WalletItem, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	account := dialtone.WalletAccount(accountID)
	var entries []dialtone.Entry
	seen := map[string]bool{}
	calls := map[string]dialtone.CallRecord{}
	items := 0
	for cursor := before; items <= limit; {
		batch, err := s.Entries(ctx, account, cursor, historyBatch)
		if err != nil {
			return nil, fmt.Errorf("wallet history %d: %w", accountID, err)
		}
		var found []string
		for _, e := range batch {
			id, isCall := dialtone.CallOfKey(e.Key)
			if !isCall {
				entries = append(entries, e)
				items++
			} else if !seen[id] {
				seen[id] = true
				found = append(found, id)
			}
		}
		byCall, err := s.callEntries(ctx, account, found)
		if err != nil {
			return nil, fmt.Errorf("wallet history %d: %w", accountID, err)
		}
		for _, id := range found {
			all := byCall[id]
			if len(all) == 0 || all[0].MovementID >= before { // newest first: shown on an earlier page
				continue
			}
			if calls[id], err = s.callRecord(ctx, id); err != nil {
				return nil, fmt.Errorf("wallet history %d: %w", accountID, err)
			}
			entries = append(entries, all...)
			items++
		}
		if len(batch) < historyBatch {
			break
		}
		cursor = batch[len(batch)-1].MovementID
	}
	out := dialtone.FoldWallet(entries, calls)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// callEntries lists an account's entries of the movements of some calls
// (keys "call:<id>:..."), newest first per call: one query for the calls
// whose keys have prefixes of one length.
func (s *Store) callEntries(ctx context.Context, account string, ids []string) (map[string][]dialtone.Entry, error) {
	out := map[string][]dialtone.Entry{}
	byLen := map[int][]any{}
	for _, id := range ids {
		p := "call:" + id + ":"
		byLen[len(p)] = append(byLen[len(p)], p)
	}
	for n, prefixes := range byLen {
		for len(prefixes) > 0 {
			part := prefixes[:min(len(prefixes), 100)]
			prefixes = prefixes[len(part):]
			args := append([]any{account, n}, part...)
			rows, err := s.r().Query(ctx, `SELECT e.id, m.key, m.kind, m.memo, e.amount, e.balance, m.created_at
				FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id JOIN ledger_movements m ON m.id = e.movement_id
				WHERE a.name = ? AND substr(m.key, 1, ?) IN (?`+strings.Repeat(", ?", len(part)-1)+`) ORDER BY e.id DESC`, args...)
			if err != nil {
				return nil, fmt.Errorf("entries of calls: %w", err)
			}
			for rows.Next() {
				e := dialtone.Entry{Account: account}
				var amount, balance int64
				if err := rows.Scan(&e.MovementID, &e.Key, &e.Kind, &e.Memo, &amount, nullInt{&balance}, st(&e.CreatedAt)); err != nil {
					rows.Close()
					return nil, fmt.Errorf("entries of calls: %w", err)
				}
				id, ok := dialtone.CallOfKey(e.Key)
				if !ok {
					continue
				}
				e.Amount, e.Balance = dialtone.FromMicros(amount), dialtone.FromMicros(balance)
				out[id] = append(out[id], e)
			}
			err = rows.Err()
			rows.Close()
			if err != nil {
				return nil, fmt.Errorf("entries of calls: %w", err)
			}
		}
	}
	return out, nil
}

// callRecord is a call's CDR once settled, or its session's CDR so far.
func (s *Store) callRecord(ctx context.Context, id string) (dialtone.CallRecord, error) {
	cs, err := s.scanSession(s.r().QueryRow(ctx, `SELECT `+sessionColumns+` FROM call_sessions WHERE id = ?`, id))
	if err != nil && !errors.Is(err, errNoRows) {
		return dialtone.CallRecord{}, fmt.Errorf("call %s: %w", id, err)
	}
	if cs != nil && !cs.Settled {
		return dialtone.CallRecord{CDR: &cs.CDR}, nil
	}
	c, err := s.CDRByID(ctx, id)
	if errors.Is(err, dialtone.ErrNotFound) {
		return dialtone.CallRecord{Settled: cs != nil}, nil
	}
	if err != nil {
		return dialtone.CallRecord{}, err
	}
	return dialtone.CallRecord{CDR: c, Settled: true}, nil
}
