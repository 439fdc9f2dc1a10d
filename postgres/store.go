package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dialtone/dialtone"
)

const accountColumns = `id, username, realm, ha1_md5, ha1_sha256, country, currency, status, created_at, updated_at`

// CreateAccount inserts a.
func (db *DB) CreateAccount(ctx context.Context, a *dialtone.Account) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	now := db.now().Truncate(time.Microsecond)
	err := db.pool.QueryRow(ctx, `INSERT INTO accounts (username, realm, ha1_md5, ha1_sha256, country, currency, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
		a.Username, a.Realm, a.HA1MD5, a.HA1SHA256, a.Country, a.Currency, string(a.Status), now).Scan(&a.ID)
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
	if err := row.Scan(&a.ID, &a.Username, &a.Realm, &a.HA1MD5, &a.HA1SHA256, &a.Country, &a.Currency, &status, &a.CreatedAt, &a.UpdatedAt); err != nil {
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
	if _, err := tx.Exec(ctx, `UPDATE accounts SET realm = $1, ha1_md5 = $2, ha1_sha256 = $3, country = $4, currency = $5, status = $6, updated_at = $7 WHERE id = $8`,
		a.Realm, a.HA1MD5, a.HA1SHA256, a.Country, a.Currency, string(a.Status), a.UpdatedAt, a.ID); err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	return a, nil
}

const cdrColumns = `id, app_call_id, carrier_call_id, account_id, account, caller, dialed_raw, dialed_e164, trunk,
	setup_at, ringing_at, answer_at, end_at, duration_ms, billed_seconds, disposition, sip_code, sip_reason, hangup_by,
	app_codec, carrier_codec, app_packets, app_lost, carrier_packets, carrier_lost`

var insertCDRSQL = func() string {
	ph := make([]string, 25)
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
	_, err := db.pool.Exec(ctx, insertCDRSQL,
		c.ID, c.AppCallID, c.CarrierCallID, c.AccountID, c.Account, c.Caller, c.DialedRaw, c.DialedE164, c.Trunk,
		ts(c.SetupAt), ts(c.RingingAt), ts(c.AnswerAt), ts(c.EndAt),
		c.Duration.Milliseconds(), c.BilledSeconds, string(c.Disposition), c.SIPCode, c.SIPReason, string(c.HangupBy),
		c.AppCodec, c.CarrierCodec, c.AppPackets, c.AppLost, c.CarrierPackets, c.CarrierLost)
	if isUnique(err) {
		return fmt.Errorf("insert cdr %s: %w", c.ID, dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert cdr %s: %w", c.ID, err)
	}
	return nil
}

func scanCDR(row pgx.Row) (*dialtone.CDR, error) {
	var c dialtone.CDR
	var setup, ringing, answer, end *time.Time
	var durMS int64
	var disp, hangup string
	if err := row.Scan(&c.ID, &c.AppCallID, &c.CarrierCallID, &c.AccountID, &c.Account, &c.Caller, &c.DialedRaw, &c.DialedE164, &c.Trunk,
		&setup, &ringing, &answer, &end, &durMS, &c.BilledSeconds, &disp, &c.SIPCode, &c.SIPReason, &hangup,
		&c.AppCodec, &c.CarrierCodec, &c.AppPackets, &c.AppLost, &c.CarrierPackets, &c.CarrierLost); err != nil {
		return nil, err
	}
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
	q := `SELECT ` + cdrColumns + ` FROM cdrs WHERE end_at >= $1 AND end_at < $2`
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
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list cdrs: %w", err)
	}
	defer rows.Close()
	var out []*dialtone.CDR
	for rows.Next() {
		c, err := scanCDR(rows)
		if err != nil {
			return nil, fmt.Errorf("list cdrs: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list cdrs: %w", err)
	}
	return out, nil
}
