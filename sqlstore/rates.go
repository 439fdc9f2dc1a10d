package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dialtone/dialtone"
)

// rateBatch is how many rates one INSERT carries (10 parameters each).
const rateBatch = 500

// ReplaceRates makes rates the whole deck of plan, in one transaction; the
// rows go in by multi-row INSERTs.
func (s *Store) ReplaceRates(ctx context.Context, plan dialtone.RatePlan, rates []dialtone.Rate) error {
	if plan.Name == "" || len(plan.Currency) != 3 {
		return fmt.Errorf("replace rates: %w: plan needs a name and an ISO 4217 currency", dialtone.ErrInvalid)
	}
	args := make([]any, 0, 10*len(rates))
	for i, r := range rates {
		per, err1 := dialtone.ToMicros(r.PerMinute)
		fee, err2 := dialtone.ToMicros(r.ConnectFee)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("replace rates %s: rate %d (%s): %w", plan.Name, i+1, r.Prefix, err)
		}
		args = append(args, plan.Name, r.Prefix, r.Destination, per, fee, r.FirstIncrement, r.NextIncrement, s.d.Time(r.From), s.d.T(r.To), r.NumberType)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("replace rates %s: %w", plan.Name, err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(ctx, `INSERT INTO rate_plans (name, currency, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET currency = excluded.currency, updated_at = excluded.updated_at`,
		plan.Name, plan.Currency, s.d.T(s.now())); err != nil {
		return fmt.Errorf("replace rates %s: %w", plan.Name, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM rates WHERE plan = ?`, plan.Name); err != nil {
		return fmt.Errorf("replace rates %s: %w", plan.Name, err)
	}
	const insert = `INSERT INTO rates (plan, prefix, destination, per_minute, connect_fee, first_increment, next_increment,
		effective_from, effective_to, number_type) VALUES `
	const row = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	for len(args) > 0 {
		n := min(len(args)/10, rateBatch)
		q := insert + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
		if _, err := tx.Exec(ctx, q, args[:10*n]...); err != nil {
			return fmt.Errorf("replace rates %s: %w", plan.Name, err)
		}
		args = args[10*n:]
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("replace rates %s: %w", plan.Name, err)
	}
	return nil
}

// Rates returns a plan and its deck.
func (s *Store) Rates(ctx context.Context, name string) (dialtone.RatePlan, []dialtone.Rate, error) {
	plan := dialtone.RatePlan{Name: name}
	err := s.r().QueryRow(ctx, `SELECT currency, updated_at FROM rate_plans WHERE name = ?`, name).Scan(&plan.Currency, st(&plan.UpdatedAt))
	if err != nil {
		return plan, nil, fmt.Errorf("rate plan %q: %w", name, notFound(err))
	}
	rows, err := s.r().Query(ctx, `SELECT prefix, destination, per_minute, connect_fee, first_increment, next_increment,
		effective_from, effective_to, number_type FROM rates WHERE plan = ? ORDER BY prefix, effective_from`, name)
	if err != nil {
		return plan, nil, fmt.Errorf("rate plan %q: %w", name, err)
	}
	defer rows.Close()
	var out []dialtone.Rate
	for rows.Next() {
		var r dialtone.Rate
		var per, fee int64
		if err := rows.Scan(&r.Prefix, &r.Destination, &per, &fee, &r.FirstIncrement, &r.NextIncrement, st(&r.From), st(&r.To), &r.NumberType); err != nil {
			return plan, nil, fmt.Errorf("rate plan %q: %w", name, err)
		}
		r.PerMinute, r.ConnectFee = dialtone.FromMicros(per), dialtone.FromMicros(fee)
		out = append(out, r)
	}
	plan.Rates = len(out)
	return plan, out, rows.Err()
}

// RatePlans lists the plans.
func (s *Store) RatePlans(ctx context.Context) ([]dialtone.RatePlan, error) {
	rows, err := s.r().Query(ctx, `SELECT p.name, p.currency, p.updated_at, (SELECT count(*) FROM rates r WHERE r.plan = p.name)
		FROM rate_plans p ORDER BY p.name`)
	if err != nil {
		return nil, fmt.Errorf("rate plans: %w", err)
	}
	defer rows.Close()
	var out []dialtone.RatePlan
	for rows.Next() {
		var p dialtone.RatePlan
		if err := rows.Scan(&p.Name, &p.Currency, st(&p.UpdatedAt), &p.Rates); err != nil {
			return nil, fmt.Errorf("rate plans: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// BuyBundle pays for h and adds it, once per payment key.
func (s *Store) BuyBundle(ctx context.Context, h *dialtone.Holding, pay *dialtone.Movement) (bool, error) {
	if err := pay.Validate(); err != nil {
		return false, fmt.Errorf("buy bundle: %w", err)
	}
	if h.Seconds <= 0 || h.SecondsLeft != h.Seconds || h.Increment <= 0 || !h.ExpiresAt.After(h.BoughtAt) {
		return false, fmt.Errorf("buy bundle %s: %w: seconds, increment and validity must be positive", h.Bundle, dialtone.ErrInvalid)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return false, fmt.Errorf("buy bundle %s: %w", h.Bundle, err)
	}
	defer tx.Rollback()
	replayed, err := s.post(ctx, tx, pay)
	if err != nil {
		return false, fmt.Errorf("buy bundle %s: %w", h.Bundle, err)
	}
	if replayed {
		if err := tx.QueryRow(ctx, `SELECT id FROM holdings WHERE movement_key = ?`, pay.Key).Scan(&h.ID); err != nil {
			return false, fmt.Errorf("buy bundle %s: %w: key %s paid for something else", h.Bundle, dialtone.ErrConflict, pay.Key)
		}
		return true, nil
	}
	if err := tx.QueryRow(ctx, `INSERT INTO holdings (account_id, bundle, seconds, seconds_left, increment, countries, number_types,
		bought_at, expires_at, movement_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		h.AccountID, h.Bundle, h.Seconds, h.SecondsLeft, h.Increment, strings.Join(h.Countries, ","), strings.Join(h.NumberTypes, ","),
		s.d.T(h.BoughtAt), s.d.T(h.ExpiresAt), pay.Key).Scan(&h.ID); err != nil {
		return false, fmt.Errorf("buy bundle %s: %w", h.Bundle, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("buy bundle %s: %w", h.Bundle, err)
	}
	return false, nil
}

// Holdings lists an account's usable bundles, soonest expiry first.
func (s *Store) Holdings(ctx context.Context, accountID int64, at time.Time) ([]dialtone.Holding, error) {
	rows, err := s.r().Query(ctx, `SELECT id, bundle, seconds, seconds_left, increment, countries, number_types, bought_at, expires_at
		FROM holdings WHERE account_id = ? AND expires_at > ? AND seconds_left > 0 ORDER BY expires_at, id`, accountID, s.d.Time(at))
	if err != nil {
		return nil, fmt.Errorf("holdings of %d: %w", accountID, err)
	}
	defer rows.Close()
	var out []dialtone.Holding
	for rows.Next() {
		h := dialtone.Holding{AccountID: accountID}
		var countries, types string
		if err := rows.Scan(&h.ID, &h.Bundle, &h.Seconds, &h.SecondsLeft, &h.Increment, &countries, &types, st(&h.BoughtAt), st(&h.ExpiresAt)); err != nil {
			return nil, fmt.Errorf("holdings of %d: %w", accountID, err)
		}
		h.Countries, h.NumberTypes = splitList(countries), splitList(types)
		out = append(out, h)
	}
	return out, rows.Err()
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// SetPassword stores an account's API password hash.
func (s *Store) SetPassword(ctx context.Context, accountID int64, hash string) error {
	res, err := s.w().Exec(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ?`, hash, accountID)
	if err != nil {
		return fmt.Errorf("set password of %d: %w", accountID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set password of %d: %w", accountID, dialtone.ErrNotFound)
	}
	return nil
}

// PasswordHash returns an account's API password hash.
func (s *Store) PasswordHash(ctx context.Context, accountID int64) (string, error) {
	var h string
	err := s.r().QueryRow(ctx, `SELECT password_hash FROM accounts WHERE id = ?`, accountID).Scan(&h)
	if err != nil {
		return "", fmt.Errorf("password of %d: %w", accountID, notFound(err))
	}
	return h, nil
}

// CreateToken stores a token.
func (s *Store) CreateToken(ctx context.Context, t *dialtone.Token) error {
	_, err := s.w().Exec(ctx, `INSERT INTO api_tokens (hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		t.Hash, t.AccountID, s.d.T(t.CreatedAt), s.d.T(t.ExpiresAt))
	if s.d.IsUnique(err) {
		return fmt.Errorf("create token: %w", dialtone.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	return nil
}

// TokenByHash finds a token.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*dialtone.Token, error) {
	t := dialtone.Token{Hash: hash}
	err := s.r().QueryRow(ctx, `SELECT account_id, created_at, expires_at, revoked_at FROM api_tokens WHERE hash = ?`, hash).
		Scan(&t.AccountID, st(&t.CreatedAt), st(&t.ExpiresAt), st(&t.RevokedAt))
	if err != nil {
		return nil, fmt.Errorf("token: %w", notFound(err))
	}
	return &t, nil
}

// RevokeToken marks a token revoked.
func (s *Store) RevokeToken(ctx context.Context, hash string, at time.Time) error {
	if _, err := s.w().Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE hash = ?`, s.d.T(at), hash); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}
