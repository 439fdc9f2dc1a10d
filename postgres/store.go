package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

const accountColumns = `id, username, realm, ha1_md5, ha1_sha256, country, currency, rate_plan, status, created_at, updated_at`

// CreateAccount inserts a.
func (db *DB) CreateAccount(ctx context.Context, a *dialtone.Account) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	now := db.now().Truncate(time.Microsecond)
	err := db.pool.QueryRow(ctx, `INSERT INTO accounts (username, realm, ha1_md5, ha1_sha256, country, currency, rate_plan, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id`,
		a.Username, a.Realm, a.HA1MD5, a.HA1SHA256, a.Country, a.Currency, a.RatePlan, string(a.Status), now).Scan(&a.ID)
	if isUnique(err) {
		return fmt.Errorf("create account %q: %w", a.Username, dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create account %q: %w", a.Username, err)
	}
	a.CreatedAt, a.UpdatedAt = now, now
	return nil
}

func scanAccount(row pgx.Row) (*dialtone.Account, error) {
	var a dialtone.Account
	var status string
	if err := row.Scan(&a.ID, &a.Username, &a.Realm, &a.HA1MD5, &a.HA1SHA256, &a.Country, &a.Currency, &a.RatePlan, &status, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	a.Status = dialtone.AccountStatus(status)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return &a, nil
}

// AccountByUsername finds an account.
func (db *DB) AccountByUsername(ctx context.Context, username string) (*dialtone.Account, error) {
	a, err := scanAccount(db.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = $1`, username))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("account %q: %w", username, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", username, err)
	}
	return a, nil
}

// Accounts lists accounts by username.
func (db *DB) Accounts(ctx context.Context) ([]*dialtone.Account, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out []*dialtone.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// UpdateAccount applies upd in one transaction and returns the result.
func (db *DB) UpdateAccount(ctx context.Context, username string, upd dialtone.AccountUpdate) (*dialtone.Account, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	defer tx.Rollback(ctx)
	a, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = $1 FOR UPDATE`, username))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("update account %q: %w", username, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	upd.ApplyTo(a)
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	a.UpdatedAt = db.now().Truncate(time.Microsecond)
	if _, err := tx.Exec(ctx, `UPDATE accounts SET realm = $1, ha1_md5 = $2, ha1_sha256 = $3, country = $4, currency = $5, rate_plan = $6, status = $7, updated_at = $8 WHERE id = $9`,
		a.Realm, a.HA1MD5, a.HA1SHA256, a.Country, a.Currency, a.RatePlan, string(a.Status), a.UpdatedAt, a.ID); err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	return a, nil
}

const cdrColumns = `id, app_call_id, carrier_call_id, account_id, account, caller, dialed_raw, dialed_e164, trunk,
	setup_at, ringing_at, answer_at, end_at, duration_ms, billed_seconds, disposition, sip_code, sip_reason, hangup_by,
	app_codec, carrier_codec, app_packets, app_lost, carrier_packets, carrier_lost,
	currency, rate_plan, prefix, destination, number_type, sell_rate, price, bundle_seconds, buy_rate, cost, margin, attempts, paid_by`

var insertCDRSQL = func() string {
	ph := make([]string, 38)
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	return `INSERT INTO cdrs (` + cdrColumns + `) VALUES (` + strings.Join(ph, ", ") + `)`
}()

// InsertCDR stores c; it is committed when this returns.
func (db *DB) InsertCDR(ctx context.Context, c *dialtone.CDR) error {
	if c.ID == "" || c.EndAt.IsZero() || c.SetupAt.IsZero() {
		return fmt.Errorf("insert cdr %q: %w: id, setup and end time are required", c.ID, dialtone.ErrInvalid)
	}
	args, err := cdrArgs(c)
	if err != nil {
		return fmt.Errorf("insert cdr %s: %w", c.ID, err)
	}
	_, err = db.pool.Exec(ctx, insertCDRSQL, args...)
	if isUnique(err) {
		return fmt.Errorf("insert cdr %s: %w", c.ID, dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert cdr %s: %w", c.ID, err)
	}
	return nil
}

func cdrArgs(c *dialtone.CDR) ([]any, error) {
	var money [5]int64
	for i, d := range []decimal.Decimal{c.SellRate, c.Price, c.BuyRate, c.Cost, c.Margin} {
		m, err := dialtone.ToMicros(d)
		if err != nil {
			return nil, err
		}
		money[i] = m
	}
	return []any{
		c.ID, c.AppCallID, c.CarrierCallID, c.AccountID, c.Account, c.Caller, c.DialedRaw, c.DialedE164, c.Trunk,
		ts(c.SetupAt), ts(c.RingingAt), ts(c.AnswerAt), ts(c.EndAt),
		c.Duration.Milliseconds(), c.BilledSeconds, string(c.Disposition), c.SIPCode, c.SIPReason, string(c.HangupBy),
		c.AppCodec, c.CarrierCodec, c.AppPackets, c.AppLost, c.CarrierPackets, c.CarrierLost,
		c.Currency, c.RatePlan, c.Prefix, c.Destination, c.NumberType,
		money[0], money[1], c.BundleSeconds, money[2], money[3], money[4], c.Attempts, c.PaidBy,
	}, nil
}

func scanCDR(row pgx.Row) (*dialtone.CDR, error) {
	var c dialtone.CDR
	var setup, ringing, answer, end *time.Time
	var durMS, sell, price, buy, cost, margin int64
	var disp, hangup string
	if err := row.Scan(&c.ID, &c.AppCallID, &c.CarrierCallID, &c.AccountID, &c.Account, &c.Caller, &c.DialedRaw, &c.DialedE164, &c.Trunk,
		&setup, &ringing, &answer, &end, &durMS, &c.BilledSeconds, &disp, &c.SIPCode, &c.SIPReason, &hangup,
		&c.AppCodec, &c.CarrierCodec, &c.AppPackets, &c.AppLost, &c.CarrierPackets, &c.CarrierLost,
		&c.Currency, &c.RatePlan, &c.Prefix, &c.Destination, &c.NumberType,
		&sell, &price, &c.BundleSeconds, &buy, &cost, &margin, &c.Attempts, &c.PaidBy); err != nil {
		return nil, err
	}
	c.SellRate, c.Price, c.BuyRate = dialtone.FromMicros(sell), dialtone.FromMicros(price), dialtone.FromMicros(buy)
	c.Cost, c.Margin = dialtone.FromMicros(cost), dialtone.FromMicros(margin)
	c.SetupAt, c.RingingAt, c.AnswerAt, c.EndAt = fromTS(setup), fromTS(ringing), fromTS(answer), fromTS(end)
	c.Duration = time.Duration(durMS) * time.Millisecond
	c.Disposition, c.HangupBy = dialtone.Disposition(disp), dialtone.Party(hangup)
	return &c, nil
}

// CDRByID finds one record.
func (db *DB) CDRByID(ctx context.Context, id string) (*dialtone.CDR, error) {
	c, err := scanCDR(db.pool.QueryRow(ctx, `SELECT `+cdrColumns+` FROM cdrs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("cdr %s: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("cdr %s: %w", id, err)
	}
	return c, nil
}

// CDRs lists the records that ended in [f.From, f.To).
func (db *DB) CDRs(ctx context.Context, f dialtone.CDRFilter) ([]*dialtone.CDR, error) {
	var out []*dialtone.CDR
	err := db.EachCDR(ctx, f, func(c *dialtone.CDR) error {
		out = append(out, c)
		return nil
	})
	return out, err
}

// cdrQuery is the WHERE and ORDER BY of a filter, with its arguments.
func cdrQuery(f dialtone.CDRFilter) (string, []any) {
	q := ` FROM cdrs WHERE end_at >= $1 AND end_at < $2`
	args := []any{f.From.UTC(), f.To.UTC()}
	if f.Account != "" {
		args = append(args, f.Account)
		q += ` AND account = $` + strconv.Itoa(len(args))
	}
	if f.Trunk != "" {
		args = append(args, f.Trunk)
		q += ` AND trunk = $` + strconv.Itoa(len(args))
	}
	q += ` ORDER BY end_at, id`
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += ` LIMIT $` + strconv.Itoa(len(args))
	}
	return q, args
}

// EachCDR streams the records that ended in [f.From, f.To): pgx reads rows
// off the connection as fn consumes them.
func (db *DB) EachCDR(ctx context.Context, f dialtone.CDRFilter, fn func(*dialtone.CDR) error) error {
	q, args := cdrQuery(f)
	rows, err := db.pool.Query(ctx, `SELECT `+cdrColumns+q, args...)
	if err != nil {
		return fmt.Errorf("list cdrs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanCDR(rows)
		if err != nil {
			return fmt.Errorf("list cdrs: %w", err)
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list cdrs: %w", err)
	}
	return nil
}

// AccountByID finds an account.
func (db *DB) AccountByID(ctx context.Context, id int64) (*dialtone.Account, error) {
	a, err := scanAccount(db.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("account %d: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("account %d: %w", id, err)
	}
	return a, nil
}
