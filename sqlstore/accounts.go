package sqlstore

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dialtone/dialtone"
)

const accountColumns = `id, username, realm, ha1_md5, ha1_sha256, country, currency, rate_plan, caller_id, status, created_at, updated_at`

// CreateAccount inserts a.
func (s *Store) CreateAccount(ctx context.Context, a *dialtone.Account) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("create account: %w", err)
	}
	now := micro(s.now())
	err := s.w().QueryRow(ctx, `INSERT INTO accounts (username, realm, ha1_md5, ha1_sha256, country, currency, rate_plan, caller_id, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		a.Username, a.Realm, a.HA1MD5, a.HA1SHA256, a.Country, a.Currency, a.RatePlan, a.CallerID, string(a.Status), s.d.T(now), s.d.T(now)).Scan(&a.ID)
	if s.d.IsUnique(err) {
		return fmt.Errorf("create account %q: %w", a.Username, dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create account %q: %w", a.Username, err)
	}
	a.CreatedAt, a.UpdatedAt = now, now
	return nil
}

func scanAccount(row scanner) (*dialtone.Account, error) {
	var a dialtone.Account
	var status string
	if err := row.Scan(&a.ID, &a.Username, &a.Realm, &a.HA1MD5, &a.HA1SHA256, &a.Country, &a.Currency, &a.RatePlan, &a.CallerID, &status,
		st(&a.CreatedAt), st(&a.UpdatedAt)); err != nil {
		return nil, err
	}
	a.Status = dialtone.AccountStatus(status)
	return &a, nil
}

// AccountByUsername finds an account.
func (s *Store) AccountByUsername(ctx context.Context, username string) (*dialtone.Account, error) {
	a, err := scanAccount(s.r().QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = ?`, username))
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", username, notFound(err))
	}
	return a, nil
}

// AccountByID finds an account.
func (s *Store) AccountByID(ctx context.Context, id int64) (*dialtone.Account, error) {
	a, err := scanAccount(s.r().QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("account %d: %w", id, notFound(err))
	}
	return a, nil
}

// Accounts lists accounts by username.
func (s *Store) Accounts(ctx context.Context) ([]*dialtone.Account, error) {
	rows, err := s.r().Query(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY username`)
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
func (s *Store) UpdateAccount(ctx context.Context, username string, upd dialtone.AccountUpdate) (*dialtone.Account, error) {
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	defer tx.Rollback()
	a, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE username = ?`+s.d.ForUpdate, username))
	if err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, notFound(err))
	}
	upd.ApplyTo(a)
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	a.UpdatedAt = micro(s.now())
	if _, err := tx.Exec(ctx, `UPDATE accounts SET realm = ?, ha1_md5 = ?, ha1_sha256 = ?, country = ?, currency = ?, rate_plan = ?, caller_id = ?, status = ?, updated_at = ? WHERE id = ?`,
		a.Realm, a.HA1MD5, a.HA1SHA256, a.Country, a.Currency, a.RatePlan, a.CallerID, string(a.Status), s.d.T(a.UpdatedAt), a.ID); err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("update account %q: %w", username, err)
	}
	return a, nil
}

// CDRColumns are the columns of cdrs in the order the store reads and
// writes them.
const CDRColumns = `id, app_call_id, carrier_call_id, account_id, account, caller, dialed_raw, dialed_e164, trunk,
	setup_at, ringing_at, answer_at, end_at, duration_ms, billed_seconds, disposition, sip_code, sip_reason, hangup_by,
	app_codec, carrier_codec, app_packets, app_lost, carrier_packets, carrier_lost,
	currency, rate_plan, prefix, destination, number_type, sell_rate, price, bundle_seconds, buy_rate, cost, margin, attempts, paid_by`

var insertCDRSQL = `INSERT INTO cdrs (` + CDRColumns + `) VALUES (` + strings.TrimSuffix(strings.Repeat("?, ", 38), ", ") + `)`

