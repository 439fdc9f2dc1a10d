package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dialtone/dialtone"
)

// ReplaceRates makes rates the whole deck of plan, in one transaction; the
// rows go in with COPY.
func (db *DB) ReplaceRates(ctx context.Context, plan dialtone.RatePlan, rates []dialtone.Rate) error {
	if plan.Name == "" || len(plan.Currency) != 3 {
		return fmt.Errorf("replace rates: %w: plan needs a name and an ISO 4217 currency", dialtone.ErrInvalid)
	}
	rows := make([][]any, len(rates))
	for i, r := range rates {
		per, err1 := dialtone.ToMicros(r.PerMinute)
		fee, err2 := dialtone.ToMicros(r.ConnectFee)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("replace rates %s: rate %d (%s): %w", plan.Name, i+1, r.Prefix, err)
		}
		rows[i] = []any{plan.Name, r.Prefix, r.Destination, per, fee, r.FirstIncrement, r.NextIncrement, r.From.UTC(), ts(r.To), r.NumberType}
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("replace rates %s: %w", plan.Name, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO rate_plans (name, currency, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET currency = excluded.currency, updated_at = excluded.updated_at`,
		plan.Name, plan.Currency, db.now()); err != nil {
		return fmt.Errorf("replace rates %s: %w", plan.Name, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM rates WHERE plan = $1`, plan.Name); err != nil {
		return fmt.Errorf("replace rates %s: %w", plan.Name, err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"rates"}, []string{"plan", "prefix", "destination", "per_minute", "connect_fee",
		"first_increment", "next_increment", "effective_from", "effective_to", "number_type"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("replace rates %s: %w", plan.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("replace rates %s: %w", plan.Name, err)
	}
	return nil
}

// Rates returns a plan and its deck.
func (db *DB) Rates(ctx context.Context, name string) (dialtone.RatePlan, []dialtone.Rate, error) {
	plan := dialtone.RatePlan{Name: name}
	err := db.pool.QueryRow(ctx, `SELECT currency, updated_at FROM rate_plans WHERE name = $1`, name).Scan(&plan.Currency, &plan.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return plan, nil, fmt.Errorf("rate plan %q: %w", name, dialtone.ErrNotFound)
	}
	if err != nil {
		return plan, nil, fmt.Errorf("rate plan %q: %w", name, err)
	}
	plan.UpdatedAt = plan.UpdatedAt.UTC()
	rows, err := db.pool.Query(ctx, `SELECT prefix, destination, per_minute, connect_fee, first_increment, next_increment,
		effective_from, effective_to, number_type FROM rates WHERE plan = $1 ORDER BY prefix, effective_from`, name)
	if err != nil {
		return plan, nil, fmt.Errorf("rate plan %q: %w", name, err)
	}
	defer rows.Close()
	var out []dialtone.Rate
	for rows.Next() {
		var r dialtone.Rate
		var per, fee int64
		var to *time.Time
		if err := rows.Scan(&r.Prefix, &r.Destination, &per, &fee, &r.FirstIncrement, &r.NextIncrement, &r.From, &to, &r.NumberType); err != nil {
			return plan, nil, fmt.Errorf("rate plan %q: %w", name, err)
		}
		r.PerMinute, r.ConnectFee = dialtone.FromMicros(per), dialtone.FromMicros(fee)
		r.From, r.To = r.From.UTC(), fromTS(to)
		out = append(out, r)
	}
	plan.Rates = len(out)
	return plan, out, rows.Err()
}

// RatePlans lists the plans.
func (db *DB) RatePlans(ctx context.Context) ([]dialtone.RatePlan, error) {
	rows, err := db.pool.Query(ctx, `SELECT p.name, p.currency, p.updated_at, (SELECT count(*) FROM rates r WHERE r.plan = p.name)
		FROM rate_plans p ORDER BY p.name`)
	if err != nil {
		return nil, fmt.Errorf("rate plans: %w", err)
	}
	defer rows.Close()
	var out []dialtone.RatePlan
	for rows.Next() {
		var p dialtone.RatePlan
		if err := rows.Scan(&p.Name, &p.Currency, &p.UpdatedAt, &p.Rates); err != nil {
			return nil, fmt.Errorf("rate plans: %w", err)
		}
		p.UpdatedAt = p.UpdatedAt.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// BuyBundle pays for h and adds it, once per payment key.
func (db *DB) BuyBundle(ctx context.Context, h *dialtone.Holding, pay *dialtone.Movement) (bool, error) {
	if err := pay.Validate(); err != nil {
		return false, fmt.Errorf("buy bundle: %w", err)
	}
	if h.Seconds <= 0 || h.SecondsLeft != h.Seconds || h.Increment <= 0 || !h.ExpiresAt.After(h.BoughtAt) {
		return false, fmt.Errorf("buy bundle %s: %w: seconds, increment and validity must be positive", h.Bundle, dialtone.ErrInvalid)
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("buy bundle %s: %w", h.Bundle, err)
	}
	defer tx.Rollback(ctx)
	replayed, err := db.post(ctx, tx, pay)
	if err != nil {
		return false, fmt.Errorf("buy bundle %s: %w", h.Bundle, err)
	}
	if replayed {
		if err := tx.QueryRow(ctx, `SELECT id FROM holdings WHERE movement_key = $1`, pay.Key).Scan(&h.ID); err != nil {
			return false, fmt.Errorf("buy bundle %s: %w: key %s paid for something else", h.Bundle, dialtone.ErrConflict, pay.Key)
		}
		return true, nil
	}
	if err := tx.QueryRow(ctx, `INSERT INTO holdings (account_id, bundle, seconds, seconds_left, increment, countries, number_types,
		bought_at, expires_at, movement_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		h.AccountID, h.Bundle, h.Seconds, h.SecondsLeft, h.Increment, strings.Join(h.Countries, ","), strings.Join(h.NumberTypes, ","),
		h.BoughtAt.UTC(), h.ExpiresAt.UTC(), pay.Key).Scan(&h.ID); err != nil {
		return false, fmt.Errorf("buy bundle %s: %w", h.Bundle, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("buy bundle %s: %w", h.Bundle, err)
	}
	return false, nil
}

// Holdings lists an account's usable bundles, soonest expiry first.
func (db *DB) Holdings(ctx context.Context, accountID int64, at time.Time) ([]dialtone.Holding, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, bundle, seconds, seconds_left, increment, countries, number_types, bought_at, expires_at
		FROM holdings WHERE account_id = $1 AND expires_at > $2 AND seconds_left > 0 ORDER BY expires_at, id`, accountID, at.UTC())
	if err != nil {
		return nil, fmt.Errorf("holdings of %d: %w", accountID, err)
	}
	defer rows.Close()
	var out []dialtone.Holding
	for rows.Next() {
		h := dialtone.Holding{AccountID: accountID}
		var countries, types string
		if err := rows.Scan(&h.ID, &h.Bundle, &h.Seconds, &h.SecondsLeft, &h.Increment, &countries, &types, &h.BoughtAt, &h.ExpiresAt); err != nil {
			return nil, fmt.Errorf("holdings of %d: %w", accountID, err)
		}
		h.Countries, h.NumberTypes = splitList(countries), splitList(types)
		h.BoughtAt, h.ExpiresAt = h.BoughtAt.UTC(), h.ExpiresAt.UTC()
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
