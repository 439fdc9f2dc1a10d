package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dialtone/dialtone"
)

const (
	// maxFlushes is how many batches may be in flight at once. Movements
	// posted while all are in flight wait for the next batch. Two keep
	// the database busy while one commits; more make smaller batches
	// that cost more each (make bench, cmd/billbench: 3 and 4 posted
	// fewer debits per second than 2, and 1 fewer again).
	maxFlushes = 2
	// maxBatch is the most movements one batch takes.
	maxBatch = 64
	// batchRetries is how many times a batch is sent again after a
	// deadlock or a serialization failure before its movements are posted
	// alone.
	batchRetries = 3
	// flushTimeout bounds one batch's round trip; its callers may leave
	// sooner through their own contexts.
	flushTimeout = 30 * time.Second
)

// batcher takes the movements posted at the same time outside a
// transaction together, so that a batch costs one round trip and one
// commit. A movement posted while fewer than maxFlushes batches are in
// flight and none waits runs at once, alone, on the one-statement path;
// the others wait, and the next batch takes all that wait (up to maxBatch).
//
// A batch is one transaction, sent as one pipeline (one Sync: one implicit
// transaction): its user accounts locked in name order (begin), then all
// its movements in one statement (batchSQL), or, when an account is both
// debited and credited in it or that statement fails, each movement's own
// statement in lock order, which finds the one that fails.
//
// Each caller gets what posting alone gives it. A movement whose statement
// fails (insufficient funds, a missing account, ...) aborts the
// transaction: its caller posts it alone for its own result, and the batch
// is sent again without it. A deadlock or a serialization failure sends
// the batch again.
type batcher struct {
	pool     *pgxpool.Pool
	mu       sync.Mutex
	queue    []*pending
	flushing int // batches in flight, and callers posting alone
}

func newBatcher(pool *pgxpool.Pool) *batcher { return &batcher{pool: pool} }

// outcome is what a batch did with a movement.
type outcome int

const (
	settled outcome = iota // replayed and err are the caller's result
	stored                 // posted under a key already used: the caller reads it back
	alone                  // not posted: the caller posts it alone
)

// pending is a movement waiting for, or in, a batch.
type pending struct {
	ctx   context.Context
	m     dialtone.Movement // a copy: the caller may leave while its batch runs
	now   time.Time         // truncated to the database's microseconds
	order string            // the user accounts, the batch's lock order
	id    *int64            // returned by the statement: nil if the key was already used

	done     chan struct{} // closed once the fields below are set
	outcome  outcome
	replayed bool
	err      error
}

// post applies m: at once if the database is idle, else in the next batch.
func (b *batcher) post(ctx context.Context, m *dialtone.Movement, now time.Time) (bool, error) {
	b.mu.Lock()
	if b.flushing < maxFlushes && len(b.queue) == 0 {
		b.flushing++
		b.mu.Unlock()
		defer b.release()
		return post(ctx, poolQ{b.pool}, false, m, now)
	}
	p := &pending{ctx: ctx, m: *m, now: now.Truncate(time.Microsecond), order: lockOrder(m), done: make(chan struct{})}
	b.queue = append(b.queue, p)
	start := b.flushing < maxFlushes
	if start {
		b.flushing++
	}
	b.mu.Unlock()
	if start {
		go b.flush()
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		select {
		case <-p.done:
		default: // a batch that took it may still post it, as a cancelled statement may commit
			return false, fmt.Errorf("post %s: %w", m.Key, ctx.Err())
		}
	}
	switch p.outcome {
	case stored:
		replayed, err := replay(ctx, poolQ{b.pool}, m)
		if err != nil {
			return false, fmt.Errorf("post %s: %w", m.Key, err)
		}
		return replayed, nil
	case alone:
		return post(ctx, poolQ{b.pool}, false, m, now)
	}
	if p.err == nil {
		m.ID, m.CreatedAt = p.m.ID, p.m.CreatedAt
	}
	return p.replayed, p.err
}

// lockOrder is m's user accounts in the order its statement locks them.
func lockOrder(m *dialtone.Movement) string {
	var names []string
	for _, p := range m.Postings {
		if !dialtone.IsHouseAccount(p.Account) {
			names = append(names, p.Account)
		}
	}
	sort.Strings(names)
	return strings.Join(names, "\n")
}

// release ends a post made alone: its place goes to a batch of the
// movements that came meanwhile, if any.
func (b *batcher) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.queue) > 0 {
		go b.flush()
		return
	}
	b.flushing--
}

// flush sends batches of the queue until it is empty.
func (b *batcher) flush() {
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.flushing--
			b.mu.Unlock()
			return
		}
		n := min(len(b.queue), maxBatch)
		items := append([]*pending(nil), b.queue[:n]...)
		b.queue = append(b.queue[:0], b.queue[n:]...)
		b.mu.Unlock()
		b.run(items)
	}
}