// InsertCDR stores c; it is durable when this returns.
func (s *Store) InsertCDR(ctx context.Context, c *dialtone.CDR) error {
	if c.ID == "" || c.EndAt.IsZero() || c.SetupAt.IsZero() {
		return fmt.Errorf("insert cdr %q: %w: id, setup and end time are required", c.ID, dialtone.ErrInvalid)
	}
	args, err := s.cdrArgs(c)
	if err != nil {
		return fmt.Errorf("insert cdr %s: %w", c.ID, err)
	}
	stmt, err := s.prepared(ctx, insertCDRSQL)
	if err != nil {
		return fmt.Errorf("insert cdr %s: %w", c.ID, err)
	}
	_, err = stmt.ExecContext(ctx, args...)
	if s.d.IsUnique(err) {
		return fmt.Errorf("insert cdr %s: %w", c.ID, dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert cdr %s: %w", c.ID, err)
	}
	return nil
}

func (s *Store) cdrArgs(c *dialtone.CDR) ([]any, error) {
	var money [5]int64
	for i, d := range []decimal.Decimal{c.SellRate, c.Price, c.BuyRate, c.Cost, c.Margin} {
		m, err := dialtone.ToMicros(d)
		if err != nil {
			return nil, err
		}
		money[i] = m
	}
	t := s.d.T
	return []any{
		c.ID, c.AppCallID, c.CarrierCallID, c.AccountID, c.Account, c.Caller, c.DialedRaw, c.DialedE164, c.Trunk,
		t(c.SetupAt), t(c.RingingAt), t(c.AnswerAt), t(c.EndAt),
		c.Duration.Milliseconds(), c.BilledSeconds, string(c.Disposition), c.SIPCode, c.SIPReason, string(c.HangupBy),
		c.AppCodec, c.CarrierCodec, c.AppPackets, c.AppLost, c.CarrierPackets, c.CarrierLost,
		c.Currency, c.RatePlan, c.Prefix, c.Destination, c.NumberType,
		money[0], money[1], c.BundleSeconds, money[2], money[3], money[4], c.Attempts, c.PaidBy,
	}, nil
}

// ScanCDR reads a row of CDRColumns.
func ScanCDR(row Row) (*dialtone.CDR, error) {
	var c dialtone.CDR
	var durMS, sell, price, buy, cost, margin int64
	var disp, hangup string
	if err := row.Scan(&c.ID, &c.AppCallID, &c.CarrierCallID, &c.AccountID, &c.Account, &c.Caller, &c.DialedRaw, &c.DialedE164, &c.Trunk,
		st(&c.SetupAt), st(&c.RingingAt), st(&c.AnswerAt), st(&c.EndAt), &durMS, &c.BilledSeconds, &disp, &c.SIPCode, &c.SIPReason, &hangup,
		&c.AppCodec, &c.CarrierCodec, &c.AppPackets, &c.AppLost, &c.CarrierPackets, &c.CarrierLost,
		&c.Currency, &c.RatePlan, &c.Prefix, &c.Destination, &c.NumberType,
		&sell, &price, &c.BundleSeconds, &buy, &cost, &margin, &c.Attempts, &c.PaidBy); err != nil {
		return nil, err
	}
	c.SellRate, c.Price, c.BuyRate = dialtone.FromMicros(sell), dialtone.FromMicros(price), dialtone.FromMicros(buy)
	c.Cost, c.Margin = dialtone.FromMicros(cost), dialtone.FromMicros(margin)
	c.Duration = time.Duration(durMS) * time.Millisecond
	c.Disposition, c.HangupBy = dialtone.Disposition(disp), dialtone.Party(hangup)
	return &c, nil
}

// CDRByID finds one record.
func (s *Store) CDRByID(ctx context.Context, id string) (*dialtone.CDR, error) {
	c, err := ScanCDR(s.r().QueryRow(ctx, `SELECT `+CDRColumns+` FROM cdrs WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("cdr %s: %w", id, notFound(err))
	}
	return c, nil
}

// CDRs lists the records that ended in [f.From, f.To).
func (s *Store) CDRs(ctx context.Context, f dialtone.CDRFilter) ([]*dialtone.CDR, error) {
	var out []*dialtone.CDR
	err := s.EachCDR(ctx, f, func(c *dialtone.CDR) error {
		out = append(out, c)
		return nil
	})
	return out, err
}

// CDRWhere is the FROM, WHERE, ORDER BY and LIMIT of a filter's query, with
// ? placeholders, and its arguments.
func (s *Store) CDRWhere(f dialtone.CDRFilter) (string, []any) {
	q := ` FROM cdrs WHERE end_at >= ? AND end_at < ?`
	args := []any{s.d.Time(f.From), s.d.Time(f.To)} // the zero time too: a bound, not NULL
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
	return q, args
}

// EachCDR streams the records that ended in [f.From, f.To).
func (s *Store) EachCDR(ctx context.Context, f dialtone.CDRFilter, fn func(*dialtone.CDR) error) error {
	where, args := s.CDRWhere(f)
	query := `SELECT ` + CDRColumns + where
	if s.d.ReadRows != nil {
		var fnErr error
		err := s.d.ReadRows(ctx, s.d.Rebind(query), args, func(r Row) error {
			c, err := ScanCDR(r)
			if err != nil {
				return err
			}
			fnErr = fn(c)
			return fnErr
		})
		if err != nil && err == fnErr {
			return err
		}
		if err != nil {
			return fmt.Errorf("list cdrs: %w", err)
		}
		return nil
	}
	rows, err := s.r().Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("list cdrs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		c, err := ScanCDR(rows)
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

// ExportCDRs streams the records matching f to w, through the dialect's
// native export when it has one.
func (s *Store) ExportCDRs(ctx context.Context, f dialtone.CDRFilter, format dialtone.ExportFormat, w io.Writer) (int64, error) {
	if s.d.ExportCDRs != nil {
		return s.d.ExportCDRs(ctx, f, format, w)
	}
	return s.ExportPortable(ctx, f, format, w)
}

// ExportPortable streams the records matching f to w through EachCDR.
func (s *Store) ExportPortable(ctx context.Context, f dialtone.CDRFilter, format dialtone.ExportFormat, w io.Writer) (int64, error) {
	e := dialtone.NewExporter(w, format)
	if err := s.EachCDR(ctx, f, e.Write); err != nil {
		return e.Count(), fmt.Errorf("export cdrs: %w", err)
	}
	if err := e.Close(); err != nil {
		return e.Count(), fmt.Errorf("export cdrs: %w", err)
	}
	return e.Count(), nil
}
