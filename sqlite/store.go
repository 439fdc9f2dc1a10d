package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

const accountColumns = `id, username, realm, ha1_md5, ha1_sha256, country, currency, rate_plan, status, created_at, updated_at`

// CreateAccount inserts a.
func (db *DB) CreateAccount(ctx context.Context, a *dialtone.Account) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	now := db.now()
	res, err := db.write.ExecContext(ctx, `INSERT INTO accounts (username, realm, ha1_md5, ha1_sha256, country, currency, rate_plan, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Username, a.Realm, a.HA1MD5, a.HA1SHA256, a.Country, a.Currency, a.RatePlan, string(a.Status), now.UnixMicro(), now.UnixMicro())
	if isUnique(err) {
		return fmt.Errorf("create account %q: %w", a.Username, dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create account %q: %w", a.Username, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("create account %q: %w", a.Username, err)
	}
	a.ID = id
	a.CreatedAt, a.UpdatedAt = time.UnixMicro(now.UnixMicro()).UTC(), time.UnixMicro(now.UnixMicro()).UTC()
	return nil
}

type scanner interface{ Scan(...any) error }

func scanAccount(row scanner) (*dialtone.Account, error) {
	var a dialtone.Account
	var status string
	var created, updated int64
	if err := row.Scan(&a.ID, &a.Username, &a.Realm, &a.HA1MD5, &a.HA1SHA256, &a.Country, &a.Currency, &a.RatePlan, &status, &created, &updated); err != nil {
		return nil, err
	}
	a.Status = dialtone.AccountStatus(status)
	a.CreatedAt, a.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	return &a, nil
}

// AccountByUsername finds an account.
func (db *DB) AccountByUsername(ctx context.Context, username string) (*dialtone.Account, error) {
	a, err := scanAccount(db.read.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("account %q: %w", username, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", username, err)
	}
	return a, nil
}

// Accounts lists accounts by username.
func (db *DB) Accounts(ctx context.Context) ([]*dialtone.Account, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY username`)
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
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	defer tx.Rollback()
	a, err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("update account %q: %w", username, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	upd.ApplyTo(a)
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	a.UpdatedAt = time.UnixMicro(db.now().UnixMicro()).UTC()
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET realm = ?, ha1_md5 = ?, ha1_sha256 = ?, country = ?, currency = ?, rate_plan = ?, status = ?, updated_at = ? WHERE id = ?`,
		a.Realm, a.HA1MD5, a.HA1SHA256, a.Country, a.Currency, a.RatePlan, string(a.Status), a.UpdatedAt.UnixMicro(), a.ID); err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	return a, nil
}

const cdrColumns = `id, app_call_id, carrier_call_id, account_id, account, caller, dialed_raw, dialed_e164, trunk,
	setup_at, ringing_at, answer_at, end_at, duration_ms, billed_seconds, disposition, sip_code, sip_reason, hangup_by,
	app_codec, carrier_codec, app_packets, app_lost, carrier_packets, carrier_lost,
	currency, rate_plan, prefix, destination, number_type, sell_rate, price, bundle_seconds, buy_rate, cost, margin, attempts, paid_by`

var insertCDRSQL = `INSERT INTO cdrs (` + cdrColumns + `) VALUES (` + strings.TrimSuffix(strings.Repeat("?, ", 38), ", ") + `)`

// InsertCDR stores c; it is durable when this returns.
func (db *DB) InsertCDR(ctx context.Context, c *dialtone.CDR) error {
	if c.ID == "" || c.EndAt.IsZero() || c.SetupAt.IsZero() {
		return fmt.Errorf("insert cdr %q: %w: id, setup and end time are required", c.ID, dialtone.ErrInvalid)
	}
	args, err := cdrArgs(c)
	if err != nil {
		return fmt.Errorf("insert cdr %s: %w", c.ID, err)
	}
	stmt, err := db.insertStmt(ctx)
	if err != nil {
		return fmt.Errorf("insert cdr %s: %w", c.ID, err)
	}
	_, err = stmt.ExecContext(ctx, args...)
	if isUnique(err) {
		return fmt.Errorf("insert cdr %s: %w", c.ID, dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert cdr %s: %w", c.ID, err)
	}
	return nil
}

func cdrArgs(c *dialtone.CDR) ([]any, error) {
	money, err := cdrMoney(c)
	if err != nil {
		return nil, err
	}
	return []any{
		c.ID, c.AppCallID, c.CarrierCallID, c.AccountID, c.Account, c.Caller, c.DialedRaw, c.DialedE164, c.Trunk,
		micros(c.SetupAt), micros(c.RingingAt), micros(c.AnswerAt), micros(c.EndAt),
		c.Duration.Milliseconds(), c.BilledSeconds, string(c.Disposition), c.SIPCode, c.SIPReason, string(c.HangupBy),
		c.AppCodec, c.CarrierCodec, c.AppPackets, c.AppLost, c.CarrierPackets, c.CarrierLost,
		c.Currency, c.RatePlan, c.Prefix, c.Destination, c.NumberType,
		money[0], money[1], c.BundleSeconds, money[2], money[3], money[4], c.Attempts, c.PaidBy,
	}, nil
}

// cdrMoney converts sell rate, price, buy rate, cost and margin to micro-units.
func cdrMoney(c *dialtone.CDR) ([5]int64, error) {
	var out [5]int64
	for i, d := range []decimal.Decimal{c.SellRate, c.Price, c.BuyRate, c.Cost, c.Margin} {
		m, err := dialtone.ToMicros(d)
		if err != nil {
			return out, err
		}
		out[i] = m
	}
	return out, nil
}

func (db *DB) insertStmt(ctx context.Context) (*sql.Stmt, error) {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if db.insertCDR == nil {
		stmt, err := db.write.PrepareContext(ctx, insertCDRSQL)
		if err != nil {
			return nil, err
		}
		db.insertCDR = stmt
	}
	return db.insertCDR, nil
}

func scanCDR(row scanner) (*dialtone.CDR, error) {
	var c dialtone.CDR
	var setup, ringing, answer, end sql.NullInt64
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
	c.SetupAt, c.RingingAt, c.AnswerAt, c.EndAt = fromMicros(setup), fromMicros(ringing), fromMicros(answer), fromMicros(end)
	c.Duration = time.Duration(durMS) * time.Millisecond
	c.Disposition, c.HangupBy = dialtone.Disposition(disp), dialtone.Party(hangup)
	return &c, nil
}

// CDRByID finds one record.
func (db *DB) CDRByID(ctx context.Context, id string) (*dialtone.CDR, error) {
	c, err := scanCDR(db.read.QueryRowContext(ctx, `SELECT `+cdrColumns+` FROM cdrs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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

// EachCDR streams the records that ended in [f.From, f.To).
func (db *DB) EachCDR(ctx context.Context, f dialtone.CDRFilter, fn func(*dialtone.CDR) error) error {
	q := `SELECT ` + cdrColumns + ` FROM cdrs WHERE end_at >= ? AND end_at < ?`
	args := []any{f.From.UnixMicro(), f.To.UnixMicro()}
	if f.Account != "" {
		q += ` AND account = ?`
		args = append(args, f.Account)
	}
	if f.Trunk != "" {
		q += ` AND trunk = ?`
		args = append(args, f.Trunk)
	}
	q += ` ORDER BY end_at, id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
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

// ExportCDRs streams the records matching f to w.
func (db *DB) ExportCDRs(ctx context.Context, f dialtone.CDRFilter, format dialtone.ExportFormat, w io.Writer) (int64, error) {
	e := dialtone.NewExporter(w, format)
	if err := db.EachCDR(ctx, f, e.Write); err != nil {
		return e.Count(), fmt.Errorf("export cdrs: %w", err)
	}
	if err := e.Close(); err != nil {
		return e.Count(), fmt.Errorf("export cdrs: %w", err)
	}
	return e.Count(), nil
}

// AccountByID finds an account.
func (db *DB) AccountByID(ctx context.Context, id int64) (*dialtone.Account, error) {
	a, err := scanAccount(db.read.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("account %d: %w", id, dialtone.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("account %d: %w", id, err)
	}
	return a, nil
}