// run posts items in one transaction, settling each: in one statement
// when it can (see together), else, or if that fails, as a pipeline of
// their own statements, which finds the movement that fails.
func (b *batcher) run(items []*pending) {
	sort.SliceStable(items, func(i, j int) bool { return items[i].order < items[j].order })
	if together(items) {
		for attempt := 0; ; attempt++ {
			if items = dropCancelled(items); len(items) < 2 {
				break
			}
			err := b.sendTogether(items)
			if err == nil {
				settle(items)
				return
			}
			if !retryable(err) || attempt == batchRetries {
				break
			}
		}
	}
	for attempt := 0; ; {
		items = dropCancelled(items)
		switch len(items) {
		case 0:
			return
		case 1:
			p := items[0]
			p.replayed, p.err = post(p.ctx, poolQ{b.pool}, false, &p.m, p.now)
			close(p.done)
			return
		}
		failed, err := b.send(items)
		var pe *pgconn.PgError
		switch {
		case err == nil:
			settle(items)
			return
		case retryable(err) && attempt < batchRetries:
			attempt++
		case errors.As(err, &pe) && failed >= 0:
			items[failed].outcome = alone
			close(items[failed].done)
			items = append(items[:failed], items[failed+1:]...)
		default: // the connection, or retries spent: each alone
			for _, p := range items {
				p.outcome = alone
				close(p.done)
			}
			return
		}
	}
}

// settle ends the items of a committed batch.
func settle(items []*pending) {
	for _, p := range items {
		if p.id == nil {
			p.outcome = stored
		} else {
			p.m.ID, p.m.CreatedAt = *p.id, p.now
		}
		close(p.done)
	}
}

// retryable reports whether err is a deadlock or a serialization failure,
// after which the batch may be sent again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// dropCancelled settles the items whose callers have left, unposted, and
// returns the others.
func dropCancelled(items []*pending) []*pending {
	live := items[:0]
	for _, p := range items {
		if err := p.ctx.Err(); err != nil {
			p.err = fmt.Errorf("post %s: %w", p.m.Key, err)
			close(p.done)
			continue
		}
		live = append(live, p)
	}
	return live
}

// send runs items' statements in one pipeline, one implicit transaction,
// after locking all their user accounts in name order (begin): each statement
// locks only its own accounts in that order, and items one after another
// would lock them out of it (a:b, then a:c, then b:d locks c before b),
// against a movement posted alone at the same time that locks b, then c.
// It returns the index of the first statement that failed, or -1.
func (b *batcher) send(items []*pending) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	batch := &pgx.Batch{}
	n := begin(batch, userAccounts(items))
	for _, p := range items {
		query, args := statement(&p.m, p.now)
		batch.Queue(query, args...)
	}
	br := b.pool.SendBatch(ctx, batch)
	failed := -1
	var err error
	for ; err == nil && n > 0; n-- {
		_, err = br.Exec()
	}
	for i := 0; err == nil && i < len(items); i++ {
		var zero int64
		items[i].id = nil
		if err = br.QueryRow().Scan(&items[i].id, &zero); err != nil {
			failed = i
		}
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return failed, err
}

// batchSQL posts many movements in one statement, what each changes worked
// out by the caller (see sendTogether): the movements are inserted, each
// user account's balance moves by the sum of its postings, and each
// posting gets its entry with the balance after it in the batch's order:
// the account's new balance less what its postings after this one moved.
// Unless every posting got its entry, ledger_fail aborts it: an account
// is missing or in another currency, or a movement's key was used before
// (its postings have no movement to go with), so the totals are wrong. A
// CHECK on a balance that would go negative aborts it too. The accounts
// were locked before, in name order (begin).
const batchSQL = `WITH mv AS (INSERT INTO ledger_movements (key, kind, currency, memo, fingerprint, created_at)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
	ON CONFLICT (key) DO NOTHING RETURNING id, key),
upd AS (UPDATE ledger_accounts a SET balance = a.balance + t.total FROM unnest($7::text[], $8::text[], $9::bigint[]) AS t(name, currency, total)
	WHERE a.name = t.name AND a.currency = t.currency AND NOT a.house RETURNING a.id, a.name, a.balance),
hs AS (SELECT a.id, a.name, NULL::bigint AS balance FROM ledger_accounts a JOIN unnest($10::text[], $11::text[]) AS h(name, currency)
	ON a.name = h.name AND a.currency = h.currency WHERE a.house),
acc AS (SELECT * FROM upd UNION ALL SELECT * FROM hs),
en AS (INSERT INTO ledger_entries (movement_id, account_id, amount, balance)
	SELECT mv.id, acc.id, t.amount, acc.balance - t.later
	FROM unnest($12::text[], $13::text[], $14::bigint[], $15::bigint[]) WITH ORDINALITY AS t(key, name, amount, later, ord)
	JOIN mv ON mv.key = t.key JOIN acc ON acc.name = t.name ORDER BY t.ord RETURNING 1)
SELECT mv.key, mv.id, chk.z FROM (SELECT CASE WHEN (SELECT count(*) FROM en) = $16 THEN 0
	ELSE ledger_fail('a movement of the batch was posted before, or an account is missing or in another currency') END) AS chk(z)
	LEFT JOIN mv ON true`

// planSQL has the batch's statements look their few accounts up by index
// (on a small table the planner would rather scan it whole, and compare
// each row with every name of the batch) and keep one plan per statement
// for all batches: a batch of a few movements costs less to run than to
// plan, and the plan that fits one fits all.
const planSQL = `SELECT set_config('enable_seqscan', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)`

// lockSQL locks a batch's user accounts in name order, the order every
// posting locks them in.
const lockSQL = `SELECT 1 FROM ledger_accounts WHERE name = ANY($1::text[]) AND NOT house ORDER BY name FOR NO KEY UPDATE`

// begin queues what every batch starts with: planSQL, then lockSQL on its
// user accounts. It returns how many statements it queued, whose results
// the batch reads first.
func begin(batch *pgx.Batch, users []string) int {
	batch.Queue(planSQL)
	batch.Queue(lockSQL, users)
	return 2
}

// userAccounts is the user accounts items post to, for lockSQL.
func userAccounts(items []*pending) []string {
	var names []string
	for _, p := range items {
		for _, q := range p.m.Postings {
			if !dialtone.IsHouseAccount(q.Account) {
				names = append(names, q.Account)
			}
		}
	}
	return names
}

// together reports whether items can be posted by batchSQL: no user
// account is both debited and credited in them, so the balance each
// reaches last is its lowest (or its highest) and the CHECK on it holds
// for the ones before.
func together(items []*pending) bool {
	sign := map[string]int{}
	for _, p := range items {
		for _, q := range p.m.Postings {
			if dialtone.IsHouseAccount(q.Account) || q.Amount.IsZero() {
				continue
			}
			s := q.Amount.Sign()
			if sign[q.Account] == -s {
				return false
			}
			sign[q.Account] = s
		}
	}
	return true
}

// sendTogether posts items with batchSQL, in one transaction. The first of
// the items with one key is posted; the others read it back after.
func (b *batcher) sendTogether(items []*pending) error {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	var mv struct {
		keys, kinds, currencies, memos, fps []string
		created                             []time.Time
	}
	var pk, pname []string // the postings, in the batch's order
	var pamount []int64
	type account struct{ name, currency string }
	var users, houses []account // in the order first seen
	total := map[account]int64{} // what each account's postings move; a house account's is not used
	first := map[string]bool{}
	for _, p := range items {
		if first[p.m.Key] {
			continue
		}
		first[p.m.Key] = true
		m := &p.m
		mv.keys, mv.kinds, mv.currencies, mv.memos = append(mv.keys, m.Key), append(mv.kinds, m.Kind), append(mv.currencies, m.Currency), append(mv.memos, m.Memo)
		mv.fps, mv.created = append(mv.fps, m.Fingerprint()), append(mv.created, p.now)
		for _, q := range m.Postings {
			amount, _ := dialtone.ToMicros(q.Amount) // checked by Validate
			pk, pname, pamount = append(pk, m.Key), append(pname, q.Account), append(pamount, amount)
			a := account{q.Account, m.Currency}
			if _, seen := total[a]; !seen && dialtone.IsHouseAccount(q.Account) {
				houses = append(houses, a)
			} else if !seen {
				users = append(users, a)
			}
			total[a] += amount
		}
	}
	// later[i] is what the postings after i moved on its account: the
	// entry's balance is the account's new balance less that.
	later := make([]int64, len(pk))
	moved := map[string]int64{}
	for i := len(pk) - 1; i >= 0; i-- {
		later[i] = moved[pname[i]]
		moved[pname[i]] += pamount[i]
	}
	var uname, ucur, hname, hcur []string
	var utotal []int64
	for _, a := range users {
		uname, ucur, utotal = append(uname, a.name), append(ucur, a.currency), append(utotal, total[a])
	}
	for _, a := range houses {
		hname, hcur = append(hname, a.name), append(hcur, a.currency)
	}
	batch := &pgx.Batch{}
	n := begin(batch, uname)
	batch.Queue(batchSQL, mv.keys, mv.kinds, mv.currencies, mv.memos, mv.fps, mv.created,
		uname, ucur, utotal, hname, hcur, pk, pname, pamount, later, len(pk))
	br := b.pool.SendBatch(ctx, batch)
	defer br.Close()
	for range n {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	ids := map[string]int64{}
	for rows.Next() {
		var key *string
		var id *int64
		var zero int64
		if err := rows.Scan(&key, &id, &zero); err != nil {
			rows.Close()
			return err
		}
		if key != nil && id != nil {
			ids[*key] = *id
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := br.Close(); err != nil {
		return err
	}
	posted := map[string]bool{}
	for _, p := range items {
		if id, ok := ids[p.m.Key]; ok && !posted[p.m.Key] {
			posted[p.m.Key] = true
			x := id
			p.id = &x
		} else {
			p.id = nil
		}
	}
	return nil
}
